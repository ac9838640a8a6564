//! Checking the attribute against the signature: which parameters are sent and under
//! what names, which have a role (context, client, timeout), what a pattern parameter is
//! for. The result is a [`Plan`]; every problem is recorded, none is fatal until the end.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Expr, LitStr};

use crate::ast::{ungroup, Args, Constant, Name, OnEscalate, Receipt, Timeout};
use crate::errors::{did_you_mean, list, Errors};
use crate::options::{Symbol, CLIENT, CONTEXT, FIELDS, ID, META, ON_ESCALATE, PAYLOAD, POLICY, RENAME, SKIP};
use crate::signature::{Param, PatternParam, Signature};

/// What one call sends, after the attribute was checked against the signature.
pub(crate) struct Plan<'a> {
    /// `::sentinel::__private`, or under the path given by `crate = …`.
    pub(crate) private: TokenStream,
    pub(crate) policy: &'a LitStr,
    pub(crate) kind: Kind,
    /// `payload = name`: the argument whose members are the payload's.
    pub(crate) spread: Option<&'a Param>,
    pub(crate) members: Vec<Member<'a>>,
    pub(crate) meta: Option<&'a [Constant]>,
    pub(crate) id: Option<&'a Expr>,
    pub(crate) client: Option<&'a Expr>,
    /// The context parameter, and where the attribute names it.
    pub(crate) context: Option<(&'a Param, Span)>,
    /// `on_escalate = wait(timeout = …)`; `None` for `deny` and by default.
    pub(crate) wait: Option<&'a Timeout>,
    /// `receipt`: the body runs inside the protected executor.
    pub(crate) receipt: Option<&'a Receipt>,
}

/// The action type.
pub(crate) enum Kind {
    /// `kind = "…"`, or the name of a function without a receiver.
    Given(LitStr),
    /// A method's name, sent as `type.method` with the `Self` type read at run time.
    Method(LitStr),
}

/// One member of the payload object.
pub(crate) struct Member<'a> {
    pub(crate) name: String,
    /// Where a clash with another member is reported.
    pub(crate) span: Span,
    pub(crate) origin: Origin<'a>,
}

pub(crate) enum Origin<'a> {
    Param { param: &'a Param, renamed: bool },
    Field(&'a Constant),
}

impl Member<'_> {
    fn describe(&self) -> String {
        match &self.origin {
            Origin::Param {
                param,
                renamed: false,
            } => format!("the parameter `{}`", param.name),
            Origin::Param { param, renamed: true } => format!("the parameter `{}` (renamed)", param.name),
            Origin::Field(_) => format!("the field `{}`", self.name),
        }
    }
}

/// Checks the options that name parameters against the signature and works out the
/// payload. `None` when something essential (the policy) is missing; every problem is
/// recorded in `errors`.
pub(crate) fn plan<'a>(args: &'a Args, sig: &'a Signature, errors: &mut Errors) -> Option<Plan<'a>> {
    if !args.given(POLICY) {
        errors.at(
            Span::call_site(),
            "missing `policy`: name the policy to check calls under, like #[sentinel::guarded(policy = \"fintech.payments\")]",
        );
    }
    // Plain parameters, then the names bound inside pattern parameters.
    let names: Vec<&'a Param> = sig
        .params
        .iter()
        .chain(sig.patterns.iter().flat_map(|p| &p.bindings))
        .collect();
    let in_pattern = |param: &Param| !sig.params.iter().any(|p| std::ptr::eq(p, param));
    let find = |name: &Name, what: Symbol, errors: &mut Errors| -> Option<&'a Param> {
        let found = names.iter().copied().find(|p| p.name == name.text);
        if found.is_none() {
            errors.at(name.span, no_such_parameter(sig, name, what));
        }
        found
    };

    let mut skipped: Vec<&Param> = Vec::new();
    for name in args.skip.iter().flatten() {
        if name.text == "self" {
            errors.at(
                name.span,
                "`self` is never sent, so it needs no skip: remove it from skip(…)",
            );
        } else if let Some(param) = find(name, SKIP, errors) {
            skipped.push(param);
        }
    }
    let context: Option<&Param> = args.context.as_ref().and_then(|name| find(name, CONTEXT, errors));
    // `client = param` takes the client from a parameter, which is then not sent either.
    let client_param = args
        .client
        .as_ref()
        .and_then(|expr| parameter_named(expr, &names));
    // `receipt = param` likewise.
    let receipt_param = match &args.receipt {
        Some(Receipt::Client(_, expr)) => parameter_named(expr, &names),
        _ => None,
    };
    let wait = match &args.on_escalate {
        Some(OnEscalate::Wait(timeout)) => Some(timeout),
        Some(OnEscalate::Deny) | None => None,
    };
    // Likewise `wait(timeout = param)`: how long to wait is not part of the action.
    let timeout_param = match wait {
        Some(Timeout::PerCall(expr)) => parameter_named(expr, &names),
        _ => None,
    };
    let not_sent = |param: &Param| -> Option<&'static str> {
        if skipped.iter().any(|s| std::ptr::eq(*s, param)) {
            Some("is skipped")
        } else if context.is_some_and(|c| std::ptr::eq(c, param)) {
            Some("is the context parameter")
        } else if client_param.is_some_and(|c| std::ptr::eq(c, param)) {
            Some("is the client parameter")
        } else if receipt_param.is_some_and(|c| std::ptr::eq(c, param)) {
            Some("is the receipt client parameter")
        } else if timeout_param.is_some_and(|c| std::ptr::eq(c, param)) {
            Some("is the escalation timeout")
        } else {
            None
        }
    };

    // `payload = name`: that argument's members are the payload, and nothing else is sent
    // under a parameter's name.
    let payload: Option<&Param> = match &args.payload {
        Some(name) if name.text == "self" => {
            errors.at(
                name.span,
                "`self` is never sent, so it cannot be the payload: name a parameter",
            );
            None
        }
        Some(name) => find(name, PAYLOAD, errors).and_then(|param| match not_sent(param) {
            Some(why) => {
                errors.at(
                    name.span,
                    format!(
                        "`{}` {why}, so it is not sent and cannot be the payload",
                        param.name
                    ),
                );
                None
            }
            None => Some(param),
        }),
        None => None,
    };

    // A `payload = …` argument's members are known only once it is serialized, so a field
    // repeating one of them could not be refused before run time: the two do not mix.
    if let (Some(name), Some(fields)) = (&args.payload, args.key(FIELDS)) {
        errors.at(
            fields.span,
            format!(
                "`fields(…)` cannot be combined with `payload = {}`: the members of `{}` are known only when \
                 it is serialized, so a field repeating one of them could not be caught at compile time; \
                 add the constant to the type of `{}` (a field the body ignores), or put it in `meta(…)` \
                 if the policy need not read it",
                name.text, name.text, name.text
            ),
        );
    }

    let mut renames: Vec<(&Param, &LitStr)> = Vec::new();
    for rename in args.rename.iter().flatten() {
        let Some(param) = find(&rename.param, RENAME, errors) else {
            continue;
        };
        if let Some(name) = &args.payload {
            errors.at(
                rename.param.span,
                format!(
                    "with `payload = {}` no parameter is sent under its own name, so there is nothing to rename: \
                     rename the payload's members on its type, with #[serde(rename = \"…\")]",
                    name.text
                ),
            );
            continue;
        }
        let why = not_sent(param).or(in_pattern(param).then_some("is bound inside a pattern parameter"));
        match why {
            Some(why) => errors.at(
                rename.param.span,
                format!("`{}` {why}, so it is not sent and cannot be renamed", param.name),
            ),
            None => renames.push((param, &rename.to)),
        }
    }

    // A pattern parameter has no name to be sent under: it holds the payload, or one of its
    // names is skipped (or has another role), or it is an error.
    for pattern in &sig.patterns {
        let accounted = pattern
            .bindings
            .iter()
            .any(|b| not_sent(b).is_some() || payload.is_some_and(|p| std::ptr::eq(p, b)));
        if !accounted && (args.payload.is_none() || payload.is_some()) {
            errors.spanned(&pattern.pat, pattern_message(pattern, args.payload.as_ref()));
        }
    }

    // Parameters under their own names cannot clash (Rust forbids two parameters of the
    // same name); renamed ones and fields can. Adding them last reports any clash on the
    // rename or field that caused it.
    let mut members: Vec<Member<'a>> = Vec::new();
    for param in &sig.params {
        if not_sent(param).is_some() || payload.is_some_and(|p| std::ptr::eq(p, param)) {
            continue;
        }
        // Only once `payload = …` named a parameter: otherwise its own error is the one to fix.
        if let Some(name) = args.payload.as_ref().filter(|_| payload.is_some()) {
            errors.at(
                param.ident.span(),
                format!(
                    "`{}` would not be sent: with `payload = {}` the payload is `{}` alone; \
                     list it in skip({}) to say so, or make it a member of `{}`",
                    param.name, name.text, name.text, param.name, name.text
                ),
            );
            continue;
        }
        if !renames.iter().any(|(p, _)| std::ptr::eq(*p, param)) {
            members.push(Member {
                name: param.name.clone(),
                span: param.ident.span(),
                origin: Origin::Param {
                    param,
                    renamed: false,
                },
            });
        }
    }
    for (param, to) in renames {
        let member = Member {
            name: to.value(),
            span: to.span(),
            origin: Origin::Param { param, renamed: true },
        };
        add_member(&mut members, member, errors);
    }
    for field in args.fields.iter().flatten() {
        let member = Member {
            name: field.key.text.clone(),
            span: field.key.span,
            origin: Origin::Field(field),
        };
        add_member(&mut members, member, errors);
    }

    if let Some(receipt) = &args.receipt {
        receipt_conflicts(receipt, args, sig, errors);
    }

    let kind = match &args.kind {
        Some(kind) => Kind::Given(kind.clone()),
        // `Self` names a type only in a method; see `method_kind` in the runtime.
        None if sig.has_receiver => Kind::Method(LitStr::new(&sig.name, sig.ident.span())),
        None => Kind::Given(LitStr::new(&sig.name, sig.ident.span())),
    };
    let krate = args
        .krate
        .as_ref()
        .map_or_else(|| quote!(::sentinel), |path| quote!(#path));
    Some(Plan {
        private: quote!(#krate::__private),
        policy: args.policy.as_ref()?,
        kind,
        spread: payload,
        members,
        meta: args.meta.as_deref(),
        id: args.id.as_ref(),
        client: args.client.as_ref(),
        context: context.map(|param| {
            (
                param,
                args.context.as_ref().map_or(param.ident.span(), |n| n.span),
            )
        }),
        wait,
        receipt: args.receipt.as_ref(),
    })
}

/// What receipt mode cannot do (yet): each is reported where `receipt` is written.
fn receipt_conflicts(receipt: &Receipt, args: &Args, sig: &Signature, errors: &mut Errors) {
    let span = match receipt {
        Receipt::Global(span) => *span,
        Receipt::Client(_, expr) => syn::spanned::Spanned::span(expr),
    };
    if sig.is_async {
        errors.at(
            span,
            "`receipt` runs the body inside the protected executor, which an `async fn` cannot be yet: \
             guard a plain `fn`",
        );
    }
    for (option, why) in [
        (
            ON_ESCALATE,
            "a parked call resumes through ReceiptClient::execute_approved",
        ),
        (
            CLIENT,
            "the receipt client brings its own; write receipt = &RECEIPTS",
        ),
        (ID, "the adjudication names the action by its digest"),
        (META, "the adjudication does not carry meta"),
    ] {
        if args.given(option) {
            errors.at(
                span,
                format!("`receipt` cannot be combined with `{option}`: {why}"),
            );
        }
    }
}

/// Why a pattern parameter is an error, and the ways out.
fn pattern_message(pattern: &PatternParam, payload: Option<&Name>) -> String {
    let first = pattern.bindings.first().map(|b| b.name.as_str());
    match (payload, first) {
        (Some(payload), Some(first)) => format!(
            "with `payload = {}` only `{}` is sent, and this parameter is not: list one of its names in \
             skip(…) to say so, like skip({first})",
            payload.text, payload.text
        ),
        (Some(payload), None) => format!(
            "with `payload = {}` only `{}` is sent, and this parameter binds no name to skip(…): \
             write `name: {}` and skip(name)",
            payload.text, payload.text, pattern.ty
        ),
        (None, Some(first)) => format!(
            "#[guarded] sends every parameter under its name, and a pattern has none: if `{first}` is \
             the whole payload, write payload = {first}; to keep this parameter out of the payload, \
             skip({first}); or write `name: {}` and destructure it in the body",
            pattern.ty
        ),
        (None, None) => format!(
            "#[guarded] sends every parameter under its name, so this one needs a plain name: \
             write `name: {}` and destructure it in the body (list the name in skip(…) to keep it \
             out of the payload)",
            pattern.ty
        ),
    }
}

/// The parameter an expression is, when it is only a parameter's name.
fn parameter_named<'a>(expr: &Expr, names: &[&'a Param]) -> Option<&'a Param> {
    match ungroup(expr) {
        Expr::Path(path) if path.qself.is_none() => path
            .path
            .get_ident()
            .and_then(|ident| names.iter().copied().find(|p| p.ident == *ident)),
        _ => None,
    }
}

fn no_such_parameter(sig: &Signature, name: &Name, option: Symbol) -> String {
    let params: Vec<&str> = sig
        .params
        .iter()
        .chain(sig.patterns.iter().flat_map(|p| &p.bindings))
        .map(|p| p.name.as_str())
        .collect();
    let known = match did_you_mean(&name.text, &params) {
        Some(close) => format!("did you mean `{close}`?"),
        None if params.is_empty() => format!("`{}` has no named parameters", sig.name),
        None => format!("the parameters of `{}` are {}", sig.name, list(&params)),
    };
    match option {
        CONTEXT => format!(
            "`context = {}` must name a parameter (of type `Context` or `&Context`): no parameter is named `{}`; {known}",
            name.text, name.text
        ),
        PAYLOAD => format!("payload = {}: no parameter is named `{}`; {known}", name.text, name.text),
        _ => format!("{option}({}): no parameter is named `{}`; {known}", name.text, name.text),
    }
}

fn add_member<'a>(members: &mut Vec<Member<'a>>, member: Member<'a>, errors: &mut Errors) {
    if let Some(first) = members.iter().find(|m| m.name == member.name) {
        let fix = match (&first.origin, &member.origin) {
            (Origin::Param { param, .. }, Origin::Field(_)) => {
                format!(
                    "rename(…) or skip(…) the parameter `{}`, or give the field another name",
                    param.name
                )
            }
            _ => String::from("choose another name, or skip(…) one of them"),
        };
        errors.at(
            member.span,
            format!(
                "duplicate payload member `{}`: {} and {} would both be sent under this name; {fix}",
                member.name,
                first.describe(),
                member.describe()
            ),
        );
    } else {
        members.push(member);
    }
}
