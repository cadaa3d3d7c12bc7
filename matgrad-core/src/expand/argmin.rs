//! `argmin = Name`: a struct holding the data that implements argmin's problem traits.
//!
//! For `#[gradient]`, `CostFunction` and `Gradient` with `Param` the variable's type, and with
//! `hessian` also `Hessian`: the Hessian is `<Name>Hessian`, an operator that applies H by
//! `<name>_hvp` (what Newton-CG needs, `ArgminDot`), and whose `inv()` factorises the Hessian
//! once, so that Newton's `H⁻¹ g` is a Cholesky (or LU) solve. For `#[jacobian]`, `Operator` and
//! `Jacobian` (Gauss-Newton), the Jacobian as a `DMatrix` in the numerator layout.
//!
//! argmin's traits take `&self` and ask for the cost and then the gradient at the same point
//! (L-BFGS's line search does), so the struct keeps the last point with its value and gradient
//! behind a mutex: one `_value_and_grad` serves both.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::adapter::{behind_feature, pass, Problem};
use crate::attr::{Adapter, Macro, Options};
use crate::front::Function;
use crate::valid::{self, Struct};

/// The struct of `argmin = Name` and its trait impls, for the attribute `kind`.
pub fn items(
    kind: Macro,
    f: &Function,
    options: &Options,
    adapter: &Adapter,
    s: &Struct,
) -> TokenStream {
    let pr = Problem::new(f, s);
    let items = match kind {
        Macro::Gradient => cost_and_gradient(options, &pr),
        Macro::Jacobian => operator_and_jacobian(&pr),
    };
    behind_feature("with_argmin", adapter.option, items)
}

/// The adapter beside a function that failed to derive (calling its stand-ins), if the
/// adapter itself would be fine; nothing otherwise, its problems being reported already or
/// secondary.
pub fn stand_in(kind: Macro, f: &Function, options: &Options, adapter: &Adapter) -> TokenStream {
    match valid::adapter::problem(f, options, adapter, "argmin") {
        Ok(s) if f.variables.len() == 1 => items(kind, f, options, adapter, &s),
        _ => TokenStream::new(),
    }
}

/// The struct with its data fields, a cache of the last evaluation (`(point, value,
/// derivative)`), a counter of evaluations, `new`, `evaluations`, `Clone`, and
/// `__mg_evaluated(p, read)`, which hands `read` the value and derivative at `p`, computing
/// them with `compute` (a `Result` expression reading `p`) unless `p` is the cached point.
fn cached_struct(
    pr: &Problem,
    doc: &str,
    value_ty: &TokenStream,
    derivative_ty: &TokenStream,
    compute: &TokenStream,
) -> TokenStream {
    let f = pr.f;
    let vis = &f.item.vis;
    let name = pr.name;
    let p_ty = pr.param_type();
    let fields = pr.field_decls(true);
    let field_params = pr.field_params();
    let field_names = pr.field_names();
    let field_clones = pr.field_clones(&quote!(self));
    let error = quote!(::matgrad::__private::argmin::core::Error);
    let std_sync = quote!(::std::sync);
    quote! {
        #[doc = #doc]
        #vis struct #name {
            #fields
            /// The last point evaluated, with the value and derivative there.
            __mg_last: #std_sync::Mutex<::core::option::Option<(#p_ty, #value_ty, #derivative_ty)>>,
            __mg_evaluations: #std_sync::atomic::AtomicUsize,
        }

        #[allow(dead_code, clippy::all)]
        impl #name {
            /// The problem for this data.
            #vis fn new(#(#field_params),*) -> Self {
                #name {
                    #(#field_names,)*
                    __mg_last: #std_sync::Mutex::new(::core::option::Option::None),
                    __mg_evaluations: #std_sync::atomic::AtomicUsize::new(0),
                }
            }

            /// How many times the value and the derivative have been computed: the solver's
            /// calls minus those the cache answered.
            #vis fn evaluations(&self) -> usize {
                self.__mg_evaluations.load(#std_sync::atomic::Ordering::Relaxed)
            }

            fn __mg_evaluated<R>(
                &self,
                p: &#p_ty,
                read: impl ::core::ops::FnOnce(&#value_ty, &#derivative_ty) -> R,
            ) -> ::core::result::Result<R, #error> {
                // A panic while the lock was held left no partial entry: the entry is replaced
                // whole below.
                let mut last = self.__mg_last.lock().unwrap_or_else(|e| e.into_inner());
                if let ::core::option::Option::Some((at, value, derivative)) = &*last {
                    if at == p {
                        return ::core::result::Result::Ok(read(value, derivative));
                    }
                }
                let (value, derivative) = #compute.map_err(#error::new)?;
                self.__mg_evaluations.fetch_add(1, #std_sync::atomic::Ordering::Relaxed);
                let out = read(&value, &derivative);
                *last = ::core::option::Option::Some((::core::clone::Clone::clone(p), value, derivative));
                ::core::result::Result::Ok(out)
            }
        }

        impl ::core::clone::Clone for #name {
            fn clone(&self) -> Self {
                #name {
                    #field_clones
                    __mg_last: #std_sync::Mutex::new(::core::option::Option::None),
                    __mg_evaluations: #std_sync::atomic::AtomicUsize::new(0),
                }
            }
        }
    }
}

fn cost_and_gradient(options: &Options, pr: &Problem) -> TokenStream {
    let f = pr.f;
    let fn_name = &f.item.sig.ident;
    let name = pr.name;
    let s = &f.scalar;
    let p_ty = pr.param_type();
    let p_tokens = quote!(#p_ty);
    let var = pr.variable_name();
    let try_vg = format_ident!("try_{}_value_and_grad", fn_name);
    let args = pr.args(&quote!(self), &quote!(p));
    let compute = quote!(#try_vg(#(#args),*));
    let hessian = options.hessian.is_some();
    let hessian_doc = if hessian {
        format!(" `Hessian` gives [`{name}Hessian`], which applies the Hessian to a direction by [`{fn_name}_hvp`] without forming it (Newton-CG) and whose `inv()` factorises [`{fn_name}_hessian`] once (Newton's step is then a Cholesky or LU solve, no inverse is formed).")
    } else {
        String::new()
    };
    let doc = format!(
        "The objective [`{fn_name}`] as an argmin problem over `{var}`: `CostFunction` and `Gradient` with the gradient matgrad derived ([`{fn_name}_grad`]).{hessian_doc}\n\n\
         The public fields are the data (the parameters of `{fn_name}` other than `{var}`). argmin asks for the cost and then the gradient at the same point; the struct keeps the last point with its value and gradient (behind a mutex, as argmin's traits take `&self`), so one [`{fn_name}_value_and_grad`] answers both. [`{name}::evaluations`] counts the evaluations. Arguments whose shapes do not fit together give an argmin error."
    );
    let mut out = cached_struct(pr, &doc, &quote!(#s), &p_tokens, &compute);
    let argmin = quote!(::matgrad::__private::argmin::core);
    let error = quote!(#argmin::Error);
    out.extend(quote! {
        impl #argmin::CostFunction for #name {
            type Param = #p_ty;
            type Output = #s;
            fn cost(&self, p: &#p_ty) -> ::core::result::Result<#s, #error> {
                self.__mg_evaluated(p, |value, _| *value)
            }
        }

        impl #argmin::Gradient for #name {
            type Param = #p_ty;
            type Gradient = #p_ty;
            fn gradient(&self, p: &#p_ty) -> ::core::result::Result<#p_ty, #error> {
                self.__mg_evaluated(p, |_, gradient| ::core::clone::Clone::clone(gradient))
            }
        }
    });
    if hessian {
        out.extend(hessian_operator(pr));
    }
    out
}

/// `<Name>Hessian`: the Hessian at a point, as an operator (`ArgminDot`: H v by `_hvp`) that
/// `inv()` turns into its factorised inverse (H⁻¹ v by a solve).
fn hessian_operator(pr: &Problem) -> TokenStream {
    let f = pr.f;
    let vis = &f.item.vis;
    let fn_name = &f.item.sig.ident;
    let name = pr.name;
    let op = format_ident!("{}Hessian", name);
    let s = &f.scalar;
    let p_ty = pr.param_type();
    let hvp = format_ident!("{}_hvp", fn_name);
    let hessian = format_ident!("{}_hessian", fn_name);
    let at = quote!(&self.__mg_at);
    let args = pr.args(&quote!(self), &at);
    let by_ref = f.params[pr.variable].info.by_ref;
    let direction = pass(&quote!(v), by_ref);
    let fields = pr.field_decls(false);
    let field_clones_self = pr.field_clones(&quote!(self));
    let solve = if pr.variable_is_matrix() {
        quote!(factor.solve_like(v))
    } else {
        quote!(factor.solve_scalar(*v))
    };
    let argmin = quote!(::matgrad::__private::argmin::core);
    let math = quote!(::matgrad::__private::argmin_math);
    let singular = format!(
        "{name}Hessian::inv: the Hessian of `{fn_name}` with respect to `{}` is singular here",
        pr.variable_name()
    );
    let doc = format!(
        "The Hessian of [`{fn_name}`] at a point, as argmin uses it: `dot(v)` is H v by [`{fn_name}_hvp`] (Newton-CG), without forming H; `inv()` forms [`{fn_name}_hessian`] once and factorises it (Cholesky, or LU where H is not positive definite), and the result's `dot(g)` is the solve H⁻¹ g (Newton). It keeps a copy of the data."
    );
    quote! {
        #[doc = #doc]
        #[derive(Clone)]
        #vis struct #op {
            #fields
            __mg_at: #p_ty,
            /// `Some` after `inv()`: this operator is then H⁻¹.
            __mg_factor: ::core::option::Option<::matgrad::__private::SymmetricFactor<#s>>,
        }

        #[allow(clippy::all)]
        impl #math::ArgminDot<#p_ty, #p_ty> for #op {
            fn dot(&self, v: &#p_ty) -> #p_ty {
                match &self.__mg_factor {
                    ::core::option::Option::None => #hvp(#(#args,)* #direction),
                    ::core::option::Option::Some(factor) => #solve,
                }
            }
        }

        #[allow(clippy::all)]
        impl #math::ArgminInv<#op> for #op {
            fn inv(&self) -> ::core::result::Result<#op, #math::Error> {
                let factor = match &self.__mg_factor {
                    // The inverse of H⁻¹ is H again.
                    ::core::option::Option::Some(_) => ::core::option::Option::None,
                    ::core::option::Option::None => {
                        match ::matgrad::__private::SymmetricFactor::new(#hessian(#(#args),*)) {
                            ::core::option::Option::Some(factor) => ::core::option::Option::Some(factor),
                            ::core::option::Option::None => {
                                return ::core::result::Result::Err(#math::Error::msg(#singular));
                            }
                        }
                    }
                };
                ::core::result::Result::Ok(#op {
                    #field_clones_self
                    __mg_at: ::core::clone::Clone::clone(&self.__mg_at),
                    __mg_factor: factor,
                })
            }
        }

        impl #argmin::Hessian for #name {
            type Param = #p_ty;
            type Hessian = #op;
            fn hessian(&self, p: &#p_ty) -> ::core::result::Result<#op, #argmin::Error> {
                ::core::result::Result::Ok(#op {
                    #field_clones_self
                    __mg_at: ::core::clone::Clone::clone(p),
                    __mg_factor: ::core::option::Option::None,
                })
            }
        }
    }
}

fn operator_and_jacobian(pr: &Problem) -> TokenStream {
    let f = pr.f;
    let fn_name = &f.item.sig.ident;
    let name = pr.name;
    let s = &f.scalar;
    let p_ty = pr.param_type();
    let r_ty = match &f.item.sig.output {
        syn::ReturnType::Type(_, t) => quote!(#t),
        syn::ReturnType::Default => quote!(()),
    };
    let var = pr.variable_name();
    let try_vj = format_ident!("try_{}_value_and_jacobian", fn_name);
    let args = pr.args(&quote!(self), &quote!(p));
    let na = quote!(::matgrad::nalgebra);
    let j_ty = quote!(#na::OMatrix<#s, #na::Dyn, #na::Dyn>);
    // `_jacobian` is static when both shapes are; argmin's Gauss-Newton wants one matrix type
    // for J, Jᵀ and JᵀJ, so the adapter gives a `DMatrix`.
    let compute = quote!(#try_vj(#(#args),*).map(|(r, j)| {
        let (rows, cols) = (j.nrows(), j.ncols());
        (r, #na::OMatrix::<#s, #na::Dyn, #na::Dyn>::from_iterator(rows, cols, j.iter().copied()))
    }));
    let doc = format!(
        "The residuals [`{fn_name}`] as an argmin problem over `{var}`: `Operator` (the residuals) and `Jacobian` (matgrad's Jacobian, [`{fn_name}_jacobian`], as a `DMatrix` in the numerator layout), for Gauss-Newton.\n\n\
         The public fields are the data (the parameters of `{fn_name}` other than `{var}`). The struct keeps the last point with its residuals and Jacobian (behind a mutex, as argmin's traits take `&self`), so one [`{fn_name}_value_and_jacobian`] answers `apply` and `jacobian` at the same point. [`{name}::evaluations`] counts the evaluations."
    );
    let mut out = cached_struct(pr, &doc, &r_ty, &j_ty, &compute);
    let argmin = quote!(::matgrad::__private::argmin::core);
    let error = quote!(#argmin::Error);
    out.extend(quote! {
        impl #argmin::Operator for #name {
            type Param = #p_ty;
            type Output = #r_ty;
            fn apply(&self, p: &#p_ty) -> ::core::result::Result<#r_ty, #error> {
                self.__mg_evaluated(p, |r, _| ::core::clone::Clone::clone(r))
            }
        }

        impl #argmin::Jacobian for #name {
            type Param = #p_ty;
            type Jacobian = #j_ty;
            fn jacobian(&self, p: &#p_ty) -> ::core::result::Result<#j_ty, #error> {
                self.__mg_evaluated(p, |_, j| ::core::clone::Clone::clone(j))
            }
        }
    });
    out
}
