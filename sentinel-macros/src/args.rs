//! The attribute's grammar: `#[guarded(policy = "…", kind = "…", skip(…), …)]` read into
//! [`Entry`]s, each option with its value as written. Nothing here judges a value: whether
//! it is a string, a parameter's name or a path, and whether a key is repeated, is
//! [`crate::valid`]'s pass over the entries; checks that need the function (does `skip(x)`
//! name a parameter?) are [`crate::check`]'s. A malformed option does not stop the reading:
//! it resumes at the next top-level comma, so a user sees every mistake in one build.

use proc_macro2::{TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Token};

use crate::ast::{Entry, Key, Name, Written};
use crate::errors::did_you_mean;
use crate::options::{
    self, Symbol, CLIENT, CONTEXT, CRATE, FIELDS, ID, KIND, META, ON_ESCALATE, ON_ESCALATE_USAGE, PAYLOAD,
    POLICY, RECEIPT, RENAME, SKIP,
};

/// Reads the tokens between the attribute's parentheses, every entry in order.
pub(crate) fn parse(tokens: TokenStream) -> Vec<Entry> {
    let mut entries = Vec::new();
    let parser = |input: ParseStream| {
        parse_entries(input, &mut entries);
        Ok(())
    };
    if let Err(error) = parser.parse2(tokens) {
        entries.push(Entry::Malformed(error));
    }
    entries
}

fn parse_entries(input: ParseStream, entries: &mut Vec<Entry>) {
    while !input.is_empty() {
        match parse_entry(input) {
            // A value that could not be read leaves its tokens behind: its error says why.
            Ok(entry @ Entry::Option(_, Err(_))) => {
                entries.push(entry);
                skip_to_comma(input);
            }
            Ok(entry) => {
                entries.push(entry);
                if !(input.is_empty() || input.peek(Token![,])) {
                    entries.push(Entry::Malformed(input.error("expected `,` between options")));
                    skip_to_comma(input);
                }
            }
            Err(error) => {
                entries.push(Entry::Malformed(error));
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

/// One option with its value, or an error for tokens that name no option. A known key
/// whose value cannot be read is still an option (so that it counts as given), with the
/// reason as its value.
fn parse_entry(input: ParseStream) -> syn::Result<Entry> {
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
    let value = match option {
        POLICY | KIND | ID | CLIENT | CONTEXT | PAYLOAD | CRATE => expression(input, key).map(Written::Expr),
        SKIP => parenthesized(input, key, param_name).map(Written::Names),
        RENAME => parenthesized(input, key, param_pair).map(Written::Pairs),
        FIELDS | META => parenthesized(input, key, member_pair).map(Written::Pairs),
        ON_ESCALATE => on_escalate(input, key).map(Written::Expr),
        RECEIPT if input.peek(Token![=]) => expression(input, key).map(Written::Expr),
        RECEIPT => Ok(Written::Flag),
        _ => return Err(unknown_option(&ident)),
    };
    Ok(Entry::Option(key, value))
}

/// `on_escalate = …`, read on its own so that a malformed value yields one error, worded
/// for it.
fn on_escalate(input: ParseStream, key: Key) -> syn::Result<Expr> {
    equals(input, key)?;
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
