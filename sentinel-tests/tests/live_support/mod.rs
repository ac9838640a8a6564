//! What the live tests (`tests/live_*.rs`) share: the real sidecar's endpoint from
//! `SENTINEL_LIVE_ENDPOINT`, a sidecar of their own started with `SENTINEL_SIDECAR_SCRIPT`
//! (stopped on drop, panics included), and the pinned key of the script's default seed.
#![allow(dead_code)]

pub mod proxy;

use std::net::TcpListener;
use std::process::Command;

use sentinel::provenance::TrustedKeys;

const SIGNER: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/signer.json"));

/// The key the reference sidecar signs with when started by its script with the default seed.
pub fn pinned_keys() -> TrustedKeys {
    let signer: serde_json::Value = serde_json::from_str(SIGNER).unwrap();
    let keys = TrustedKeys::new()
        .with_key_base64(signer["signerPublicKey"].as_str().unwrap())
        .unwrap();
    assert!(keys.contains_key_id(signer["keyId"].as_str().unwrap()));
    keys
}

/// The real sidecar's endpoint, or `None` after printing that the test is skipped.
pub fn live_endpoint() -> Option<String> {
    match std::env::var("SENTINEL_LIVE_ENDPOINT") {
        Ok(endpoint) if !endpoint.trim().is_empty() => Some(endpoint.trim().trim_end_matches('/').to_owned()),
        _ => {
            println!("skipped: SENTINEL_LIVE_ENDPOINT not set");
            None
        }
    }
}

/// A reference sidecar this test started, on a free loopback port, with its own settings.
/// Stopped (by the PID the script printed) when dropped.
pub struct OwnSidecar {
    script: String,
    pid: String,
    port: u16,
}

impl OwnSidecar {
    /// Starts one with `args` (`--protocol`, `NAME=VALUE` settings), or prints that the
    /// test is skipped and returns `None` when `SENTINEL_SIDECAR_SCRIPT` is not set.
    pub fn start(args: &[&str]) -> Option<OwnSidecar> {
        let script = match std::env::var("SENTINEL_SIDECAR_SCRIPT") {
            Ok(script) if !script.trim().is_empty() => script,
            _ => {
                println!("skipped: SENTINEL_SIDECAR_SCRIPT not set");
                return None;
            }
        };
        Some(OwnSidecar::start_with(&script, free_port(), args))
    }

    fn start_with(script: &str, port: u16, args: &[&str]) -> OwnSidecar {
        let output = Command::new(script)
            .arg("start")
            .arg(port.to_string())
            .args(args)
            .output()
            .expect("run the sidecar script");
        let pid = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        assert!(
            output.status.success() && !pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit()),
            "the sidecar did not start on port {port}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        OwnSidecar {
            script: script.to_owned(),
            pid,
            port,
        }
    }

    /// What the sidecar printed so far (the script keeps it in
    /// `${WORK:-${TMPDIR:-/tmp}/sentinel-sidecar-peer}/sidecar-PORT.log`).
    pub fn log(&self) -> String {
        let work = std::env::var("WORK").unwrap_or_else(|_| {
            format!(
                "{}/sentinel-sidecar-peer",
                std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into())
            )
        });
        std::fs::read_to_string(format!("{work}/sidecar-{}.log", self.port)).unwrap_or_default()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops it (a hard kill of its process group), as a crash would.
    pub fn kill(&mut self) {
        let _ = Command::new(&self.script).arg("stop").arg(&self.pid).status();
    }

    /// Starts it again on the same port with `args`; its chain starts again from GENESIS
    /// (the store is in memory).
    pub fn restart(&mut self, args: &[&str]) {
        self.kill();
        let fresh = OwnSidecar::start_with(&self.script, self.port, args);
        // The old guard must not stop the new process when it is replaced.
        self.pid = fresh.pid.clone();
        std::mem::forget(fresh);
    }
}

impl Drop for OwnSidecar {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nothing listens on right now: bound, read, released.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().unwrap().port()
}

/// A PostgreSQL on loopback started with `SENTINEL_POSTGRES_SCRIPT` (the sidecar's
/// production store), stopped and deleted on drop.
pub struct OwnPostgres {
    script: String,
    pid: String,
    url: String,
}

impl OwnPostgres {
    /// Starts one, or prints that the test is skipped and returns `None` when
    /// `SENTINEL_POSTGRES_SCRIPT` is not set.
    pub fn start() -> Option<OwnPostgres> {
        let script = match std::env::var("SENTINEL_POSTGRES_SCRIPT") {
            Ok(script) if !script.trim().is_empty() => script,
            _ => {
                println!("skipped: SENTINEL_POSTGRES_SCRIPT not set");
                return None;
            }
        };
        let port = free_port();
        let output = Command::new(&script)
            .arg("start")
            .arg(port.to_string())
            .output()
            .expect("run the postgres script");
        let line = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        let (pid, url) = line.split_once(' ').unwrap_or_default();
        assert!(
            output.status.success() && !pid.is_empty() && url.starts_with("postgres://"),
            "postgres did not start on port {port}: {line} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Some(OwnPostgres {
            script,
            pid: pid.to_owned(),
            url: url.to_owned(),
        })
    }

    /// `postgres://sentinel@127.0.0.1:PORT/sentinel`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = Command::new(&self.script).arg("stop").arg(&self.pid).status();
    }
}

/// The sidecar's production deployment: two `--protocol` replicas sharing one PostgreSQL.
/// Fields drop in order: the replicas stop before their database.
pub struct Replicas {
    pub a: OwnSidecar,
    pub b: OwnSidecar,
    pub postgres: OwnPostgres,
}

impl Replicas {
    /// Starts them, or `None` (printed) without `SENTINEL_POSTGRES_SCRIPT` and
    /// `SENTINEL_SIDECAR_SCRIPT`.
    pub fn start() -> Option<Replicas> {
        std::env::var("SENTINEL_SIDECAR_SCRIPT")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| {
                println!("skipped: SENTINEL_SIDECAR_SCRIPT not set");
                None
            })?;
        let postgres = OwnPostgres::start()?;
        let args = Replicas::args(&postgres);
        let a = OwnSidecar::start(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
        let b = OwnSidecar::start(&args.iter().map(String::as_str).collect::<Vec<_>>())?;
        Some(Replicas { a, b, postgres })
    }

    /// The arguments a replica is (re)started with.
    pub fn args(postgres: &OwnPostgres) -> Vec<String> {
        vec![
            "--protocol".into(),
            format!("SENTINEL_DATABASE_URL={}", postgres.url()),
        ]
    }
}
