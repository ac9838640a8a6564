//! The value of `on_escalate`: `deny`, or `wait(timeout = …)` with a timeout that is
//! read at compile time (a string such as `"10m"`, never zero) or evaluated at each call.
//! Its grammar is an expression, read in `args`; what makes it a valid value is here, a
//! part of `valid`'s pass.

use quote::ToTokens;
use syn::{Expr, ExprLit, Lit};

use crate::ast::{ungroup, OnEscalate, Timeout};
use crate::duration::duration_millis;
use crate::errors::Errors;
use crate::options::ON_ESCALATE_USAGE;

/// `on_escalate = deny` or `on_escalate = wait(timeout = …)`; anything else is recorded as
/// an error and yields `None`.
pub(crate) fn on_escalate(value: Expr, errors: &mut Errors) -> Option<OnEscalate> {
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
