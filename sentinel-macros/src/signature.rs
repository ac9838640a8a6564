//! Reading the function's signature: the parameters that can be sent and their names,
//! whether it is `async`, and where its error type is written.
//!
//! The signature itself is never rebuilt: generics, lifetimes, `where` clauses, `impl Trait`
//! parameters and receivers pass through as written. This module only looks.

use proc_macro2::Span;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{Attribute, FnArg, GenericArgument, Ident, Pat, PathArguments, ReturnType, Type};

use crate::async_trait::AsyncTrait;
use crate::errors::Errors;

/// What the expansion needs to know about the function.
pub(crate) struct Signature {
    /// The function's name as written (maybe `r#…`).
    pub(crate) ident: Ident,
    /// The name without `r#`: the default action type.
    pub(crate) name: String,
    pub(crate) is_async: bool,
    /// Every parameter with a plain name, in order; the receiver is not among them.
    pub(crate) params: Vec<Param>,
    /// Parameters written as patterns (`Json(body): Json<T>`): never sent as a whole.
    pub(crate) patterns: Vec<PatternParam>,
    /// Whether the function takes `self` in some form, so that `Self` names a type.
    pub(crate) has_receiver: bool,
    /// Where a missing `From<Denied>` for the error type is reported: the `E` of
    /// `Result<T, E>`, or `Result` itself for aliases such as `io::Result<T>`.
    pub(crate) error_span: Span,
    /// Where a receipt-mode function's `T` is written (its `Serialize` is reported there).
    pub(crate) ok_span: Span,
}

/// A parameter with a plain name (`amount: u64`, `mut x: T`, `r#type: &str`, `_ctx: &Context`).
pub(crate) struct Param {
    /// The binding as written, to refer to it in generated code.
    pub(crate) ident: Ident,
    /// The name without `r#`: the payload member name unless renamed.
    pub(crate) name: String,
    /// The parameter's `#[cfg]`s, repeated on the statement that sends it.
    pub(crate) cfgs: Vec<Attribute>,
    /// The role its type, as written, mentions (`Context`, `SentinelClient`): then a role
    /// error names the parameter. The role itself is decided by the type, through an alias
    /// too (see `Member` in the runtime); this only chooses the words.
    pub(crate) role_in_type: Option<Role>,
}

/// A role a parameter can have instead of being sent.
#[derive(Clone, Copy)]
pub(crate) enum Role {
    /// The call's `sentinel::Context`: `context = …`.
    Context,
    /// A `SentinelClient`: `client = …`.
    Client,
}

/// A parameter written as a pattern (`Parameters(req): Parameters<Req>`).
pub(crate) struct PatternParam {
    /// The names it binds, each usable as `payload = name` or `skip(name)`.
    pub(crate) bindings: Vec<Param>,
    /// The pattern, for messages.
    pub(crate) pat: Pat,
    /// The type as a person would write it.
    pub(crate) ty: String,
}

/// The one requirement on the return type, as users read it in errors.
pub(crate) const RETURN_RULE: &str =
    "a #[guarded] function must return Result<T, E> where E: From<sentinel::Denied>";

/// Reads `sig`; `async_trait` is set when the function is an `#[async_trait]` method,
/// rewritten (see [`crate::async_trait`]).
pub(crate) fn read(sig: &syn::Signature, async_trait: Option<&AsyncTrait>, errors: &mut Errors) -> Signature {
    if let Some(constness) = &sig.constness {
        errors.at(
            constness.span,
            "#[guarded] cannot be used on a `const fn`: the sidecar is asked at run time",
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(variadic, "#[guarded] cannot be used on a variadic function");
    }
    let mut params = Vec::new();
    let mut patterns = Vec::new();
    let mut has_receiver = false;
    for input in &sig.inputs {
        let typed = match input {
            FnArg::Receiver(_) => {
                has_receiver = true;
                continue; // `self` in any form is never sent.
            }
            FnArg::Typed(typed) => typed,
        };
        // async_trait renames a pattern parameter (and `_`) to `__argN`, rebinding the
        // pattern in the body: read it as the pattern the user wrote.
        let renamed = match (&*typed.pat, async_trait) {
            (Pat::Ident(binding), Some(shape)) if binding.ident.to_string().starts_with("__arg") => {
                let name = binding.ident.to_string();
                Some(
                    shape
                        .patterns
                        .iter()
                        .find(|(arg, _)| *arg == name)
                        .map(|(_, pat)| pat.clone())
                        .unwrap_or_else(|| {
                            Pat::Wild(syn::PatWild {
                                attrs: Vec::new(),
                                underscore_token: syn::Token![_](binding.ident.span()),
                            })
                        }),
                )
            }
            _ => None,
        };
        match renamed.as_ref().unwrap_or(&*typed.pat) {
            Pat::Ident(binding) if binding.subpat.is_none() => params.push(Param {
                ident: binding.ident.clone(),
                name: binding.ident.unraw().to_string(),
                role_in_type: role_in(typed.ty.to_token_stream()),
                cfgs: typed
                    .attrs
                    .iter()
                    .filter(|a| a.path().is_ident("cfg"))
                    .cloned()
                    .collect(),
            }),
            Pat::Wild(wild) => errors.spanned(
                wild,
                format!(
                    "#[guarded] sends every parameter under its name, so this one needs a name: \
                     write `_unused: {}` (and skip(_unused) to keep it out of the payload)",
                    pretty(&typed.ty)
                ),
            ),
            pattern => {
                let mut bindings = Vec::new();
                bound_names(pattern, &mut bindings);
                patterns.push(PatternParam {
                    bindings: bindings
                        .into_iter()
                        .map(|ident| Param {
                            name: ident.unraw().to_string(),
                            ident,
                            cfgs: Vec::new(),
                            role_in_type: None,
                        })
                        .collect(),
                    pat: pattern.clone(),
                    ty: pretty(&typed.ty),
                });
            }
        }
    }
    let spans = match async_trait {
        Some(shape) => output_error_span(&shape.output, sig, errors),
        None => error_span(sig, errors),
    };
    Signature {
        ident: sig.ident.clone(),
        name: sig.ident.unraw().to_string(),
        is_async: sig.asyncness.is_some() || async_trait.is_some(),
        params,
        patterns,
        has_receiver,
        error_span: spans.error,
        ok_span: spans.ok,
    }
}

/// The names a pattern binds, in order.
fn bound_names(pat: &Pat, out: &mut Vec<Ident>) {
    match pat {
        Pat::Ident(binding) => {
            out.push(binding.ident.clone());
            if let Some((_, sub)) = &binding.subpat {
                bound_names(sub, out);
            }
        }
        Pat::TupleStruct(p) => p.elems.iter().for_each(|p| bound_names(p, out)),
        Pat::Tuple(p) => p.elems.iter().for_each(|p| bound_names(p, out)),
        Pat::Slice(p) => p.elems.iter().for_each(|p| bound_names(p, out)),
        Pat::Struct(p) => p.fields.iter().for_each(|f| bound_names(&f.pat, out)),
        Pat::Reference(p) => bound_names(&p.pat, out),
        Pat::Paren(p) => bound_names(&p.pat, out),
        Pat::Type(p) => bound_names(&p.pat, out),
        Pat::Or(p) => {
            if let Some(first) = p.cases.first() {
                bound_names(first, out);
            }
        }
        _ => {}
    }
}

/// Where the return type's parts are, for the messages of unmet bounds.
#[derive(Clone, Copy)]
pub(crate) struct ResultSpans {
    /// The `T` of `Result<T, E>` (the alias itself when it names none).
    pub(crate) ok: Span,
    /// The `E` of `Result<T, E>`, or the alias for `io::Result<T>`, `ApiResult<T>`.
    pub(crate) error: Span,
}

fn error_span(sig: &syn::Signature, errors: &mut Errors) -> ResultSpans {
    match &sig.output {
        ReturnType::Default => {
            errors.at(
                sig.ident.span(),
                format!(
                    "{RETURN_RULE}, so that a denied call returns an error instead of running; `{}` returns nothing: \
                     write `-> Result<(), sentinel::Denied>` or use your own error type",
                    sig.ident.unraw()
                ),
            );
            ResultSpans {
                ok: sig.ident.span(),
                error: sig.ident.span(),
            }
        }
        ReturnType::Type(_, ty) => output_error_span(ty, sig, errors),
    }
}

fn output_error_span(ty: &Type, sig: &syn::Signature, errors: &mut Errors) -> ResultSpans {
    if let Some(spans) = result_spans(ty) {
        return spans;
    }
    let found = pretty(ty);
    let message = if returns_future(ty) {
        format!(
            "{RETURN_RULE}; `{}` returns a future (`{found}`): write it as an `async fn` returning the \
             Result, `async fn {}(…) -> Result<T, E>`, and the guard is awaited inside it",
            sig.ident.unraw(),
            sig.ident.unraw()
        )
    } else if let Some(name) = alias_name(ty) {
        format!(
            "{RETURN_RULE}, so that a denied call returns an error instead of running; found `{found}`. \
             The return type is read by name: if `{name}` is an alias of `Result`, give it a name ending in \
             `Result` (like `type ApiResult<T> = Result<T, ApiError>;`) or write `Result<T, E>` out"
        )
    } else {
        format!("{RETURN_RULE}, so that a denied call returns an error instead of running; found `{found}`")
    };
    errors.spanned(ty, message);
    ResultSpans {
        ok: sig.ident.span(),
        error: sig.ident.span(),
    }
}

/// The name of a path type that could be a user's alias of `Result` (not a primitive or a
/// standard type that is plainly something else), for the hint about aliases.
fn alias_name(ty: &Type) -> Option<String> {
    const NOT_RESULTS: &[&str] = &[
        "Option", "Vec", "Box", "Arc", "Rc", "Cow", "Pin", "String", "str", "bool", "char", "u8", "u16",
        "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32", "f64", "HashMap",
        "BTreeMap", "HashSet", "BTreeSet", "Self",
    ];
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .filter(|name| !NOT_RESULTS.contains(&name.as_str())),
        _ => None,
    }
}

/// `impl Future<…>`, or a boxed `dyn Future<…>` that is not async_trait's shape.
fn returns_future(ty: &Type) -> bool {
    let is_future = |bounds: &syn::punctuated::Punctuated<syn::TypeParamBound, syn::Token![+]>| {
        bounds.iter().any(|bound| {
            matches!(bound, syn::TypeParamBound::Trait(t)
                if t.path.segments.last().is_some_and(|s| s.ident == "Future"))
        })
    };
    match ty {
        Type::ImplTrait(t) => is_future(&t.bounds),
        Type::TraitObject(t) => is_future(&t.bounds),
        Type::Paren(t) => returns_future(&t.elem),
        Type::Group(t) => returns_future(&t.elem),
        Type::Path(path) => path.path.segments.last().is_some_and(|s| match &s.arguments {
            PathArguments::AngleBracketed(args) => args
                .args
                .iter()
                .any(|arg| matches!(arg, GenericArgument::Type(inner) if returns_future(inner))),
            _ => false,
        }),
        _ => false,
    }
}

/// For a type whose name is or ends in `Result` (`Result<T, E>`, `io::Result<T>`,
/// `ApiResult<T>`): where its `T` and `E` are written, or the name itself for what an alias
/// leaves out. Any other type is not recognised as a `Result`.
fn result_spans(ty: &Type) -> Option<ResultSpans> {
    match ty {
        Type::Paren(inner) => result_spans(&inner.elem),
        Type::Group(inner) => result_spans(&inner.elem),
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            if !last.ident.to_string().ends_with("Result") {
                return None;
            }
            let types: Vec<&Type> = match &last.arguments {
                PathArguments::AngleBracketed(generics) => generics
                    .args
                    .iter()
                    .filter_map(|arg| match arg {
                        GenericArgument::Type(ty) => Some(ty),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let at = |index: usize| {
                types
                    .get(index)
                    .map_or_else(|| last.ident.span(), |ty| first_span(ty))
            };
            Some(ResultSpans {
                ok: at(0),
                error: at(1),
            })
        }
        _ => None,
    }
}

fn first_span(ty: &Type) -> Span {
    ty.to_token_stream()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |tt| tt.span())
}

/// A type as a person would write it (token streams print `Option < u32 >`).
fn pretty(ty: &Type) -> String {
    let spaced = ty.to_token_stream().to_string();
    let mut out = String::with_capacity(spaced.len());
    let mut chars = spaced.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ' ' {
            let prev = out.chars().last();
            let next = chars.peek().copied();
            // `dyn ::a::B`, `impl ::a::B`, `&'a ::a::B`: the space before a leading `::` stays.
            let word = out
                .rsplit(|c: char| !(c.is_alphanumeric() || c == '_' || c == '\''))
                .next()
                .unwrap_or_default();
            if next == Some(':')
                && (matches!(word, "dyn" | "impl" | "mut" | "const") || word.starts_with('\''))
            {
                out.push(c);
                continue;
            }
            let glue_left = matches!(prev, Some('<' | '(' | '[' | '&' | ':'));
            let glue_right = matches!(next, Some('<' | '>' | ')' | ']' | ',' | ':'));
            if glue_left || glue_right {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// The role `ty` names anywhere (`&Context`, `Option<&sentinel::Context>`,
/// `Arc<SentinelClient>`, a user's own `app::Context`), `Context` first.
fn role_in(ty: proc_macro2::TokenStream) -> Option<Role> {
    let mut found = None;
    for token in ty {
        let role = match token {
            proc_macro2::TokenTree::Ident(ident) if ident == "Context" => Some(Role::Context),
            proc_macro2::TokenTree::Ident(ident) if ident == "SentinelClient" => Some(Role::Client),
            proc_macro2::TokenTree::Group(group) => role_in(group.stream()),
            _ => None,
        };
        match role {
            Some(Role::Context) => return Some(Role::Context),
            Some(Role::Client) => found = Some(Role::Client),
            None => {}
        }
    }
    found
}
