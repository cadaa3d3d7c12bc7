//! What a parameter's type tells: a scalar, a matrix of which shape, or something else.

use syn::{GenericArgument, PathArguments, Type};

use crate::shape::{Dim, Ty};

/// One axis of a matrix type, as the type spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    Fixed(usize),
    Dyn,
}

/// The kind of value a type holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeKind {
    /// `f64` or `f32` (or a generic scalar parameter).
    Scalar,
    /// An nalgebra matrix or vector with owned storage.
    Matrix { rows: Axis, cols: Axis },
    /// Anything else.
    Other,
}

/// A parameter or `let` type, read.
#[derive(Clone, Debug)]
pub struct TypeInfo {
    pub kind: TypeKind,
    /// Whether it is a shared reference (`&DMatrix<f64>`).
    pub by_ref: bool,
    /// The owned type: what a gradient with respect to a parameter of this type returns.
    pub owned: Type,
    /// The scalar type named inside (`f64` in `DMatrix<f64>`), if any.
    pub scalar: Option<Type>,
}

/// The scalar types of a function: `f64`, `f32` and its generic type parameters (a function
/// generic over `T: RealField + Copy` computes in `T`).
#[derive(Clone, Debug, Default)]
pub struct Scalars {
    generic: Vec<String>,
}

impl Scalars {
    pub fn of(generics: &syn::Generics) -> Scalars {
        let generic = generics
            .type_params()
            .map(|p| p.ident.to_string())
            .collect();
        Scalars { generic }
    }

    /// For a method, the type parameters of its `impl` too, which the attribute cannot see:
    /// a bare name in the scalar place of an nalgebra type (`T` in `DVector<T>`,
    /// `Matrix2x3<T>`), or returned by a gradient (`-> T`).
    pub fn add_impl_parameters(&mut self, sig: &syn::Signature, returns_scalar: bool) {
        let bare = |ty: &Type| match ty {
            Type::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
                let seg = &p.path.segments[0];
                let name = seg.ident.to_string();
                (seg.arguments.is_none() && name.starts_with(char::is_uppercase)).then_some(name)
            }
            _ => None,
        };
        let mut found = Vec::new();
        let mut visit = |ty: &Type| {
            let ty = match ty {
                Type::Reference(r) => &*r.elem,
                other => other,
            };
            if let Some(GenericArgument::Type(first)) = generic_args(ty).first() {
                found.extend(bare(first));
            }
        };
        for input in &sig.inputs {
            if let syn::FnArg::Typed(pt) = input {
                visit(&pt.ty);
            }
        }
        if let syn::ReturnType::Type(_, ty) = &sig.output {
            visit(ty);
            if returns_scalar {
                found.extend(bare(ty));
            }
        }
        for name in found {
            if !self.generic.contains(&name) {
                self.generic.push(name);
            }
        }
    }

    /// Whether `ty` is a scalar type.
    pub fn is_scalar(&self, ty: &Type) -> bool {
        match ty {
            Type::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
                let name = p.path.segments[0].ident.to_string();
                name == "f64" || name == "f32" || self.generic.contains(&name)
            }
            Type::Paren(p) => self.is_scalar(&p.elem),
            Type::Group(g) => self.is_scalar(&g.elem),
            _ => false,
        }
    }
}

fn last_ident(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.to_string()),
        Type::Paren(p) => last_ident(&p.elem),
        Type::Group(g) => last_ident(&g.elem),
        _ => None,
    }
}

fn generic_args(ty: &Type) -> Vec<&GenericArgument> {
    if let Type::Path(p) = ty {
        if let Some(seg) = p.path.segments.last() {
            if let PathArguments::AngleBracketed(a) = &seg.arguments {
                return a.args.iter().collect();
            }
        }
    }
    Vec::new()
}

/// A `usize` const generic argument written as a literal (`3` in `SMatrix<f64, 3, 4>`).
fn const_arg(arg: &GenericArgument) -> Option<usize> {
    let expr = match arg {
        GenericArgument::Const(e) => e,
        GenericArgument::Type(Type::Path(p)) => {
            // `U3` style type-level numbers.
            let name = p.path.segments.last()?.ident.to_string();
            return name.strip_prefix('U')?.parse().ok();
        }
        _ => return None,
    };
    match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(i),
            ..
        }) => i.base10_parse().ok(),
        syn::Expr::Block(b) if b.block.stmts.len() == 1 => match &b.block.stmts[0] {
            syn::Stmt::Expr(e, None) => const_arg(&GenericArgument::Const(e.clone())),
            _ => None,
        },
        _ => None,
    }
}

fn first_type_arg(ty: &Type) -> Option<Type> {
    generic_args(ty).into_iter().find_map(|a| match a {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    })
}

/// The shape a matrix type names, from nalgebra's aliases.
fn matrix_axes(name: &str, ty: &Type) -> Option<(Axis, Axis)> {
    use Axis::{Dyn, Fixed};
    let args = generic_args(ty);
    let small = |s: &str| s.parse::<usize>().ok().filter(|n| (1..=6).contains(n));
    Some(match name {
        "DMatrix" => (Dyn, Dyn),
        "DVector" => (Dyn, Fixed(1)),
        "RowDVector" => (Fixed(1), Dyn),
        "SMatrix" => (
            Fixed(const_arg(args.get(1)?)?),
            Fixed(const_arg(args.get(2)?)?),
        ),
        "SVector" => (Fixed(const_arg(args.get(1)?)?), Fixed(1)),
        "SRowVector" => (Fixed(1), Fixed(const_arg(args.get(1)?)?)),
        _ => {
            if let Some(rest) = name.strip_prefix("RowVector") {
                (Fixed(1), Fixed(small(rest)?))
            } else if let Some(rest) = name.strip_prefix("Vector") {
                (Fixed(small(rest)?), Fixed(1))
            } else if let Some(rest) = name.strip_prefix("Matrix") {
                match rest.split_once('x') {
                    Some((r, c)) => (Fixed(small(r)?), Fixed(small(c)?)),
                    None => {
                        let n = small(rest)?;
                        (Fixed(n), Fixed(n))
                    }
                }
            } else {
                return None;
            }
        }
    })
}

/// Read a type.
pub fn classify(ty: &Type, scalars: &Scalars) -> TypeInfo {
    match ty {
        Type::Reference(r) if r.mutability.is_none() => {
            let inner = classify(&r.elem, scalars);
            TypeInfo {
                by_ref: true,
                ..inner
            }
        }
        Type::Paren(p) => classify(&p.elem, scalars),
        Type::Group(g) => classify(&g.elem, scalars),
        _ => {
            let owned = ty.clone();
            if scalars.is_scalar(ty) {
                return TypeInfo {
                    kind: TypeKind::Scalar,
                    by_ref: false,
                    owned,
                    scalar: Some(ty.clone()),
                };
            }
            let kind = match last_ident(ty).and_then(|n| matrix_axes(&n, ty)) {
                Some((rows, cols)) => TypeKind::Matrix { rows, cols },
                None => TypeKind::Other,
            };
            let scalar = match kind {
                TypeKind::Matrix { .. } => first_type_arg(ty),
                _ => None,
            };
            TypeInfo {
                kind,
                by_ref: false,
                owned,
                scalar,
            }
        }
    }
}

/// Whether a value of node type `ty` already has the matrix type declared with axes `rows` × `cols`.
pub fn same_type(ty: Ty, rows: Axis, cols: Axis) -> bool {
    let same = |d: Dim, a: Axis| match (d, a) {
        (Dim::Fixed(n), Axis::Fixed(m)) => n == m,
        (Dim::Dyn(_), Axis::Dyn) => true,
        _ => false,
    };
    match ty {
        Ty::Matrix(s) => same(s.rows, rows) && same(s.cols, cols),
        _ => false,
    }
}
