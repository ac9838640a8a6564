//! Text from the sidecar (or anyone on the path) made fit for a reason: a reason is printed,
//! logged and shown to models, so it is bounded, free of control characters (no terminal
//! escapes, no forged log lines), and free of the client's own header values (a proxy that
//! echoes the request would otherwise put the bearer token in it).

/// The most characters of a reason.
pub(crate) const MAX_REASON_CHARS: usize = 500;

/// `text` with each control character replaced by a space, cut to `max_chars` (an
/// ellipsis marks the cut).
pub(crate) fn clean(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    for (count, c) in text.chars().enumerate() {
        if count == max_chars {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// `text` with every configured header value, and every long word of one (`abc123…` of
/// `Bearer abc123…`), replaced by `<redacted>`.
pub(crate) fn redact(text: String, headers: &[(String, String)]) -> String {
    let mut secrets: Vec<&str> = Vec::new();
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("content-type") {
            continue;
        }
        secrets.push(value.trim());
        secrets.extend(value.split_whitespace().filter(|word| word.len() >= 8));
    }
    // Longest first, so a whole value goes before a word of it.
    secrets.retain(|secret| secret.len() >= 4);
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    secrets.into_iter().fold(text, |text, secret| {
        if text.contains(secret) {
            text.replace(secret, "<redacted>")
        } else {
            text
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_spaces_and_length_is_bounded() {
        assert_eq!(clean("a\nb\x1b[31mc\u{7f}", 100), "a b [31mc ");
        assert_eq!(clean(&"x".repeat(1_000_000), 5), "xxxxx…");
        assert_eq!(clean("ééé", 3), "ééé");
    }

    #[test]
    fn header_values_and_their_long_words_are_redacted() {
        let headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("authorization".to_owned(), "Bearer s3cr3t-t0ken-value".to_owned()),
            ("x-key".to_owned(), "ab".to_owned()),
        ];
        let echoed =
            "denied: authorization: Bearer s3cr3t-t0ken-value; token s3cr3t-t0ken-value; ab".to_owned();
        let redacted = redact(echoed, &headers);
        assert!(!redacted.contains("s3cr3t"), "{redacted}");
        assert_eq!(
            redacted,
            "denied: authorization: <redacted>; token <redacted>; ab"
        );
        assert!(redact("application/json".into(), &headers).contains("application/json"));
    }
}
