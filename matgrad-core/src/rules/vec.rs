//! The toolkit of the whole-Jacobian rules: vec(·) of a value, and the structured factors of
//! the vec rules (diag(vec d) J as a row scaling, I ⊗ A and A ⊗ I applied block by block),
//! with the products of dimensions that the lengths of vec(·) need.

use std::collections::HashMap;

use crate::ir::{Graph, NodeId};
use crate::shape::{Dim, Shape, Ty};

/// Why there is no batched Jacobian: the path leaves vectors and scalars.
pub struct Unsupported;

pub type Jac = Result<Option<NodeId>, Unsupported>;

/// The pass's state: the number of columns (entries of x) and the products of dimensions made
/// so far, so that the length of vec(C) is one dimension however often it is asked for.
pub struct Batch {
    /// The number of columns: the entries of the variable x.
    pub n: Dim,
    products: HashMap<(Dim, Dim), Dim>,
}

pub(crate) fn is_row(g: &Graph, a: NodeId) -> bool {
    g.shape(a)
        .is_some_and(|s| s.rows == Dim::Fixed(1) && s.cols != Dim::Fixed(1))
}

pub(crate) fn is_vector(g: &Graph, a: NodeId) -> bool {
    match g.ty(a) {
        Ty::Scalar => true,
        Ty::Matrix(s) => s.rows == Dim::Fixed(1) || s.cols == Dim::Fixed(1),
        Ty::Unknown => false,
    }
}

impl Batch {
    /// a · b as a dimension: fixed if both are, otherwise a product variable whose run-time
    /// value generated code computes from the factors'.
    pub fn product(&mut self, g: &mut Graph, a: Dim, b: Dim) -> Dim {
        match (a, b) {
            (Dim::Fixed(1), d) | (d, Dim::Fixed(1)) => return d,
            // (A product too large for usize, of an absurd static type, is left to rustc.)
            (Dim::Fixed(x), Dim::Fixed(y)) if x.checked_mul(y).is_some() => {
                return Dim::Fixed(x * y)
            }
            _ => {}
        }
        let key = if a <= b { (a, b) } else { (b, a) };
        if let Some(&d) = self.products.get(&key) {
            return d;
        }
        let v = g.dims.fresh_product("the entries of a matrix", a, b);
        let code = |d: Dim| match d {
            Dim::Fixed(n) => Some(quote::quote!(#n)),
            Dim::Dyn(v) => g.dims.runtime(v).cloned(),
        };
        if let (Some(ca), Some(cb)) = (code(a), code(b)) {
            g.dims
                .add_source(v, crate::shape::DimSource::Expr(quote::quote!((#ca * #cb))));
        }
        let d = Dim::Dyn(v);
        self.products.insert(key, d);
        d
    }

    pub fn len_of_shape(&mut self, g: &mut Graph, s: Shape) -> Dim {
        self.product(g, s.rows, s.cols)
    }

    /// The number of entries of a value (1 for a scalar).
    pub fn len_of(&mut self, g: &mut Graph, a: NodeId) -> Dim {
        match g.shape(a) {
            Some(s) => self.len_of_shape(g, s),
            None => Dim::Fixed(1),
        }
    }

    /// vec(a) as a column; a scalar stays a scalar.
    pub fn column(&mut self, g: &mut Graph, a: NodeId) -> NodeId {
        match g.shape(a) {
            Some(s) if s.cols == Dim::Fixed(1) => a,
            Some(_) if is_row(g, a) => g.transpose(a),
            Some(_) => {
                let len = self.len_of(g, a);
                g.reshape(a, Shape::new(len, Dim::Fixed(1)))
            }
            None => a,
        }
    }

    /// diag(vec d) J (a scalar d scales J).
    pub fn row_scale(&mut self, g: &mut Graph, d: NodeId, j: NodeId) -> NodeId {
        if !g.ty(d).is_matrix() {
            return g.scale(d, j);
        }
        let d = self.column(g, d);
        g.row_scale(d, j)
    }

    /// vec(a) J_s for a scalar s whose Jacobian is the row J_s.
    pub fn outer(&mut self, g: &mut Graph, a: NodeId, js: NodeId) -> NodeId {
        if !g.ty(a).is_matrix() {
            return g.scale(a, js);
        }
        let a = self.column(g, a);
        g.matmul(a, js)
    }

    /// vec(a)ᵀ J: the Jacobian of ⟨a, b⟩ through b.
    pub fn inner(&mut self, g: &mut Graph, a: NodeId, j: NodeId) -> NodeId {
        if !g.ty(a).is_matrix() {
            return g.scale(a, j);
        }
        let a = self.column(g, a);
        let at = g.transpose(a);
        g.matmul(at, j)
    }

    /// (I_q ⊗ A) J: A applied to each block of rows of J (q = the columns of the product).
    pub fn identity_kron(&mut self, g: &mut Graph, a: NodeId, q: Dim, j: NodeId) -> NodeId {
        if q == Dim::Fixed(1) {
            return g.matmul(a, j);
        }
        let sa = g
            .shape(a)
            .unwrap_or(Shape::new(Dim::Fixed(1), Dim::Fixed(1)));
        let eye = g.identity(Shape::new(q, q));
        let rows = self.product(g, q, sa.rows);
        let cols = self.product(g, q, sa.cols);
        let k = g.kron(eye, a, Shape::new(rows, cols));
        g.matmul(k, j)
    }

    /// (M ⊗ I_p) J: block i of the result is Σₖ Mᵢₖ times block k of J.
    pub fn kron_identity(&mut self, g: &mut Graph, m: NodeId, p: Dim, j: NodeId) -> NodeId {
        if p == Dim::Fixed(1) {
            return g.matmul(m, j);
        }
        let sm = g
            .shape(m)
            .unwrap_or(Shape::new(Dim::Fixed(1), Dim::Fixed(1)));
        let eye = g.identity(Shape::new(p, p));
        let rows = self.product(g, sm.rows, p);
        let cols = self.product(g, sm.cols, p);
        let k = g.kron(m, eye, Shape::new(rows, cols));
        g.matmul(k, j)
    }
}

pub(crate) fn add(g: &mut Graph, x: Option<NodeId>, y: Option<NodeId>) -> Option<NodeId> {
    match (x, y) {
        (Some(a), Some(b)) => Some(g.add(a, b)),
        (a, b) => a.or(b),
    }
}

impl Batch {
    /// The toolkit for Jacobians with respect to a variable of shape `sx`.
    pub fn new(g: &mut Graph, sx: Shape) -> Batch {
        let mut batch = Batch {
            n: Dim::Fixed(0),
            products: HashMap::new(),
        };
        batch.n = batch.len_of_shape(g, sx);
        batch
    }
}
