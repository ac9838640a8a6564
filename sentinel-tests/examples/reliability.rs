//! Writes the generated sections of RELIABILITY.md: the soak and the restart of
//! `tests/soak_run/` (which assert as they run, as their tests do), then the
//! hostile-sidecar matrix of `tests/hostile_matrix/` (every case against a fail-closed and a
//! fail-open client).
//!
//! `cargo run -p sentinel-tests --example reliability`. The tests run the same code
//! (`cargo test -p sentinel-tests --all-features --test hostile --test soak`); this program also reports.

#[path = "../tests/hostile_matrix/mod.rs"]
mod hostile_matrix;
#[path = "../tests/soak_run/mod.rs"]
mod soak_run;
#[path = "../tests/support/mod.rs"]
mod support;

use std::process::ExitCode;

fn main() -> ExitCode {
    // The soak first: it measures the whole process's memory, threads and descriptors, so
    // nothing may run before it.
    let soak = soak_run::twenty_thousand_guarded_calls_from_threads_and_tasks();
    support::write_reliability_section("soak", &soak);
    println!("{soak}");
    let restart = soak_run::the_sidecar_restarts_on_the_same_port_under_load_and_the_same_client_recovers();
    support::write_reliability_section("restart", &restart);
    println!("{restart}");

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
