//! The validation pass, as thiserror-impl's `valid.rs`: from the entries the grammar read
//! ([`crate::args`]) to [`Args`], the options with their meaning. Each value is checked
//! for its shape (a string, a parameter's name, a path, a literal), not blank, not repeated
//! inside a list, and each key is set once. Checks against the function's signature are
//! in `check`; `on_escalate`'s value is read in `escalate`.

use syn::ext::IdentExt;
use syn::{Expr, ExprLit, Lit, LitStr};

use crate::ast::{ungroup, Args, Constant, Entry, Key, Name, Receipt, Rename, Written};
use crate::errors::Errors;
use crate::escalate::on_escalate;
use crate::literal::literal;
use crate::options::{
    CLIENT, CONTEXT, CRATE, FIELDS, ID, KIND, META, ON_ESCALATE, PAYLOAD, POLICY, RECEIPT, RENAME, SKIP,
};

/// The options the entries give, each checked; every problem is recorded in `errors`, in
/// the order the entries were written.
pub(crate) fn validate(entries: Vec<Entry>, errors: &mut Errors) -> Args {
    let mut args = Args::default();
    for entry in entries {
        match entry {
            Entry::Malformed(error) => errors.push(error),
            Entry::Option(key, Err(error)) => {
                given_once(&mut args, key, errors);
                errors.push(error);
            }
            Entry::Option(key, Ok(written)) => option(&mut args, key, written, errors),
        }
    }
    args
}

/// One option whose value could be read: the value is checked first, then the key is set
/// once (a repeated key keeps the first value).
fn option(args: &mut Args, key: Key, written: Written, errors: &mut Errors) {
    match (key.name, written) {
        (POLICY, Written::Expr(expr)) => {
            let value = string(&expr, key, errors);
            set(args, key, value, errors, |a| &mut a.policy);
        }
        (KIND, Written::Expr(expr)) => {
            let value = string(&expr, key, errors);
            set(args, key, value, errors, |a| &mut a.kind);
        }
        (SKIP, Written::Names(names)) => {
            let value = unique(names, |n| n, "is skipped twice", errors);
            set(args, key, Some(value), errors, |a| &mut a.skip);
        }
        (RENAME, Written::Pairs(pairs)) => {
            let value = renames(pairs, errors);
            set(args, key, Some(value), errors, |a| &mut a.rename);
        }
        (FIELDS, Written::Pairs(pairs)) => {
            let value = constants(key, pairs, errors);
            set(args, key, Some(value), errors, |a| &mut a.fields);
        }
        (META, Written::Pairs(pairs)) => {
            let value = constants(key, pairs, errors);
            set(args, key, Some(value), errors, |a| &mut a.meta);
        }
        (ID, Written::Expr(expr)) => set(args, key, Some(expr), errors, |a| &mut a.id),
        (CLIENT, Written::Expr(expr)) => set(args, key, Some(expr), errors, |a| &mut a.client),
        (CONTEXT, Written::Expr(expr)) => {
            let value = parameter(&expr, key, errors);
            set(args, key, value, errors, |a| &mut a.context);
        }
        (PAYLOAD, Written::Expr(expr)) => {
            let value = parameter(&expr, key, errors);
            set(args, key, value, errors, |a| &mut a.payload);
        }
        (ON_ESCALATE, Written::Expr(expr)) => {
            let value = on_escalate(expr, errors);
            set(args, key, value, errors, |a| &mut a.on_escalate);
        }
        (CRATE, Written::Expr(expr)) => {
            let value = crate_path(&expr, key, errors);
            set(args, key, value, errors, |a| &mut a.krate);
        }
        (RECEIPT, Written::Expr(expr)) => {
            set(args, key, Some(Receipt::Client(key.span, expr)), errors, |a| {
                &mut a.receipt
            });
        }
        (RECEIPT, Written::Flag) => {
            set(args, key, Some(Receipt::Global(key.span)), errors, |a| {
                &mut a.receipt
            });
        }
        // The grammar reads each key in one shape only (see `args::parse_entry`).
        (name, _) => errors.at(key.span, format!("#[guarded] could not read `{name}`")),
    }
}

/// The set-once rule, for every key: the first occurrence wins, a repeat is an error on
/// the repeated key.
fn set<T>(
    args: &mut Args,
    key: Key,
    value: Option<T>,
    errors: &mut Errors,
    slot: fn(&mut Args) -> &mut Option<T>,
) {
    if given_once(args, key, errors) {
        *slot(args) = value;
    }
}

/// Records that `key` was written; `false` (and an error on it) if it already was. A key
/// whose value is malformed still counts as given, so a bad `policy(…)` is not also
/// reported as a missing policy.
fn given_once(args: &mut Args, key: Key, errors: &mut Errors) -> bool {
    if args.given(key.name) {
        let hint = if key.name.is_list() {
            format!(": put every entry in one {}", key.name.usage())
        } else {
            String::from(": give it once")
        };
        errors.at(key.span, format!("duplicate option `{}`{hint}", key.name));
        return false;
    }
    args.given.push(key);
    true
}

/// `"string"`, not blank: anything else is recorded as an error and yields `None`.
fn string(value: &Expr, key: Key, errors: &mut Errors) -> Option<LitStr> {
    match ungroup(value) {
        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) if s.value().trim().is_empty() => {
            errors.at(
                s.span(),
                format!("`{}` must not be empty: write {}", key.name, key.name.usage()),
            );
            None
        }
        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Some(s.clone()),
        other => {
            errors.spanned(
                other,
                format!(
                    "`{}` must be a string literal: write {}",
                    key.name,
                    key.name.usage()
                ),
            );
            None
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
