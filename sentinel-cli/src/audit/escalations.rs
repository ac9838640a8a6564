//! `sentinelctl escalations`: the sidecar's escalations, listed, shown, approved or denied
//! by a named approver, as a table for a person or JSON for a script.

use std::process::ExitCode;

use clap::{Args as ClapArgs, Subcommand, ValueEnum};
use sentinel::{Escalation, EscalationState, Resolution};
use serde_json::{json, Value};

use super::{fail, print_json, table, Endpoint, INCOMPLETE, OK, USAGE};

/// The sidecar's escalations: what waits for a person, and their decision.
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(flatten)]
    pub endpoint: Endpoint,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: EscalationsCommand,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum EscalationsCommand {
    /// The escalations, newest state first as the sidecar lists them.
    List {
        /// Only those in this state.
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
    },
    /// One escalation, with its action.
    Show {
        /// The escalation's id (`esc_…`).
        id: String,
    },
    /// Approve: the parked action may run (the sidecar signs a `human.review` record).
    Approve(Decision),
    /// Deny: the parked action must not run.
    Deny(Decision),
}

/// A person's decision.
#[derive(Debug, ClapArgs)]
pub struct Decision {
    /// The escalation's id (`esc_…`).
    pub id: String,
    /// Who decides (must be on the escalation's approver list when it has one).
    #[arg(long)]
    pub approver: String,
}

/// An escalation's state on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusArg {
    /// Waiting for a person.
    Pending,
    /// Approved.
    Approved,
    /// Denied.
    Denied,
}

pub fn run(args: Args) -> ExitCode {
    let client = match args.endpoint.client() {
        Ok(client) => client,
        Err(code) => return code,
    };
    match &args.command {
        EscalationsCommand::List { status } => {
            let state = status.map(|status| match status {
                StatusArg::Pending => EscalationState::Pending,
                StatusArg::Approved => EscalationState::Approved,
                StatusArg::Denied => EscalationState::Denied,
            });
            match client.escalations(state) {
                Ok(list) => {
                    if args.json {
                        print_json(&Value::Array(list.iter().map(to_json).collect()));
                    } else {
                        print_table(&list);
                    }
                    ExitCode::from(OK)
                }
                Err(e) => fail(INCOMPLETE, &format!("the sidecar: {e}")),
            }
        }
        // No route reads one escalation: `escalation` scans the lists by state (see there).
        EscalationsCommand::Show { id } => match client.escalation(id) {
            Ok(Some(escalation)) => {
                if args.json {
                    print_json(&to_json(&escalation));
                } else {
                    print_table(std::slice::from_ref(&escalation));
                    println!("action: {}", escalation.action());
                }
                ExitCode::from(OK)
            }
            Ok(None) => fail(USAGE, &format!("no escalation {id}")),
            Err(e) => fail(INCOMPLETE, &format!("the sidecar: {e}")),
        },
        EscalationsCommand::Approve(decision) => resolve(&client, decision, Resolution::Approve, args.json),
        EscalationsCommand::Deny(decision) => resolve(&client, decision, Resolution::Deny, args.json),
    }
}

fn resolve(
    client: &sentinel::SentinelClient,
    decision: &Decision,
    resolution: Resolution,
    json: bool,
) -> ExitCode {
    match client.resolve_escalation(&decision.id, resolution, &decision.approver) {
        Ok(resolved) => {
            if json {
                print_json(
                    &json!({"escalation": to_json(resolved.escalation()), "recordId": resolved.record_id()}),
                );
            } else {
                println!(
                    "{} {} as {}; signed record {}",
                    match resolution {
                        Resolution::Approve => "approved",
                        _ => "denied",
                    },
                    decision.id,
                    decision.approver,
                    resolved.record_id()
                );
            }
            ExitCode::from(OK)
        }
        Err(e) => fail(INCOMPLETE, &format!("{}: {e}", decision.id)),
    }
}

fn state(state: EscalationState) -> &'static str {
    match state {
        EscalationState::Pending => "pending",
        EscalationState::Approved => "approved",
        EscalationState::Denied => "denied",
        _ => "other",
    }
}

fn to_json(escalation: &Escalation) -> Value {
    json!({
        "id": escalation.id(),
        "recordId": escalation.record_id(),
        "status": state(escalation.status()),
        "action": escalation.action(),
        "approvers": escalation.approvers(),
        "reason": escalation.reason(),
        "createdAt": escalation.created_at(),
        "resolvedBy": escalation.resolved_by(),
        "resolvedAt": escalation.resolved_at(),
    })
}

fn print_table(list: &[Escalation]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|escalation| {
            vec![
                escalation.id().to_owned(),
                state(escalation.status()).to_owned(),
                escalation.created_at().to_owned(),
                escalation
                    .action()
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("-")
                    .to_owned(),
                escalation.reason().unwrap_or_default().to_owned(),
                escalation.resolved_by().unwrap_or_default().to_owned(),
            ]
        })
        .collect();
    table::print(
        &["ID", "STATUS", "CREATED", "ACTION", "REASON", "RESOLVED BY"],
        &rows,
    );
}
