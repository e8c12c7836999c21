//! Attribute macros for the Prela tracing SDK, re-exported by the `prela`
//! facade (feature `macros`, on by default): use them as
//! `#[prela::span]`, `#[prela::agent]`, `#[prela::llm]`, `#[prela::tool]`,
//! `#[prela::retrieval]` and `#[prela::embedding]`.
//!
//! Each wraps a function, sync or `async`, free or a method, in a span of
//! the global tracer (`prela::tracer()`), whose parent is the span current
//! where the function is called:
//!
//! - a sync function runs inside `Span::in_scope`;
//! - an `async fn`'s body runs inside `fut.in_span(span)`: the span is
//!   current during every poll, on whatever thread polls it, so every span
//!   started inside is its child. Dropped before it completes, the span
//!   ends with status error `cancelled`; a panic ends it `panicked`.
//!
//! Options, in the spirit of `#[tracing::instrument]`:
//!
//! | option | effect |
//! |---|---|
//! | `name = "..."` | the span name (default: the function's name) |
//! | `fields(key = expr, ...)` | attributes set at start; a key is a string or dotted identifiers (`gen_ai.request.model = model`) |
//! | `skip(a, b)`, `skip_all` | arguments left out of `capture_args` |
//! | `capture_args` | the arguments (their `Debug` form, as a JSON object) when content capture is on |
//! | `capture_result` | the return value (its `Debug` form) when content capture is on |
//! | `err = false` | do not record a returned `Err` (on by default) |
//!
//! A function returning `Result<_, E>` (any type whose last path segment is
//! `Result`) records a returned `Err(e)`: status error with
//! `e.to_string()`, `error.type` = the error's type name, and an
//! `exception` event. Captured content goes through the redaction rules
//! like every attribute.
//!
//! The body reaches its span with `prela::with_current_span(|s| ...)`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Expr, FnArg, Ident, ItemFn, LitBool, LitStr, Pat, ReturnType, Token, Type, parse_macro_input,
};

/// A span around a function (type `custom`). See the crate docs.
#[proc_macro_attribute]
pub fn span(args: TokenStream, item: TokenStream) -> TokenStream {
    expand("Custom", args, item)
}

/// An agent span (type `agent`, `gen_ai.operation.name` =
/// `invoke_agent`, `gen_ai.agent.name` = the span name).
#[proc_macro_attribute]
pub fn agent(args: TokenStream, item: TokenStream) -> TokenStream {
    expand("Agent", args, item)
}

/// An LLM call span (type `llm`, kind CLIENT in OTLP,
/// `gen_ai.operation.name` = `chat`); set the model and provider with
/// `fields(gen_ai.request.model = .., gen_ai.provider.name = ..)`.
#[proc_macro_attribute]
pub fn llm(args: TokenStream, item: TokenStream) -> TokenStream {
    expand("Llm", args, item)
}

/// A tool call span (type `tool`, `gen_ai.operation.name` =
/// `execute_tool`, `gen_ai.tool.name` = the span name); `capture_args` and
/// `capture_result` record `gen_ai.tool.call.arguments` and
/// `gen_ai.tool.call.result`.
#[proc_macro_attribute]
pub fn tool(args: TokenStream, item: TokenStream) -> TokenStream {
    expand("Tool", args, item)
}

/// A retrieval span (type `retrieval`, `gen_ai.operation.name` =
/// `retrieval`).
#[proc_macro_attribute]
pub fn retrieval(args: TokenStream, item: TokenStream) -> TokenStream {
    expand("Retrieval", args, item)
}

/// An embeddings span (type `embedding`, `gen_ai.operation.name` =
/// `embeddings`).
#[proc_macro_attribute]
pub fn embedding(args: TokenStream, item: TokenStream) -> TokenStream {
    expand("Embedding", args, item)
}

/// One `fields(...)` entry.
struct Field {
    key: String,
    value: Expr,
}

#[derive(Default)]
struct Options {
    name: Option<LitStr>,
    fields: Vec<Field>,
    skip: Vec<Ident>,
    skip_all: bool,
    capture_args: bool,
    capture_result: bool,
    err: bool,
}

/// `gen_ai.request.model` or `"gen_ai.request.model"`.
fn parse_key(input: ParseStream<'_>) -> syn::Result<String> {
    if input.peek(LitStr) {
        return Ok(input.parse::<LitStr>()?.value());
    }
    let mut key = input.call(Ident::parse_any_ident)?.to_string();
    while input.peek(Token![.]) {
        input.parse::<Token![.]>()?;
        key.push('.');
        key.push_str(&input.call(Ident::parse_any_ident)?.to_string());
    }
    Ok(key)
}

/// `Ident::parse_any` without importing the extension trait everywhere.
trait AnyIdent {
    fn parse_any_ident(input: ParseStream<'_>) -> syn::Result<Ident>;
}

impl AnyIdent for Ident {
    fn parse_any_ident(input: ParseStream<'_>) -> syn::Result<Ident> {
        use syn::ext::IdentExt;
        Ident::parse_any(input)
    }
}

impl Parse for Field {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key = parse_key(input)?;
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(Field { key, value })
    }
}

impl Parse for Options {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut o = Options {
            err: true,
            ..Options::default()
        };
        while !input.is_empty() {
            let option: Ident = input.call(Ident::parse_any_ident)?;
            match option.to_string().as_str() {
                "name" => {
                    input.parse::<Token![=]>()?;
                    o.name = Some(input.parse()?);
                }
                "fields" => {
                    let content;
                    syn::parenthesized!(content in input);
                    o.fields
                        .extend(Punctuated::<Field, Token![,]>::parse_terminated(&content)?);
                }
                "skip" => {
                    let content;
                    syn::parenthesized!(content in input);
                    o.skip
                        .extend(Punctuated::<Ident, Token![,]>::parse_terminated_with(
                            &content,
                            Ident::parse_any_ident,
                        )?);
                }
                "skip_all" => o.skip_all = true,
                "capture_args" => o.capture_args = true,
                "capture_result" => o.capture_result = true,
                "err" => {
                    if input.peek(Token![=]) {
                        input.parse::<Token![=]>()?;
                        o.err = input.parse::<LitBool>()?.value;
                    } else {
                        o.err = true;
                    }
                }
                other => {
                    return Err(syn::Error::new(
                        option.span(),
                        format!(
                            "unknown option `{other}`: expected name, fields, skip, skip_all, capture_args, capture_result or err"
                        ),
                    ));
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(o)
    }
}

/// `true` when `ty` has an `impl Trait` in it.
fn contains_impl(ty: &Type) -> bool {
    fn any_impl(tokens: TokenStream2) -> bool {
        tokens.into_iter().any(|t| match t {
            proc_macro2::TokenTree::Ident(i) => i == "impl",
            proc_macro2::TokenTree::Group(g) => any_impl(g.stream()),
            _ => false,
        })
    }
    any_impl(quote!(#ty))
}

/// `true` when the return type is written `..::Result<..>`.
fn returns_result(output: &ReturnType) -> bool {
    match output {
        ReturnType::Type(_, ty) => match &**ty {
            Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Result"),
            _ => false,
        },
        ReturnType::Default => false,
    }
}

/// The arguments to capture: `(name, expression)` for each simple
/// identifier pattern not skipped; `self` is never captured.
fn captured_args(sig: &syn::Signature, o: &Options) -> Vec<(String, Ident)> {
    if o.skip_all || !o.capture_args {
        return Vec::new();
    }
    sig.inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(t) => match &*t.pat {
                Pat::Ident(p) if !o.skip.contains(&p.ident) => Some((
                    p.ident.to_string().trim_start_matches("r#").to_owned(),
                    p.ident.clone(),
                )),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect()
}

fn expand(kind: &str, args: TokenStream, item: TokenStream) -> TokenStream {
    let options = match Options::parse.parse(args) {
        Ok(o) => o,
        Err(e) => return e.to_compile_error().into(),
    };
    let item = parse_macro_input!(item as ItemFn);
    match expand_fn(kind, &options, item) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand_fn(kind: &str, o: &Options, item: ItemFn) -> syn::Result<TokenStream2> {
    for skipped in &o.skip {
        let known = item.sig.inputs.iter().any(|arg| match arg {
            FnArg::Typed(t) => matches!(&*t.pat, Pat::Ident(p) if p.ident == *skipped),
            FnArg::Receiver(_) => skipped == "self",
        });
        if !known {
            return Err(syn::Error::new(
                skipped.span(),
                format!("skip({skipped}): the function has no argument `{skipped}`"),
            ));
        }
    }
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = item;
    let kind_ident = Ident::new(kind, Span::call_site());
    let name = match &o.name {
        Some(n) => n.clone(),
        None => LitStr::new(&sig.ident.to_string(), sig.ident.span()),
    };
    let span_var = format_ident!("__prela_span");
    let fields = o.fields.iter().map(|f| {
        let (key, value) = (&f.key, &f.value);
        quote_spanned! {value.span()=>
            let __prela_b = __prela_b.attribute(#key, ::prela::__private::value(#value));
        }
    });
    let captured = captured_args(&sig, o);
    let capture_args = if captured.is_empty() {
        quote! {}
    } else {
        let names = captured.iter().map(|(n, _)| n);
        let idents = captured.iter().map(|(_, i)| i);
        quote! {
            if #span_var.captures_content() {
                ::prela::__private::capture_args(
                    &mut #span_var,
                    ::prela::SpanType::#kind_ident,
                    &[#((#names, &#idents as &dyn ::core::fmt::Debug)),*],
                );
            }
        }
    };
    // `impl Trait` cannot be written in a binding: it is left to inference.
    let opaque = matches!(&sig.output, ReturnType::Type(_, ty) if contains_impl(ty));
    let output_ty = match &sig.output {
        ReturnType::Default => quote! { () },
        ReturnType::Type(..) if opaque => quote! { _ },
        ReturnType::Type(_, ty) => quote! { #ty },
    };
    let type_hint = if opaque {
        quote! {}
    } else {
        quote! {
            // A type for the block, so that `?` inside infers.
            #[allow(unreachable_code, clippy::diverging_sub_expression)]
            if false {
                let __prela_fake: #output_ty = loop {};
                return __prela_fake;
            }
        }
    };
    let closure_ty = if opaque {
        quote! {}
    } else {
        quote! { -> #output_ty }
    };
    let records_err = o.err && returns_result(&sig.output);
    let record_err = if records_err {
        quote! { ::prela::__private::record_result(__prela_span, &__prela_out); }
    } else {
        quote! {}
    };
    let record_output = if o.capture_result {
        quote! {
            ::prela::__private::capture_result(__prela_span, ::prela::SpanType::#kind_ident, &__prela_out);
        }
    } else {
        quote! {}
    };
    // In an async body the span is reached through the current context,
    // and only when there is something to record.
    let record_err_current = if records_err {
        quote! { ::prela::__private::record_result_current(&__prela_out); }
    } else {
        quote! {}
    };
    let record_output_current = if o.capture_result {
        quote! {
            ::prela::__private::capture_result_current(::prela::SpanType::#kind_ident, &__prela_out);
        }
    } else {
        quote! {}
    };
    let start = quote! {
        #[allow(unused_mut)]
        let mut #span_var = ::prela::__private::start(
            ::prela::SpanType::#kind_ident,
            #name,
            |__prela_b| {
                #(#fields)*
                __prela_b
            },
        );
        #capture_args
    };
    let body = if sig.asyncness.is_some() {
        quote! {
            #start
            ::prela::SpanFutureExt::in_span(
                async move {
                    let __prela_out: #output_ty = async move {
                        #type_hint
                        #block
                    }
                    .await;
                    #record_err_current
                    #record_output_current
                    __prela_out
                },
                #span_var,
            )
            .await
        }
    } else {
        quote! {
            #start
            #[allow(clippy::redundant_closure_call)]
            let __prela_out: #output_ty = #span_var.in_scope(|| #closure_ty #block);
            {
                let __prela_span: &mut ::prela::Span = &mut #span_var;
                #record_err
                #record_output
            }
            #span_var.end();
            __prela_out
        }
    };
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #body
        }
    })
}
