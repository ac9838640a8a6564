//! The gate between real MCP parts nobody here wrote: the MCP servers
//! `@modelcontextprotocol/server-filesystem` and `@modelcontextprotocol/server-everything`
//! from npm, the Python MCP SDK from PyPI as the client (`tests/mcp/client.py`, on
//! `mcp.client.stdio`), and the real sidecar.
//!
//! `.ci/run` installs the MCP parts with `.ci/mcp-deps.sh` (pinned; `SENTINEL_MCP_DEPS` is
//! where), starts the sidecar (`SENTINEL_LIVE_ENDPOINT`), and runs these with `--ignored`.
//! Without them each test prints that it is skipped.
//!
//! The sidecar's `healthcare.record_write` pack decides deterministically, which the cases
//! are built on: a payload with neither PII fields nor `clinicalSignificant` is allowed; a
//! PII field (`ssn`) without a region cleared for PII is blocked (data boundary); `clinicalSignificant: true` escalates to `attending_physician`. The filesystem
//! server ignores the extra arguments (its schemas strip unknown keys).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Parts {
    python: PathBuf,
    client: PathBuf,
    filesystem: PathBuf,
    everything: PathBuf,
    endpoint: String,
}

/// The parts, or `None` after printing which is missing.
fn parts(test: &str) -> Option<Parts> {
    let Some(endpoint) = std::env::var("SENTINEL_LIVE_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    else {
        println!("{test}: skipped, SENTINEL_LIVE_ENDPOINT is not set (.ci/run starts the real sidecar)");
        return None;
    };
    let Some(deps) = std::env::var_os("SENTINEL_MCP_DEPS").map(PathBuf::from) else {
        println!("{test}: skipped, SENTINEL_MCP_DEPS is not set (.ci/run installs the MCP parts with .ci/mcp-deps.sh)");
        return None;
    };
    let servers = deps.join("npm/node_modules/@modelcontextprotocol");
    let parts = Parts {
        python: deps.join("venv/bin/python"),
        client: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.py"),
        filesystem: servers.join("server-filesystem/dist/index.js"),
        everything: servers.join("server-everything/dist/index.js"),
        endpoint: endpoint.trim_end_matches('/').to_owned(),
    };
    for needed in [&parts.python, &parts.filesystem, &parts.everything] {
        if !needed.exists() {
            println!(
                "{test}: skipped, {} is missing (run .ci/mcp-deps.sh)",
                needed.display()
            );
            return None;
        }
    }
    Some(parts)
}

fn sentinelctl() -> String {
    env!("CARGO_BIN_EXE_sentinelctl").to_owned()
}

/// Runs `plan` with the Python client against the server `command` starts; what the client
/// saw. Bounded: a client still running after two minutes is killed and the test fails.
fn run_plan(parts: &Parts, dir: &Path, plan: Value, command: &[String]) -> Value {
    let mut to = vec!["--".to_owned()];
    to.extend(command.iter().cloned());
    run_plan_to(parts, dir, plan, &to)
}

/// Runs `plan` with the Python client over streamable HTTP against the server at `url`.
fn run_plan_at(parts: &Parts, dir: &Path, plan: Value, url: &str) -> Value {
    run_plan_to(parts, dir, plan, &["--url".to_owned(), url.to_owned()])
}

fn run_plan_to(parts: &Parts, dir: &Path, plan: Value, server: &[String]) -> Value {
    let plan_path = dir.join(format!("plan-{}.json", uuid()));
    std::fs::write(&plan_path, plan.to_string()).unwrap();
    let mut child = Command::new(&parts.python)
        .arg(&parts.client)
        .arg(&plan_path)
        .args(server)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the Python MCP client starts");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("the MCP client did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "client output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// A fresh name in a test's folder.
fn uuid() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The gate's command line in front of `upstream`, with `config` written beside the data.
fn gated(dir: &Path, config: &str, upstream: &[String]) -> Vec<String> {
    let config_path = dir.join(format!("gate-{}.toml", uuid()));
    std::fs::write(&config_path, config).unwrap();
    gated_by(&config_path, None, upstream)
}

/// The gate's command line with the configuration at `config_path`, and `SENTINEL_ENDPOINT`
/// (the Python client passes the server only a few variables of its own, so `env` sets it).
fn gated_by(config_path: &Path, endpoint: Option<&str>, upstream: &[String]) -> Vec<String> {
    let mut command = Vec::new();
    if let Some(endpoint) = endpoint {
        command.extend(["env".to_owned(), format!("SENTINEL_ENDPOINT={endpoint}")]);
    }
    command.extend([
        sentinelctl(),
        "mcp".into(),
        "--config".into(),
        config_path.display().to_string(),
        "--".into(),
    ]);
    command.extend(upstream.iter().cloned());
    command
}

/// The committed example configuration (README), which reads the sidecar's address from
/// `SENTINEL_ENDPOINT`.
fn example_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gate.toml")
}

/// The README's gate in front of the filesystem server.
fn example_gate(endpoint: &str, data: &Path, parts: &Parts) -> Vec<String> {
    gated_by(&example_config(), Some(endpoint), &filesystem(parts, data))
}

fn filesystem(parts: &Parts, data: &Path) -> Vec<String> {
    vec![
        "node".into(),
        parts.filesystem.display().to_string(),
        data.display().to_string(),
    ]
}

fn everything(parts: &Parts) -> Vec<String> {
    vec![
        "node".into(),
        parts.everything.display().to_string(),
        "stdio".into(),
    ]
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn data_dir(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    // The filesystem server resolves symlinks (/tmp may be one): compare canonical paths.
    data.canonicalize().unwrap()
}

fn text_of(step: &Value) -> String {
    step["text"].as_array().map_or(String::new(), |texts| {
        texts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    })
}

fn write(path: &Path, content: &str, extra: Value) -> Value {
    let mut args = json!({"path": path.display().to_string(), "content": content});
    args.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"op": "call", "name": "write_file", "args": args})
}

#[test]
#[ignore = "needs npm/PyPI MCP parts and a real sidecar (.ci/run)"]
fn the_tool_list_hides_a_denied_tool_and_an_allowed_write_lands_on_disk() {
    let Some(parts) = parts("the_tool_list_hides_a_denied_tool_and_an_allowed_write_lands_on_disk") else {
        return;
    };
    let dir = tempdir();
    let data = data_dir(dir.path());
    let file = data.join("allowed.txt");
    let plan = json!([{"op": "list_tools"}, write(&file, "hello through the gate", json!({}))]);

    let direct = run_plan(
        &parts,
        dir.path(),
        json!([{"op": "list_tools"}]),
        &filesystem(&parts, &data),
    );
    let seen = run_plan(
        &parts,
        dir.path(),
        plan,
        &example_gate(&parts.endpoint, &data, &parts),
    );

    let direct_tools = direct["steps"][0]["tools"].as_array().unwrap().clone();
    assert!(direct_tools.contains(&json!("move_file")), "{direct}");
    let expected: Vec<Value> = direct_tools.into_iter().filter(|t| t != "move_file").collect();
    assert_eq!(seen["steps"][0]["tools"], Value::Array(expected), "{seen}");
    assert_eq!(seen["steps"][1]["isError"], json!(false), "{seen}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "hello through the gate");
}

#[test]
#[ignore = "needs npm/PyPI MCP parts and a real sidecar (.ci/run)"]
fn a_blocked_write_leaves_the_disk_untouched_and_the_client_reads_the_sidecars_reason() {
    let Some(parts) =
        parts("a_blocked_write_leaves_the_disk_untouched_and_the_client_reads_the_sidecars_reason")
    else {
        return;
    };
    let dir = tempdir();
    let data = data_dir(dir.path());
    let file = data.join("blocked.txt");
    let plan = json!([
        write(&file, "a patient's number", json!({"ssn": "078-05-1120"})),
        {"op": "call", "name": "move_file", "args": {"source": data.join("x").display().to_string(), "destination": data.join("y").display().to_string()}},
    ]);
    let seen = run_plan(
        &parts,
        dir.path(),
        plan,
        &example_gate(&parts.endpoint, &data, &parts),
    );

    let blocked = &seen["steps"][0];
    assert_eq!(blocked["isError"], json!(true), "{seen}");
    assert_eq!(
        text_of(blocked),
        "BLOCK: file_write under policy healthcare.record_write was not carried out. Reason: \
         data-boundary violation: region \"unknown\" not cleared for PII"
    );
    assert!(!file.exists(), "a blocked write must not reach the server");
    let denied = &seen["steps"][1];
    assert_eq!(denied["isError"], json!(true), "{seen}");
    assert_eq!(
        text_of(denied),
        "BLOCK: move_file was not carried out; the gate's configuration denies this tool"
    );
}

#[test]
#[ignore = "needs npm/PyPI MCP parts and a real sidecar (.ci/run)"]
fn an_escalated_write_parks_with_its_id_then_runs_once_after_a_human_approves_it() {
    let Some(parts) = parts("an_escalated_write_parks_with_its_id_then_runs_once_after_a_human_approves_it")
    else {
        return;
    };
    let dir = tempdir();
    let data = data_dir(dir.path());
    let file = data.join("chart.txt");
    let call = write(&file, "potassium 6.1", json!({"clinicalSignificant": true}));
    let plan = json!([
        call.clone(),
        call.clone(),
        {"op": "approve", "escalation_of": 0, "endpoint": parts.endpoint, "approver": "attending_physician"},
        call.clone(),
        call.clone(),
    ]);
    let seen = run_plan(
        &parts,
        dir.path(),
        plan,
        &example_gate(&parts.endpoint, &data, &parts),
    );
    let steps = seen["steps"].as_array().unwrap_or_else(|| panic!("{seen}"));

    let parked = text_of(&steps[0]);
    assert_eq!(steps[0]["isError"], json!(true), "{seen}");
    assert!(
        parked.starts_with("ESCALATE: file_write under policy healthcare.record_write was not carried out; it awaits human approval (escalation esc_"),
        "{parked}"
    );
    assert!(
        parked.ends_with("Reason: clinically-significant change requires clinician sign-off"),
        "{parked}"
    );
    let escalation = steps[2]["escalation"]
        .as_str()
        .unwrap_or_else(|| panic!("{seen}"));
    assert!(parked.contains(escalation));

    // Asked again before anyone approved: still held, on the same escalation.
    assert_eq!(steps[1]["isError"], json!(true), "{seen}");
    assert!(text_of(&steps[1]).contains(escalation), "{seen}");
    assert_eq!(steps[2]["status"], json!(200), "{seen}");

    // Approved: the identical call runs, once.
    assert_eq!(steps[3]["isError"], json!(false), "{seen}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "potassium 6.1");
    assert_eq!(steps[4]["isError"], json!(true), "{seen}");
    let again = text_of(&steps[4]);
    assert!(
        again.starts_with("ESCALATE: ") && !again.contains(escalation),
        "a new escalation: {again}"
    );
}

#[test]
#[ignore = "needs npm/PyPI MCP parts and a real sidecar (.ci/run)"]
fn with_the_sidecar_down_a_write_is_refused_and_nothing_is_written() {
    let Some(parts) = parts("with_the_sidecar_down_a_write_is_refused_and_nothing_is_written") else {
        return;
    };
    let dir = tempdir();
    let data = data_dir(dir.path());
    let file = data.join("unchecked.txt");
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let gate = example_gate(&format!("http://127.0.0.1:{closed_port}"), &data, &parts);
    let seen = run_plan(&parts, dir.path(), json!([write(&file, "x", json!({}))]), &gate);

    let refused = &seen["steps"][0];
    assert_eq!(refused["isError"], json!(true), "{seen}");
    let text = text_of(refused);
    assert!(
        text.starts_with("BLOCK: file_write under policy healthcare.record_write was not carried out; it could not be checked. Reason: sentinel sidecar unreachable"),
        "{text}"
    );
    assert!(!file.exists());
}

#[test]
#[ignore = "needs npm/PyPI MCP parts and a real sidecar (.ci/run)"]
fn the_upstreams_own_errors_and_non_tool_traffic_arrive_unchanged() {
    let Some(parts) = parts("the_upstreams_own_errors_and_non_tool_traffic_arrive_unchanged") else {
        return;
    };
    let dir = tempdir();
    let config = format!(
        "[sentinel]\nendpoint = \"{}\"\n\n[[tools]]\nname = \"*\"\npolicy = \"healthcare.record_write\"\nkind = \"mcp_tool\"\n",
        parts.endpoint
    );
    let plan = json!([
        {"op": "list_tools"},
        {"op": "list_prompts"},
        {"op": "get_prompt", "name": "simple-prompt"},
        {"op": "get_prompt", "name": "no-such-prompt"},
        {"op": "list_resources"},
        {"op": "read_resource", "uri": "demo://resource/static/document/architecture.md"},
        {"op": "read_resource", "uri": "demo://no/such/resource"},
        {"op": "ping"},
        {"op": "call", "name": "get-sum", "args": {"a": 2, "b": 40}},
        {"op": "call", "name": "get-sum", "args": {"a": "two", "b": 40}},
        {"op": "call", "name": "no-such-tool", "args": {}},
        {"op": "call", "name": "echo", "args": {"message": "through"}},
    ]);
    let direct = run_plan(&parts, dir.path(), plan.clone(), &everything(&parts));
    let through = run_plan(
        &parts,
        dir.path(),
        plan,
        &gated(dir.path(), &config, &everything(&parts)),
    );

    assert_eq!(through["initialize"], direct["initialize"]);
    let (direct_steps, gated_steps) = (
        direct["steps"].as_array().unwrap(),
        through["steps"].as_array().unwrap(),
    );
    assert_eq!(direct_steps.len(), 12, "{direct}");
    for (at, (want, got)) in direct_steps.iter().zip(gated_steps).enumerate() {
        assert_eq!(got, want, "step {at} differs through the gate");
    }
    // The cases are what they claim: a real answer, the upstream's errors.
    assert_eq!(direct_steps[8]["isError"], json!(false), "{direct}");
    assert!(direct_steps[3].get("error").is_some(), "{direct}");
    assert!(
        direct_steps[9]["isError"] == json!(true) || direct_steps[9].get("error").is_some(),
        "{direct}"
    );
}

#[test]
#[ignore = "needs npm/PyPI MCP parts and a real sidecar (.ci/run)"]
fn thirty_two_concurrent_guarded_calls_all_complete() {
    let Some(parts) = parts("thirty_two_concurrent_guarded_calls_all_complete") else {
        return;
    };
    let dir = tempdir();
    let data = data_dir(dir.path());
    let plan = json!([{
        "op": "calls", "n": 32, "name": "write_file",
        "args": {"path": format!("{}/file-{{i}}.txt", data.display()), "content": "content {i}"},
    }]);
    let seen = run_plan(
        &parts,
        dir.path(),
        plan,
        &example_gate(&parts.endpoint, &data, &parts),
    );
    let results = seen["steps"][0]["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{seen}"));
    assert_eq!(results.len(), 32);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["isError"], json!(false), "call {i}: {result}");
        assert_eq!(
            std::fs::read_to_string(data.join(format!("file-{i}.txt"))).unwrap(),
            format!("content {i}")
        );
    }
}

#[test]
#[ignore = "needs npm/PyPI MCP parts and a real sidecar (.ci/run)"]
fn an_upstream_that_cannot_start_or_dies_is_an_mcp_error_not_a_hang() {
    let Some(parts) = parts("an_upstream_that_cannot_start_or_dies_is_an_mcp_error_not_a_hang") else {
        return;
    };
    let dir = tempdir();
    let config = example_config();
    let missing = run_plan(
        &parts,
        dir.path(),
        json!([]),
        &gated_by(
            &config,
            Some(&parts.endpoint),
            &["/nonexistent/mcp-server".into()],
        ),
    );
    let message = missing["initialize"]["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{missing}"));
    assert!(
        message.starts_with("the upstream MCP server `/nonexistent/mcp-server` could not be started: "),
        "{message}"
    );
    // Reads the client's first message, then exits without answering it.
    let dies = ["sh".to_owned(), "-c".into(), "read -r line; exit 3".into()];
    let died = run_plan(
        &parts,
        dir.path(),
        json!([]),
        &gated_by(&config, Some(&parts.endpoint), &dies),
    );
    let message = died["initialize"]["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{died}"));
    assert_eq!(message, "the upstream MCP server exited (exit status: 3)");
}

#[test]
#[ignore = "needs npm/PyPI MCP parts and a real sidecar (.ci/run)"]
fn check_lists_the_filesystem_servers_tools_with_their_rules() {
    let Some(parts) = parts("check_lists_the_filesystem_servers_tools_with_their_rules") else {
        return;
    };
    let dir = tempdir();
    let data = data_dir(dir.path());
    let out = Command::new(sentinelctl())
        .env("SENTINEL_ENDPOINT", &parts.endpoint)
        .args(["mcp", "--check"])
        .arg(example_config())
        .arg("--")
        .args(filesystem(&parts, &data))
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // Columns are padded to the longest tool name: compare words.
    let lines: Vec<String> = text
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    for expected in [
        "write_file guarded: policy `healthcare.record_write`, action type `file_write`; an escalation parks (rule `write_file`, line 49)",
        "edit_file guarded: policy `healthcare.record_write`, action type `file_edit`; an escalation waits up to 120s for a human (rule `edit_file`, line 55)",
        "move_file denied: hidden from tools/list and refused (rule `move_file`, line 62)",
        "read_text_file allowed without asking the sidecar (rule `read_*`, line 26)",
        "create_directory refused: no rule names it",
    ] {
        assert!(lines.iter().any(|line| line == expected), "{expected}\nnot in\n{text}");
    }
}

/// A child process killed when the test ends, however it ends.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs npm/PyPI MCP parts and a real sidecar (.ci/run)"]
fn an_upstream_over_streamable_http_is_gated_the_same_way() {
    let Some(parts) = parts("an_upstream_over_streamable_http_is_gated_the_same_way") else {
        return;
    };
    let dir = tempdir();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let _server = Killed(
        Command::new("node")
            .arg(&parts.everything)
            .arg("streamableHttp")
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server-everything did not listen within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let config = format!(
        "[sentinel]\nendpoint = \"{}\"\n\n[[tools]]\nname = \"*\"\npolicy = \"healthcare.record_write\"\nkind = \"mcp_tool\"\n",
        parts.endpoint
    );
    let config_path = dir.path().join("gate.toml");
    std::fs::write(&config_path, config).unwrap();
    let gate = vec![
        sentinelctl(),
        "mcp".into(),
        "--config".into(),
        config_path.display().to_string(),
        "--upstream-url".into(),
        format!("http://127.0.0.1:{port}/mcp"),
    ];
    let same = json!([
        {"op": "list_tools"},
        {"op": "call", "name": "get-sum", "args": {"a": 2, "b": 40}},
        {"op": "call", "name": "get-sum", "args": {"a": "two", "b": 40}},
        {"op": "ping"},
    ]);
    let mut plan = same.as_array().unwrap().clone();
    plan.push(json!({"op": "call", "name": "echo", "args": {"message": "hi", "ssn": "078-05-1120"}}));
    let direct = run_plan(&parts, dir.path(), same, &everything(&parts));
    let through = run_plan(&parts, dir.path(), Value::Array(plan), &gate);

    let steps = through["steps"].as_array().unwrap_or_else(|| panic!("{through}"));
    for (at, want) in direct["steps"].as_array().unwrap().iter().enumerate() {
        assert_eq!(&steps[at], want, "step {at} differs through the gate over HTTP");
    }
    assert_eq!(steps[1]["isError"], json!(false), "{through}");
    assert_eq!(steps[4]["isError"], json!(true), "{through}");
    assert!(
        text_of(&steps[4]).starts_with("BLOCK: mcp_tool under policy healthcare.record_write was not carried out. Reason: data-boundary violation"),
        "{through}"
    );

    let check = Command::new(sentinelctl())
        .args(["mcp", "--check"])
        .arg(&config_path)
        .args(["--upstream-url", &format!("http://127.0.0.1:{port}/mcp")])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(check.status.success());
    let listed = String::from_utf8(check.stdout).unwrap();
    assert!(
        listed.lines().any(|line| line.split_whitespace().collect::<Vec<_>>().join(" ")
            == "get-sum guarded: policy `healthcare.record_write`, action type `mcp_tool`; an escalation parks (rule `*`, line 5)"),
        "{listed}"
    );
}

/// A sidecar of the test's own, stopped by its PID when the test ends.
struct OwnSidecar {
    script: PathBuf,
    pid: String,
    endpoint: String,
}

impl Drop for OwnSidecar {
    fn drop(&mut self) {
        let _ = Command::new(&self.script).args(["stop", &self.pid]).status();
    }
}

#[test]
#[ignore = "needs npm/PyPI MCP parts and a real sidecar (.ci/run)"]
fn in_receipt_mode_a_write_runs_only_on_a_validated_receipt_and_its_execution_is_reported() {
    use sentinel::adjudication::{ExecutorKey, ReceiptClient};
    use sentinel::provenance::TrustedKeys;

    let test = "in_receipt_mode_a_write_runs_only_on_a_validated_receipt_and_its_execution_is_reported";
    let Some(parts) = parts(test) else { return };
    let Some(script) = std::env::var_os("SENTINEL_SIDECAR_SCRIPT").map(PathBuf::from) else {
        println!("{test}: skipped, SENTINEL_SIDECAR_SCRIPT is not set (.ci/run sets it)");
        return;
    };
    // The sidecar signs receipts with the peers' script's default seed (bytes 0..31).
    const ISSUER_KEY: &str = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
    let executor = ExecutorKey::from_seed([7; 32], "mcp-gate");
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let started = Command::new(&script)
        .args(["start", &port.to_string(), "--protocol"])
        .arg(format!(
            "SENTINEL_PROTOCOL_EXECUTOR_KEYS={}",
            executor.sidecar_setting()
        ))
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(started.status.success(), "the protocol sidecar did not start");
    let sidecar = OwnSidecar {
        script,
        pid: String::from_utf8(started.stdout).unwrap().trim().to_owned(),
        endpoint: format!("http://127.0.0.1:{port}"),
    };

    let dir = tempdir();
    let data = data_dir(dir.path());
    std::fs::write(
        dir.path().join("executor.seed"),
        "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
    )
    .unwrap();
    let config = format!(
        r#"
[sentinel]
endpoint = "{}"

[context]
provider = "anthropic"

[receipts]
executor = "mcp-gate"
executor_seed_file = "executor.seed"
issuer_keys = ["{ISSUER_KEY}"]
target_service = "filesystem"

[[tools]]
name = "write_file"
policy = "healthcare.record_write"
kind = "file_write"
receipt = true
"#,
        sidecar.endpoint
    );
    let (allowed, blocked) = (data.join("allowed.txt"), data.join("blocked.txt"));
    let chart = data.join("chart.txt");
    let escalated = write(&chart, "potassium 6.1", json!({"clinicalSignificant": true}));
    let plan = json!([
        write(&allowed, "on a receipt", json!({})),
        write(&blocked, "x", json!({"ssn": "078-05-1120"})),
        escalated.clone(),
        escalated.clone(),
        {"op": "approve", "escalation_of": 2, "endpoint": sidecar.endpoint, "approver": "attending_physician"},
        escalated,
    ]);
    let seen = run_plan(
        &parts,
        dir.path(),
        plan,
        &gated(dir.path(), &config, &filesystem(&parts, &data)),
    );
    let steps = seen["steps"].as_array().unwrap_or_else(|| panic!("{seen}"));

    assert_eq!(steps[0]["isError"], json!(false), "{seen}");
    assert_eq!(std::fs::read_to_string(&allowed).unwrap(), "on a receipt");
    assert_eq!(steps[1]["isError"], json!(true), "{seen}");
    assert!(text_of(&steps[1]).contains("no valid receipt"), "{seen}");
    assert!(!blocked.exists());

    // An escalation parks; asked again, the same escalation holds it.
    let parked = text_of(&steps[2]);
    assert!(
        parked.starts_with("ESCALATE: file_write under policy healthcare.record_write"),
        "{seen}"
    );
    let escalation = steps[4]["escalation"]
        .as_str()
        .unwrap_or_else(|| panic!("{seen}"));
    assert!(parked.contains(escalation), "{seen}");
    assert!(
        text_of(&steps[3]).contains(escalation),
        "the same escalation: {seen}"
    );
    assert_eq!(steps[4]["status"], json!(200), "{seen}");
    // Approved, the identical call resumes it (execute_approved): the reference sidecar's
    // adjudicator re-runs its policy and escalates again, so it issues no receipt, and the
    // model reads why, not a new escalation.
    assert_eq!(steps[5]["isError"], json!(true), "{seen}");
    assert!(
        text_of(&steps[5]).contains(&format!(
            "escalation {escalation} is approved, but the sidecar's adjudication is ESCALATE"
        )),
        "{seen}"
    );
    assert!(!chart.exists(), "no receipt, so it never ran");

    // The sidecar's own audit: one execution, reported against its receipt, and valid.
    let receipts = ReceiptClient::new(
        sentinel::SentinelClient::builder(&sidecar.endpoint)
            .build()
            .unwrap(),
        TrustedKeys::new().with_key_base64(ISSUER_KEY).unwrap(),
        executor,
    );
    let audit = receipts.audit().unwrap();
    assert!(audit.valid, "{audit:?}");
    assert_eq!(audit.executions_checked, 1, "{audit:?}");
}

/// A gate serving streamable HTTP, asked to stop (SIGTERM, as a service manager would) when
/// the test ends, so it stops its upstream children; killed if it does not exit in time.
struct Listening {
    gate: std::process::Child,
    url: String,
}

impl Listening {
    /// Starts `sentinelctl mcp --listen 127.0.0.1:0 …` and reads the URL it serves at from
    /// its first line on stderr.
    fn start(config: &Path, endpoint: &str, upstream: &[String]) -> Listening {
        use std::io::BufRead;
        let mut gate = Command::new(sentinelctl())
            .env("SENTINEL_ENDPOINT", endpoint)
            .args(["mcp", "--config"])
            .arg(config)
            .args(["--listen", "127.0.0.1:0", "--"])
            .args(upstream)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = std::io::BufReader::new(gate.stderr.take().unwrap());
        let mut first = String::new();
        stderr.read_line(&mut first).unwrap();
        // The rest of its stderr passes on, so the pipe never fills.
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                eprintln!("gate: {line}");
            }
        });
        let url = first
            .trim()
            .strip_prefix("sentinelctl mcp: serving MCP over streamable HTTP at ")
            .unwrap_or_else(|| panic!("the gate's first line: {first}"))
            .to_owned();
        Listening { gate, url }
    }

    /// Asks the gate to stop; whether it exited successfully within 10 s.
    fn stop(&mut self) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.gate.id().to_string()])
            .status();
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_secs(10) {
            if let Some(status) = self.gate.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        if self.gate.try_wait().ok().flatten().is_none() && !self.stop() {
            let _ = self.gate.kill();
            let _ = self.gate.wait();
        }
    }
}

#[test]
#[ignore = "needs npm/PyPI MCP parts and a real sidecar (.ci/run)"]
fn served_over_streamable_http_a_real_client_sees_the_same_gate() {
    let Some(parts) = parts("served_over_streamable_http_a_real_client_sees_the_same_gate") else {
        return;
    };
    let dir = tempdir();
    let data = data_dir(dir.path());
    let (allowed, blocked) = (data.join("allowed.txt"), data.join("blocked.txt"));
    let mut gate = Listening::start(&example_config(), &parts.endpoint, &filesystem(&parts, &data));
    assert!(gate.url.starts_with("http://127.0.0.1:"), "{}", gate.url);

    let plan = json!([
        {"op": "list_tools"},
        write(&allowed, "over streamable HTTP", json!({})),
        write(&blocked, "a patient's number", json!({"ssn": "078-05-1120"})),
        {"op": "call", "name": "move_file", "args": {"source": allowed.display().to_string(), "destination": data.join("moved.txt").display().to_string()}},
    ]);
    let seen = run_plan_at(&parts, dir.path(), plan, &gate.url);
    let direct = run_plan(
        &parts,
        dir.path(),
        json!([{"op": "list_tools"}]),
        &filesystem(&parts, &data),
    );
    let steps = seen["steps"].as_array().unwrap_or_else(|| panic!("{seen}"));

    let direct_tools = direct["steps"][0]["tools"].as_array().unwrap().clone();
    assert!(direct_tools.contains(&json!("move_file")), "{direct}");
    let expected: Vec<Value> = direct_tools.into_iter().filter(|t| t != "move_file").collect();
    assert_eq!(steps[0]["tools"], Value::Array(expected), "{seen}");
    assert_eq!(steps[1]["isError"], json!(false), "{seen}");
    assert_eq!(std::fs::read_to_string(&allowed).unwrap(), "over streamable HTTP");
    assert_eq!(steps[2]["isError"], json!(true), "{seen}");
    assert_eq!(
        text_of(&steps[2]),
        "BLOCK: file_write under policy healthcare.record_write was not carried out. Reason: \
         data-boundary violation: region \"unknown\" not cleared for PII"
    );
    assert!(!blocked.exists(), "a blocked write must not reach the server");
    assert_eq!(
        text_of(&steps[3]),
        "BLOCK: move_file was not carried out; the gate's configuration denies this tool"
    );
    assert!(allowed.exists(), "the denied move never ran");

    // A second session through the same gate: its own upstream, the same rules.
    let again = run_plan_at(
        &parts,
        dir.path(),
        json!([write(&data.join("second.txt"), "second session", json!({}))]),
        &gate.url,
    );
    assert_eq!(again["steps"][0]["isError"], json!(false), "{again}");
    assert_eq!(
        std::fs::read_to_string(data.join("second.txt")).unwrap(),
        "second session"
    );

    // 32 guarded calls at once over HTTP: every one completes.
    let many = run_plan_at(
        &parts,
        dir.path(),
        json!([{
            "op": "calls", "n": 32, "name": "write_file",
            "args": {"path": format!("{}/many-{{i}}.txt", data.display()), "content": "content {i}"},
        }]),
        &gate.url,
    );
    let results = many["steps"][0]["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{many}"));
    assert_eq!(results.len(), 32);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["isError"], json!(false), "call {i}: {result}");
        assert_eq!(
            std::fs::read_to_string(data.join(format!("many-{i}.txt"))).unwrap(),
            format!("content {i}")
        );
    }
    assert!(gate.stop(), "the gate exits cleanly on SIGTERM");
}
