//! [`RecordTexts`]: the records of an export file, one text at a time, in bounded memory.
//!
//! An export is either one JSON array of records or JSON Lines (one record per line; any
//! whitespace between values will do). This only finds where each value starts and ends
//! (brackets and strings, outside strings); each value's text is then parsed strictly by
//! the verifier, which refuses whatever is not a record. Nothing here interprets JSON.
//!
//! Why a scanner and not serde_json's `StreamDeserializer` (or `Deserializer::from_reader`
//! with a seq visitor): both keep memory bounded, but serde_json parses every value in full
//! here, reading the input a byte at a time through `io::Read`, and the verifier parses each
//! text again anyway (strictly). Measured on the same file in the same run
//! (`cargo bench -p sentinel-benches --bench verify_chain`, its "framing" line; two runs,
//! load average 9 on 2 cores): this scanner 238–454 MiB/s, `StreamDeserializer` of
//! `Box<RawValue>` 79–100 MiB/s (0.22–0.33× the scanner). The 74 000 records/s goal is ~100 MiB/s of export: serde_json
//! would take a whole core on the reader thread, the scanner under a quarter, leaving the
//! rest to the workers. And serde_json offers no pull iterator over the elements of an array
//! read from a stream (a seq visitor is push-only), so the array form would need a thread of
//! its own or a callback API.

use std::fmt;
use std::io::{self, BufRead};

/// The longest record text read (bytes). A genuine record is a few KiB (the sidecar refuses
/// request bodies over 1 MiB); a longer one is refused rather than held in memory.
pub const MAX_RECORD_BYTES: usize = 8 << 20;

/// Why an export could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum InputError {
    /// Reading failed.
    Io(io::Error),
    /// The text is not a JSON array of values or JSON Lines: where (the 0-based position of
    /// the value in the export) and why.
    Framing {
        /// The position of the value being read.
        index: u64,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Io(e) => write!(f, "could not read the export: {e}"),
            InputError::Framing { index, reason } => {
                write!(
                    f,
                    "the export is not a JSON array or JSON Lines (value {index}): {reason}"
                )
            }
        }
    }
}

/// `Display` already says what the cause said, so `source()` is `None` (the crate's
/// convention: each message once in an error-chain printer).
impl std::error::Error for InputError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Not decided yet: nothing but whitespace read so far.
    Unknown,
    /// One JSON array; `first` until its first value is read.
    Array { first: bool },
    /// Values separated by whitespace (JSON Lines).
    Lines,
    /// After the array's `]`, or at the end of the input.
    Done,
    /// After an error: nothing more is read.
    Failed,
}

/// The texts of the records of an export (a JSON array, or JSON Lines), read from `R` one at
/// a time. Ends at the end of the input; yields an [`InputError`] and then ends when the
/// input cannot be read or is not framed as either.
///
/// ```
/// use sentinel_runtime::provenance::RecordTexts;
///
/// let lines = "{\"seq\":0}\n{\"seq\":1}\n";
/// let array = "[ {\"seq\":0} , {\"seq\":1} ]";
/// for text in [lines, array] {
///     let records: Vec<String> = RecordTexts::new(text.as_bytes()).collect::<Result<_, _>>()?;
///     assert_eq!(records, ["{\"seq\":0}", "{\"seq\":1}"]);
/// }
/// # Ok::<(), sentinel_runtime::provenance::InputError>(())
/// ```
#[derive(Debug)]
pub struct RecordTexts<R> {
    input: R,
    layout: Layout,
    index: u64,
}

impl<R: BufRead> RecordTexts<R> {
    /// Reads the records of `input`.
    pub fn new(input: R) -> Self {
        RecordTexts {
            input,
            layout: Layout::Unknown,
            index: 0,
        }
    }

    fn framing(&self, reason: impl Into<String>) -> InputError {
        InputError::Framing {
            index: self.index,
            reason: reason.into(),
        }
    }

    /// Skips whitespace; the next byte, not consumed, or `None` at the end.
    fn peek_non_space(&mut self) -> io::Result<Option<u8>> {
        loop {
            let buffer = self.input.fill_buf()?;
            if buffer.is_empty() {
                return Ok(None);
            }
            match buffer.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(at) => {
                    let byte = buffer[at];
                    self.input.consume(at);
                    return Ok(Some(byte));
                }
                None => {
                    let all = buffer.len();
                    self.input.consume(all);
                }
            }
        }
    }

    /// Reads one value starting at the next byte: a container up to its closing bracket, a
    /// scalar up to the next whitespace, `,` or `]`.
    fn read_value(&mut self) -> Result<String, InputError> {
        let mut text = Vec::new();
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        loop {
            let buffer = self.input.fill_buf().map_err(InputError::Io)?;
            if buffer.is_empty() {
                if depth > 0 || in_string {
                    return Err(self.framing("the input ends inside a value"));
                }
                break;
            }
            let mut end = None;
            let mut at = 0;
            while at < buffer.len() {
                if in_string {
                    if escaped {
                        escaped = false;
                        at += 1;
                        continue;
                    }
                    // Most of a record is inside strings: jump to the next quote or backslash.
                    match buffer[at..].iter().position(|&b| b == b'"' || b == b'\\') {
                        Some(offset) => {
                            at += offset;
                            if buffer[at] == b'"' {
                                in_string = false;
                            } else {
                                escaped = true;
                            }
                            at += 1;
                        }
                        None => at = buffer.len(),
                    }
                    continue;
                }
                let byte = buffer[at];
                at += 1;
                match byte {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth > 0 => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(at);
                            break;
                        }
                    }
                    // A scalar ends before these, which are not part of it.
                    b',' | b']' | b'}' if depth == 0 => {
                        end = Some(at - 1);
                        break;
                    }
                    byte if depth == 0 && byte.is_ascii_whitespace() => {
                        end = Some(at - 1);
                        break;
                    }
                    _ => {}
                }
            }
            let taken = end.unwrap_or(buffer.len());
            if text.len() + taken > MAX_RECORD_BYTES {
                return Err(self.framing(format!("a value longer than {MAX_RECORD_BYTES} bytes")));
            }
            text.extend_from_slice(&buffer[..taken]);
            self.input.consume(taken);
            if end.is_some() {
                break;
            }
        }
        if text.is_empty() {
            // A `,`, `]` or `}` where a value should start.
            return Err(self.framing("expected a value"));
        }
        String::from_utf8(text).map_err(|_| self.framing("a value that is not UTF-8"))
    }

    fn next_text(&mut self) -> Result<Option<String>, InputError> {
        let next = self.peek_non_space().map_err(InputError::Io)?;
        match (self.layout, next) {
            (Layout::Failed, _) | (Layout::Done, None) => Ok(None),
            (Layout::Done, Some(_)) => Err(self.framing("text after the array's closing `]`")),
            (Layout::Unknown, None) | (Layout::Lines, None) => {
                self.layout = Layout::Done;
                Ok(None)
            }
            (Layout::Unknown, Some(b'[')) => {
                self.input.consume(1);
                self.layout = Layout::Array { first: true };
                self.next_text()
            }
            (Layout::Unknown, Some(_)) => {
                self.layout = Layout::Lines;
                self.next_text()
            }
            (Layout::Lines, Some(_)) => self.read_value().map(Some),
            (Layout::Array { .. }, None) => Err(self.framing("the input ends before the array's `]`")),
            (Layout::Array { first }, Some(byte)) => {
                if byte == b']' {
                    self.input.consume(1);
                    self.layout = Layout::Done;
                    return self.next_text();
                }
                if !first {
                    if byte != b',' {
                        return Err(self.framing("expected `,` or `]` after a value"));
                    }
                    self.input.consume(1);
                    match self.peek_non_space().map_err(InputError::Io)? {
                        Some(b']' | b',') | None => return Err(self.framing("expected a value after `,`")),
                        Some(_) => {}
                    }
                }
                self.layout = Layout::Array { first: false };
                self.read_value().map(Some)
            }
        }
    }
}

impl<R: BufRead> Iterator for RecordTexts<R> {
    type Item = Result<String, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.layout == Layout::Failed {
            return None;
        }
        match self.next_text() {
            Ok(Some(text)) => {
                self.index += 1;
                Some(Ok(text))
            }
            Ok(None) => None,
            Err(e) => {
                // One error, then the end: whatever is left is not read.
                self.layout = Layout::Failed;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &str) -> Vec<Result<String, String>> {
        // A tiny buffer so values straddle reads.
        let reader = io::BufReader::with_capacity(3, input.as_bytes());
        RecordTexts::new(reader)
            .map(|item| item.map_err(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn reads_json_lines_and_arrays_alike() {
        let expected = vec![
            Ok(r#"{"a":"x}]\"y"}"#.to_owned()),
            Ok(r#"{"b":[1,{"c":2}]}"#.to_owned()),
        ];
        assert_eq!(texts("{\"a\":\"x}]\\\"y\"}\n{\"b\":[1,{\"c\":2}]}\n"), expected);
        assert_eq!(
            texts(" [\n{\"a\":\"x}]\\\"y\"},\n {\"b\":[1,{\"c\":2}]}\n] \n"),
            expected
        );
        assert!(texts("").is_empty());
        assert!(texts("[ ]").is_empty());
        assert!(texts("  \n ").is_empty());
    }

    #[test]
    fn refuses_what_is_neither() {
        for bad in [
            "[{\"a\":1} {\"b\":2}]",
            "[{\"a\":1},]",
            "[{\"a\":1}",
            "[{\"a\":1}] x",
            "{\"a\":1",
            "[,{}]",
            "{}\n,{}",
            "]",
        ] {
            let read = texts(bad);
            assert!(read.last().is_some_and(Result::is_err), "{bad}: {read:?}");
            assert_eq!(
                read.iter().filter(|r| r.is_err()).count(),
                1,
                "{bad}: one error, then the end"
            );
        }
    }

    #[test]
    fn a_scalar_is_a_value_the_verifier_refuses_later() {
        assert_eq!(
            texts("[1, \"x\"]"),
            vec![Ok("1".to_owned()), Ok("\"x\"".to_owned())]
        );
    }
}
