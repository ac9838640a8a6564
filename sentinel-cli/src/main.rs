//! `sentinelctl`: the Sentinel command-line tool.
//!
//! One binary, one subcommand per job; each lives in a module of its own and this file only
//! dispatches to it:
//!
//! - `sentinelctl mcp`: the MCP gate, every `tools/call` of an MCP server guarded by the
//!   sidecar before it is forwarded ([`mcp`]).
//! - `sentinelctl verify`, `export`, `records`, `escalations`, `receipts`: the auditor's commands
//!   ([`audit`]).
#![deny(missing_docs)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod audit;
mod mcp;

/// Put AI agents' tools behind a Sentinel sidecar, and audit what it decided.
#[derive(Debug, Parser)]
#[command(name = "sentinelctl", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Every subcommand, one variant each; the arguments belong to the module that runs it.
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve an MCP client, forwarding to an MCP server and guarding every `tools/call` first.
    Mcp(mcp::Args),
    /// Verify a sidecar's signed chain of records under pinned keys (live or an export file).
    Verify(audit::verify::Args),
    /// Write a live sidecar's records to a JSON Lines file (resumable).
    Export(audit::export::Args),
    /// Read the sidecar's signed records: one by id, or a filtered list.
    Records(audit::records::Args),
    /// List, show, approve or deny the sidecar's escalations.
    Escalations(audit::escalations::Args),
    /// The adjudication protocol's receipts: the sidecar's audit of complete mediation.
    Receipts(audit::receipts::Args),
}

fn main() -> ExitCode {
    // The library says what a user must know but that is no error (a client that fails open,
    // an unpinned key beyond loopback, each fail-open fallback) through `log`: without a
    // logger those warnings vanish. On stderr: stdout is the MCP client's channel.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .target(env_logger::Target::Stderr)
        .init();
    match Cli::parse().command {
        Command::Mcp(args) => mcp::run(args),
        Command::Verify(args) => audit::verify::run(args),
        Command::Export(args) => audit::export::run(args),
        Command::Records(args) => audit::records::run(args),
        Command::Escalations(args) => audit::escalations::run(args),
        Command::Receipts(args) => audit::receipts::run(args),
    }
}
