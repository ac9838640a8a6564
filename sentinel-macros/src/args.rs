//! Parsing the attribute: `#[guarded(policy = "…", kind = "…", skip(…), …)]`.
//!
//! Every option goes through [`Args::set`], the one place that rejects a repeated key.
//! Problems are collected rather than returned, and parsing resumes at the next top-level
//! comma, so a user sees every mistake in one build. Checks that need the function (does
//! `skip(x)` name a parameter?) happen later, in `expand`.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitFloat, LitInt, LitStr, Token, UnOp};

use crate::errors::{did_you_mean, Errors};

mod kw {
    syn::custom_keyword!(policy);
    syn::custom_keyword!(kind);
    syn::custom_keyword!(skip);
    syn::custom_keyword!(rename);
    syn::custom_keyword!(fields);
    syn::custom_keyword!(meta);
    syn::custom_keyword!(id);
    syn::custom_keyword!(client);
    syn::custom_keyword!(context);
    syn::custom_keyword!(on_escalate);
    syn::custom_keyword!(payload);
}

/// Every option, in the order the documentation gives them.
pub(crate) const OPTIONS: &[&str] = &[
    "policy",
    "kind",
    "skip",
    "rename",
    "fields",
    "meta",
    "id",
    "client",
    "context",
    "on_escalate",
    "payload",
];

/// How `on_escalate` is written; every message about it starts with this.
const ON_ESCALATE: &str = "`on_escalate` takes wait(timeout = \"10m\")";

/// The options as written. Values that were malformed are left unset (their error is
/// already recorded), but [`Args::given`] still knows the key was there.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) policy: Option<LitStr>,
    pub(crate) kind: Option<LitStr>,
    pub(crate) skip: Option<Vec<Name>>,
    pub(crate) rename: Option<Vec<Rename>>,
    pub(crate) fields: Option<Vec<Constant>>,
    pub(crate) meta: Option<Vec<Constant>>,
    pub(crate) id: Option<Expr>,
    pub(crate) client: Option<Expr>,
    pub(crate) context: Option<Name>,
    pub(crate) on_escalate: Option<OnEscalate>,
    pub(crate) payload: Option<Name>,
    given: Vec<&'static str>,
}

/// `on_escalate = …`: what a call does when the sidecar answers `ESCALATE`.
pub(crate) enum OnEscalate {
    /// `deny`: return `Denied` at once, the escalation left pending (the default).
    Deny,
    /// `wait(timeout = …)`: wait, at most that long, for a human's answer.
    Wait(Timeout),
}

/// The `timeout` of `wait(…)`.
pub(crate) enum Timeout {
    /// A string literal such as `"10m"`, read at compile time: never zero.
    Fixed { millis: u64, span: Span },
    /// Any other expression: a `Duration` (or `Option<Duration>`) evaluated at each call.
    PerCall(Expr),
}

/// A name as written in the attribute, `r#` removed, with its span.
#[derive(Clone)]
pub(crate) struct Name {
    pub(crate) text: String,
    pub(crate) span: Span,
}

/// `param = "new name"` inside `rename(…)`.
pub(crate) struct Rename {
    pub(crate) param: Name,
    pub(crate) to: LitStr,
}

/// `key = literal` inside `fields(…)` or `meta(…)`; `value` is a typed literal expression.
pub(crate) struct Constant {
    pub(crate) key: Name,
    pub(crate) value: TokenStream,
}

/// An option's name where it was written.
#[derive(Clone, Copy)]
struct Key {
    name: &'static str,
    span: Span,
}

impl Args {
    /// Whether the option `name` was written (even with a malformed value).
    pub(crate) fn given(&self, name: &str) -> bool {
        self.given.contains(&name)
    }

    /// The set-once rule, for every key: the first occurrence wins, a repeat is an error
    /// on the repeated key. A key whose value is malformed still counts as given (so a
    /// bad `policy(…)` is not also reported as a missing policy); its error is passed on.
    fn set<T>(
        &mut self,
        key: Key,
        value: syn::Result<Option<T>>,
        errors: &mut Errors,
        slot: fn(&mut Args) -> &mut Option<T>,
    ) -> syn::Result<()> {
        if self.given(key.name) {
            let hint = match key.name {
                "skip" | "rename" | "fields" | "meta" => {
                    format!(": put every entry in one {}", usage(key.name))
                }
                _ => String::from(": give it once"),
            };
            errors.at(key.span, format!("duplicate option `{}`{hint}", key.name));
            return value.map(drop);
        }
        self.given.push(key.name);
        *slot(self) = value?;
        Ok(())
    }
}

/// Parses the tokens between the attribute's parentheses.
pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Args {
    let mut args = Args::default();
    let parser = |input: ParseStream| {
        parse_options(input, &mut args, errors);
        Ok(())
    };
    if let Err(error) = parser.parse2(tokens) {
        errors.push(error);
    }
    args
}

fn parse_options(input: ParseStream, args: &mut Args, errors: &mut Errors) {
    while !input.is_empty() {
        match parse_option(input, args, errors) {
            Ok(()) if input.is_empty() || input.peek(Token![,]) => {}
            Ok(()) => {
                errors.push(input.error("expected `,` between options"));
                skip_to_comma(input);
            }
            Err(error) => {
                errors.push(error);
                skip_to_comma(input);
            }
        }
        if input.peek(Token![,]) {
            let _ = input.parse::<Token![,]>();
        }
    }
}

/// The tokens up to the next top-level comma.
fn until_comma(input: ParseStream) -> syn::Result<TokenStream> {
    input.step(|cursor| {
        let mut tokens = TokenStream::new();
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if matches!(&tt, TokenTree::Punct(p) if p.as_char() == ',') {
                break;
            }
            tokens.extend([tt]);
            rest = next;
        }
        Ok((tokens, rest))
    })
}

/// Resumes after a malformed option: everything up to the next top-level comma goes.
fn skip_to_comma(input: ParseStream) {
    let _ = input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            if matches!(&tt, TokenTree::Punct(p) if p.as_char() == ',') {
                break;
            }
            rest = next;
        }
        Ok(((), rest))
    });
}

fn parse_option(input: ParseStream, args: &mut Args, errors: &mut Errors) -> syn::Result<()> {
    let lookahead = input.lookahead1();
    if lookahead.peek(kw::policy) {
        let key = key("policy", input.parse::<kw::policy>()?.span);
        let value = string(input, key, errors);
        args.set(key, value, errors, |a| &mut a.policy)
    } else if lookahead.peek(kw::kind) {
        let key = key("kind", input.parse::<kw::kind>()?.span);
        let value = string(input, key, errors);
        args.set(key, value, errors, |a| &mut a.kind)
    } else if lookahead.peek(kw::skip) {
        let key = key("skip", input.parse::<kw::skip>()?.span);
        let value = parenthesized(input, key, param_name)
            .map(|names| Some(unique(names, |n| n, "is skipped twice", errors)));
        args.set(key, value, errors, |a| &mut a.skip)
    } else if lookahead.peek(kw::rename) {
        let key = key("rename", input.parse::<kw::rename>()?.span);
        let value = parenthesized(input, key, param_pair).map(|pairs| Some(renames(pairs, errors)));
        args.set(key, value, errors, |a| &mut a.rename)
    } else if lookahead.peek(kw::fields) {
        let key = key("fields", input.parse::<kw::fields>()?.span);
        let value = parenthesized(input, key, member_pair).map(|pairs| Some(constants(key, pairs, errors)));
        args.set(key, value, errors, |a| &mut a.fields)
    } else if lookahead.peek(kw::meta) {
        let key = key("meta", input.parse::<kw::meta>()?.span);
        let value = parenthesized(input, key, member_pair).map(|pairs| Some(constants(key, pairs, errors)));
        args.set(key, value, errors, |a| &mut a.meta)
    } else if lookahead.peek(kw::id) {
        let key = key("id", input.parse::<kw::id>()?.span);
        let value = expression(input, key).map(Some);
        args.set(key, value, errors, |a| &mut a.id)
    } else if lookahead.peek(kw::client) {
        let key = key("client", input.parse::<kw::client>()?.span);
        let value = expression(input, key).map(Some);
        args.set(key, value, errors, |a| &mut a.client)
    } else if lookahead.peek(kw::context) {
        let key = key("context", input.parse::<kw::context>()?.span);
        let value = expression(input, key).map(|expr| parameter(&expr, key, errors));
        args.set(key, value, errors, |a| &mut a.context)
    } else if lookahead.peek(kw::payload) {
        let key = key("payload", input.parse::<kw::payload>()?.span);
        let value = expression(input, key).map(|expr| parameter(&expr, key, errors));
        args.set(key, value, errors, |a| &mut a.payload)
    } else if lookahead.peek(kw::on_escalate) {
        let key = key("on_escalate", input.parse::<kw::on_escalate>()?.span);
        // Read on its own, so that a malformed value yields one error, worded for it.
        let value = equals(input, key).and_then(|()| {
            let read = |value: ParseStream| {
                let expr = value.parse::<Expr>().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        format!("{ON_ESCALATE}, or deny: this value cannot be read ({e})"),
                    )
                })?;
                if !value.is_empty() {
                    return Err(value.error("expected `,` between options"));
                }
                Ok(expr)
            };
            read.parse2(until_comma(input)?)
        });
        let value = value.map(|expr| on_escalate(expr, errors));
        args.set(key, value, errors, |a| &mut a.on_escalate)
    } else if input.peek(Ident::peek_any) {
        Err(unknown_option(&Ident::parse_any(input)?))
    } else if input.peek(LitStr) {
        Err(input.error(
            "name the option: #[guarded(policy = \"fintech.payments\")] checks calls under the policy `fintech.payments`",
        ))
    } else {
        Err(lookahead.error())
    }
}

fn key(name: &'static str, span: Span) -> Key {
    Key { name, span }
}

fn unknown_option(ident: &Ident) -> syn::Error {
    let word = ident.unraw().to_string();
    let suggestion = match word.as_str() {
        "type" | "action" | "action_type" | "name" => Some("kind"),
        "exclude" | "ignore" | "skip_args" | "skip_all" => Some("skip"),
        "ctx" => Some("context"),
        "action_id" | "idempotency_key" => Some("id"),
        "escalate" | "escalation" | "on_escalation" | "wait" | "timeout" => Some("on_escalate"),
        _ => did_you_mean(&word, OPTIONS),
    };
    let hint = suggestion
        .map(|s| format!("did you mean `{s}`? "))
        .unwrap_or_default();
    syn::Error::new(
        ident.span(),
        format!(
            "unknown option `{word}`: {hint}expected one of: {}",
            OPTIONS.join(", ")
        ),
    )
}

/// How an option is written, for messages.
fn usage(key: &str) -> &'static str {
    match key {
        "policy" => "policy = \"fintech.payments\"",
        "kind" => "kind = \"payment\"",
        "skip" => "skip(a, b)",
        "rename" => "rename(to = \"recipient\")",
        "fields" => "fields(currency = \"USD\")",
        "meta" => "meta(source = \"planner\")",
        "id" => "id = idempotency_key",
        "client" => "client = &CLIENT",
        "context" => "context = ctx",
        "on_escalate" => "on_escalate = wait(timeout = \"10m\")",
        "payload" => "payload = req",
        _ => "",
    }
}

/// `= <expression>`.
fn expression(input: ParseStream, key: Key) -> syn::Result<Expr> {
    equals(input, key)?;
    input.parse()
}

/// The `=` after a key, with something after it.
fn equals(input: ParseStream, key: Key) -> syn::Result<()> {
    if !input.peek(Token![=]) {
        let span = if input.is_empty() || input.peek(Token![,]) {
            key.span
        } else {
            input.span()
        };
        return Err(syn::Error::new(
            span,
            format!("expected `=` after `{}`: write {}", key.name, usage(key.name)),
        ));
    }
    let eq: Token![=] = input.parse()?;
    if input.is_empty() || input.peek(Token![,]) {
        return Err(syn::Error::new(
            eq.span,
            format!("`{}` needs a value: write {}", key.name, usage(key.name)),
        ));
    }
    Ok(())
}

/// `= "string"`: anything else is recorded as an error and yields `None`.
fn string(input: ParseStream, key: Key, errors: &mut Errors) -> syn::Result<Option<LitStr>> {
    let value = expression(input, key)?;
    match ungroup(&value) {
        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) if s.value().trim().is_empty() => {
            errors.at(
                s.span(),
                format!("`{}` must not be empty: write {}", key.name, usage(key.name)),
            );
            Ok(None)
        }
        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Ok(Some(s.clone())),
        other => {
            errors.spanned(
                other,
                format!(
                    "`{}` must be a string literal: write {}",
                    key.name,
                    usage(key.name)
                ),
            );
            Ok(None)
        }
    }
}

/// `context = ctx`, `payload = req`: the name of a parameter.
fn parameter(value: &Expr, key: Key, errors: &mut Errors) -> Option<Name> {
    if let Expr::Path(path) = ungroup(value) {
        if path.qself.is_none() && path.attrs.is_empty() {
            if let Some(ident) = path.path.get_ident() {
                return Some(Name {
                    text: ident.unraw().to_string(),
                    span: ident.span(),
                });
            }
        }
    }
    let what = match key.name {
        "context" => "the name of a parameter of type `Context` or `&Context`",
        _ => {
            "the name of the parameter (or of a binding in a pattern parameter) whose members are the payload"
        }
    };
    errors.spanned(
        value,
        format!("`{}` takes {what}: write {}", key.name, usage(key.name)),
    );
    None
}

/// The expression inside the invisible group a `macro_rules!` fragment (`$p:expr`,
/// `$p:literal`) arrives in: every reader looks through it, so an option written by a
/// macro reads as the same option written by hand.
pub(crate) fn ungroup(expr: &Expr) -> &Expr {
    match expr {
        Expr::Group(group) => ungroup(&group.expr),
        other => other,
    }
}

/// `on_escalate = deny` or `on_escalate = wait(timeout = …)`; anything else is recorded as
/// an error and yields `None`.
fn on_escalate(value: Expr, errors: &mut Errors) -> Option<OnEscalate> {
    let wait = match ungroup(&value).clone() {
        Expr::Path(path) if is_word(&path, "deny") => return Some(OnEscalate::Deny),
        Expr::Path(path) if is_word(&path, "wait") => {
            errors.spanned(
                path,
                format!("{ON_ESCALATE}: a wait needs a timeout, because waiting is always bounded"),
            );
            return None;
        }
        Expr::Call(call) if matches!(&*call.func, Expr::Path(path) if is_word(path, "wait")) => call,
        Expr::Lit(ExprLit {
            lit: Lit::Str(text), ..
        }) => {
            errors.at(
                text.span(),
                format!(
                    "{ON_ESCALATE}: put the timeout in wait(…), as in on_escalate = wait(timeout = {})",
                    text.to_token_stream()
                ),
            );
            return None;
        }
        other => {
            errors.spanned(
                other,
                format!(
                    "{ON_ESCALATE}, to wait at most that long for a human's answer, \
                     or deny (the default) to return Denied at once"
                ),
            );
            return None;
        }
    };
    let mut timeout: Option<Option<Timeout>> = None;
    for setting in wait.args.iter() {
        match ungroup(setting) {
            Expr::Assign(assign) if matches!(&*assign.left, Expr::Path(path) if is_word(path, "timeout")) => {
                if timeout.is_some() {
                    errors.spanned(&assign.left, "duplicate `timeout`: give it once");
                } else {
                    timeout = Some(timeout_value(&assign.right, errors));
                }
            }
            Expr::Assign(assign) => errors.spanned(
                &assign.left,
                format!(
                    "{ON_ESCALATE}: unknown setting `{}`; `timeout` is the only one",
                    assign.left.to_token_stream()
                ),
            ),
            other => errors.spanned(
                other,
                format!(
                    "{ON_ESCALATE}: name the setting, as in wait(timeout = {})",
                    other.to_token_stream()
                ),
            ),
        }
    }
    match timeout {
        Some(timeout) => timeout.map(OnEscalate::Wait),
        None => {
            if wait.args.is_empty() {
                errors.spanned(
                    &wait,
                    format!("{ON_ESCALATE}: a wait needs a timeout, because waiting is always bounded"),
                );
            }
            None
        }
    }
}

/// Whether `path` is the single word `word`.
fn is_word(path: &syn::ExprPath, word: &str) -> bool {
    path.qself.is_none() && path.attrs.is_empty() && path.path.is_ident(word)
}

/// `timeout = "10m"` (read now) or `timeout = <expression>` (evaluated at each call).
fn timeout_value(value: &Expr, errors: &mut Errors) -> Option<Timeout> {
    match value {
        Expr::Group(group) => timeout_value(&group.expr, errors),
        Expr::Lit(ExprLit {
            lit: Lit::Str(text), ..
        }) => match duration_millis(&text.value()) {
            Ok(millis) => Some(Timeout::Fixed {
                millis,
                span: text.span(),
            }),
            Err(why) => {
                errors.at(text.span(), format!("{ON_ESCALATE}: {why}"));
                None
            }
        },
        Expr::Lit(ExprLit {
            lit: lit @ (Lit::Int(_) | Lit::Float(_)),
            ..
        }) => {
            let number = lit.to_token_stream().to_string();
            errors.spanned(
                lit,
                format!(
                    "{ON_ESCALATE}: `{number}` has no unit; write a string with one, like \"{number}s\" \
                     (units: ms, s, m, h), or give a `Duration`"
                ),
            );
            None
        }
        other => Some(Timeout::PerCall(other.clone())),
    }
}

/// The units of a timeout, in milliseconds.
const UNITS: &[(&str, u64)] = &[("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)];

/// `"500ms"`, `"30s"`, `"10m"`, `"1h"` as milliseconds: a positive whole number (`_` may
/// separate digits) and one unit, spaces allowed around and between them. The error is the
/// reason, for a message.
pub(crate) fn duration_millis(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(String::from(
            "the timeout is empty; write a number and a unit, like \"10m\" (units: ms, s, m, h)",
        ));
    }
    if trimmed.starts_with('-') {
        return Err(format!(
            "\"{text}\" is negative; a timeout is a positive number and a unit, like \"10m\""
        ));
    }
    let digits_end = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '_'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits_end);
    let unit = unit.trim_start();
    if !number.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "\"{text}\" does not start with a number; write a number and a unit, like \"10m\" (units: ms, s, m, h)"
        ));
    }
    if unit.starts_with('.') || unit.starts_with(',') {
        return Err(format!(
            "\"{text}\" is not a whole number; use a smaller unit instead, like \"90m\" for an hour and a half"
        ));
    }
    if unit.contains(|c: char| c.is_ascii_digit()) {
        return Err(format!(
            "\"{text}\" has more than one number; write one number and one unit, like \"90m\" rather than \"1h30m\""
        ));
    }
    if unit.is_empty() {
        return Err(format!(
            "\"{text}\" has no unit; write \"{number}s\", \"{number}m\" or another unit (ms, s, m, h)"
        ));
    }
    let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(unknown_unit(text, number, unit));
    };
    let count: u64 = number.replace('_', "").parse().map_err(|_| too_long(text))?;
    if count == 0 {
        return Err(String::from(
            "a zero timeout never waits; give a positive one, like \"10m\", \
             or write on_escalate = deny to return Denied at once",
        ));
    }
    count.checked_mul(scale).ok_or_else(|| too_long(text))
}

fn too_long(text: &str) -> String {
    format!("\"{text}\" is too long: a timeout must fit in 64 bits of milliseconds (about 584 million years)")
}

fn unknown_unit(text: &str, number: &str, unit: &str) -> String {
    let lower = unit.to_ascii_lowercase();
    let fix = match lower.as_str() {
        "ms" | "s" | "m" | "h" => format!("units are lowercase: write \"{number}{lower}\""),
        "msec" | "msecs" | "milli" | "millis" | "millisecond" | "milliseconds" => {
            format!("write \"{number}ms\"")
        }
        "sec" | "secs" | "second" | "seconds" => format!("write \"{number}s\""),
        "min" | "mins" | "minute" | "minutes" => format!("write \"{number}m\""),
        "hr" | "hrs" | "hour" | "hours" => format!("write \"{number}h\""),
        "d" | "day" | "days" => match number
            .replace('_', "")
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(24))
        {
            Some(hours) => format!("write \"{hours}h\""),
            None => String::from("write it in hours"),
        },
        "us" | "µs" | "ns" => String::from("the smallest unit is ms"),
        _ => String::from("the units are ms, s, m and h"),
    };
    format!("unknown unit `{unit}` in \"{text}\"; {fix}")
}

/// `(entry, entry, …)`.
fn parenthesized<T>(
    input: ParseStream,
    key: Key,
    entry: fn(ParseStream) -> syn::Result<T>,
) -> syn::Result<Vec<T>> {
    if !input.peek(syn::token::Paren) {
        return Err(syn::Error::new(
            if input.is_empty() || input.peek(Token![,]) {
                key.span
            } else {
                input.span()
            },
            format!(
                "`{}` takes a list in parentheses: write {}",
                key.name,
                usage(key.name)
            ),
        ));
    }
    let content;
    syn::parenthesized!(content in input);
    let entries = Punctuated::<T, Token![,]>::parse_terminated_with(&content, entry).map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("{e} (in {}: write {})", key.name, usage(key.name)),
        )
    })?;
    Ok(entries.into_iter().collect())
}

/// A parameter named in `skip(…)`, `rename(…)`: an identifier (keywords allowed, so that
/// `skip(type)` and `skip(self)` can be answered precisely later).
fn param_name(input: ParseStream) -> syn::Result<Name> {
    let ident = Ident::parse_any(input)?;
    Ok(Name {
        text: ident.unraw().to_string(),
        span: ident.span(),
    })
}

/// A payload or meta member name: an identifier, or a string for names that are not one.
fn member_name(input: ParseStream) -> syn::Result<Name> {
    if input.peek(LitStr) {
        let text: LitStr = input.parse()?;
        if text.value().trim().is_empty() {
            return Err(syn::Error::new(text.span(), "a member name must not be empty"));
        }
        return Ok(Name {
            text: text.value(),
            span: text.span(),
        });
    }
    param_name(input)
}

/// `param = <expression>` inside `rename(…)`; the expression is checked by the caller.
fn param_pair(input: ParseStream) -> syn::Result<(Name, Expr)> {
    Ok((param_name(input)?, pair_value(input)?))
}

/// `member = <expression>` inside `fields(…)` and `meta(…)`.
fn member_pair(input: ParseStream) -> syn::Result<(Name, Expr)> {
    Ok((member_name(input)?, pair_value(input)?))
}

fn pair_value(input: ParseStream) -> syn::Result<Expr> {
    input.parse::<Token![=]>()?;
    input.parse()
}

/// Keeps the first of each name; later ones are errors.
fn unique<T>(items: Vec<T>, name: fn(&T) -> &Name, what: &str, errors: &mut Errors) -> Vec<T> {
    let mut kept: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        let this = name(&item);
        if kept.iter().any(|k| name(k).text == this.text) {
            errors.at(this.span, format!("`{}` {what}", this.text));
        } else {
            kept.push(item);
        }
    }
    kept
}

fn renames(pairs: Vec<(Name, Expr)>, errors: &mut Errors) -> Vec<Rename> {
    let mut renames = Vec::new();
    for (param, value) in pairs {
        match ungroup(&value) {
            Expr::Lit(ExprLit {
                lit: Lit::Str(to), ..
            }) if to.value().trim().is_empty() => errors.at(
                to.span(),
                format!(
                    "the new name of `{}` must not be empty: write rename({} = \"new_name\")",
                    param.text, param.text
                ),
            ),
            Expr::Lit(ExprLit {
                lit: Lit::Str(to), ..
            }) => renames.push(Rename {
                param,
                to: to.clone(),
            }),
            other => errors.spanned(
                other,
                format!(
                    "the new name must be a string literal: write rename({} = \"new_name\")",
                    param.text
                ),
            ),
        }
    }
    unique(renames, |r| &r.param, "is renamed twice", errors)
}

fn constants(key: Key, pairs: Vec<(Name, Expr)>, errors: &mut Errors) -> Vec<Constant> {
    let mut constants = Vec::new();
    for (name, value) in pairs {
        match literal(&value) {
            Ok(value) => constants.push(Constant { key: name, value }),
            Err(why) => errors.spanned(
                &value,
                format!(
                    "`{}` values must be literals (a string, a number or a bool), like {}; {why}",
                    key.name,
                    usage(key.name)
                ),
            ),
        }
    }
    unique(
        constants,
        |c| &c.key,
        &format!("appears twice in {}(…)", key.name),
        errors,
    )
}

/// A literal as a typed expression: unsuffixed integers become `i64` (or `u64` when too
/// large for it) and unsuffixed floats `f64`, so that no literal overflows an `i32`.
fn literal(value: &Expr) -> Result<TokenStream, &'static str> {
    match value {
        Expr::Group(group) => literal(&group.expr),
        Expr::Paren(paren) => literal(&paren.expr),
        Expr::Lit(ExprLit { lit, .. }) => match lit {
            Lit::Str(_) | Lit::Bool(_) => Ok(lit.to_token_stream()),
            Lit::Int(int) => typed_int(int, false),
            Lit::Float(float) => Ok(typed_float(float)),
            _ => Err("pass other values as arguments instead"),
        },
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => match &*unary.expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(int), ..
            }) => typed_int(int, true),
            Expr::Lit(ExprLit {
                lit: Lit::Float(float),
                ..
            }) => {
                let float = typed_float(float);
                Ok(quote!(-#float))
            }
            _ => Err("pass computed values as arguments instead"),
        },
        _ => Err("pass computed values as arguments instead"),
    }
}

fn typed_int(int: &LitInt, negative: bool) -> Result<TokenStream, &'static str> {
    let sign = if negative { quote!(-) } else { TokenStream::new() };
    if !int.suffix().is_empty() {
        return Ok(quote!(#sign #int));
    }
    let digits: u64 = int
        .base10_parse()
        .map_err(|_| "this integer does not fit in 64 bits")?;
    let suffix = match (negative, digits) {
        (_, d) if d <= i64::MAX as u64 => "i64",
        (false, _) => "u64",
        (true, d) if d == i64::MAX as u64 + 1 => "i64",
        (true, _) => return Err("this integer does not fit in 64 bits"),
    };
    let typed = LitInt::new(&format!("{digits}{suffix}"), int.span());
    Ok(quote!(#sign #typed))
}

fn typed_float(float: &LitFloat) -> TokenStream {
    if float.suffix().is_empty() {
        LitFloat::new(&format!("{}f64", float.base10_digits()), float.span()).to_token_stream()
    } else {
        float.to_token_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::duration_millis;

    #[test]
    fn timeouts_in_every_unit() {
        assert_eq!(duration_millis("500ms"), Ok(500));
        assert_eq!(duration_millis("30s"), Ok(30_000));
        assert_eq!(duration_millis("10m"), Ok(600_000));
        assert_eq!(duration_millis("1h"), Ok(3_600_000));
        assert_eq!(duration_millis(" 1_000 s "), Ok(1_000_000));
        assert_eq!(duration_millis(&format!("{}ms", u64::MAX)), Ok(u64::MAX));
    }

    #[test]
    fn bad_timeouts_say_why() {
        for (text, why) in [
            ("", "empty"),
            ("10", "no unit"),
            ("0s", "zero"),
            ("0ms", "zero"),
            ("-5s", "negative"),
            ("1.5h", "whole number"),
            ("1h30m", "more than one number"),
            ("10d", "write \"240h\""),
            ("10 min", "write \"10m\""),
            ("10H", "lowercase"),
            ("10y", "the units are ms, s, m and h"),
            ("ms", "does not start with a number"),
            ("5124095576030432h", "too long"),
            ("99999999999999999999ms", "too long"),
        ] {
            let error = duration_millis(text).expect_err(text);
            assert!(error.contains(why), "{text:?}: {error}");
        }
    }
}
