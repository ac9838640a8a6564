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
}

/// Every option, in the order the documentation gives them.
pub(crate) const OPTIONS: &[&str] = &[
    "policy", "kind", "skip", "rename", "fields", "meta", "id", "client", "context",
];

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
    given: Vec<&'static str>,
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
        let value = expression(input, key).map(|expr| parameter(&expr, errors));
        args.set(key, value, errors, |a| &mut a.context)
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
        _ => "",
    }
}

/// `= <expression>`.
fn expression(input: ParseStream, key: Key) -> syn::Result<Expr> {
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
    input.parse()
}

/// `= "string"`: anything else is recorded as an error and yields `None`.
fn string(input: ParseStream, key: Key, errors: &mut Errors) -> syn::Result<Option<LitStr>> {
    let value = expression(input, key)?;
    match &value {
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

/// `context = ctx`: the name of a parameter.
fn parameter(value: &Expr, errors: &mut Errors) -> Option<Name> {
    if let Expr::Path(path) = value {
        if path.qself.is_none() && path.attrs.is_empty() {
            if let Some(ident) = path.path.get_ident() {
                return Some(Name {
                    text: ident.unraw().to_string(),
                    span: ident.span(),
                });
            }
        }
    }
    errors.spanned(
        value,
        "`context` takes the name of a parameter of type `Context` or `&Context`: write context = ctx",
    );
    None
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
        match value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(to), ..
            }) => renames.push(Rename { param, to }),
            other => errors.spanned(
                &other,
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
