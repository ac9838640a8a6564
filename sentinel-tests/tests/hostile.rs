//! The hostile-sidecar matrix as tests: one test per case, named after it, each asserting
//! the verdict in both fail modes, that the body ran only on ALLOW, that no panic escaped,
//! and that each call returned within the deadline plus 100 ms. Run one with
//! `cargo test -p sentinel-tests --all-features --test hostile -- refused`. The cases live in
//! `tests/hostile_matrix/`; `cargo run -p sentinel-tests --example reliability` writes the whole
//! table into RELIABILITY.md.

mod hostile_matrix;
mod support;

use std::collections::HashSet;

use hostile_matrix::{cases, run};

fn run_case(name: &str) {
    let case = cases()
        .into_iter()
        .find(|case| case.name == name)
        .unwrap_or_else(|| panic!("no hostile case is named {name:?}"));
    let row = run(&case);
    assert!(row.problems.is_empty(), "{name}: {}", row.problems.join("; "));
}

macro_rules! hostile_cases {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                run_case($name);
            }
        )*

        /// The cases the tests above run.
        const TESTED: &[&str] = &[$($name),*];
    };
}

#[test]
fn every_case_has_a_test_of_its_own() {
    let cases = cases();
    assert!(cases.len() >= 35, "the matrix has {} cases", cases.len());
    let names: HashSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), cases.len(), "case names are distinct");
    assert_eq!(names, TESTED.iter().copied().collect::<HashSet<_>>());
}

hostile_cases! {
    control_real_allow => "control: real ALLOW",
    control_real_block => "control: real BLOCK",
    control_real_escalate => "control: real ESCALATE",
    control_client_deadline_duration_max => "control: client deadline Duration::MAX",
    client_side_arguments_cannot_be_sent => "client-side: arguments cannot be sent",
    refused => "refused",
    dns_name_does_not_resolve => "DNS name does not resolve",
    accept_then_close => "accept then close",
    accept_then_reset => "accept then reset",
    read_request_then_close => "read request then close",
    accept_and_never_read => "accept and never read",
    accept_and_never_answer => "accept and never answer",
    status_line_then_silence => "status line then silence",
    headers_then_silence => "headers then silence",
    headers_trickled => "headers trickled",
    body_trickled_past_the_deadline => "body trickled past the deadline",
    content_length_longer_than_the_body_then_close => "Content-Length longer than the body, then close",
    content_length_longer_than_the_body_then_silence => "Content-Length longer than the body, then silence",
    content_length_shorter_than_the_body => "Content-Length shorter than the body",
    chunked_bad_chunk_size => "chunked: bad chunk size",
    chunked_chunk_size_overflows => "chunked: chunk size overflows",
    chunked_chunk_size_smaller_than_the_data => "chunked: chunk size smaller than the data",
    chunked_no_last_chunk_then_close => "chunked: no last chunk, then close",
    chunked_no_last_chunk_then_silence => "chunked: no last chunk, then silence",
    invalid_status_line => "invalid status line",
    four_digit_status_code => "four-digit status code",
    not_http_at_all => "not HTTP at all",
    http_0_9_style_reply_then_close => "HTTP/0.9-style reply, then close",
    http_0_9_style_reply_then_silence => "HTTP/0.9-style reply, then silence",
    one_xx_then_nothing => "1xx then nothing",
    answer_103_early_hints_then_nothing => "103 Early Hints then nothing",
    endless_one_xx => "endless 1xx",
    answer_101_switching_protocols_then_an_allow_body => "101 Switching Protocols then an ALLOW body",
    answer_204_no_content => "204 No Content",
    answer_204_followed_by_an_allow_body => "204 followed by an ALLOW body",
    endless_headers => "endless headers",
    header_line_without_a_colon => "header line without a colon",
    conflicting_content_lengths => "conflicting Content-Lengths",
    content_length_u64_max => "Content-Length u64::MAX",
    content_length_overflowing_u64 => "Content-Length overflowing u64",
    negative_content_length => "negative Content-Length",
    non_numeric_content_length => "non-numeric Content-Length",
    redirect_300 => "redirect 300",
    redirect_301 => "redirect 301",
    redirect_302 => "redirect 302",
    redirect_303 => "redirect 303",
    redirect_307 => "redirect 307",
    redirect_308 => "redirect 308",
    answer_304_not_modified => "304 Not Modified",
    status_400 => "status 400",
    status_401 => "status 401",
    status_403 => "status 403",
    status_404 => "status 404",
    status_405 => "status 405",
    status_408 => "status 408",
    status_409 => "status 409",
    status_410 => "status 410",
    status_413 => "status 413",
    status_415 => "status 415",
    status_418 => "status 418",
    status_422 => "status 422",
    status_429 => "status 429",
    status_451 => "status 451",
    status_499 => "status 499",
    status_500 => "status 500",
    status_501 => "status 501",
    status_502 => "status 502",
    status_503 => "status 503",
    status_504 => "status 504",
    status_505 => "status 505",
    status_507 => "status 507",
    status_599 => "status 599",
    status_429_with_retry_after_past_the_deadline => "status 429 with Retry-After past the deadline",
    status_503_with_retry_after_past_the_deadline => "status 503 with Retry-After past the deadline",
    status_429_with_an_enormous_retry_after => "status 429 with an enormous Retry-After",
    status_503_with_a_retry_after_beyond_any_clock => "status 503 with a Retry-After beyond any clock",
    status_429_with_an_http_date_retry_after => "status 429 with an HTTP-date Retry-After",
    status_500_sidecar_error_body => "status 500, sidecar error body",
    answer_200_empty_body => "200, empty body",
    answer_200_no_content_length_close_delimited_empty_body => "200, no Content-Length, close-delimited empty body",
    answer_200_null => "200, `null`",
    answer_200_array_holding_an_allow => "200, array holding an ALLOW",
    answer_200_string => "200, string",
    answer_200_number => "200, number",
    answer_200_boolean => "200, boolean",
    answer_200 => "200, `{}`",
    answer_200_not_json_html => "200, not JSON (HTML)",
    answer_200_verdict_lowercase => "200, verdict lowercase",
    answer_200_verdict_with_spaces => "200, verdict with spaces",
    answer_200_verdict_with_a_nul => "200, verdict with a NUL",
    answer_200_verdict_homoglyph => "200, verdict homoglyph",
    answer_200_unknown_verdict => "200, unknown verdict",
    answer_200_verdict_as_number => "200, verdict as number",
    answer_200_verdict_null => "200, verdict null",
    answer_200_verdict_missing => "200, verdict missing",
    answer_200_duplicate_verdict_keys_block_allow => "200, duplicate verdict keys (BLOCK, ALLOW)",
    answer_200_duplicate_verdict_keys_allow_allow => "200, duplicate verdict keys (ALLOW, ALLOW)",
    answer_200_duplicate_key_inside_a_check => "200, duplicate key inside a check",
    answer_200_recordid_missing => "200, recordId missing",
    answer_200_recordid_empty => "200, recordId empty",
    answer_200_recordid_a_number => "200, recordId a number",
    answer_200_recordid_null => "200, recordId null",
    answer_200_escalate_without_escalationid => "200, ESCALATE without escalationId",
    answer_200_escalate_with_empty_escalationid => "200, ESCALATE with empty escalationId",
    answer_200_escalate_with_numeric_escalationid => "200, ESCALATE with numeric escalationId",
    answer_200_checks_not_an_array => "200, checks not an array",
    answer_200_checks_missing => "200, checks missing",
    answer_200_check_with_unknown_outcome => "200, check with unknown outcome",
    answer_200_reason_not_a_string => "200, reason not a string",
    answer_200_trailing_garbage => "200, trailing garbage",
    answer_200_two_json_documents => "200, two JSON documents",
    answer_200_json_with_a_comment => "200, JSON with a comment",
    answer_200_single_quoted_json => "200, single-quoted JSON",
    answer_200_nan_latency => "200, NaN latency",
    answer_200_number_out_of_range => "200, number out of range",
    answer_200_50_mib_body => "200, 50 MiB body",
    answer_200_deeply_nested_json_100_000_levels => "200, deeply nested JSON (100 000 levels)",
    answer_200_invalid_utf_8 => "200, invalid UTF-8",
    answer_200_overlong_utf_8 => "200, overlong UTF-8",
    answer_200_lone_surrogate_escape => "200, lone surrogate escape",
    answer_200_utf_8_bom => "200, UTF-8 BOM",
    answer_200_utf_16_body => "200, UTF-16 body",
    answer_200_gzip_body_not_asked_for => "200, gzip body not asked for",
}
