//! From a parsed attribute and function to the guarded function.
//!
//! Three steps: read the attribute ([`crate::args`]) and the signature
//! ([`crate::signature`]); [`plan`](crate::check::plan) what is sent, checking the two
//! against each other ([`crate::check`]); [`generate`] the function. Any error in any step is reported together with the
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
//! becomes (locals are `__sentinel_`-prefixed; the pending check has mixed-site hygiene,
//! so it can never clash with the user's names; `__sentinel_denied` lives in a block
//! holding no user code). The payload is a list of `(name, &dyn ErasedArg)` pairs that the
//! runtime serializes, so each guarded function compiles to little more than that list and
//! two calls:
//!
//! ```text
//! fn pay(amount: u64, from: &str, to: &str) -> Result<Receipt, PayError> {
//!     use ::sentinel::__private as __sentinel_private;
//!     if let ::core::result::Result::Err(__sentinel_denied) = __sentinel_private::Call::new(
//!         "fintech.payments",
//!         "payment",
//!         &{
//!             use __sentinel_private::{SendArg as _, SendClient as _, SendContext as _};
//!             [
//!                 ("amount", __sentinel_private::Member(&amount).arg()),
//!                 ("from", __sentinel_private::Member(&from).arg()),
//!                 ("to", __sentinel_private::Member(&to).arg()),
//!                 ("currency", __sentinel_private::Member(&"USD").arg())
//!             ]
//!         }
//!     )
//!     .check()
//!     {
//!         return ::core::result::Result::Err(__sentinel_private::FromDenied::from_denied(__sentinel_denied));
//!     }
//!     {
//!         ledger::transfer(amount, from, to)
//!     }
//! }
//! ```
//!
//! The `use` is the one place that names the crate: with `crate = path`, `::sentinel` there
//! is `path`, exactly as written (a `$crate` keeps its meaning). Each parameter goes through
//! `Member(&param).arg()`, which the compiler resolves by the parameter's type: a
//! `sentinel::Context` or `SentinelClient` in any form (alias, reference, `Box`, `Arc`,
//! `Option`) is refused with a message naming `context = …` / `client = …`, anything else
//! must be `Serialize`. A parameter whose written type mentions `Context` or
//! `SentinelClient` goes through `Member(&param).named()` and a check of its own whose
//! message names it (see [`named_member`]). With `payload = req` the call is
//! `Call::spread(policy, kind, "req", { …; Member(&req).arg() })` (its members at the top
//! level) and no other parameter is sent. A method (a function with a receiver) without `kind` sends
//! `__sentinel_private::method_kind::<Self>("name")` instead of `"name"`.
//!
//! Options add builder calls before `.check()`: `.meta(&{ … })`, `.id(&(expr))`,
//! `.client(&(expr))`, `.context(&(param))`, and for `on_escalate = wait(timeout = …)`
//! either `.wait_on_escalation(::core::time::Duration::from_millis(600000u64))` (a literal,
//! read at compile time) or `.escalation_wait(EscalationTimeout::escalation_wait(expr))`
//! (an expression, evaluated at each call). An `async fn` instead awaits the check, which
//! runs the request, and any wait for a human, off the executor:
//!
//! ```text
//!     let __sentinel_pending = __sentinel_private::Call::new(…).check_async();
//!     if let ::core::result::Result::Err(__sentinel_denied) = __sentinel_pending.await {
//!         return ::core::result::Result::Err(__sentinel_private::FromDenied::from_denied(__sentinel_denied));
//!     }
//!     { /* the body */ }
//! ```
//!
//! With `receipt` (or `receipt = expr`, adding `.receipts(&(expr))`) there is no prologue:
//! the body becomes the protected executor's closure, typed as the function returns (an
//! `impl Trait` in it left to inference as `_`), so `return` and `?` keep their meaning:
//!
//! ```text
//!     __sentinel_private::receipt_mode!(            // at `receipt`
//!         __sentinel_private::receipt_mode_needs::<__sentinel_private::ReceiptMode>();
//!         __sentinel_private::receipt_result(
//!             __sentinel_private::Call::new(…).execute_with_receipt(::core::module_path!(), "pay",
//!                 || -> Result<Receipt, PayError> { /* the body */ },
//!                 __sentinel_private::receipt_output,   // at `Receipt`: T: Serialize
//!                 __sentinel_private::receipt_error,    // at `PayError`: E: Display
//!             ),
//!         )                                             // at `PayError`: E: From<Denied>
//!     )
//! ```
//!
//! `receipt_mode!` is the facade's: with its `verify` feature it is the call, without it
//! the check before it, a bound that fails on `receipt` with a message naming the feature
//! to enable (the check is never compiled with `verify`).
//!
//! Spans: rustc reports an unmet bound at the path that names the function or trait, so
//! each `__sentinel_private` alias that leads to a bound is located at the user's token:
//! each `Member(…)` at its parameter (so "`T` cannot be sent to the sidecar", the `Arg`
//! trait's message, points there); `FromDenied::from_denied` at the error type of
//! `-> Result<T, E>` (a missing `From<Denied>` points at `E`); a per-call timeout at its
//! expression; in receipt mode, `receipt_output` at `T` and `receipt_error` at `E`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{AttrStyle, Ident, ItemFn, LitStr, TraitItemFn};

use crate::args;
use crate::ast::{Receipt, Timeout};
use crate::async_trait;
use crate::check::{plan, Kind, Origin, Plan};
use crate::crate_name::renamed_facade;
use crate::errors::Errors;
use crate::options::CRATE;
use crate::signature::{self, Param, Role, Signature};
use crate::valid::validate;

/// The attribute's whole job.
pub(crate) fn guarded(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let mut args = validate(args::parse(attr), &mut errors);
    let function = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(function) => function,
        Err(syn_error) => {
            errors.push(not_a_function(&item, syn_error));
            return with_errors(item, errors);
        }
    };
    if let Some(again) = function.attrs.iter().find(|a| is_guarded(a)) {
        errors.spanned(
            again,
            "#[guarded] is applied twice to this function: each call would ask the sidecar twice; keep one, \
             with all the options",
        );
        return with_errors(item, errors);
    }
    if !args.given(CRATE) {
        // A renamed dependency: name the facade as this crate links it (never an error).
        args.krate = renamed_facade().and_then(|name| syn::parse_str(&format!("::{name}")).ok());
    }
    let async_trait = async_trait::detect(&function);
    let signature = signature::read(&function.sig, async_trait.as_ref(), &mut errors);
    match plan(&args, &signature, &mut errors) {
        Some(plan) if errors.is_empty() => generate(&function, &signature, &plan, async_trait.is_some()),
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

/// Another `#[guarded]` (by any path: `sentinel::guarded`, `guarded`, a re-export's).
fn is_guarded(attr: &syn::Attribute) -> bool {
    attr.path().segments.last().is_some_and(|s| s.ident == "guarded")
}

/// Ours, where the attribute is, and syn's own, where parsing the item stopped.
fn not_a_function(item: &TokenStream, syn_error: syn::Error) -> syn::Error {
    let mut error = match syn::parse2::<TraitItemFn>(item.clone()) {
        // `fn f(…);` is a declaration in a trait or in an `extern` block: the tokens alone
        // cannot tell which.
        Ok(declaration) if declaration.default.is_none() => {
            return syn::Error::new(
                declaration.sig.ident.span(),
                "#[guarded] needs a function body to guard, and this is a declaration: in a trait, put it on \
                 the methods that implement it; a foreign function (in an `extern` block) cannot be guarded, \
                 guard the Rust function that calls it",
            );
        }
        _ => syn::Error::new(
            Span::call_site(),
            "#[guarded] goes on a function with a body (`fn` or `async fn`, free or a method)",
        ),
    };
    error.combine(syn_error);
    error
}

fn generate(function: &ItemFn, sig: &Signature, plan: &Plan, async_trait: bool) -> TokenStream {
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
    let import = import(plan);
    let private = private_at(sig.error_span);
    let convert = quote_spanned!(sig.error_span=> #private::FromDenied::from_denied(#denied));
    let deny = quote! {
        return ::core::result::Result::Err(#convert);
    };
    let prologue = if sig.is_async {
        let pending = Ident::new("__sentinel_pending", Span::mixed_site());
        quote! {
            #import
            let #pending = #call.check_async();
            if let ::core::result::Result::Err(#denied) = #pending.await {
                #deny
            }
        }
    } else {
        quote! {
            #import
            if let ::core::result::Result::Err(#denied) = #call.check() {
                #deny
            }
        }
    };
    if async_trait {
        // The guard goes inside async_trait's future, after it rebinds the parameters.
        return match async_trait::insert(block, prologue) {
            Ok(body) => {
                let stmts = &body.stmts;
                quote! {
                    #(#outer)*
                    #vis #fn_sig {
                        #(#inner)*
                        #(#stmts)*
                    }
                }
            }
            Err(error) => error.into_compile_error(),
        };
    }
    // The body's own braces, placed where the user wrote them but marked as the macro's:
    // rustc's `unused_braces` lint skips tokens from an expansion, and would otherwise
    // suggest removing braces the user never wrote around a one-line body (a fix that
    // does not compile).
    let mut body = (**block).clone();
    body.brace_token = syn::token::Brace(Span::mixed_site().located_at(block.brace_token.span.join()));
    if let Some(receipt) = plan.receipt {
        // No prologue: the body becomes the protected executor's closure, typed as the
        // function returns (with `_` for an `impl Trait`, which a closure cannot name), so
        // its `return` and `?` mean what they meant. `T: Serialize` and `E: Display` are
        // required where `T` and `E` are written, and a denial becomes `E` there too.
        let receipts = match receipt {
            Receipt::Global(_) => TokenStream::new(),
            Receipt::Client(_, expr) => quote_spanned!(expr.span()=> .receipts(&(#expr))),
        };
        let output = match &fn_sig.output {
            syn::ReturnType::Type(arrow, ty) => {
                let ty = infer_impl_trait((**ty).clone());
                quote!(#arrow #ty)
            }
            syn::ReturnType::Default => TokenStream::new(),
        };
        let operation = LitStr::new(&sig.name, sig.ident.span());
        let (ok, error) = (private_at(sig.ok_span), private_at(sig.error_span));
        let digest = quote_spanned!(sig.ok_span=> #ok::receipt_output);
        let describe = quote_spanned!(sig.error_span=> #error::receipt_error);
        let finish = quote_spanned!(sig.error_span=> #error::receipt_result);
        // Through the facade's `receipt_mode!`, which passes the call on with its `verify`
        // feature and is one error on the user's `receipt` without it (the attribute cannot
        // see the facade's features; rustc would say "no method named …").
        let at_receipt = private_at(receipt.key_span());
        let mode = quote_spanned!(receipt.key_span()=> #at_receipt::receipt_mode!);
        let needs = quote_spanned! {receipt.key_span()=>
            #at_receipt::receipt_mode_needs::<#at_receipt::ReceiptMode>()
        };
        return quote! {
            #(#outer)*
            #vis #fn_sig {
                #(#inner)*
                #import
                #mode(#needs; #finish(
                    #call #receipts .execute_with_receipt(
                        ::core::module_path!(),
                        #operation,
                        || #output #body,
                        #digest,
                        #describe,
                    )
                ))
            }
        };
    }
    quote! {
        #(#outer)*
        #vis #fn_sig {
            #(#inner)*
            #prologue
            #body
        }
    }
}

/// `ty` with every `impl Trait` replaced by `_`: a closure's return type may leave a type
/// to inference but may not name an opaque one.
fn infer_impl_trait(ty: syn::Type) -> syn::Type {
    use syn::{GenericArgument, PathArguments, Type};
    match ty {
        Type::ImplTrait(t) => Type::Infer(syn::TypeInfer {
            attrs: Vec::new(),
            underscore_token: syn::Token![_](t.impl_token.span),
        }),
        Type::Path(mut path) => {
            for segment in &mut path.path.segments {
                if let PathArguments::AngleBracketed(args) = &mut segment.arguments {
                    for arg in &mut args.args {
                        if let GenericArgument::Type(inner) = arg {
                            *inner = infer_impl_trait(inner.clone());
                        }
                    }
                }
            }
            Type::Path(path)
        }
        Type::Tuple(mut tuple) => {
            for elem in &mut tuple.elems {
                *elem = infer_impl_trait(elem.clone());
            }
            Type::Tuple(tuple)
        }
        Type::Paren(mut paren) => {
            *paren.elem = infer_impl_trait((*paren.elem).clone());
            Type::Paren(paren)
        }
        Type::Group(mut group) => {
            *group.elem = infer_impl_trait((*group.elem).clone());
            Type::Group(group)
        }
        other => other,
    }
}

/// `use ::sentinel::__private as __sentinel_private;`: the one place that names the crate,
/// with the path exactly as the user gave it in `crate = …` (so a `$crate` from a
/// framework's `macro_rules!` keeps meaning the framework's crate, and a path that does not
/// resolve is reported once, where it is written). Every other generated path starts with
/// the alias, placed where an unmet bound should be reported.
fn import(plan: &Plan) -> TokenStream {
    let private = &plan.private;
    let alias = private_at(Span::call_site());
    quote!(use #private as #alias;)
}

/// One payload member for [`members`]: its attributes (`#[cfg]`s), its name (none for the
/// one member of `payload = …`), its value, where it is written, and the parameter to name
/// in a role error.
type Entry<'a> = (
    TokenStream,
    Option<LitStr>,
    TokenStream,
    Span,
    Option<(&'a Param, Role)>,
);

/// `Member(&value).named()`, whose role the function checks with a trait of its own: its
/// message is written here, naming the parameter (`the parameter `ctx` is a
/// `sentinel::Context`: write context = ctx, or skip(ctx)`), which a message in the runtime
/// cannot (it can show types, not the parameter's name). The runtime's `Sent` is the only
/// role the trait is implemented for; `ContextOrClient` (a context or a client) is refused.
fn named_member(private: &Ident, value: &TokenStream, param: &Param, role: Role, span: Span) -> TokenStream {
    let name = &param.name;
    let (message, label, note) = match role {
        Role::Context => (
            format!(
                "the parameter `{name}` is a `sentinel::Context`: write context = {name}, or skip({name})"
            ),
            "sent as an argument, it would not be the context the call is checked under",
            format!(
                "`context = {name}` checks the call under this context (`{name}` is then not sent); \
                 `skip({name})` checks it under the context in scope and sends neither"
            ),
        ),
        Role::Client => (
            format!("the parameter `{name}` is a `sentinel::SentinelClient`: write client = {name}"),
            "a client is not an argument of the action",
            format!(
                "`client = {name}` asks the sidecar through this client (`{name}` is then not sent); \
                 `skip({name})` would ask through the global client instead"
            ),
        ),
    };
    // At the parameter, with its hygiene, so that rustc reports the unmet bound there (a
    // mixed-site span is reported on the whole attribute). They cannot clash with it: the
    // parameter is read before they are bound.
    let (role, arg) = (Ident::new("role", span), Ident::new("arg", span));
    quote_spanned! {span=>
        {
            #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
            trait SentAsAnArgument {}
            impl SentAsAnArgument for #private::Sent {}
            fn __sentinel_sent<R: SentAsAnArgument>(_: R) {}
            let (#role, #arg) = #private::Member(&#value).named();
            __sentinel_sent(#role);
            #arg
        }
    }
}

/// The alias of `__private` (see [`import`]) located at `span`: rustc reports an unmet
/// trait bound at the path that names the trait, so the path must be where the user should
/// look.
fn private_at(span: Span) -> Ident {
    Ident::new("__sentinel_private", span)
}

/// `Call::new(policy, kind, payload)` and the builder calls of the options.
fn call(plan: &Plan) -> TokenStream {
    let Plan { policy, .. } = plan;
    let private = &private_at(Span::call_site());
    let kind = match &plan.kind {
        Kind::Given(kind) => quote!(#kind),
        Kind::Method(method) => quote!(#private::method_kind::<Self>(#method)),
    };
    // `payload = name`: that argument's members are the payload (and nothing else is sent).
    let new = match plan.spread {
        Some(param) => {
            let ident = &param.ident;
            let name = LitStr::new(&param.name, ident.span());
            let member = members(std::iter::once((
                TokenStream::new(),
                None,
                quote!(#ident),
                ident.span(),
                None,
            )));
            quote!(#private::Call::spread(#policy, #kind, #name, #member))
        }
        None => {
            let members = members(plan.members.iter().map(|member| {
                let name = LitStr::new(&member.name, member.span);
                match &member.origin {
                    Origin::Param { param, .. } => {
                        let Param { ident, cfgs, .. } = param;
                        // Sending `_note` reads it; that is the attribute's doing, not the user's.
                        let allow = param
                            .name
                            .starts_with('_')
                            .then(|| quote!(#[allow(clippy::used_underscore_binding)]));
                        let named = param.role_in_type.map(|role| (*param, role));
                        (
                            quote!(#(#cfgs)* #allow),
                            Some(name),
                            quote!(#ident),
                            ident.span(),
                            named,
                        )
                    }
                    Origin::Field(field) => (
                        TokenStream::new(),
                        Some(name),
                        field.value.clone(),
                        field.key.span,
                        None,
                    ),
                }
            }));
            quote!(#private::Call::new(#policy, #kind, &#members))
        }
    };
    let meta = plan.meta.map(|meta| {
        let members = members(meta.iter().map(|constant| {
            let name = LitStr::new(&constant.key.text, constant.key.span);
            (
                TokenStream::new(),
                Some(name),
                constant.value.clone(),
                constant.key.span,
                None,
            )
        }));
        quote!(.meta(&#members))
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
        Timeout::PerCall(expr) => {
            let private = private_at(expr.span());
            quote_spanned! {expr.span()=>
            .escalation_wait(#private::EscalationTimeout::escalation_wait(#expr))
            }
        }
    });
    quote! {
        #new #meta #id #client #context #wait
    }
}

/// Payload members as `[(name, &dyn ErasedArg), …]` (or the one member, unnamed, for
/// `payload = …`), from `(attributes, name, value, span, named)`s. Each
/// `Member(&value).arg()` carries its value's span: the compiler decides there, by the
/// value's type, whether it may be sent (a `Context` or `SentinelClient` may not, anything
/// else must be `Serialize`), and reports it on the user's token.
///
/// A parameter whose written type mentions `Context` or `SentinelClient` (`named`) goes
/// through [`named_member`] instead, so that a role error names it (`write context =
/// ctx`). Only those parameters pay for it; another that holds a context (through an
/// alias) gets the runtime's message, which cannot name it.
fn members<'a>(items: impl Iterator<Item = Entry<'a>>) -> TokenStream {
    let import = private_at(Span::call_site());
    let mut single = None;
    let entries: Vec<TokenStream> = items
        .map(|(attrs, name, value, span, named)| {
            let private = private_at(span);
            let arg = match named {
                Some((param, role)) => named_member(&private, &value, param, role, span),
                None => quote_spanned!(span=> #private::Member(&#value).arg()),
            };
            match name {
                Some(name) => quote!(#attrs (#name, #arg)),
                None => {
                    single = Some(arg.clone());
                    arg
                }
            }
        })
        .collect();
    if entries.is_empty() {
        return quote!([]);
    }
    let value = single.unwrap_or_else(|| quote!([#(#entries),*]));
    quote! {
        {
            use #import::{SendArg as _, SendClient as _, SendContext as _};
            #value
        }
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::{quote, ToTokens};

    /// The two ```text blocks of the module documentation: an input and its expansion.
    fn documented_expansion() -> (String, String) {
        let docs: Vec<&str> = include_str!("expand.rs")
            .lines()
            .filter_map(|line| line.strip_prefix("//!"))
            .map(|line| line.strip_prefix(' ').unwrap_or(line))
            .collect();
        let docs = docs.join("\n");
        let mut blocks = docs
            .split("```text\n")
            .skip(1)
            .map(|block| block.split("```").next().unwrap_or_default().to_owned());
        (blocks.next().unwrap(), blocks.next().unwrap())
    }

    /// The expansion the module documentation shows is the real one, token for token.
    #[test]
    fn the_documented_expansion_is_the_real_one() {
        let (input, expected) = documented_expansion();
        let mut function: syn::ItemFn = syn::parse_str(&input).expect("the documented input parses");
        let attribute = function.attrs.remove(0);
        let args = attribute
            .meta
            .require_list()
            .expect("#[guarded(…)]")
            .tokens
            .clone();
        let real = super::guarded(args, function.to_token_stream()).to_string();
        let expected: TokenStream = expected.parse().expect("the documented expansion parses");
        assert_eq!(real, expected.to_string());
    }

    /// With `crate = gate`, no generated path names `sentinel`: the one `use` names `gate`,
    /// and every other path starts with its alias. A renamed dependency, where `::sentinel`
    /// does not exist, compiles. (The ui pass case `crate-path` cannot show
    /// this: there `::sentinel` resolves too.)
    #[test]
    fn crate_path_replaces_sentinel_in_every_generated_path() {
        let expanded = super::guarded(
            quote!(
                policy = "p",
                crate = gate,
                meta(a = 1),
                fields(b = 2),
                on_escalate = wait(timeout = t)
            ),
            quote! {
                async fn act(&self, t: Duration, n: u8) -> Result<(), E> { Ok(()) }
            },
        )
        .to_string();
        assert!(!expanded.contains("sentinel ::"), "{expanded}");
        assert!(
            expanded.contains("use gate :: __private as __sentinel_private ;"),
            "{expanded}"
        );
        for path in [
            "__sentinel_private :: Call",
            "__sentinel_private :: Member",
            "__sentinel_private :: FromDenied",
            "__sentinel_private :: EscalationTimeout",
            "__sentinel_private :: method_kind",
        ] {
            assert!(expanded.contains(path), "{path} not in {expanded}");
        }
    }
}
