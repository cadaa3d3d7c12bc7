//! The front end: the annotated function read into parameters, variables and an expression graph.

pub mod helpers;
mod lower;
pub mod types;

pub use lower::{lower, Body, Stmt};

use proc_macro2::TokenStream;
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, Type};

use crate::attr::{Macro, Options};
use crate::ctxt::Ctxt;
use types::{classify, Scalars, TypeInfo, TypeKind};

/// A parameter of the user's function.
#[derive(Clone, Debug)]
pub struct Param {
    /// Its name, if its pattern is a plain identifier.
    pub name: Option<Ident>,
    pub ty: Type,
    pub info: TypeInfo,
    pub is_variable: bool,
}

/// The function as the later phases need it.
pub struct Function {
    pub item: ItemFn,
    pub params: Vec<Param>,
    /// The variables, as indices into `params`, in `wrt` order.
    pub variables: Vec<usize>,
    /// The scalar type the function computes in (`f64`).
    pub scalar: Type,
    /// What the function returns (a scalar for `#[gradient]`; any matrix for `#[jacobian]`).
    pub output: TypeInfo,
    /// Whether that is a type the attribute differentiates.
    pub output_fits: bool,
    /// Which type names are scalars in this function.
    pub scalars: Scalars,
    /// The body with the `#[differentiable]` helpers it calls read in (`helpers.rs`), which is
    /// what lowering reads; the item is emitted as written.
    pub inlined: Option<syn::Block>,
    /// Helpers called on the active path whose bodies matgrad has not read yet.
    pub missing_helpers: Vec<syn::Path>,
}

impl Function {
    /// Whether it is a method (`&self`), whose generated items are methods too.
    pub fn is_method(&self) -> bool {
        self.item.sig.receiver().is_some()
    }

    /// How generated code calls the generated item `name`: `Self::name` for a method (whose
    /// arguments then begin with `self`), `name` for a free function.
    pub fn path_of(&self, name: &Ident) -> TokenStream {
        if self.is_method() {
            quote::quote!(Self::#name)
        } else {
            quote::quote!(#name)
        }
    }

    /// The names of the variables, in `wrt` order.
    pub fn variable_names(&self) -> Vec<String> {
        self.variables
            .iter()
            .map(|&i| {
                self.params[i]
                    .name
                    .as_ref()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            })
            .collect()
    }
}

const VARIABLE_TYPES: &str =
    "a variable must be `f64`, `DMatrix<f64>`, `DVector<f64>` or `RowDVector<f64>` (or a static nalgebra matrix or vector), by value or by `&`";

/// Read the item. Returns `None` only if it is not a function at all.
pub fn parse(
    kind: Macro,
    item: TokenStream,
    options: Option<&Options>,
    cx: &mut Ctxt,
) -> Option<Function> {
    let m = kind.name();
    let item: ItemFn = match syn::parse2(item) {
        Ok(f) => f,
        Err(e) => {
            cx.push(syn::Error::new(
                e.span(),
                format!("#[{m}] goes on a function or a method (`fn name(..) -> f64 {{ .. }}`)"),
            ));
            return None;
        }
    };
    if let Some(a) = &item.sig.asyncness {
        cx.error_spanned_by(a, format!("#[{m}] cannot differentiate an `async fn`"));
    }
    let mut scalars = Scalars::of(&item.sig.generics);
    if item.sig.receiver().is_some() {
        scalars.add_impl_parameters(&item.sig, kind == Macro::Gradient);
    }
    let mut params = Vec::new();
    for input in &item.sig.inputs {
        match input {
            // `&self`: a constant parameter named `self`, whose fields the body reads as
            // constants; the generated items are methods too.
            FnArg::Receiver(r) => {
                if r.reference.is_none() || r.mutability.is_some() {
                    cx.error_spanned_by(
                        r,
                        format!("#[{m}] on a method needs `&self`: the generated methods read the fields and leave the value as it is"),
                    );
                }
                params.push(Param {
                    name: Some(Ident::from(r.self_token)),
                    ty: (*r.ty).clone(),
                    info: TypeInfo {
                        kind: TypeKind::Other,
                        by_ref: true,
                        owned: syn::parse_quote!(Self),
                        scalar: None,
                    },
                    is_variable: false,
                });
            }
            FnArg::Typed(pt) => {
                let name = match &*pt.pat {
                    Pat::Ident(pi) if pi.subpat.is_none() => Some(pi.ident.clone()),
                    _ => None,
                };
                params.push(Param {
                    name,
                    ty: (*pt.ty).clone(),
                    info: classify(&pt.ty, &scalars),
                    is_variable: false,
                });
            }
        }
    }

    let mut variables = Vec::new();
    if let Some(options) = options {
        for var in &options.wrt {
            match params.iter().position(|p| p.name.as_ref() == Some(var)) {
                Some(i) => {
                    variables.push(i);
                    let p = &mut params[i];
                    if p.info.kind == TypeKind::Other {
                        // Reported here; the body is then read as if it were a constant, so
                        // that this one mistake does not cause a cascade of others.
                        let ty = &p.ty;
                        let text = crate::text::source_text(&quote::quote!(#ty))
                            .replace(" < ", "<")
                            .replace(" <", "<")
                            .replace("< ", "<")
                            .replace(" >", ">");
                        cx.error_spanned_by(
                            ty,
                            format!("matgrad cannot differentiate with respect to `{var}` of type `{text}`: {VARIABLE_TYPES}"),
                        );
                    } else {
                        p.is_variable = true;
                    }
                }
                None => {
                    let names: Vec<String> = params
                        .iter()
                        .filter_map(|p| p.name.as_ref().map(|n| format!("`{n}`")))
                        .collect();
                    let list = if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    };
                    cx.error_spanned_by(
                        var,
                        format!("`{var}` is not a parameter of `{}`: `wrt` must name parameters (here: {list})", item.sig.ident),
                    );
                }
            }
        }
    }

    let f64_type: Type = syn::parse_quote!(f64);
    let unit = TypeInfo {
        kind: TypeKind::Scalar,
        by_ref: false,
        owned: f64_type.clone(),
        scalar: None,
    };
    let mut output_fits = true;
    let output = match &item.sig.output {
        ReturnType::Type(_, ty) => {
            let info = classify(ty, &scalars);
            let fits = match kind {
                Macro::Gradient => info.kind == TypeKind::Scalar,
                Macro::Jacobian => info.kind != TypeKind::Other && !info.by_ref,
            };
            if !fits {
                output_fits = false;
                let msg = match kind {
                    Macro::Gradient => "#[gradient] needs a function that returns a scalar (`f64`): a gradient is the derivative of a scalar; for a vector or matrix result use #[jacobian]".to_string(),
                    Macro::Jacobian => "#[jacobian] needs a function that returns a scalar, or an owned nalgebra vector or matrix (`DVector<f64>`, `DMatrix<f64>`, `Vector3<f64>`, ..)".to_string(),
                };
                cx.error_spanned_by(ty, msg);
            }
            info
        }
        ReturnType::Default => {
            output_fits = false;
            cx.error_spanned_by(
                &item.sig,
                format!("#[{m}] needs a function that returns its value: add `-> f64`"),
            );
            unit
        }
    };
    let scalar = match output.kind {
        TypeKind::Scalar => output.owned.clone(),
        _ => output.scalar.clone().unwrap_or(f64_type),
    };
    Some(Function {
        item,
        params,
        variables,
        scalar,
        output,
        output_fits,
        scalars,
        inlined: None,
        missing_helpers: Vec::new(),
    })
}
