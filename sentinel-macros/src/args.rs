//! Parsing the attribute: `#[guarded(policy = "…", kind = "…", skip(…), …)]`.
//!
//! Every option goes through [`Args::set`], the one place that rejects a repeated key.
//! Problems are collected rather than returned, and parsing resumes at the next top-level
//! comma, so a user sees every mistake in one build. Checks that need the function (does
//! `skip(x)` name a parameter?) happen later, in `expand`.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Token};

use crate::duration::duration_millis;
use crate::errors::{did_you_mean, Errors};
use crate::literal::literal;
use crate::options::{
    self, Symbol, CLIENT, CONTEXT, CRATE, FIELDS, ID, KIND, META, ON_ESCALATE, PAYLOAD, POLICY, RENAME, SKIP,
};

/// How `on_escalate` is written; every message about it starts with this.
const ON_ESCALATE_USAGE: &str = "`on_escalate` takes wait(timeout = \"10m\")";

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
    given: Vec<Symbol>,
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
    name: Symbol,
    span: Span,
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
            let value = string(input, key, errors);
            args.set(key, value, errors, |a| &mut a.policy)
        }
        KIND => {
            let value = string(input, key, errors);
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

/// `= "string"`: anything else is recorded as an error and yields `None`.
fn string(input: ParseStream, key: Key, errors: &mut Errors) -> syn::Result<Option<LitStr>> {
    let value = expression(input, key)?;
    match ungroup(&value) {
        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) if s.value().trim().is_empty() => {
            errors.at(
                s.span(),
                format!("`{}` must not be empty: write {}", key.name, key.name.usage()),
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
                    key.name.usage()
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
        CONTEXT => "the name of a parameter of type `Context` or `&Context`",
        _ => {
            "the name of the parameter (or of a binding in a pattern parameter) whose members are the payload"
        }
    };
    errors.spanned(
        value,
        format!("`{}` takes {what}: write {}", key.name, key.name.usage()),
    );
    None
}

/// `crate = gate`, `crate = ::framework::sentinel`, or the same path in a string (as serde
/// and tokio spell it).
fn crate_path(value: &Expr, key: Key, errors: &mut Errors) -> Option<syn::Path> {
    match ungroup(value) {
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => return Some(path.path.clone()),
        Expr::Lit(ExprLit {
            lit: Lit::Str(text), ..
        }) => match text.parse::<syn::Path>() {
            Ok(mut path) => {
                // The path's tokens point at the string, so a path that does not resolve
                // is reported there.
                for segment in &mut path.segments {
                    segment.ident.set_span(text.span());
                }
                return Some(path);
            }
            Err(e) => {
                errors.at(
                    text.span(),
                    format!("`crate` takes a path, and \"{}\" is not one: {e}", text.value()),
                );
                return None;
            }
        },
        _ => {}
    }
    errors.spanned(
        value,
        format!(
            "`crate` takes the path of the `sentinel` crate as your code names it: write {}, \
             or crate = my_framework::sentinel for a re-export",
            key.name.usage()
        ),
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
                format!("{ON_ESCALATE_USAGE}: a wait needs a timeout, because waiting is always bounded"),
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
                    "{ON_ESCALATE_USAGE}: put the timeout in wait(…), as in on_escalate = wait(timeout = {})",
                    text.to_token_stream()
                ),
            );
            return None;
        }
        other => {
            errors.spanned(
                other,
                format!(
                    "{ON_ESCALATE_USAGE}, to wait at most that long for a human's answer, \
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
                    "{ON_ESCALATE_USAGE}: unknown setting `{}`; `timeout` is the only one",
                    assign.left.to_token_stream()
                ),
            ),
            other => errors.spanned(
                other,
                format!(
                    "{ON_ESCALATE_USAGE}: name the setting, as in wait(timeout = {})",
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
                    format!("{ON_ESCALATE_USAGE}: a wait needs a timeout, because waiting is always bounded"),
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
                errors.at(text.span(), format!("{ON_ESCALATE_USAGE}: {why}"));
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
                    "{ON_ESCALATE_USAGE}: `{number}` has no unit; write a string with one, like \"{number}s\" \
                     (units: ms, s, m, h), or give a `Duration`"
                ),
            );
            None
        }
        other => Some(Timeout::PerCall(other.clone())),
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
        if name.text.trim().is_empty() {
            errors.at(
                name.span,
                format!("a member name must not be empty: write {}", key.name.usage()),
            );
            continue;
        }
        match literal(&value) {
            Ok(value) => constants.push(Constant { key: name, value }),
            Err(why) => errors.spanned(
                &value,
                format!(
                    "`{}` values must be literals (a string, a number or a bool), like {}; {why}",
                    key.name,
                    key.name.usage()
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
