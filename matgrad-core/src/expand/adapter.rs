//! What the solver adapters (`argmin = Name`, `least_squares = Name`) share: a struct that owns
//! the function's other parameters — the data — as public fields, and calls of the generated
//! functions from it.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{Ident, Type};

use crate::front::types::TypeKind;
use crate::front::Function;
use crate::valid::{Field, Struct};

/// The struct an adapter generates, as validation accepted it, with the function it calls.
pub(super) struct Problem<'a> {
    pub f: &'a Function,
    pub name: &'a Ident,
    /// The variable: its parameter index.
    pub variable: usize,
    pub fields: &'a [Field],
}

impl<'a> Problem<'a> {
    pub fn new(f: &'a Function, s: &'a Struct) -> Self {
        Problem {
            f,
            name: &s.name,
            variable: s.variable,
            fields: &s.fields,
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

/// `with_argmin! { items }` at the option's span: the items if matgrad's feature is on, and
/// otherwise one error there naming the feature.
pub(super) fn behind_feature(macro_name: &str, option: Span, items: TokenStream) -> TokenStream {
    let mac = Ident::new(macro_name, option);
    quote_spanned!(option=> ::matgrad::__private::#mac! { #items })
}
