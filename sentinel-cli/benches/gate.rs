//! What the MCP gate costs: the time it adds to a `tools/call` beyond the guard itself, and
//! its memory. Not a test: it prints numbers (and checks only that the answers are right).
//!
//!     cargo bench -p montanalabs-sentinel-cli --bench gate [-- --calls N]
//!
//! The upstream is this binary run again as a minimal MCP server over stdio (it answers at
//! once, so what is measured is the path, not a server's work); the sidecar is the crate's
//! loopback `MockSidecar` answering ALLOW. Four paths, each N sequential calls after a warm-up:
//!
//! - direct: the client talks to the upstream itself;
//! - gate, `allow` rule: through `sentinelctl mcp`, no guard (the relay alone);
//! - gate, guarded: through `sentinelctl mcp`, one guard per call;
//! - guard alone: `SentinelClient::guard` against the same stub, in this process;
//! - over streamable HTTP: the two gate paths again, the client a session over HTTP/1.1
//!   (keep-alive) to `sentinelctl mcp --listen 127.0.0.1:0`, each answer read from its POST.
//!
//! Added by the gate beyond the guard = guarded − direct − guard alone (per percentile).
//! Memory: the gate's resident set after `initialize`, and with 32 calls in flight (the
//! upstream holds each `slow` call 500 ms).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sentinel::testing::MockSidecar;
use sentinel::{Action, Context, SentinelClient};
use serde_json::{json, Value};

const UPSTREAM_FLAG: &str = "SENTINELCTL_BENCH_UPSTREAM";
const IN_FLIGHT: usize = 32;

fn main() {
    if std::env::var_os(UPSTREAM_FLAG).is_some() {
        return fake_upstream();
    }
    let calls = std::env::args()
        .skip_while(|a| a != "--calls")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000usize);
    let warmup = calls / 10;
    let sidecar = MockSidecar::allow_all();
    let dir = tempfile::tempdir().unwrap();
    let self_exe = std::env::current_exe().unwrap();

    let direct = {
        let mut session = Session::start(Command::new(&self_exe).env(UPSTREAM_FLAG, "1"));
        session.time_calls("echo", warmup, calls)
    };
    let relay_only = {
        let config = write_config(dir.path(), "allow", &sidecar.endpoint(), "allow = true");
        let mut session = Session::start(&mut gate(&config, &self_exe));
        session.time_calls("echo", warmup, calls)
    };
    let guarded_config = write_config(
        dir.path(),
        "guard",
        &sidecar.endpoint(),
        "policy = \"bench.policy\"\nkind = \"bench_call\"",
    );
    let (guarded, rest_kib, in_flight_kib) = {
        let mut session = Session::start(&mut gate(&guarded_config, &self_exe));
        let rest_kib = rss_kib(session.child.id());
        let times = session.time_calls("echo", warmup, calls);
        let in_flight_kib = session.in_flight_rss("slow", IN_FLIGHT);
        (times, rest_kib, in_flight_kib)
    };
    let relay_http = {
        let config = write_config(dir.path(), "allow", &sidecar.endpoint(), "allow = true");
        let mut session = HttpSession::start(&mut gate_listening(&config, &self_exe));
        session.time_calls("echo", warmup, calls)
    };
    let guarded_http = {
        let mut session = HttpSession::start(&mut gate_listening(&guarded_config, &self_exe));
        session.time_calls("echo", warmup, calls)
    };
    let guard_alone = {
        let client = SentinelClient::builder(sidecar.endpoint()).build().unwrap();
        let context = Context::new("bench-run");
        let action = Action::of("bench_call", json!({"n": 1}));
        let mut times = Vec::with_capacity(calls);
        for i in 0..warmup + calls {
            let started = Instant::now();
            assert!(client.guard(&action, &context, "bench.policy").allowed());
            if i >= warmup {
                times.push(started.elapsed());
            }
        }
        times
    };

    let [direct, relay_only, guarded, guard_alone, relay_http, guarded_http] =
        [direct, relay_only, guarded, guard_alone, relay_http, guarded_http].map(|mut t| summary(&mut t));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "MCP gate, {calls} sequential tools/call each (after {warmup} warm-up); load {}",
        load.trim()
    );
    println!();
    println!("| path | p50 | p99 |");
    println!("|---|---|---|");
    for (name, (p50, p99)) in [
        ("direct to the upstream", direct),
        ("through the gate, `allow` rule (relay only)", relay_only),
        ("through the gate, guarded (stub sidecar, ALLOW)", guarded),
        ("the guard alone, in-process, same stub", guard_alone),
        (
            "over streamable HTTP (`--listen`), `allow` rule (relay only)",
            relay_http,
        ),
        (
            "over streamable HTTP (`--listen`), guarded (stub sidecar, ALLOW)",
            guarded_http,
        ),
    ] {
        println!("| {name} | {} | {} |", micros(p50), micros(p99));
    }
    let added = |pick: fn((Duration, Duration)) -> Duration| {
        let added =
            pick(guarded).as_secs_f64() - pick(direct).as_secs_f64() - pick(guard_alone).as_secs_f64();
        if added < 0.0 {
            // Tails of three separate runs do not subtract on a loaded machine.
            "n/a (tails of separate runs; see the rows above)".to_owned()
        } else {
            format!("{:.0} µs", added * 1e6)
        }
    };
    println!(
        "| **added by the gate beyond the guard** (guarded − direct − guard alone) | **{}** | **{}** |",
        added(|(p50, _)| p50),
        added(|(_, p99)| p99)
    );
    println!();
    println!("| gate memory (resident set) | KiB |");
    println!("|---|---|");
    println!("| at rest, after initialize | {rest_kib} |");
    println!("| with {IN_FLIGHT} calls in flight | {in_flight_kib} |");
    drop(sidecar);
}

fn summary(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    (at(0.50), at(0.99))
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn write_config(dir: &std::path::Path, name: &str, endpoint: &str, rule: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!("[sentinel]\nendpoint = \"{endpoint}\"\n\n[[tools]]\nname = \"*\"\n{rule}\n"),
    )
    .unwrap();
    path
}

fn gate(config: &std::path::Path, upstream: &std::path::Path) -> Command {
    gate_with(config, upstream, &[])
}

/// The gate serving streamable HTTP on a loopback port it picks (and prints).
fn gate_listening(config: &std::path::Path, upstream: &std::path::Path) -> Command {
    gate_with(config, upstream, &["--listen", "127.0.0.1:0"])
}

fn gate_with(config: &std::path::Path, upstream: &std::path::Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sentinelctl"));
    command
        .args(["mcp", "--config"])
        .arg(config)
        .args(extra)
        .arg("--")
        .arg(upstream)
        .env(UPSTREAM_FLAG, "1");
    command
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// An MCP client session over a child's stdio, one line per message.
struct Session {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    next_id: u64,
}

impl Session {
    fn start(command: &mut Command) -> Session {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut session = Session {
            input: child.stdin.take().unwrap(),
            output: BufReader::new(child.stdout.take().unwrap()),
            child,
            next_id: 0,
        };
        let init = session.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}),
        );
        assert!(init["result"]["serverInfo"].is_object(), "{init}");
        session.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        session
    }

    fn send(&mut self, message: Value) {
        writeln!(self.input, "{message}").unwrap();
        self.input.flush().unwrap();
    }

    fn receive(&mut self) -> Value {
        let mut line = String::new();
        assert!(
            self.output.read_line(&mut line).unwrap() > 0,
            "the server closed its output"
        );
        serde_json::from_str(&line).unwrap()
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}));
        self.receive()
    }

    fn time_calls(&mut self, tool: &str, warmup: usize, calls: usize) -> Vec<Duration> {
        let mut times = Vec::with_capacity(calls);
        for i in 0..warmup + calls {
            let started = Instant::now();
            let answer = self.request("tools/call", json!({"name": tool, "arguments": {"n": i}}));
            let elapsed = started.elapsed();
            assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
            if i >= warmup {
                times.push(elapsed);
            }
        }
        times
    }

    /// Sends `n` calls the upstream holds for 500 ms, samples the gate's memory while they
    /// are held, then collects the answers.
    fn in_flight_rss(&mut self, tool: &str, n: usize) -> u64 {
        for i in 0..n {
            self.next_id += 1;
            let id = self.next_id;
            self.send(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": {"n": i}}}));
        }
        std::thread::sleep(Duration::from_millis(250));
        let kib = rss_kib(self.child.id());
        for _ in 0..n {
            let answer = self.receive();
            assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
        }
        kib
    }
}

/// An MCP client session over streamable HTTP to a gate started with `--listen`: one POST per
/// message on a keep-alive connection, each answer read from its POST's response.
struct HttpSession {
    child: Child,
    agent: ureq::Agent,
    url: String,
    session_id: String,
    next_id: u64,
}

impl HttpSession {
    fn start(command: &mut Command) -> HttpSession {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut url = None;
        for _ in 0..20 {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap() == 0 {
                break;
            }
            eprint!("{line}");
            if let Some(at) = line
                .trim()
                .strip_prefix("sentinelctl mcp: serving MCP over streamable HTTP at ")
            {
                url = Some(at.to_owned());
                break;
            }
        }
        // The rest of the gate's stderr, passed on so its pipe never fills.
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                eprintln!("{line}");
            }
        });
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut session = HttpSession {
            child,
            agent,
            url: url.expect("the gate says where it listens"),
            session_id: String::new(),
            next_id: 0,
        };
        let init = session.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}),
        );
        assert!(init["result"]["serverInfo"].is_object(), "{init}");
        session.post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        session
    }

    /// POSTs one message; the JSON-RPC answer in the response (JSON or an SSE stream), if any.
    fn post(&mut self, message: &Value) -> Option<Value> {
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream");
        if !self.session_id.is_empty() {
            request = request
                .header("Mcp-Session-Id", &self.session_id)
                .header("MCP-Protocol-Version", "2025-06-18");
        }
        let mut response = request.send(message.to_string()).unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        if let Some(id) = response.headers().get("mcp-session-id") {
            self.session_id = id.to_str().unwrap().to_owned();
        }
        let body = response.body_mut().read_to_string().unwrap();
        body.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .chain(std::iter::once(body.as_str()))
            .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
            .find(|answer| answer.get("id").is_some())
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let message = json!({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params});
        self.post(&message).expect("an answer")
    }

    fn time_calls(&mut self, tool: &str, warmup: usize, calls: usize) -> Vec<Duration> {
        let mut times = Vec::with_capacity(calls);
        for i in 0..warmup + calls {
            let started = Instant::now();
            let answer = self.request("tools/call", json!({"name": tool, "arguments": {"n": i}}));
            let elapsed = started.elapsed();
            assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
            if i >= warmup {
                times.push(elapsed);
            }
        }
        times
    }
}

impl Drop for HttpSession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The upstream: answers `initialize` and `tools/call` (`slow` after 500 ms), nothing else.
fn fake_upstream() {
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let reply = |out: &Mutex<std::io::Stdout>, message: Value| {
        let mut out = out.lock().unwrap();
        writeln!(out, "{message}").unwrap();
        out.flush().unwrap();
    };
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { return };
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let Some(id) = message.get("id").cloned() else {
            continue;
        };
        match message["method"].as_str() {
            Some("initialize") => reply(
                &out,
                json!({"jsonrpc": "2.0", "id": id, "result": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "bench-upstream", "version": "1"}
                }}),
            ),
            Some("tools/call") => {
                let result = json!({"jsonrpc": "2.0", "id": id, "result": {
                    "content": [{"type": "text", "text": "ok"}], "isError": false
                }});
                if message["params"]["name"] == "slow" {
                    let out = out.clone();
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(500));
                        reply(&out, result);
                    });
                } else {
                    reply(&out, result);
                }
            }
            _ => reply(&out, json!({"jsonrpc": "2.0", "id": id, "result": {}})),
        }
    }
}
