//! The options' names, in one table (as serde_derive's symbol table): parsing, the list
//! in "unknown option" messages, the "write …" hints and the checks all read it.

use std::fmt;

/// An option's name.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Symbol(&'static str);

pub(crate) const POLICY: Symbol = Symbol("policy");
pub(crate) const KIND: Symbol = Symbol("kind");
pub(crate) const SKIP: Symbol = Symbol("skip");
pub(crate) const RENAME: Symbol = Symbol("rename");
pub(crate) const FIELDS: Symbol = Symbol("fields");
pub(crate) const META: Symbol = Symbol("meta");
pub(crate) const ID: Symbol = Symbol("id");
pub(crate) const CLIENT: Symbol = Symbol("client");
pub(crate) const CONTEXT: Symbol = Symbol("context");
pub(crate) const ON_ESCALATE: Symbol = Symbol("on_escalate");
pub(crate) const PAYLOAD: Symbol = Symbol("payload");
pub(crate) const CRATE: Symbol = Symbol("crate");
pub(crate) const RECEIPT: Symbol = Symbol("receipt");

/// How `on_escalate` is written; every message about it starts with this.
pub(crate) const ON_ESCALATE_USAGE: &str = "`on_escalate` takes wait(timeout = \"10m\")";

/// Every option and how it is written, in the order the documentation gives them.
const OPTIONS: &[(Symbol, &str)] = &[
    (POLICY, "policy = \"fintech.payments\""),
    (KIND, "kind = \"payment\""),
    (SKIP, "skip(a, b)"),
    (RENAME, "rename(to = \"recipient\")"),
    (FIELDS, "fields(currency = \"USD\")"),
    (META, "meta(source = \"planner\")"),
    (ID, "id = idempotency_key"),
    (CLIENT, "client = &CLIENT"),
    (CONTEXT, "context = ctx"),
    (ON_ESCALATE, "on_escalate = wait(timeout = \"10m\")"),
    (PAYLOAD, "payload = req"),
    (CRATE, "crate = gate"),
    (RECEIPT, "receipt = &RECEIPTS"),
];

impl Symbol {
    /// The option named `word`, if there is one.
    pub(crate) fn lookup(word: &str) -> Option<Symbol> {
        OPTIONS.iter().map(|(s, _)| *s).find(|s| s.0 == word)
    }

    /// How the option is written, for "write …" hints.
    pub(crate) fn usage(self) -> &'static str {
        OPTIONS
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("", |(_, usage)| usage)
    }

    /// Options that take a list, to be given once with every entry.
    pub(crate) fn is_list(self) -> bool {
        matches!(self, SKIP | RENAME | FIELDS | META)
    }
}

/// Every option's name, in order.
pub(crate) fn names() -> Vec<&'static str> {
    OPTIONS.iter().map(|(s, _)| s.0).collect()
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
