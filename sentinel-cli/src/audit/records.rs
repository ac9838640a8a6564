//! `sentinelctl records`: the sidecar's signed records, one by id or a filtered list, as a
//! table for a person or JSON for a script. Reading does not verify: see `verify`.

use std::process::ExitCode;

use clap::{Args as ClapArgs, Subcommand, ValueEnum};
use sentinel::provenance::Record;
use sentinel::records::RecordQuery;
use sentinel::Verdict;
use serde_json::Value;

use super::{fail, print_json, table, Endpoint, INCOMPLETE, OK};

/// Read the sidecar's signed records.
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(flatten)]
    pub endpoint: Endpoint,
    /// Print JSON (a record, or an array of records) instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: RecordsCommand,
}

/// `get` or `list`.
#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    /// One record by its id (`rec_…`).
    Get {
        /// The record's id.
        id: String,
    },
    /// The records matching the filters, in chain order (the sidecar returns at most 1000).
    List(Filters),
}

/// The sidecar's filters of `GET /v1/records`.
#[derive(Debug, ClapArgs)]
pub struct Filters {
    /// Only this tenant's records.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Only this run's records (`context.runId`).
    #[arg(long)]
    pub run_id: Option<String>,
    /// Only records with this verdict.
    #[arg(long, value_enum)]
    pub verdict: Option<VerdictArg>,
    /// Only records written at or after this time (ISO 8601, as the sidecar writes it).
    #[arg(long)]
    pub since: Option<String>,
    /// Only records written before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// At most this many records.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Skip this many matching records first.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
}

/// A verdict on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum VerdictArg {
    /// ALLOW
    Allow,
    /// BLOCK
    Block,
    /// ESCALATE
    Escalate,
}

impl Filters {
    fn query(&self) -> RecordQuery {
        let mut query = RecordQuery::new().limit(self.limit).offset(self.offset);
        if let Some(tenant) = &self.tenant {
            query = query.tenant(tenant);
        }
        if let Some(run_id) = &self.run_id {
            query = query.run_id(run_id);
        }
        if let Some(verdict) = self.verdict {
            query = query.verdict(match verdict {
                VerdictArg::Allow => Verdict::Allow,
                VerdictArg::Block => Verdict::Block,
                VerdictArg::Escalate => Verdict::Escalate,
            });
        }
        if let Some(since) = &self.since {
            query = query.since(since);
        }
        if let Some(until) = &self.until {
            query = query.until(until);
        }
        query
    }
}

pub fn run(args: Args) -> ExitCode {
    let client = match args.endpoint.client() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let records = match &args.command {
        RecordsCommand::Get { id } => client.record(id).map(|record| vec![record]),
        RecordsCommand::List(filters) => client.records(&filters.query()),
    };
    let records = match records {
        Ok(records) => records,
        Err(e) => return fail(INCOMPLETE, &format!("the sidecar: {e}")),
    };
    if args.json {
        let mut values: Vec<Value> = records.into_iter().map(Value::from).collect();
        match args.command {
            RecordsCommand::Get { .. } => print_json(&values.pop().unwrap_or(Value::Null)),
            RecordsCommand::List(_) => print_json(&Value::Array(values)),
        }
    } else {
        let rows: Vec<Vec<String>> = records.iter().map(row).collect();
        table::print(
            &["SEQ", "TIME", "VERDICT", "ACTION", "TENANT", "RUN", "ID"],
            &rows,
        );
    }
    ExitCode::from(OK)
}

fn row(record: &Record) -> Vec<String> {
    vec![
        record.seq().to_string(),
        record.ts().to_owned(),
        record.verdict().to_owned(),
        record.action().kind().to_owned(),
        record.tenant().unwrap_or("-").to_owned(),
        record
            .context()
            .get("runId")
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_owned(),
        record.id().to_owned(),
    ]
}
