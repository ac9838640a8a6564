//! `sentinelctl export`: a live sidecar's chain written to a JSON Lines file, a page at a
//! time, each record exactly as the sidecar served it; `--resume` continues a file.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args as ClapArgs;
use sentinel::provenance::Record;
use sentinel::records::RecordQuery;
use serde_json::json;

use super::progress::Progress;
use super::{fail, print_json, Endpoint, INCOMPLETE, OK, TAMPERED, USAGE};

/// Write a live sidecar's records to a JSON Lines file (one record per line, as served),
/// streaming. Nothing is verified here: run `sentinelctl verify FILE` on it.
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(flatten)]
    pub endpoint: Endpoint,
    /// The file to write.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
    /// Continue the file: fetch only the records after its last one (which must link to
    /// it), and append them. A last line cut short by an interrupted run is dropped first.
    #[arg(long)]
    pub resume: bool,
    /// Stop after this many records (the file can be resumed later).
    #[arg(long, value_name = "N")]
    pub max_records: Option<u64>,
    /// Print the outcome as one JSON object on stdout; no progress.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> ExitCode {
    let client = match args.endpoint.client() {
        Ok(client) => client,
        Err(code) => return code,
    };
    let last = if args.resume {
        match last_record(&args.output) {
            Ok(last) => last,
            Err(e) => return fail(USAGE, &format!("--resume {}: {e}", args.output.display())),
        }
    } else {
        None
    };
    let file = match &last {
        Some(_) => OpenOptions::new().append(true).open(&args.output),
        None => File::create(&args.output),
    };
    let mut out = match file {
        Ok(file) => BufWriter::with_capacity(1 << 16, file),
        Err(e) => return fail(USAGE, &format!("{}: {e}", args.output.display())),
    };
    let offset = last.as_ref().map_or(0, |record| record.seq() + 1);
    let mut expected_prev = last.as_ref().map(|record| record.content_hash().to_owned());
    let mut progress = Progress::new("records", None, args.json);
    let mut written = 0u64;
    let mut outcome = Ok(());
    let query = RecordQuery::new().offset(usize::try_from(offset).unwrap_or(usize::MAX));
    for text in client.export_record_texts(&query) {
        if args.max_records.is_some_and(|max| written >= max) {
            break;
        }
        let text = match text {
            Ok(text) => text,
            Err(e) => {
                outcome = Err((INCOMPLETE, format!("the sidecar: {e}")));
                break;
            }
        };
        if let Some(expected) = expected_prev.take() {
            // The first new record must continue the file's chain.
            let follows =
                Record::from_json(&text).is_ok_and(|r| r.prev_hash() == expected && r.seq() == offset);
            if !follows {
                outcome = Err((
                    TAMPERED,
                    format!(
                        "the sidecar's record at seq {offset} does not follow the file's last record (contentHash \
                         {expected}): its chain is not the one exported before"
                    ),
                ));
                break;
            }
        }
        if let Err(e) = writeln!(out, "{text}") {
            outcome = Err((INCOMPLETE, format!("{}: {e}", args.output.display())));
            break;
        }
        written += 1;
        if written.is_multiple_of(100) {
            progress.update(written, None);
        }
    }
    progress.finish();
    if let Err(e) = out.flush() {
        outcome = Err((INCOMPLETE, format!("{}: {e}", args.output.display())));
    }
    if args.json {
        print_json(&json!({
            "ok": outcome.is_ok(),
            "written": written,
            "from_seq": offset,
            "file": args.output,
            "error": outcome.as_ref().err().map(|e| &e.1),
        }));
    }
    match outcome {
        Ok(()) => {
            if !args.json {
                println!(
                    "exported {written} records (from seq {offset}) to {}{}",
                    args.output.display(),
                    if args.max_records.is_some_and(|max| written >= max) {
                        " (stopped at --max-records)"
                    } else {
                        ""
                    }
                );
            }
            ExitCode::from(OK)
        }
        Err((code, message)) => {
            if !args.json {
                eprintln!("sentinelctl: {message}; {written} records written, `--resume` continues");
            }
            ExitCode::from(code)
        }
    }
}

/// The file's last complete record, after dropping a last line cut short; `None` for a file
/// that does not exist or is empty.
fn last_record(path: &Path) -> Result<Option<Record>, String> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let length = file.metadata().map_err(|e| e.to_string())?.len();
    // The last line is a record of a few KiB; read the end of the file only.
    let tail_start = length.saturating_sub(1 << 20);
    file.seek(SeekFrom::Start(tail_start))
        .map_err(|e| e.to_string())?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).map_err(|e| e.to_string())?;
    let complete = match tail.iter().rposition(|&b| b == b'\n') {
        Some(end) => end + 1,
        None if tail_start == 0 => 0,
        None => return Err("no line ends in the last MiB".to_owned()),
    };
    if complete < tail.len() {
        // An interrupted run left half a line: drop it.
        file.set_len(tail_start + complete as u64)
            .map_err(|e| e.to_string())?;
    }
    let lines = &tail[..complete];
    let Some(last) = lines
        .split(|&b| b == b'\n')
        .rev()
        .find(|line| !line.iter().all(u8::is_ascii_whitespace))
    else {
        return Ok(None);
    };
    let text = std::str::from_utf8(last).map_err(|_| "the last line is not UTF-8".to_owned())?;
    Record::from_json(text)
        .map(Some)
        .map_err(|e| format!("the last line is not a record: {e}"))
}
