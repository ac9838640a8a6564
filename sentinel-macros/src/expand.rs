//! From a parsed attribute and function to the guarded function.
//!
//! Three steps: read the attribute ([`crate::args`]) and the signature
//! ([`crate::signature`]); [`plan`] what is sent, checking the two against each
//! other; [`generate`] the function. Any error in any step is reported together with the
//! others, and the function is then emitted unchanged next to them, so that the rest of the
//! crate (and an IDE) still sees it.
//!
//! The generated function keeps the signature exactly as written and puts a prologue in
//! front of the untouched body, which stays in its own `{ }` scope. This input:
//!
//! ```text
//! #[sentinel::guarded(policy = "fintech.payments", kind = "payment", fields(currency = "USD"))]
//! fn pay(amount: u64, from: &str, to: &str) -> Result<Receipt, PayError> {
//!     ledger::transfer(amount, from, to)
//! }
//! ```
//!
//! becomes (locals are `__sentinel_`-prefixed; the payload and the pending check have
//! mixed-site hygiene, so they can never clash with the user's names; `__sentinel_denied`
//! lives in a block holding no user code):
//!
//! ```text
//! fn pay(amount: u64, from: &str, to: &str) -> Result<Receipt, PayError> {
//!     if let ::core::result::Result::Err(__sentinel_denied) = ::sentinel::__private::Call::new(
//!         "fintech.payments",
//!         "payment",
//!         {
//!             let mut __sentinel_payload = ::sentinel::__private::Payload::new();
//!             __sentinel_payload.arg("amount", &amount);
//!             __sentinel_payload.arg("from", &from);
//!             __sentinel_payload.arg("to", &to);
//!             __sentinel_payload.arg("currency", &"USD");
//!             __sentinel_payload
//!         },
//!     )
//!     .check()
//!     {
//!         return ::core::result::Result::Err(::sentinel::__private::FromDenied::from_denied(__sentinel_denied));
//!     }
//!     {
//!         ledger::transfer(amount, from, to)
//!     }
//! }
//! ```
//!
//! Options add builder calls before `.check()`: `.meta({ … })`, `.id(&(expr))`,
//! `.client(&(expr))`, `.context(&(param))`, and for `on_escalate = wait(timeout = …)`
//! either `.wait_on_escalation(::core::time::Duration::from_millis(600000u64))` (a literal,
//! read at compile time) or `.escalation_wait(EscalationTimeout::escalation_wait(expr))`
//! (an expression, evaluated at each call). An `async fn` instead awaits the check, which
//! runs the request, and any wait for a human, off the executor:
//!
//! ```text
//!     let __sentinel_pending = ::sentinel::__private::Call::new(…).check_async();
//!     if let ::core::result::Result::Err(__sentinel_denied) = __sentinel_pending.await {
//!         return ::core::result::Result::Err(::sentinel::__private::FromDenied::from_denied(__sentinel_denied));
//!     }
//!     { /* the body */ }
//! ```
//!
//! Spans: each `.arg(…)` carries its parameter's span, so "`T` cannot be sent to the
//! sidecar" (the `Arg` trait's message) points at that parameter; `FromDenied::from_denied`
//! carries the span of the error type in `-> Result<T, E>`, so a missing `From<Denied>`
//! points at `E`; a per-call timeout carries its expression's span.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{AttrStyle, Expr, Ident, ItemFn, LitStr, TraitItemFn};

use crate::args::{self, Args, Constant, Name, OnEscalate, Timeout};
use crate::errors::{did_you_mean, list, Errors};
use crate::signature::{self, Param, PatternParam, Signature};

/// The attribute's whole job.
pub(crate) fn guarded(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = args::parse(attr, &mut errors);
    let function = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            errors.push(not_a_function(&item));
            return with_errors(item, errors);
        }
    };
    let signature = signature::read(&function.sig, &mut errors);
    match plan(&args, &signature, &mut errors) {
        Some(plan) if errors.is_empty() => generate(&function, &signature, &plan),
        _ => with_errors(item, errors),
    }
}

/// The item exactly as written, followed by the errors: the function still exists for the
/// rest of the crate, so the user sees only the errors that matter.
fn with_errors(mut item: TokenStream, errors: Errors) -> TokenStream {
    let error = errors
        .finish()
        .unwrap_or_else(|| syn::Error::new(Span::call_site(), "#[guarded] could not expand this function"));
    item.extend(error.into_compile_error());
    item
}

fn not_a_function(item: &TokenStream) -> syn::Error {
    if let Ok(declaration) = syn::parse2::<TraitItemFn>(item.clone()) {
        if declaration.default.is_none() {
            return syn::Error::new(
                declaration.sig.ident.span(),
                "#[guarded] needs a function body to guard: put it on the methods that implement this declaration",
            );
        }
    }
    syn::Error::new(
        Span::call_site(),
        "#[guarded] goes on a function with a body (`fn` or `async fn`, free or a method)",
    )
}

/// What one call sends, after the attribute was checked against the signature.
struct Plan<'a> {
    policy: &'a LitStr,
    kind: Kind,
    /// `payload = name`: the argument whose members are the payload's.
    spread: Option<&'a Param>,
    members: Vec<Member<'a>>,
    meta: Option<&'a [Constant]>,
    id: Option<&'a Expr>,
    client: Option<&'a Expr>,
    /// The context parameter, and where the attribute names it.
    context: Option<(&'a Param, Span)>,
    /// `on_escalate = wait(timeout = …)`; `None` for `deny` and by default.
    wait: Option<&'a Timeout>,
}

/// The action type.
enum Kind {
    /// `kind = "…"`, or the name of a function without a receiver.
    Given(LitStr),
    /// A method's name, sent as `type.method` with the `Self` type read at run time.
    Method(LitStr),
}

/// One member of the payload object.
struct Member<'a> {
    name: String,
    /// Where a clash with another member is reported.
    span: Span,
    origin: Origin<'a>,
}

enum Origin<'a> {
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
fn plan<'a>(args: &'a Args, sig: &'a Signature, errors: &mut Errors) -> Option<Plan<'a>> {
    if !args.given("policy") {
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
    let find = |name: &Name, what: &str, errors: &mut Errors| -> Option<&'a Param> {
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
        } else if let Some(param) = find(name, "skip", errors) {
            skipped.push(param);
        }
    }
    let context: Option<&Param> = args
        .context
        .as_ref()
        .and_then(|name| find(name, "context", errors));
    // `client = param` takes the client from a parameter, which is then not sent either.
    let client_param = args
        .client
        .as_ref()
        .and_then(|expr| parameter_named(expr, &names));
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
        Some(name) => find(name, "payload", errors).and_then(|param| match not_sent(param) {
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

    let mut renames: Vec<(&Param, &LitStr)> = Vec::new();
    for rename in args.rename.iter().flatten() {
        let Some(param) = find(&rename.param, "rename", errors) else {
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
        if let Some(message) = role_message(param, args) {
            errors.at(param.ident.span(), message);
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

    let kind = match &args.kind {
        Some(kind) => Kind::Given(kind.clone()),
        // `Self` names a type only in a method; see `method_kind` in the runtime.
        None if sig.has_receiver => Kind::Method(LitStr::new(&sig.name, sig.ident.span())),
        None => Kind::Given(LitStr::new(&sig.name, sig.ident.span())),
    };
    Some(Plan {
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
    })
}

/// The error for a parameter whose type says it has a role the attribute gives through an
/// option: sent as an argument instead, it would be silently ignored in that role.
fn role_message(param: &Param, args: &Args) -> Option<String> {
    let name = &param.name;
    // With the option written (maybe naming another parameter, or misspelt), its own
    // checks speak.
    match param.type_name.as_deref()? {
        "Context" if args.given("context") => None,
        "SentinelClient" if args.given("client") => None,
        "Context" => Some(format!(
            "`{name}` is a `Context`: sent as an argument, it would not be the context the call is \
             checked under (that is the one in scope); write context = {name} to check the call under it \
             (it is then not sent), or skip({name}) to send neither"
        )),
        "SentinelClient" => Some(format!(
            "`{name}` is a `SentinelClient`: write client = {name} to ask the sidecar through it \
             (it is then not sent); skip({name}) would ask through the global client instead"
        )),
        _ => None,
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
    match args::ungroup(expr) {
        Expr::Path(path) if path.qself.is_none() => path
            .path
            .get_ident()
            .and_then(|ident| names.iter().copied().find(|p| p.ident == *ident)),
        _ => None,
    }
}

fn no_such_parameter(sig: &Signature, name: &Name, option: &str) -> String {
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
        "context" => format!(
            "`context = {}` must name a parameter (of type `Context` or `&Context`): no parameter is named `{}`; {known}",
            name.text, name.text
        ),
        "payload" => format!("payload = {}: no parameter is named `{}`; {known}", name.text, name.text),
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

fn generate(function: &ItemFn, sig: &Signature, plan: &Plan) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig: fn_sig,
        block,
        ..
    } = function;
    let outer = attrs.iter().filter(|a| matches!(a.style, AttrStyle::Outer));
    let inner = attrs.iter().filter(|a| matches!(a.style, AttrStyle::Inner(_)));

    // Located at the error type, with the user's hygiene: rustc reports an unmet
    // `E: FromDenied` (that is, `E: From<Denied>`) there, where a mixed-site span would be
    // reported at the attribute. No user token is ever inside the `if let` block this
    // binding lives in.
    let denied = Ident::new("__sentinel_denied", sig.error_span);
    let call = call(plan);
    let convert = quote_spanned!(sig.error_span=> ::sentinel::__private::FromDenied::from_denied(#denied));
    let deny = quote! {
        return ::core::result::Result::Err(#convert);
    };
    let prologue = if sig.is_async {
        let pending = Ident::new("__sentinel_pending", Span::mixed_site());
        quote! {
            let #pending = #call.check_async();
            if let ::core::result::Result::Err(#denied) = #pending.await {
                #deny
            }
        }
    } else {
        quote! {
            if let ::core::result::Result::Err(#denied) = #call.check() {
                #deny
            }
        }
    };
    // The body's own braces, placed where the user wrote them but marked as the macro's:
    // rustc's `unused_braces` lint skips tokens from an expansion, and would otherwise
    // suggest removing braces the user never wrote around a one-line body (a fix that
    // does not compile).
    let mut body = (**block).clone();
    body.brace_token = syn::token::Brace(Span::mixed_site().located_at(block.brace_token.span.join()));
    quote! {
        #(#outer)*
        #vis #fn_sig {
            #(#inner)*
            #prologue
            #body
        }
    }
}

/// `Call::new(policy, kind, payload)` and the builder calls of the options.
fn call(plan: &Plan) -> TokenStream {
    let Plan { policy, .. } = plan;
    let kind = match &plan.kind {
        Kind::Given(kind) => quote!(#kind),
        Kind::Method(method) => quote!(::sentinel::__private::method_kind::<Self>(#method)),
    };
    // `payload = name`: its members first, spanned at the binding like any argument.
    let spread = plan.spread.map(|param| {
        let ident = &param.ident;
        let name = LitStr::new(&param.name, ident.span());
        quote_spanned!(ident.span()=> .object(#name, &#ident))
    });
    let payload = object(
        spread,
        plan.members.iter().map(|member| {
            let name = LitStr::new(&member.name, member.span);
            match &member.origin {
                Origin::Param { param, .. } => {
                    let Param { ident, cfgs, .. } = param;
                    // Sending `_note` reads it; that is the attribute's doing, not the user's.
                    let allow = param
                        .name
                        .starts_with('_')
                        .then(|| quote!(#[allow(clippy::used_underscore_binding)]));
                    (quote!(#(#cfgs)* #allow), name, quote!(#ident), ident.span())
                }
                Origin::Field(field) => (TokenStream::new(), name, field.value.clone(), field.key.span),
            }
        }),
    );
    let meta = plan.meta.map(|meta| {
        let object = object(
            None,
            meta.iter().map(|constant| {
                let name = LitStr::new(&constant.key.text, constant.key.span);
                (
                    TokenStream::new(),
                    name,
                    constant.value.clone(),
                    constant.key.span,
                )
            }),
        );
        quote!(.meta(#object))
    });
    // By reference, so that `id = key` does not move the argument `key` out of the body.
    let id = plan.id.map(|id| quote_spanned!(id.span()=> .id(&(#id))));
    let client = plan
        .client
        .map(|client| quote_spanned!(client.span()=> .client(&(#client))));
    // The parameter, but spanned where the attribute names it: a wrong type is reported on
    // `context = …`, the place that gave the parameter this role.
    let context = plan.context.map(|(param, span)| {
        let mut ident = param.ident.clone();
        ident.set_span(span);
        quote_spanned!(span=> .context(&(#ident)))
    });
    let wait = plan.wait.map(|timeout| match timeout {
        Timeout::Fixed { millis, span } => {
            let millis = proc_macro2::Literal::u64_suffixed(*millis);
            quote_spanned!(*span=> .wait_on_escalation(::core::time::Duration::from_millis(#millis)))
        }
        // Spanned at the expression: a wrong type is reported there, with the trait's message.
        Timeout::PerCall(expr) => quote_spanned! {expr.span()=>
            .escalation_wait(::sentinel::__private::EscalationTimeout::escalation_wait(#expr))
        },
    });
    quote! {
        ::sentinel::__private::Call::new(#policy, #kind, #payload) #meta #id #client #context #wait
    }
}

/// A block building a `Payload` from an optional `.object(…)` call and
/// `(attributes, name, value, span)`s; each call carries its value's span, so a type error
/// points at the user's token.
fn object(
    spread: Option<TokenStream>,
    members: impl Iterator<Item = (TokenStream, LitStr, TokenStream, Span)>,
) -> TokenStream {
    let payload = Ident::new("__sentinel_payload", Span::mixed_site());
    let spread = spread.map(|call| quote!(#payload #call;));
    let args = members.map(|(attrs, name, value, span)| {
        quote_spanned! {span=>
            #attrs
            #payload.arg(#name, &#value);
        }
    });
    quote! {
        {
            let mut #payload = ::sentinel::__private::Payload::new();
            #spread
            #(#args)*
            #payload
        }
    }
}
