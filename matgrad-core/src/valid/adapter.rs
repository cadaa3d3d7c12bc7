//! The solver adapters' restrictions (`argmin = Name`, `least_squares = Name`): a struct whose
//! fields are the function's other parameters, for a solver's concrete types.

use syn::{Ident, Type};

use crate::attr::{Adapter, Layout, Options};
use crate::ctxt::Ctxt;
use crate::front::types::{Axis, TypeKind};
use crate::front::Function;

/// A data field: a parameter of the function other than the variable.
pub struct Field {
    pub name: Ident,
    /// What the struct stores: the parameter's type, owned.
    pub ty: Type,
    /// Whether the function takes it by reference (so a call passes `&self.name`).
    pub by_ref: bool,
}

/// The struct an adapter generates, as far as the adapters agree.
pub struct Struct {
    pub name: Ident,
    /// The variable: its parameter index.
    pub variable: usize,
    pub fields: Vec<Field>,
}

/// levenberg-marquardt's problem: a struct whose residuals and parameters are column vectors.
pub struct LeastSquares {
    pub problem: Struct,
    /// The length of the residual vector and of the parameter vector.
    pub residuals: Axis,
    pub params: Axis,
}

/// The struct of `option = Name`, or the reasons it cannot be generated: the function must be
/// non-generic, with named parameters and one variable, and the Jacobian in the numerator
/// layout. `option` is how the user wrote the option (`argmin`), for messages.
pub fn problem(
    f: &Function,
    options: &Options,
    adapter: &Adapter,
    option: &str,
) -> Result<Struct, Vec<syn::Error>> {
    let mut errors: Vec<syn::Error> = Vec::new();
    if f.is_method() {
        errors.push(syn::Error::new(
            adapter.option,
            format!("`{option} = {}` generates a struct around a free function; on a method it is not supported yet: call the method from a free function that takes the data as parameters, and annotate that one", adapter.name),
        ));
    }
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
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Struct {
        name: adapter.name.clone(),
        variable: f.variables.first().copied().unwrap_or(0),
        fields,
    })
}

/// `argmin` without a name: argmin's traits for the method's own type, which `#[matgrad::model]`
/// on the `impl` block implements; the method takes `&self` and the variable only, since the
/// solver passes nothing else.
pub fn method_problem(f: &Function, span: proc_macro2::Span) -> Vec<syn::Error> {
    if !f.is_method() {
        return vec![syn::Error::new(span, "`argmin` without a name implements argmin's traits for a method's type (with `#[matgrad::model]` on its `impl` block); on a function, name the struct to generate: `argmin = Name`")];
    }
    if f.params.len() != 2 || f.variables.len() != 1 {
        return vec![syn::Error::new_spanned(
            &f.item.sig.inputs,
            "`argmin` on a method implements argmin's traits for its type, whose solvers pass the variable only: take `&self` and the variable, and keep the data in the fields",
        )];
    }
    Vec::new()
}

/// `least_squares = Name`: the struct, with residuals and parameters that are column vectors.
pub fn least_squares(
    f: &Function,
    options: &Options,
    adapter: &Adapter,
) -> Result<LeastSquares, Vec<syn::Error>> {
    let problem = problem(f, options, adapter, "least_squares")?;
    let var = &f.params[problem.variable];
    let vector_types = "levenberg-marquardt works on vectors: `DVector<f64>` or a static vector such as `Vector3<f64>`";
    let Some(residuals) = vector_axis(&f.output.kind) else {
        return Err(vec![syn::Error::new_spanned(
            &f.item.sig.output,
            format!(
                "`least_squares = {}` needs the residuals as a column vector; {vector_types}",
                problem.name
            ),
        )]);
    };
    let Some(params) = vector_axis(&var.info.kind) else {
        return Err(vec![syn::Error::new_spanned(
            &var.ty,
            format!(
                "`least_squares = {}` needs the parameters as a column vector; {vector_types}",
                problem.name
            ),
        )]);
    };
    Ok(LeastSquares {
        problem,
        residuals,
        params,
    })
}

/// The length axis of a column vector type, or `None`.
fn vector_axis(kind: &TypeKind) -> Option<Axis> {
    match kind {
        TypeKind::Matrix {
            rows,
            cols: Axis::Fixed(1),
        } => Some(*rows),
        _ => None,
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

/// Report the errors of a plan to `cx`, keeping the plan if there were none.
pub fn report<T>(cx: &mut Ctxt, plan: Result<T, Vec<syn::Error>>) -> Option<T> {
    match plan {
        Ok(p) => Some(p),
        Err(errors) => {
            for e in errors {
                cx.push(e);
            }
            None
        }
    }
}
