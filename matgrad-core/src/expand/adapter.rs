//! What the solver adapters (`argmin = Name`, `least_squares = Name`) share: a struct that owns
//! the function's other parameters — the data — as public fields, and calls of the generated
//! functions from it.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{Ident, Type};

use crate::attr::{Adapter, Layout, Options};
use crate::front::types::TypeKind;
use crate::front::Function;

/// A data field: a parameter of the function other than the variable.
pub(super) struct Field {
    pub name: Ident,
    /// What the struct stores: the parameter's type, owned.
    pub ty: Type,
    /// Whether the function takes it by reference (so a call passes `&self.name`).
    pub by_ref: bool,
}

/// The struct an adapter generates, as far as the adapters agree.
pub(super) struct Problem<'a> {
    pub f: &'a Function,
    pub name: &'a Ident,
    /// The variable: its parameter index.
    pub variable: usize,
    pub fields: Vec<Field>,
}

impl<'a> Problem<'a> {
    /// Check that the function fits a struct (one variable, named parameters, no generics, the
    /// numerator layout) and read its data fields. `option` is how the user wrote the option
    /// (`argmin`), for messages.
    pub fn new(
        f: &'a Function,
        options: &Options,
        adapter: &'a Adapter,
        option: &str,
    ) -> syn::Result<Self> {
        let mut errors: Vec<syn::Error> = Vec::new();
        let generics = &f.item.sig.generics;
        if !generics.params.is_empty() {
            errors.push(syn::Error::new_spanned(
                generics,
                format!("`{option} = {}` generates a struct with concrete types, so the function cannot be generic: write it for `f64`", adapter.name),
            ));
        }
        if options.layout != Layout::Numerator {
            let span = options.layout_span.unwrap_or(adapter.option);
            errors.push(syn::Error::new(
                span,
                format!("`{option} = ..` gives solvers the Jacobian in the numerator layout they expect: remove `layout = ..`"),
            ));
        }
        let mut fields = Vec::new();
        for (i, p) in f.params.iter().enumerate() {
            let Some(name) = &p.name else {
                let input = &f.item.sig.inputs[i];
                errors.push(syn::Error::new_spanned(
                    input,
                    format!("`{option} = ..` stores the parameters in a struct's fields, named after them: give this parameter a plain name"),
                ));
                continue;
            };
            if f.variables.contains(&i) {
                continue;
            }
            fields.push(Field {
                name: name.clone(),
                ty: stored_type(&p.info.owned),
                by_ref: p.info.by_ref,
            });
        }
        let variable = f.variables.first().copied().unwrap_or(0);
        match errors.into_iter().reduce(|mut a, b| {
            a.combine(b);
            a
        }) {
            Some(e) => Err(e),
            None => Ok(Problem {
                f,
                name: &adapter.name,
                variable,
                fields,
            }),
        }
    }

    /// The variable's owned type: the solvers' parameter type.
    pub fn param_type(&self) -> &Type {
        &self.f.params[self.variable].info.owned
    }

    pub fn variable_name(&self) -> String {
        self.f.params[self.variable]
            .name
            .as_ref()
            .map(|n| n.to_string())
            .unwrap_or_default()
    }

    pub fn variable_is_matrix(&self) -> bool {
        matches!(
            self.f.params[self.variable].info.kind,
            TypeKind::Matrix { .. }
        )
    }

    /// `pub x: DMatrix<f64>, ..` (or private, for a type the user does not build).
    pub fn field_decls(&self, public: bool) -> TokenStream {
        let decls = self.fields.iter().map(|fd| {
            let (name, ty) = (&fd.name, &fd.ty);
            if public {
                quote!(pub #name: #ty,)
            } else {
                quote!(#name: #ty,)
            }
        });
        quote!(#(#decls)*)
    }

    /// `x: DMatrix<f64>, ..`, for a constructor.
    pub fn field_params(&self) -> Vec<TokenStream> {
        self.fields
            .iter()
            .map(|fd| {
                let (name, ty) = (&fd.name, &fd.ty);
                quote!(#name: #ty)
            })
            .collect()
    }

    pub fn field_names(&self) -> Vec<&Ident> {
        self.fields.iter().map(|fd| &fd.name).collect()
    }

    /// `x: ::core::clone::Clone::clone(&recv.x), ..`
    pub fn field_clones(&self, recv: &TokenStream) -> TokenStream {
        let inits = self.fields.iter().map(|fd| {
            let name = &fd.name;
            quote!(#name: ::core::clone::Clone::clone(&#recv.#name),)
        });
        quote!(#(#inits)*)
    }

    /// The arguments of a call of a generated function, in the function's parameter order, with
    /// the data from `recv`'s fields and the variable from `point` (an expression of type `&P`).
    pub fn args(&self, recv: &TokenStream, point: &TokenStream) -> Vec<TokenStream> {
        let mut fields = self.fields.iter();
        self.f
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if i == self.variable {
                    return pass(point, p.info.by_ref);
                }
                match fields.next() {
                    Some(fd) => {
                        let name = &fd.name;
                        if fd.by_ref {
                            quote!(&#recv.#name)
                        } else {
                            quote!(::core::clone::Clone::clone(&#recv.#name))
                        }
                    }
                    None => quote!(::core::unreachable!()),
                }
            })
            .collect()
    }
}

/// A value given as `&P` for a parameter of type `P` or `&P`.
pub(super) fn pass(value: &TokenStream, by_ref: bool) -> TokenStream {
    if by_ref {
        value.clone()
    } else {
        quote!(::core::clone::Clone::clone(#value))
    }
}

/// The owned type a struct stores for a parameter: the referent of a `&` (`&[f64]` and `&str`
/// as `Vec<f64>` and `String`, which the calls pass back by deref).
fn stored_type(owned: &Type) -> Type {
    match owned {
        Type::Slice(s) => {
            let elem = &s.elem;
            syn::parse_quote!(::std::vec::Vec<#elem>)
        }
        Type::Path(p) if p.qself.is_none() && p.path.is_ident("str") => {
            syn::parse_quote!(::std::string::String)
        }
        other => other.clone(),
    }
}

/// `with_argmin! { items }` at the option's span: the items if matgrad's feature is on, and
/// otherwise one error there naming the feature.
pub(super) fn behind_feature(macro_name: &str, option: Span, items: TokenStream) -> TokenStream {
    let mac = Ident::new(macro_name, option);
    quote_spanned!(option=> ::matgrad::__private::#mac! { #items })
}
