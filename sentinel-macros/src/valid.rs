//! Checking option values once they are parsed: the right shape (a string, a parameter's
//! name, a path, a literal), not blank, not repeated inside a list. The grammar that reads
//! them is in `args`; checks against the function's signature are in `check`.

use syn::ext::IdentExt;
use syn::{Expr, ExprLit, Lit, LitStr};

use crate::args::{ungroup, Constant, Key, Name, Rename};
use crate::errors::Errors;
use crate::literal::literal;
use crate::options::CONTEXT;

/// `"string"`, not blank: anything else is recorded as an error and yields `None`.
pub(crate) fn string(value: &Expr, key: Key, errors: &mut Errors) -> Option<LitStr> {
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
pub(crate) fn parameter(value: &Expr, key: Key, errors: &mut Errors) -> Option<Name> {
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
pub(crate) fn crate_path(value: &Expr, key: Key, errors: &mut Errors) -> Option<syn::Path> {
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
pub(crate) fn unique<T>(items: Vec<T>, name: fn(&T) -> &Name, what: &str, errors: &mut Errors) -> Vec<T> {
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

pub(crate) fn renames(pairs: Vec<(Name, Expr)>, errors: &mut Errors) -> Vec<Rename> {
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

pub(crate) fn constants(key: Key, pairs: Vec<(Name, Expr)>, errors: &mut Errors) -> Vec<Constant> {
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
