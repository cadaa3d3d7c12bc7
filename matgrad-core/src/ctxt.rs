//! Error accumulation: every problem in a function is reported in one compile.

use proc_macro2::Span;
use quote::ToTokens;
use std::fmt::Display;

/// The errors found so far. Phases push into it and carry on where they can; the pipeline
/// checks it once, after validation, so that expansion never sees invalid input.
///
/// A context must be consumed by [`Ctxt::check`]: dropping it unchecked would lose errors, so
/// it panics in that case (serde_derive's guard). That is a bug in matgrad, never a user error.
pub struct Ctxt {
    /// `None` once checked.
    errors: Option<Vec<syn::Error>>,
}

impl Default for Ctxt {
    fn default() -> Self {
        Ctxt::new()
    }
}

impl Ctxt {
    pub fn new() -> Self {
        Ctxt {
            errors: Some(Vec::new()),
        }
    }

    fn errors(&mut self) -> &mut Vec<syn::Error> {
        self.errors.get_or_insert_with(Vec::new)
    }

    /// An error covering the given tokens.
    pub fn error_spanned_by<T: ToTokens, M: Display>(&mut self, tokens: T, msg: M) {
        let e = syn::Error::new_spanned(tokens.into_token_stream(), msg);
        self.errors().push(e);
    }

    /// An error at one span.
    pub fn error_at<M: Display>(&mut self, span: Span, msg: M) {
        self.errors().push(syn::Error::new(span, msg));
    }

    /// An error already built (possibly several combined).
    pub fn push(&mut self, err: syn::Error) {
        self.errors().push(err);
    }

    /// How many errors were pushed so far: with [`Ctxt::truncate`], a phase that reads a part
    /// of the code twice (a loop body, once its carries are known) keeps one set of errors.
    pub fn count(&self) -> usize {
        self.errors.as_ref().map_or(0, Vec::len)
    }

    pub fn truncate(&mut self, len: usize) {
        self.errors().truncate(len);
    }

    pub fn has_errors(&self) -> bool {
        self.errors.as_ref().is_some_and(|e| !e.is_empty())
    }

    /// All errors combined into one, or `Ok` if there are none. Consumes the context.
    pub fn check(mut self) -> syn::Result<()> {
        let mut errors = self.errors.take().unwrap_or_default().into_iter();
        let Some(mut first) = errors.next() else {
            return Ok(());
        };
        for e in errors {
            first.combine(e);
        }
        Err(first)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if self.errors.is_some() && !std::thread::panicking() {
            panic!("matgrad: internal error: an error context was dropped without being checked");
        }
    }
}
