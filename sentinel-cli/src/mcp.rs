//! `sentinelctl mcp`: the MCP gate.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sentinelctl mcp`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  sentinelctl mcp --config gate.toml -- npx -y @modelcontextprotocol/server-filesystem /data"
)]
pub struct Args {
    /// The gate's configuration (TOML): the sidecar and a rule per tool.
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    pub config: Option<PathBuf>,
    /// Check the configuration, then list each upstream tool with the rule that applies to it.
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
    /// The upstream MCP server's command line, after `--`.
    #[arg(last = true, value_name = "UPSTREAM")]
    pub upstream: Vec<String>,
}

/// Runs the gate.
pub fn run(args: Args) -> ExitCode {
    let _ = args;
    eprintln!("sentinelctl mcp: the gate is being built (issue 20); nothing was started");
    ExitCode::from(2)
}
