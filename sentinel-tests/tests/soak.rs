//! Concurrency and soak, as tests: 20 000 guarded calls from 16 threads and 256 tasks
//! through one client, and the sidecar restarted under load (see `tests/soak_run/`).
//! `cargo run -p sentinel-tests --example reliability` writes their reports into RELIABILITY.md.

mod soak_run;
mod support;

#[test]
fn twenty_thousand_guarded_calls_from_threads_and_tasks() {
    println!(
        "{}",
        soak_run::twenty_thousand_guarded_calls_from_threads_and_tasks()
    );
}

#[test]
fn the_sidecar_restarts_on_the_same_port_under_load_and_the_same_client_recovers() {
    println!(
        "{}",
        soak_run::the_sidecar_restarts_on_the_same_port_under_load_and_the_same_client_recovers()
    );
}
