//! The attribute's typed view, as thiserror-impl's `ast.rs`: what [`crate::args`] reads
//! (each option as written, not yet checked) and what [`crate::valid`] makes of it (the
//! options with their meaning). Every node keeps the user's tokens, so that each message
//! points at them. This module imports nothing of the crate but the option names.

use proc_macro2::{Span, TokenStream};
use syn::{Expr, LitStr};

use crate::options::Symbol;

/// One entry between the attribute's parentheses, in the order written.
pub(crate) enum Entry {
    /// An option: its key, and its value as written or why the value could not be read.
    Option(Key, syn::Result<Written>),
    /// Tokens that are no option (an unknown name, a string with no name, a missing comma).
    Malformed(syn::Error),
}

/// An option's value as the grammar reads it, before any check of its meaning.
pub(crate) enum Written {
    /// `policy = …`, `kind = …`, `id = …`, `client = …`, `context = …`, `payload = …`,
    /// `crate = …`, `on_escalate = …`: an expression (whether it is a string, a parameter's
    /// name or a path is for the validation to say).
    Expr(Expr),
    /// `skip(a, b)`.
    Names(Vec<Name>),
    /// `rename(a = …)`, `fields(k = …)`, `meta(k = …)`.
    Pairs(Vec<(Name, Expr)>),
    /// `receipt`, with no value.
    Flag,
}

/// The options with their meaning. Values that were malformed are left unset (their error
/// is already recorded), but [`Args::given`] still knows the key was there.
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
    /// Every key written, once each, where it was first written.
    pub(crate) given: Vec<Key>,
}

impl Args {
    /// Whether the option `name` was written (even with a malformed value).
    pub(crate) fn given(&self, name: Symbol) -> bool {
        self.key(name).is_some()
    }

    /// Where the option `name` was written, if it was.
    pub(crate) fn key(&self, name: Symbol) -> Option<Key> {
        self.given.iter().copied().find(|key| key.name == name)
    }
}

/// `receipt`: run the body as the adjudication protocol's protected executor.
pub(crate) enum Receipt {
    /// `receipt`: with the receipt client installed by `sentinel::adjudication::init`.
    Global(Span),
    /// `receipt = expr`: with this `&ReceiptClient`; where `receipt` is written.
    Client(Span, Expr),
}

impl Receipt {
    /// Where `receipt` is written.
    pub(crate) fn key_span(&self) -> Span {
        match self {
            Receipt::Global(span) | Receipt::Client(span, _) => *span,
        }
    }
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

/// The expression inside the invisible group a `macro_rules!` fragment (`$p:expr`,
/// `$p:literal`) arrives in: every reader looks through it, so an option written by a
/// macro reads as the same option written by hand.
pub(crate) fn ungroup(expr: &Expr) -> &Expr {
    match expr {
        Expr::Group(group) => ungroup(&group.expr),
        other => other,
    }
}
