//! Methods of an `#[async_trait]` impl, which reach `#[guarded]` already rewritten: the
//! `async fn` has become a `fn` returning `Pin<Box<dyn Future<Output = R> + Send + '_>>`
//! whose body is `Box::pin(async move { … })`. tracing-attributes recognises the same
//! shape. Inside the async block async_trait first rebinds the parameters (`let x = x;`,
//! `let __self = self;`, a pattern parameter `let (a, b) = { let __arg1 = __arg1; __arg1 };`)
//! and then runs the body as `let __ret: R = { body };`; the guard goes just before that
//! statement, where every parameter is bound under the name the user wrote.

use proc_macro2::TokenStream;
use syn::{Block, Expr, GenericArgument, ItemFn, Pat, PathArguments, ReturnType, Stmt, Type, TypeParamBound};

/// What the expansion needs from an async_trait method.
pub(crate) struct AsyncTrait {
    /// `R` of `Future<Output = R>`: the return type the user wrote.
    pub(crate) output: Type,
    /// Pattern parameters, renamed `__argN` in the signature: `(__argN, pattern)`.
    pub(crate) patterns: Vec<(String, Pat)>,
}

/// `Some` when `function` has async_trait's shape.
pub(crate) fn detect(function: &ItemFn) -> Option<AsyncTrait> {
    if function.sig.asyncness.is_some() {
        return None;
    }
    let ReturnType::Type(_, ty) = &function.sig.output else {
        return None;
    };
    let output = future_output(ty)?.clone();
    let block = async_block(&function.block)?;
    let patterns = block
        .stmts
        .iter()
        .filter_map(|stmt| match stmt {
            Stmt::Local(local) => {
                let init = local.init.as_ref()?;
                let Expr::Block(rebind) = &*init.expr else {
                    return None;
                };
                match rebind.block.stmts.last()? {
                    Stmt::Expr(Expr::Path(path), None) => {
                        let ident = path.path.get_ident()?.to_string();
                        ident.starts_with("__arg").then(|| (ident, local.pat.clone()))
                    }
                    _ => None,
                }
            }
            _ => None,
        })
        .collect();
    Some(AsyncTrait { output, patterns })
}

/// `R` in `Pin<Box<dyn Future<Output = R> + …>>` (paths may be qualified).
fn future_output(ty: &Type) -> Option<&Type> {
    let pin = last_argument(ty, "Pin")?;
    let boxed = last_argument(pin, "Box")?;
    let Type::TraitObject(object) = boxed else {
        return None;
    };
    object.bounds.iter().find_map(|bound| {
        let TypeParamBound::Trait(bound) = bound else {
            return None;
        };
        let future = bound.path.segments.last().filter(|s| s.ident == "Future")?;
        let PathArguments::AngleBracketed(args) = &future.arguments else {
            return None;
        };
        args.args.iter().find_map(|arg| match arg {
            GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(&assoc.ty),
            _ => None,
        })
    })
}

/// The single type argument of a path type whose last segment is `name`.
fn last_argument<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(path) = ty else {
        return None;
    };
    let segment = path.path.segments.last().filter(|s| s.ident == name)?;
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    }
}

/// The block of `async move { … }` in a body that is only `Box::pin(async move { … })`.
fn async_block(body: &Block) -> Option<&Block> {
    let [Stmt::Expr(Expr::Call(call), None)] = body.stmts.as_slice() else {
        return None;
    };
    let Expr::Path(func) = &*call.func else {
        return None;
    };
    let names: Vec<String> = func.path.segments.iter().map(|s| s.ident.to_string()).collect();
    if !names.ends_with(&["Box".to_owned(), "pin".to_owned()]) || call.args.len() != 1 {
        return None;
    }
    match call.args.first()? {
        Expr::Async(async_block) if async_block.capture.is_some() => Some(&async_block.block),
        _ => None,
    }
}

/// `body` with `prologue` placed before async_trait's `let __ret = { … }` (or first, if
/// that statement is not there).
pub(crate) fn insert(body: &Block, prologue: TokenStream) -> syn::Result<Block> {
    let mut body = body.clone();
    let prologue: Block = syn::parse2(quote::quote!({ #prologue }))?;
    if let Some(Stmt::Expr(Expr::Call(call), None)) = body.stmts.first_mut() {
        if let Some(Expr::Async(async_block)) = call.args.first_mut() {
            let stmts = &mut async_block.block.stmts;
            let at = stmts.iter().position(is_ret).unwrap_or(0);
            stmts.splice(at..at, prologue.stmts);
        }
    }
    Ok(body)
}

/// `let __ret: R = …;`
fn is_ret(stmt: &Stmt) -> bool {
    let Stmt::Local(local) = stmt else {
        return false;
    };
    let pat = match &local.pat {
        Pat::Type(typed) => &*typed.pat,
        other => other,
    };
    matches!(pat, Pat::Ident(ident) if ident.ident == "__ret")
}
