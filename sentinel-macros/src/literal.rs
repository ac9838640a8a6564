//! Typing the literals of `fields(…)` and `meta(…)`: each becomes an expression of a
//! definite type, so that no constant depends on inference or overflows an `i32`.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{Expr, ExprLit, Lit, LitFloat, LitInt, UnOp};

/// A literal as a typed expression: unsuffixed integers become `i64` (or `u64` when too
/// large for it) and unsuffixed floats `f64`, so that no literal overflows an `i32`.
pub(crate) fn literal(value: &Expr) -> Result<TokenStream, &'static str> {
    match value {
        Expr::Group(group) => literal(&group.expr),
        Expr::Paren(paren) => literal(&paren.expr),
        Expr::Lit(ExprLit { lit, .. }) => match lit {
            Lit::Str(_) | Lit::Bool(_) => Ok(lit.to_token_stream()),
            Lit::Int(int) => typed_int(int, false),
            Lit::Float(float) => Ok(typed_float(float)),
            _ => Err("pass other values as arguments instead"),
        },
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => match &*unary.expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(int), ..
            }) => typed_int(int, true),
            Expr::Lit(ExprLit {
                lit: Lit::Float(float),
                ..
            }) => {
                let float = typed_float(float);
                Ok(quote!(-#float))
            }
            _ => Err("pass computed values as arguments instead"),
        },
        _ => Err("pass computed values as arguments instead"),
    }
}

fn typed_int(int: &LitInt, negative: bool) -> Result<TokenStream, &'static str> {
    let sign = if negative { quote!(-) } else { TokenStream::new() };
    if !int.suffix().is_empty() {
        return Ok(quote!(#sign #int));
    }
    let digits: u64 = int
        .base10_parse()
        .map_err(|_| "this integer does not fit in 64 bits")?;
    let suffix = match (negative, digits) {
        (_, d) if d <= i64::MAX as u64 => "i64",
        (false, _) => "u64",
        (true, d) if d == i64::MAX as u64 + 1 => "i64",
        (true, _) => return Err("this integer does not fit in 64 bits"),
    };
    let typed = LitInt::new(&format!("{digits}{suffix}"), int.span());
    Ok(quote!(#sign #typed))
}

fn typed_float(float: &LitFloat) -> TokenStream {
    if float.suffix().is_empty() {
        LitFloat::new(&format!("{}f64", float.base10_digits()), float.span()).to_token_stream()
    } else {
        float.to_token_stream()
    }
}
