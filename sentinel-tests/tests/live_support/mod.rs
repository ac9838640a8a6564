//! What the live tests (`tests/live_*.rs`) share: the real sidecar's endpoint from
//! `SENTINEL_LIVE_ENDPOINT`, a sidecar of their own started with `SENTINEL_SIDECAR_SCRIPT`
//! (stopped on drop, panics included), and the pinned key of the script's default seed.
#![allow(dead_code)]

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
