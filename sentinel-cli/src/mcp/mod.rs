//! `sentinelctl mcp`: the MCP gate. It serves an MCP client on its own stdin/stdout (or over
//! streamable HTTP with `--listen`), reaches the upstream MCP server (a child it starts, or
//! `--upstream-url`), and relays between them, guarding every `tools/call` with the sidecar
//! before it reaches the upstream.

mod check;
mod config;
mod http_upstream;
mod judge;
mod relay;
#[cfg(test)]
mod relay_tests;
mod rules;
mod serve_http;
#[cfg(test)]
mod serve_http_tests;
mod strict_json;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use sentinel::adjudication::ReceiptClient;
use sentinel::SentinelClient;
use tokio::io::{AsyncBufRead, AsyncWrite, BufReader};

/// Arguments of `sentinelctl mcp`. Its `Debug` redacts the upstream's URL and command line
/// (a URL may carry a token in its query, a command line one in its arguments).
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  sentinelctl mcp --config gate.toml -- npx -y @modelcontextprotocol/server-filesystem /data"
)]
pub struct Args {
    /// The gate's configuration (TOML): the sidecar and a rule per tool.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "check",
        required_unless_present = "check"
    )]
    pub config: Option<PathBuf>,
    /// Check the configuration, then list each upstream tool with the rule that applies to it.
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
    /// The upstream MCP server reached over streamable HTTP (such as
    /// `http://127.0.0.1:3001/mcp`), instead of a command after `--`.
    #[arg(long, value_name = "URL", conflicts_with = "upstream")]
    pub upstream_url: Option<String>,
    /// The upstream MCP server's command line, after `--`.
    #[arg(last = true, value_name = "UPSTREAM")]
    pub upstream: Vec<String>,
    /// Serve the MCP client over streamable HTTP at this address (such as
    /// `127.0.0.1:8931`; port 0 picks one), at the path `/mcp`, instead of on stdin/stdout.
    /// Each MCP session gets an upstream of its own (for a command, a child per session).
    #[arg(long, value_name = "ADDRESS:PORT", conflicts_with = "check")]
    pub listen: Option<SocketAddr>,
    /// Let `--listen` bind an address beyond loopback. The gate has no authentication of its
    /// own: whoever reaches the port can call the upstream's tools (each call still judged).
    #[arg(long, requires = "listen")]
    pub listen_beyond_loopback: bool,
    /// With `--listen`: how many MCP sessions (each with an upstream of its own) may be open
    /// at once; a request for another is answered 503 and starts no upstream.
    #[arg(long, value_name = "N", requires = "listen", default_value_t = serve_http::DEFAULT_MAX_SESSIONS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_sessions: u32,
}

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args")
            .field("config", &self.config)
            .field("check", &self.check)
            .field("upstream_url", &self.upstream_url.as_ref().map(|_| "<redacted>"))
            .field(
                "upstream",
                &format_args!("<{} words redacted>", self.upstream.len()),
            )
            .field("listen", &self.listen)
            .field("listen_beyond_loopback", &self.listen_beyond_loopback)
            .field("max_sessions", &self.max_sessions)
            .finish()
    }
}

/// How long a closed session waits for the upstream to exit before it is killed.
const UPSTREAM_GRACE: Duration = Duration::from_secs(3);

/// Exit code of a configuration that cannot be used.
const BAD_CONFIG: u8 = 2;

/// Runs the gate, or the check.
pub fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("sentinelctl mcp: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &args.check {
        return runtime.block_on(check::run(path, upstream_of(&args)));
    }
    let path = args
        .config
        .as_deref()
        .expect("clap requires --config without --check");
    let config = match config::load(path) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("sentinelctl mcp: {e}");
            return ExitCode::from(BAD_CONFIG);
        }
    };
    let client = match judge::sidecar_client(config.sentinel.as_ref()) {
        Ok(client) => client,
        Err(e) => {
            eprintln!("sentinelctl mcp: {}: {e}", path.display());
            return ExitCode::from(BAD_CONFIG);
        }
    };
    let receipts = match &config.receipts {
        Some(receipts) => match judge::receipt_client(&client, receipts) {
            Ok(receipt_client) => Some((receipt_client, receipts.target_service.clone())),
            Err(e) => {
                eprintln!("sentinelctl mcp: {}: {e}", path.display());
                return ExitCode::from(BAD_CONFIG);
            }
        },
        None => None,
    };
    let upstream = match upstream_of(&args) {
        Upstream::None => {
            eprintln!(
                "sentinelctl mcp: no upstream MCP server: give its command after `--`, or --upstream-url"
            );
            return ExitCode::from(BAD_CONFIG);
        }
        Upstream::Command(_) if !config.upstream.headers.is_empty() => {
            eprintln!("sentinelctl mcp: {}", headers_need_a_url(path));
            return ExitCode::from(BAD_CONFIG);
        }
        Upstream::Command(command) => UpstreamSpec::Command(command.to_vec()),
        Upstream::Url(url) => UpstreamSpec::Url(url.to_owned()),
    };
    let sessions = Sessions {
        client,
        receipts,
        rules: config.rules,
        context: config.context,
        upstream,
        upstream_config: config.upstream,
    };
    let code = match args.listen {
        Some(address) => {
            if let Err(why) = serve_http::may_listen_on(address, args.listen_beyond_loopback) {
                eprintln!("sentinelctl mcp: {why}");
                return ExitCode::from(BAD_CONFIG);
            }
            runtime.block_on(serve_http::run(address, sessions, args.max_sessions as usize))
        }
        None => {
            runtime.block_on(async {
                let client_in = BufReader::new(tokio::io::stdin());
                sessions.start().relay(client_in, tokio::io::stdout()).await;
            });
            ExitCode::SUCCESS
        }
    };
    // A guard still running on the blocking pool must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

/// Where the upstream server is.
#[derive(Clone, Copy)]
pub enum Upstream<'a> {
    /// Not given.
    None,
    /// A command line to start it with, over stdio.
    Command(&'a [String]),
    /// A streamable HTTP endpoint.
    Url(&'a str),
}

fn upstream_of(args: &Args) -> Upstream<'_> {
    match (&args.upstream_url, args.upstream.is_empty()) {
        (Some(url), _) => Upstream::Url(url),
        (None, false) => Upstream::Command(&args.upstream),
        (None, true) => Upstream::None,
    }
}

/// The upstream of every session.
#[derive(Clone)]
pub enum UpstreamSpec {
    /// Started as a child, one per session.
    Command(Vec<String>),
    /// Reached over streamable HTTP, a connection per session.
    Url(String),
    /// An upstream a test makes, one per session.
    #[cfg(test)]
    Test(Arc<dyn Fn() -> (relay::UpstreamLink, Gone) + Send + Sync>),
}

/// What every session is made of: the sidecar, the rules, the context, the upstream.
pub struct Sessions {
    /// The sidecar's client.
    pub client: SentinelClient,
    /// The receipt client and target service, for `receipt = true` rules.
    pub receipts: Option<(ReceiptClient, String)>,
    /// The rules.
    pub rules: rules::RuleSet,
    /// The context fields of the configuration.
    pub context: config::ContextConfig,
    /// The upstream.
    pub upstream: UpstreamSpec,
    /// The `[upstream]` table (headers for an upstream over HTTP).
    pub upstream_config: config::UpstreamConfig,
}

/// Why the upstream went away, once it did.
pub type Gone = Pin<Box<dyn Future<Output = String> + Send>>;

/// One MCP session: a judge of its own (so a `runId` of its own) and its upstream.
pub struct Session {
    judge: Arc<judge::Judge>,
    link: relay::UpstreamLink,
    gone: Gone,
}

impl Sessions {
    /// A new session on stdio: a new judge, and the upstream started (or connected to) for
    /// it. Must be called inside the runtime.
    pub fn start(&self) -> Session {
        self.start_with(self.judge())
    }

    /// A new session over `--listen`: its actor never comes from the client (see
    /// [`judge::Judge::over_http`]).
    pub fn start_over_http(&self) -> Session {
        self.start_with(self.judge().over_http())
    }

    fn judge(&self) -> judge::Judge {
        judge::Judge::new(
            self.client.clone(),
            self.receipts.clone(),
            self.rules.clone(),
            self.context.clone(),
        )
    }

    fn start_with(&self, judge: judge::Judge) -> Session {
        let judge = Arc::new(judge);
        let (link, gone) = match &self.upstream {
            UpstreamSpec::Command(command) => start_command(command),
            UpstreamSpec::Url(url) => {
                let (link, gone) = http_upstream::link(url, &self.upstream_config);
                (link, Box::pin(gone) as Gone)
            }
            #[cfg(test)]
            UpstreamSpec::Test(make) => make(),
        };
        Session { judge, link, gone }
    }
}

impl Session {
    /// Relays this session between the client's lines and the upstream, until the client
    /// closes its side.
    pub async fn relay<R, W>(self, client_in: R, client_out: W)
    where
        R: AsyncBufRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let bounds = relay::Bounds {
            grace: UPSTREAM_GRACE,
            execution: relay::EXECUTION_BOUND,
        };
        relay::run(self.judge, client_in, client_out, self.link, self.gone, bounds).await;
    }
}

/// Starts the upstream `command` as a child over stdio.
fn start_command(command_line: &[String]) -> (relay::UpstreamLink, Gone) {
    let mut command = tokio::process::Command::new(&command_line[0]);
    command
        .args(&command_line[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    match command.spawn() {
        Ok(mut child) => {
            let link = relay::UpstreamLink {
                writer: child.stdin.take().map(|w| Box::new(w) as _),
                reader: child.stdout.take().map(|r| Box::new(BufReader::new(r)) as _),
                failed: None,
            };
            let gone = async move {
                match tokio::time::timeout(UPSTREAM_GRACE, child.wait()).await {
                    Ok(Ok(status)) => format!("the upstream MCP server exited ({status})"),
                    Ok(Err(e)) => format!("the upstream MCP server is gone ({e})"),
                    // Dropping the child kills it (kill_on_drop).
                    Err(_) => "the upstream MCP server closed its output".to_owned(),
                }
            };
            (link, Box::pin(gone))
        }
        Err(e) => {
            let link = relay::UpstreamLink {
                writer: None,
                reader: None,
                failed: Some(format!(
                    "the upstream MCP server `{}` could not be started: {e}",
                    program_of(&command_line[0])
                )),
            };
            (link, Box::pin(async { String::new() }))
        }
    }
}

/// Why `[upstream] headers` with an upstream command is a mistake (`--check` says it too).
fn headers_need_a_url(path: &std::path::Path) -> String {
    format!(
        "{}: [upstream] headers are sent to an upstream over streamable HTTP (--upstream-url); a \
         command's server gets none: remove them or give --upstream-url",
        path.display()
    )
}

/// The program of a command, as an error may name it: the arguments may hold secrets (a
/// token), and a whole command line given as one word (`"npx -y server --token=…"`) is cut
/// at its first space.
fn program_of(command: &str) -> &str {
    command.split_whitespace().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_debug_never_shows_the_upstream_url_or_command_line() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        for argv in [
            vec![
                "gate",
                "--config",
                "g.toml",
                "--upstream-url",
                "http://127.0.0.1:1/mcp?token=s3cret",
            ],
            vec!["gate", "--config", "g.toml", "--", "server", "--token=s3cret"],
        ] {
            let args = Cli::try_parse_from(&argv).unwrap().args;
            let debug = format!("{args:?}");
            assert!(!debug.contains("s3cret"), "{debug}");
            assert!(debug.contains("g.toml"), "the rest is shown: {debug}");
        }
    }

    #[tokio::test]
    async fn an_upstream_that_cannot_start_is_named_by_its_program_never_its_arguments() {
        for command in [
            vec!["/nonexistent/mcp-server --token=s3cret".to_owned()],
            vec!["/nonexistent/mcp-server".to_owned(), "--token=s3cret".to_owned()],
        ] {
            let (link, _) = start_command(&command);
            let why = link.failed.expect("it cannot start");
            assert!(
                why.starts_with("the upstream MCP server `/nonexistent/mcp-server` could not be started: "),
                "{why}"
            );
            assert!(!why.contains("s3cret"), "{why}");
        }
    }
}
