//! Runs the hostile-sidecar matrix of `tests/hostile_matrix/` (every case against a
//! fail-closed and a fail-open client) and writes it as the generated `hostile-matrix`
//! section of RELIABILITY.md.
//!
//! `cargo run --release --example reliability`. The tests assert the same cases one by one
//! (`cargo test --all-features --test hostile`); this program only reports.

#[path = "../tests/hostile_matrix/mod.rs"]
mod hostile_matrix;
#[path = "../tests/support/mod.rs"]
mod support;

use std::process::ExitCode;

fn main() -> ExitCode {
    let (cases, rows, wall) = hostile_matrix::run_all();
    let table = hostile_matrix::table(&cases, &rows, wall);
    support::write_reliability_section("hostile-matrix", &table);
    println!("{table}");
    let failing = rows.iter().filter(|row| !row.problems.is_empty()).count();
    if failing == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("error: {failing} cases failed their assertions (see the table)");
        ExitCode::FAILURE
    }
}
