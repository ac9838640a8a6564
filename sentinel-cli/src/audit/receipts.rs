//! `sentinelctl receipts audit`: the sidecar's audit of its adjudication-protocol receipts
//! (complete mediation: every execution authorized), as a table or JSON.

use std::process::ExitCode;

use clap::{Args as ClapArgs, Subcommand};
use sentinel::records::ProtocolAudit;
use sentinel::SidecarError;
use serde_json::json;

use super::{fail, print_json, table, Endpoint, INCOMPLETE, OK, TAMPERED};

/// The adjudication protocol's receipts (a sidecar started with `--protocol`).
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(flatten)]
    pub endpoint: Endpoint,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: ReceiptsCommand,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum ReceiptsCommand {
    /// The sidecar's audit: executions checked, coverage (the share with exactly one valid,
    /// matching authorization), and each violation, executions without authorization first.
    /// Exit 0 when it finds none, 1 when it finds any.
    Audit,
}

pub fn run(args: Args) -> ExitCode {
    let client = match args.endpoint.client() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let ReceiptsCommand::Audit = args.command;
    let audit = match client.protocol_audit() {
        Ok(audit) => audit,
        Err(SidecarError::NotFound(_)) => {
            return fail(
                INCOMPLETE,
                "the sidecar does not serve the adjudication protocol (GET /v1/audit/verify is 404: start it with --protocol)",
            )
        }
        Err(e) => return fail(INCOMPLETE, &format!("the sidecar: {e}")),
    };
    if args.json {
        print_json(&to_json(&audit));
    } else {
        print_report(&audit);
    }
    ExitCode::from(if audit.valid && audit.violations.is_empty() {
        OK
    } else {
        TAMPERED
    })
}

fn to_json(audit: &ProtocolAudit) -> serde_json::Value {
    let violations: Vec<_> = audit
        .violations
        .iter()
        .map(|v| {
            json!({
                "type": v.kind,
                "executionId": v.execution_id,
                "authorizationReceiptId": v.authorization_receipt_id,
                "detail": v.detail,
            })
        })
        .collect();
    let without: Vec<_> = audit
        .violations
        .iter()
        .filter(|v| v.is_execution_without_authorization())
        .filter_map(|v| v.execution_id.clone())
        .collect();
    json!({
        "valid": audit.valid,
        "executionsChecked": audit.executions_checked,
        "coverage": audit.coverage,
        "executionsWithoutAuthorization": without,
        "violations": violations,
    })
}

fn print_report(audit: &ProtocolAudit) {
    println!(
        "{}: {} executions checked, coverage {:.1} % (each with exactly one valid, matching authorization)",
        if audit.valid { "valid" } else { "NOT VALID" },
        audit.executions_checked,
        audit.coverage * 100.0
    );
    if audit.violations.is_empty() {
        return;
    }
    let mut violations: Vec<_> = audit.violations.iter().collect();
    // Executions without any authorization first: the gate was bypassed.
    violations.sort_by_key(|v| !v.is_execution_without_authorization());
    let rows: Vec<Vec<String>> = violations
        .iter()
        .map(|v| {
            vec![
                v.kind.clone(),
                v.execution_id.clone().unwrap_or_else(|| "-".to_owned()),
                v.authorization_receipt_id
                    .clone()
                    .unwrap_or_else(|| "-".to_owned()),
                v.detail.clone(),
            ]
        })
        .collect();
    table::print(&["VIOLATION", "EXECUTION", "AUTHORIZATION", "DETAIL"], &rows);
}
