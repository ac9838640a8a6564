//! Progress on stderr: a bar with rate and ETA on a terminal, a plain line now and then
//! otherwise (a CI log, a cron mail).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain progress line is written when stderr is not a terminal (the first at
/// the first update: a log shows at once that the work started, and at what rate).
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// Progress of a long command.
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    /// When the last plain line was written; `None` before the first.
    last_line: Option<Instant>,
    quiet: bool,
    what: &'static str,
}

impl Progress {
    /// Progress counted in `what` (records), out of `total` bytes when the size is known
    /// (a file: the bar then shows an ETA), or open-ended (a spinner with the rate).
    pub fn new(what: &'static str, total_bytes: Option<u64>, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| match total_bytes {
            Some(total) => {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{bar:32} {percent:>3}% {msg} [{elapsed_precise}, ETA {eta}]",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar
            }
            None => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}]")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar
            }
        });
        Progress {
            bar,
            started: Instant::now(),
            last_line: None,
            quiet,
            what,
        }
    }

    /// `count` done so far, `bytes` of the input read (when known).
    pub fn update(&mut self, count: u64, bytes: Option<u64>) {
        let rate = count as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        let message = format!("{count} {} ({rate:.0}/s)", self.what);
        match &self.bar {
            Some(bar) => {
                // The message first: the draw the position triggers then shows both.
                bar.set_message(message);
                if let Some(bytes) = bytes {
                    bar.set_position(bytes);
                } else {
                    bar.tick();
                }
            }
            None if self.quiet => {}
            None => {
                if self.last_line.is_none_or(|last| last.elapsed() >= PLAIN_EVERY) {
                    self.last_line = Some(Instant::now());
                    eprintln!("{message}");
                }
            }
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
