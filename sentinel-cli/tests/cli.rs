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

#[test]
fn a_bad_configuration_is_one_message_with_file_line_and_key_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gate.toml");
    std::fs::write(
        &config,
        "[[tools]]\nname = \"write_file\"\npolicy = \"p\"\nwait_for_human = 30\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sentinelctl"))
        .args(["mcp", "--config"])
        .arg(&config)
        .args(["--", "/bin/true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let expected = format!(
        "sentinelctl mcp: {}:4:1: unknown field `wait_for_human`",
        config.display()
    );
    assert!(stderr.starts_with(&expected), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing reaches the MCP client's channel");
}

#[test]
fn an_unreadable_configuration_is_exit_code_2() {
    let out = sentinelctl(&["mcp", "--config", "/nonexistent/gate.toml", "--", "/bin/true"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("sentinelctl mcp: /nonexistent/gate.toml: cannot read"),
        "{stderr}"
    );
}

#[test]
fn the_example_configuration_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/gate.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_sentinelctl"))
        .env("SENTINEL_ENDPOINT", "http://127.0.0.1:4000")
        .args(["mcp", "--check", example])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.starts_with(&format!("{example}: the configuration is valid")),
        "{stdout}"
    );
}

#[test]
fn without_a_sidecar_table_or_sentinel_endpoint_the_gate_does_not_start() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/gate.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_sentinelctl"))
        .env_remove("SENTINEL_ENDPOINT")
        .args(["mcp", "--config", example, "--", "/bin/true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("has no [sentinel] table, and SENTINEL_ENDPOINT"),
        "{stderr}"
    );
}

#[test]
fn a_closed_client_ends_the_gate_even_while_a_call_waits_for_a_human() {
    use sentinel::testing::{MockAnswer, MockSidecar};
    use std::io::Write;
    use std::time::{Duration, Instant};

    let sidecar = MockSidecar::start(|_| MockAnswer::escalate("needs a human"));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gate.toml");
    std::fs::write(
        &config,
        format!(
            "[sentinel]\nendpoint = \"{}\"\n[[tools]]\nname = \"*\"\npolicy = \"p\"\nwait_for_human_secs = 600\n",
            sidecar.endpoint()
        ),
    )
    .unwrap();
    let mut gate = Command::new(env!("CARGO_BIN_EXE_sentinelctl"))
        .args(["mcp", "--config"])
        .arg(&config)
        .args(["--", "sh", "-c", "cat >/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut input = gate.stdin.take().unwrap();
    writeln!(
        input,
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"x","arguments":{{}}}}}}"#
    )
    .unwrap();
    // The call is waiting for a human (up to 600 s) once the sidecar has been asked.
    let asked = Instant::now();
    while sidecar.requests().is_empty() {
        assert!(
            asked.elapsed() < Duration::from_secs(20),
            "the gate never asked the sidecar"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(input);
    let closed = Instant::now();
    loop {
        if let Some(status) = gate.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        if closed.elapsed() > Duration::from_secs(30) {
            let _ = gate.kill();
            panic!("the gate kept running after its client closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_readmes_gate_configuration_is_valid() {
    let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
    let section = readme
        .split("## The MCP gate")
        .nth(1)
        .expect("the README has an MCP gate section");
    let mut blocks = 0;
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("## ") {
            break;
        }
        if line.trim() != "```toml" {
            continue;
        }
        let block: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("gate.toml");
        std::fs::write(&config, block.join("\n")).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_sentinelctl"))
            .env("SENTINEL_ENDPOINT", "http://127.0.0.1:4000")
            .args(["mcp", "--check"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            block.join("\n"),
            String::from_utf8_lossy(&out.stderr)
        );
        blocks += 1;
    }
    assert!(blocks >= 1, "no toml block in the README's MCP gate section");
}

/// Runs the gate on `sentinel` (its `[sentinel]` table's body) with an upstream that exits at
/// once and a client that sends nothing; returns its stderr.
fn gate_stderr(sentinel: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gate.toml");
    std::fs::write(
        &config,
        format!("[sentinel]\n{sentinel}\n[[tools]]\nname = \"*\"\ndeny = true\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sentinelctl"))
        .env_remove("RUST_LOG")
        .args(["mcp", "--config"])
        .arg(&config)
        .args(["--", "/bin/true"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn the_librarys_warnings_reach_stderr() {
    let open = gate_stderr("endpoint = \"http://127.0.0.1:9\"\nfail_mode = \"open\"");
    assert!(
        open.contains("a Sentinel client fails OPEN"),
        "fail-open warning missing: {open}"
    );
    // Never contacted: the gate's client is idle, only built.
    let unpinned = gate_stderr("endpoint = \"http://192.0.2.1:9\"");
    assert!(
        unpinned.contains("beyond loopback without a pinned signing key"),
        "unpinned-key warning missing: {unpinned}"
    );
}

#[test]
fn an_empty_trusted_key_id_list_stops_the_gate_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gate.toml");
    std::fs::write(
        &config,
        "[sentinel]\nendpoint = \"http://127.0.0.1:9\"\ntrusted_key_ids = []\n[[tools]]\nname = \"*\"\ndeny = true\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sentinelctl"))
        .args(["mcp", "--config"])
        .arg(&config)
        .args(["--", "/bin/true"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let expected = format!(
        "sentinelctl mcp: {}:3:19: `trusted_key_ids` is empty",
        config.display()
    );
    assert!(stderr.starts_with(&expected), "{stderr}");
}

#[test]
fn listening_beyond_loopback_without_the_flag_stops_the_gate_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gate.toml");
    std::fs::write(
        &config,
        "[sentinel]\nendpoint = \"http://127.0.0.1:9\"\n[[tools]]\nname = \"*\"\nallow = true\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let out = sentinelctl(&["mcp", "--config", config, "--listen", "0.0.0.0:0", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stderr).unwrap();
    assert!(
        text.contains("--listen 0.0.0.0:0 is beyond loopback") && text.contains("--listen-beyond-loopback"),
        "{text}"
    );
    // The flag alone, without --listen, is a usage error.
    let out = sentinelctl(&[
        "mcp",
        "--config",
        config,
        "--listen-beyond-loopback",
        "--",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn upstream_headers_with_a_command_upstream_stop_the_gate_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gate.toml");
    std::fs::write(
        &config,
        "[sentinel]\nendpoint = \"http://127.0.0.1:9\"\n[upstream]\nheaders = { authorization = \"Bearer s3cret\" }\n",
    )
    .unwrap();
    let out = sentinelctl(&["mcp", "--config", config.to_str().unwrap(), "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stderr).unwrap();
    assert!(
        text.contains("[upstream] headers are sent to an upstream over streamable HTTP"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
}

#[test]
fn check_refuses_upstream_headers_with_a_command_as_the_gate_does_and_names_only_the_program() {
    let dir = tempfile::tempdir().unwrap();
    let with_headers = dir.path().join("headers.toml");
    std::fs::write(
        &with_headers,
        "[sentinel]\nendpoint = \"http://127.0.0.1:9\"\n[upstream]\nheaders = { authorization = \"Bearer s3cret\" }\n",
    )
    .unwrap();
    let out = sentinelctl(&["mcp", "--check", with_headers.to_str().unwrap(), "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stderr).unwrap();
    assert!(
        text.contains("[upstream] headers are sent to an upstream over streamable HTTP"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");

    let plain = dir.path().join("gate.toml");
    std::fs::write(&plain, "[sentinel]\nendpoint = \"http://127.0.0.1:9\"\n").unwrap();
    let out = sentinelctl(&[
        "mcp",
        "--check",
        plain.to_str().unwrap(),
        "--",
        "/nonexistent/mcp-server --token=s3cret",
    ]);
    assert!(!out.status.success());
    let text = String::from_utf8(out.stderr).unwrap();
    assert!(
        text.contains("the upstream MCP server `/nonexistent/mcp-server`"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
}
