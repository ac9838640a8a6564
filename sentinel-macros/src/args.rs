//! Parsing the attribute: `#[guarded(policy = "…", kind = "…", skip(…), …)]`.
//!
//! Every option goes through [`Args::set`], the one place that rejects a repeated key.
//! Problems are collected rather than returned, and parsing resumes at the next top-level
//! comma, so a user sees every mistake in one build. This file is the grammar; whether a
//! value is valid (a string, not blank, a path) is checked in `valid` and `escalate`, and
//! checks that need the function (does `skip(x)` name a parameter?) happen later, in `check`.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Token};

use crate::errors::{did_you_mean, Errors};
use crate::escalate::{on_escalate, ON_ESCALATE_USAGE};
use crate::options::{
    self, Symbol, CLIENT, CONTEXT, CRATE, FIELDS, ID, KIND, META, ON_ESCALATE, PAYLOAD, POLICY, RECEIPT,
    RENAME, SKIP,
};
use crate::valid::{constants, crate_path, parameter, renames, string, unique};

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
    /// `crate = path`: where the `sentinel` facade is, for a renamed dependency or a
    /// framework's re-export.
    pub(crate) krate: Option<syn::Path>,
    pub(crate) receipt: Option<Receipt>,
    given: Vec<Symbol>,
}

/// `receipt`: run the body as the adjudication protocol's protected executor.
pub(crate) enum Receipt {
    /// `receipt`: with the receipt client installed by `sentinel::adjudication::init`.
    Global(Span),
    /// `receipt = expr`: with this `&ReceiptClient`.
    Client(Expr),
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
pub(crate) struct Key {
    pub(crate) name: Symbol,
    pub(crate) span: Span,
}

impl Args {
    /// Whether the option `name` was written (even with a malformed value).
    pub(crate) fn given(&self, name: Symbol) -> bool {
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
            let hint = if key.name.is_list() {
                format!(": put every entry in one {}", key.name.usage())
            } else {
                String::from(": give it once")
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
    if input.peek(LitStr) {
        return Err(input.error(
            "name the option: #[guarded(policy = \"fintech.payments\")] checks calls under the policy `fintech.payments`",
        ));
    }
    if !input.peek(Ident::peek_any) {
        return Err(input.error(format!(
            "expected an option, one of: {}",
            options::names().join(", ")
        )));
    }
    let ident = Ident::parse_any(input)?;
    let Some(option) = Symbol::lookup(&ident.unraw().to_string()) else {
        return Err(unknown_option(&ident));
    };
    let key = Key {
        name: option,
        span: ident.span(),
    };
    match option {
        POLICY => {
            let value = expression(input, key).map(|expr| string(&expr, key, errors));
            args.set(key, value, errors, |a| &mut a.policy)
        }
        KIND => {
            let value = expression(input, key).map(|expr| string(&expr, key, errors));
            args.set(key, value, errors, |a| &mut a.kind)
        }
        SKIP => {
            let value = parenthesized(input, key, param_name)
                .map(|names| Some(unique(names, |n| n, "is skipped twice", errors)));
            args.set(key, value, errors, |a| &mut a.skip)
        }
        RENAME => {
            let value = parenthesized(input, key, param_pair).map(|pairs| Some(renames(pairs, errors)));
            args.set(key, value, errors, |a| &mut a.rename)
        }
        FIELDS => {
            let value =
                parenthesized(input, key, member_pair).map(|pairs| Some(constants(key, pairs, errors)));
            args.set(key, value, errors, |a| &mut a.fields)
        }
        META => {
            let value =
                parenthesized(input, key, member_pair).map(|pairs| Some(constants(key, pairs, errors)));
            args.set(key, value, errors, |a| &mut a.meta)
        }
        ID => {
            let value = expression(input, key).map(Some);
            args.set(key, value, errors, |a| &mut a.id)
        }
        CLIENT => {
            let value = expression(input, key).map(Some);
            args.set(key, value, errors, |a| &mut a.client)
        }
        CONTEXT => {
            let value = expression(input, key).map(|expr| parameter(&expr, key, errors));
            args.set(key, value, errors, |a| &mut a.context)
        }
        PAYLOAD => {
            let value = expression(input, key).map(|expr| parameter(&expr, key, errors));
            args.set(key, value, errors, |a| &mut a.payload)
        }
        ON_ESCALATE => {
            // Read on its own, so that a malformed value yields one error, worded for it.
            let value = equals(input, key).and_then(|()| {
                let read = |value: ParseStream| {
                    let expr = value.parse::<Expr>().map_err(|e| {
                        syn::Error::new(
                            e.span(),
                            format!("{ON_ESCALATE_USAGE}, or deny: this value cannot be read ({e})"),
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
        }
        CRATE => {
            let value = expression(input, key).map(|expr| crate_path(&expr, key, errors));
            args.set(key, value, errors, |a| &mut a.krate)
        }
        RECEIPT => {
            let value = if input.peek(Token![=]) {
                expression(input, key).map(|expr| Some(Receipt::Client(expr)))
            } else {
                Ok(Some(Receipt::Global(key.span)))
            };
            args.set(key, value, errors, |a| &mut a.receipt)
        }
        _ => Err(unknown_option(&ident)),
    }
}

fn unknown_option(ident: &Ident) -> syn::Error {
    let word = ident.unraw().to_string();
    let suggestion = match word.as_str() {
        "type" | "action" | "action_type" | "name" => Some("kind"),
        "exclude" | "ignore" | "skip_args" | "skip_all" => Some("skip"),
        "ctx" => Some("context"),
        "action_id" | "idempotency_key" => Some("id"),
        "escalate" | "escalation" | "on_escalation" | "wait" | "timeout" => Some("on_escalate"),
        _ => did_you_mean(&word, &options::names()),
    };
    let hint = suggestion
        .map(|s| format!("did you mean `{s}`? "))
        .unwrap_or_default();
    syn::Error::new(
        ident.span(),
        format!(
            "unknown option `{word}`: {hint}expected one of: {}",
            options::names().join(", ")
        ),
    )
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
            format!("expected `=` after `{}`: write {}", key.name, key.name.usage()),
        ));
    }
    let eq: Token![=] = input.parse()?;
    if input.is_empty() || input.peek(Token![,]) {
        return Err(syn::Error::new(
            eq.span,
            format!("`{}` needs a value: write {}", key.name, key.name.usage()),
        ));
    }
    Ok(())
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
                key.name.usage()
            ),
        ));
    }
    let content;
    syn::parenthesized!(content in input);
    let entries = Punctuated::<T, Token![,]>::parse_terminated_with(&content, entry).map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("{e} (in {}: write {})", key.name, key.name.usage()),
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
