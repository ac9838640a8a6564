//! The command line itself: help, version, and what a wrong invocation says.

use std::process::Command;

fn sentinelctl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sentinelctl"))
        .args(args)
        .output()
        .expect("sentinelctl runs")
}

#[test]
fn help_lists_the_mcp_subcommand() {
    let out = sentinelctl(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Usage: sentinelctl <COMMAND>"), "{text}");
    assert!(text.contains("mcp "), "{text}");
}

#[test]
fn version_is_the_package_version() {
    let out = sentinelctl(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("sentinelctl {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn mcp_help_shows_the_upstream_after_a_double_dash() {
    let out = sentinelctl(&["mcp", "--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("--config <FILE>"), "{text}");
    assert!(text.contains("[-- <UPSTREAM>...]"), "{text}");
}

#[test]
fn an_unknown_subcommand_is_a_usage_error_with_exit_code_2() {
    let out = sentinelctl(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("unrecognized subcommand 'frobnicate'"));
}
