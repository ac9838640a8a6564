//! `sentinelctl mcp`: the MCP gate. It serves an MCP client on its own stdin/stdout, starts
//! the upstream MCP server as a child, and relays between them, guarding every `tools/call`
//! with the sidecar before it reaches the upstream.

mod check;
mod config;
mod http_upstream;
mod judge;
mod relay;
#[cfg(test)]
mod relay_tests;
mod rules;
mod strict_json;

use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::BufReader;

/// Arguments of `sentinelctl mcp`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  sentinelctl mcp --config gate.toml -- npx -y @modelcontextprotocol/server-filesystem /data"
)]
pub struct Args {
    /// The gate's configuration (TOML): the sidecar and a rule per tool.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "check",
        required_unless_present = "check"
    )]
    pub config: Option<PathBuf>,
    /// Check the configuration, then list each upstream tool with the rule that applies to it.
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
    /// The upstream MCP server reached over streamable HTTP (such as
    /// `http://127.0.0.1:3001/mcp`), instead of a command after `--`.
    #[arg(long, value_name = "URL", conflicts_with = "upstream")]
    pub upstream_url: Option<String>,
    /// The upstream MCP server's command line, after `--`.
    #[arg(last = true, value_name = "UPSTREAM")]
    pub upstream: Vec<String>,
}

/// How long a closed session waits for the upstream to exit before it is killed.
const UPSTREAM_GRACE: Duration = Duration::from_secs(3);

/// Exit code of a configuration that cannot be used.
const BAD_CONFIG: u8 = 2;

/// Runs the gate, or the check.
pub fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("sentinelctl mcp: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &args.check {
        return runtime.block_on(check::run(path, upstream_of(&args)));
    }
    let path = args
        .config
        .as_deref()
        .expect("clap requires --config without --check");
    let config = match config::load(path) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("sentinelctl mcp: {e}");
            return ExitCode::from(BAD_CONFIG);
        }
    };
    let client = match judge::sidecar_client(config.sentinel.as_ref()) {
        Ok(client) => client,
        Err(e) => {
            eprintln!("sentinelctl mcp: {}: {e}", path.display());
            return ExitCode::from(BAD_CONFIG);
        }
    };
    let receipts = match &config.receipts {
        Some(receipts) => match judge::receipt_client(&client, receipts) {
            Ok(receipt_client) => Some((receipt_client, receipts.target_service.clone())),
            Err(e) => {
                eprintln!("sentinelctl mcp: {}: {e}", path.display());
                return ExitCode::from(BAD_CONFIG);
            }
        },
        None => None,
    };
    let judge = Arc::new(judge::Judge::new(client, receipts, config.rules, config.context));
    match upstream_of(&args) {
        Upstream::None => {
            eprintln!(
                "sentinelctl mcp: no upstream MCP server: give its command after `--`, or --upstream-url"
            );
            return ExitCode::from(BAD_CONFIG);
        }
        Upstream::Command(command) => runtime.block_on(serve_stdio(judge, command)),
        Upstream::Url(url) => runtime.block_on(async {
            let (link, gone) = http_upstream::link(url);
            let client_in = BufReader::new(tokio::io::stdin());
            relay::run(judge, client_in, tokio::io::stdout(), link, gone, UPSTREAM_GRACE).await
        }),
    }
    // A guard still running on the blocking pool must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_secs(1));
    ExitCode::SUCCESS
}

/// Where the upstream server is.
#[derive(Clone, Copy)]
pub enum Upstream<'a> {
    /// Not given.
    None,
    /// A command line to start it with, over stdio.
    Command(&'a [String]),
    /// A streamable HTTP endpoint.
    Url(&'a str),
}

fn upstream_of(args: &Args) -> Upstream<'_> {
    match (&args.upstream_url, args.upstream.is_empty()) {
        (Some(url), _) => Upstream::Url(url),
        (None, false) => Upstream::Command(&args.upstream),
        (None, true) => Upstream::None,
    }
}

/// One session: the client on this process's stdin/stdout, the upstream a child process.
async fn serve_stdio(judge: Arc<judge::Judge>, upstream: &[String]) {
    let client_in = BufReader::new(tokio::io::stdin());
    let client_out = tokio::io::stdout();
    let mut command = tokio::process::Command::new(&upstream[0]);
    command
        .args(&upstream[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    match command.spawn() {
        Ok(mut child) => {
            let link = relay::UpstreamLink {
                writer: child.stdin.take().map(|w| Box::new(w) as _),
                reader: child.stdout.take().map(|r| Box::new(BufReader::new(r)) as _),
                failed: None,
            };
            let gone = async move {
                match tokio::time::timeout(UPSTREAM_GRACE, child.wait()).await {
                    Ok(Ok(status)) => format!("the upstream MCP server exited ({status})"),
                    Ok(Err(e)) => format!("the upstream MCP server is gone ({e})"),
                    // Dropping the child kills it (kill_on_drop).
                    Err(_) => "the upstream MCP server closed its output".to_owned(),
                }
            };
            relay::run(judge, client_in, client_out, link, gone, UPSTREAM_GRACE).await;
        }
        Err(e) => {
            let link = relay::UpstreamLink {
                writer: None,
                reader: None,
                failed: Some(format!(
                    "the upstream MCP server `{}` could not be started: {e}",
                    upstream[0]
                )),
            };
            relay::run(
                judge,
                client_in,
                client_out,
                link,
                async { String::new() },
                UPSTREAM_GRACE,
            )
            .await;
        }
    }
}
