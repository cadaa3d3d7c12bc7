//! Symbolic dimensions: seed 003's dimension analysis, done by machine.
//!
//! Every matrix value has a row and a column [`Dim`]. A dimension is either fixed in the type
//! (`Const<N>` in nalgebra, e.g. the single column of a `DVector`) or dynamic (`Dyn`), in which
//! case it is a variable whose value is only known at run time. Operations unify dimensions
//! (the inner dimensions of a product, the shapes of a sum); unification is a union-find over
//! the variables, and a conflict between two fixed sizes is a shape error.
//!
//! The *type* of a node (fixed or dynamic per axis) never changes through unification: a
//! `DMatrix` that is multiplied by a `RowDVector` still has a dynamic column count, even though
//! its value must be 1. This keeps the nalgebra type of every node known to the emitter.

use proc_macro2::TokenStream;

/// A dynamic dimension variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DimVar(pub u32);

/// One axis of a matrix type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    /// A size fixed by the type (`Const<N>`); `DVector`'s column count is `Fixed(1)`.
    Fixed(usize),
    /// A size known at run time only (`Dyn`).
    Dyn(DimVar),
}

/// The shape of a matrix value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    pub rows: Dim,
    pub cols: Dim,
}

impl Shape {
    pub fn new(rows: Dim, cols: Dim) -> Self {
        Shape { rows, cols }
    }
    pub fn transposed(self) -> Self {
        Shape::new(self.cols, self.rows)
    }
    /// Whether the type itself says this is a column vector (one fixed column).
    pub fn is_col_vector(self) -> bool {
        self.cols == Dim::Fixed(1)
    }
    pub fn is_row_vector(self) -> bool {
        self.rows == Dim::Fixed(1)
    }
}

/// The type of a value in a function body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    /// The scalar type (`f64`).
    Scalar,
    /// A matrix or vector of scalars.
    Matrix(Shape),
    /// A value matgrad does not differentiate (an index, a size, a value of a foreign type)
    /// or whose kind it cannot tell from the syntax alone.
    Unknown,
}

impl Ty {
    pub fn shape(self) -> Option<Shape> {
        match self {
            Ty::Matrix(s) => Some(s),
            _ => None,
        }
    }
    pub fn is_scalar(self) -> bool {
        self == Ty::Scalar
    }
    pub fn is_matrix(self) -> bool {
        matches!(self, Ty::Matrix(_))
    }
}

/// Where the run-time value of a dynamic dimension can be read from in generated code.
#[derive(Clone, Debug)]
pub enum DimSource {
    /// An expression of type `usize` (e.g. `x.nrows()`), valid anywhere in the generated body.
    Expr(TokenStream),
}

/// The table of dimension variables: union-find with a known size per class where one is known.
#[derive(Default, Debug)]
pub struct Dims {
    parent: Vec<u32>,
    fixed: Vec<Option<usize>>,
    names: Vec<String>,
    sources: Vec<Vec<DimSource>>,
    /// For a dimension that is the product of two others (a Kronecker product's), its factors.
    products: Vec<Option<(Dim, Dim)>>,
}

/// Two dimensions that were required to be equal but cannot be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DimConflict {
    pub left: usize,
    pub right: usize,
}

impl Dims {
    pub fn fresh(&mut self, name: impl Into<String>) -> DimVar {
        let id = self.parent.len() as u32;
        self.parent.push(id);
        self.fixed.push(None);
        self.names.push(name.into());
        self.sources.push(Vec::new());
        self.products.push(None);
        DimVar(id)
    }

    /// A dimension that is the product of two others.
    pub fn fresh_product(&mut self, name: impl Into<String>, a: Dim, b: Dim) -> DimVar {
        let v = self.fresh(name);
        self.products[v.0 as usize] = Some((a, b));
        v
    }

    /// The size of a dimension, given the sizes of the dimension variables that are bound
    /// (e.g. to the parameters' sizes at run time); for interpreting the graph.
    pub fn resolve(&self, d: Dim, bound: &dyn Fn(DimVar) -> Option<usize>) -> Option<usize> {
        match d {
            Dim::Fixed(n) => Some(n),
            Dim::Dyn(v) => {
                if let Some(n) = self.known(d) {
                    return Some(n);
                }
                let root = self.find(v);
                // Any variable of the class that is bound, or a product whose factors resolve.
                for (i, _) in self.parent.iter().enumerate() {
                    let w = DimVar(i as u32);
                    if self.find(w) != root {
                        continue;
                    }
                    if let Some(n) = bound(w) {
                        return Some(n);
                    }
                    if let Some((a, b)) = self.products[i] {
                        if let (Some(x), Some(y)) = (self.resolve(a, bound), self.resolve(b, bound))
                        {
                            return Some(x * y);
                        }
                    }
                }
                None
            }
        }
    }

    pub fn find(&self, v: DimVar) -> DimVar {
        let mut i = v.0;
        while self.parent[i as usize] != i {
            i = self.parent[i as usize];
        }
        DimVar(i)
    }

    pub fn add_source(&mut self, v: DimVar, src: DimSource) {
        self.sources[v.0 as usize].push(src);
    }

    /// A name for the dimension, for messages (`rows of x`).
    pub fn name(&self, v: DimVar) -> &str {
        &self.names[v.0 as usize]
    }

    /// The size of a dimension if it is known at compile time.
    pub fn known(&self, d: Dim) -> Option<usize> {
        match d {
            Dim::Fixed(n) => Some(n),
            Dim::Dyn(v) => self.fixed[self.find(v).0 as usize],
        }
    }

    /// Require two dimensions to be equal.
    pub fn unify(&mut self, a: Dim, b: Dim) -> Result<(), DimConflict> {
        match (a, b) {
            (Dim::Fixed(x), Dim::Fixed(y)) => {
                if x == y {
                    Ok(())
                } else {
                    Err(DimConflict { left: x, right: y })
                }
            }
            (Dim::Fixed(n), Dim::Dyn(v)) | (Dim::Dyn(v), Dim::Fixed(n)) => {
                let r = self.find(v).0 as usize;
                match self.fixed[r] {
                    Some(m) if m != n => Err(DimConflict { left: m, right: n }),
                    _ => {
                        self.fixed[r] = Some(n);
                        Ok(())
                    }
                }
            }
            (Dim::Dyn(u), Dim::Dyn(v)) => {
                let (ru, rv) = (self.find(u), self.find(v));
                if ru == rv {
                    return Ok(());
                }
                let (fu, fv) = (self.fixed[ru.0 as usize], self.fixed[rv.0 as usize]);
                if let (Some(x), Some(y)) = (fu, fv) {
                    if x != y {
                        return Err(DimConflict { left: x, right: y });
                    }
                }
                // The older variable stays the root, so the first-declared source wins.
                let (root, child) = if ru.0 < rv.0 { (ru, rv) } else { (rv, ru) };
                self.parent[child.0 as usize] = root.0;
                self.fixed[root.0 as usize] = fu.or(fv);
                let moved = std::mem::take(&mut self.sources[child.0 as usize]);
                self.sources[root.0 as usize].extend(moved);
                Ok(())
            }
        }
    }

    /// A run-time expression for a dynamic dimension, if any source is known.
    pub fn runtime(&self, v: DimVar) -> Option<&TokenStream> {
        let root = self.find(v);
        if let Some(DimSource::Expr(ts)) = self.sources[root.0 as usize].first() {
            return Some(ts);
        }
        None
    }

    /// Whether two dimensions are known to be equal.
    pub fn same(&self, a: Dim, b: Dim) -> bool {
        match (a, b) {
            (Dim::Dyn(u), Dim::Dyn(v)) => self.find(u) == self.find(v),
            _ => matches!((self.known(a), self.known(b)), (Some(x), Some(y)) if x == y),
        }
    }

    /// A rough size, for ordering work: known sizes as they are, unknown ones as "large".
    pub fn estimate(&self, d: Dim) -> f64 {
        self.known(d).map(|n| n as f64).unwrap_or(100.0)
    }
}
