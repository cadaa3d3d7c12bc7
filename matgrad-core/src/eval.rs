//! An interpreter for the expression graph over nalgebra, for testing: every derived node can be
//! evaluated and compared with finite differences of the function, without compiling user code.

use nalgebra::DMatrix;

use crate::ir::{Func, Graph, Index, NodeId, Op, Part};
use crate::shape::{Dim, DimVar, Ty};

/// A value: a scalar or a matrix (vectors are matrices with one column or row).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(f64),
    Matrix(DMatrix<f64>),
}

impl Value {
    pub fn scalar(&self) -> f64 {
        match self {
            Value::Scalar(s) => *s,
            Value::Matrix(m) if m.len() == 1 => m[0],
            Value::Matrix(_) => f64::NAN,
        }
    }
    pub fn matrix(&self) -> DMatrix<f64> {
        match self {
            Value::Scalar(s) => DMatrix::from_element(1, 1, *s),
            Value::Matrix(m) => m.clone(),
        }
    }
    /// The entries, column-major.
    pub fn entries(&self) -> Vec<f64> {
        match self {
            Value::Scalar(s) => vec![*s],
            Value::Matrix(m) => m.iter().copied().collect(),
        }
    }
    pub fn with_entry(&self, k: usize, v: f64) -> Value {
        match self {
            Value::Scalar(_) => Value::Scalar(v),
            Value::Matrix(m) => {
                let mut m = m.clone();
                m[k] = v;
                Value::Matrix(m)
            }
        }
    }
}

/// Why a graph could not be evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalError {
    /// A leaf the interpreter has no value for (user code copied through).
    Unsupported(NodeId),
    /// A size that no parameter determines.
    UnknownSize(NodeId),
    /// A singular matrix was inverted.
    Singular(NodeId),
}

fn index(i: &Index) -> usize {
    match i {
        Index::Lit(n) => *n,
        Index::Expr { .. } => usize::MAX,
    }
}

fn sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        v * 0.0
    }
}

fn apply(f: Func, v: f64) -> f64 {
    match f {
        Func::Exp => v.exp(),
        Func::Ln => v.ln(),
        Func::Ln1p => v.ln_1p(),
        Func::Sqrt => v.sqrt(),
        Func::Sin => v.sin(),
        Func::Cos => v.cos(),
        Func::Tanh => v.tanh(),
        Func::Abs => v.abs(),
        Func::Sign => sign(v),
        Func::Recip => v.recip(),
        Func::Signum => v.signum(),
        Func::ExpM1 => v.exp_m1(),
        Func::Log10 => v.log10(),
        Func::Log2 => v.log2(),
        Func::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        Func::Softplus => v.max(0.0) + (-v.abs()).exp().ln_1p(),
    }
}

/// The storage index of the first largest (smallest) entry.
fn arg_extremum(x: &DMatrix<f64>, max: bool) -> usize {
    let mut best = 0;
    for (k, &v) in x.iter().enumerate() {
        if (max && v > x[best]) || (!max && v < x[best]) {
            best = k;
        }
    }
    best
}

/// Evaluate every node up to and including `upto`, given the parameters' values (by position).
pub fn eval(g: &Graph, params: &[Value], upto: NodeId) -> Result<Vec<Value>, EvalError> {
    // Bind each parameter's dimension variables to its actual size.
    let mut bound: Vec<(DimVar, usize)> = Vec::new();
    for id in 0..g.len() {
        let n = NodeId(id as u32);
        if let (Op::Param(p), Ty::Matrix(s)) = (g.op(n), g.ty(n)) {
            if let Some(Value::Matrix(m)) = params.get(*p) {
                if let Dim::Dyn(v) = s.rows {
                    bound.push((v, m.nrows()));
                }
                if let Dim::Dyn(v) = s.cols {
                    bound.push((v, m.ncols()));
                }
            }
        }
    }
    let lookup = |v: DimVar| bound.iter().find(|(w, _)| *w == v).map(|(_, n)| *n);
    let size = |n: NodeId, d: Dim| g.dims.resolve(d, &lookup).ok_or(EvalError::UnknownSize(n));

    let mut vals = vec![Value::Scalar(f64::NAN); upto.index() + 1];
    let top: Vec<NodeId> = (0..=upto.index())
        .map(|id| NodeId(id as u32))
        .filter(|&n| g.scope_of(n).is_none())
        .collect();
    let mut run = Runner {
        g,
        params,
        size: &size,
        upto,
        tapes: std::collections::HashMap::new(),
    };
    run.nodes(&mut vals, &top)?;
    Ok(vals)
}

type Size<'a> = &'a dyn Fn(NodeId, Dim) -> Result<usize, EvalError>;

/// The value of one node that is not a loop's, from its arguments' values.
fn compute(
    g: &Graph,
    params: &[Value],
    size: Size,
    vals: &[Value],
    n: NodeId,
) -> Result<Value, EvalError> {
    let args = g.args(n);
    let m = |i: usize| vals[args[i].index()].matrix();
    let s = |i: usize| vals[args[i].index()].scalar();
    let is_matrix = g.ty(n).is_matrix();
    let shape = || -> Result<(usize, usize), EvalError> {
        let sh = g.shape(n).ok_or(EvalError::UnknownSize(n))?;
        Ok((size(n, sh.rows)?, size(n, sh.cols)?))
    };
    // Entrywise operations on either kind.
    let map1 = |f: &dyn Fn(f64) -> f64| -> Value {
        match &vals[args[0].index()] {
            Value::Scalar(x) => Value::Scalar(f(*x)),
            Value::Matrix(x) => Value::Matrix(x.map(f)),
        }
    };
    let zip = |f: &dyn Fn(f64, f64) -> f64| -> Value {
        match (&vals[args[0].index()], &vals[args[1].index()]) {
            (Value::Scalar(x), Value::Scalar(y)) => Value::Scalar(f(*x, *y)),
            (x, y) => Value::Matrix(x.matrix().zip_map(&y.matrix(), f)),
        }
    };
    let v = match g.op(n) {
        Op::Param(p) => params.get(*p).cloned().ok_or(EvalError::Unsupported(n))?,
        // Set by the loops (`Runner`).
        Op::Carry { .. } | Op::LoopOut { .. } | Op::LoopAdjoint { .. } => vals[n.index()].clone(),
        Op::Local(_) | Op::Opaque(_) => return Err(EvalError::Unsupported(n)),
        Op::Lit(_) => Value::Scalar(g.lit_value(n).unwrap_or(f64::NAN)),
        Op::Identity => {
            let (r, c) = shape()?;
            Value::Matrix(DMatrix::identity(r, c))
        }
        Op::Ones => {
            let (r, c) = shape()?;
            Value::Matrix(DMatrix::from_element(r, c, 1.0))
        }
        Op::Commutation { rows } => {
            let (len, _) = shape()?;
            let r = size(n, *rows)?;
            let c = len.checked_div(r).unwrap_or(0);
            let mut k = DMatrix::zeros(len, len);
            // vec(Aᵀ)[j + i c] = vec(A)[i + j r]
            for i in 0..r {
                for j in 0..c {
                    k[(j + i * c, i + j * r)] = 1.0;
                }
            }
            Value::Matrix(k)
        }
        Op::Reshape => {
            let (r, c) = shape()?;
            Value::Matrix(DMatrix::from_iterator(r, c, m(0).iter().cloned()))
        }
        Op::Zeros => {
            let (r, c) = shape()?;
            Value::Matrix(DMatrix::zeros(r, c))
        }
        Op::Neg => map1(&|x| -x),
        Op::Add => zip(&|x, y| x + y),
        Op::Sub => zip(&|x, y| x - y),
        Op::Transpose => Value::Matrix(m(0).transpose()),
        Op::Trace => Value::Scalar(m(0).trace()),
        Op::Sum => Value::Scalar(m(0).sum()),
        Op::Entry(i, j) => Value::Scalar(m(0)[(index(i), index(j))]),
        Op::Scatter(i, j) => {
            let (r, c) = shape()?;
            let mut out = DMatrix::zeros(r, c);
            out[(index(i), index(j))] = s(0);
            Value::Matrix(out)
        }
        Op::Triangle(part) => {
            let x = m(0);
            Value::Matrix(DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| match part {
                Part::Lower if i >= j => x[(i, j)],
                Part::Upper if i <= j => x[(i, j)],
                Part::LowerHalf if i > j => x[(i, j)],
                Part::LowerHalf if i == j => 0.5 * x[(i, j)],
                _ => 0.0,
            }))
        }
        Op::Diagonal => Value::Matrix(DMatrix::from_column_slice(
            m(0).nrows().min(m(0).ncols()),
            1,
            m(0).diagonal().as_slice(),
        )),
        Op::FromDiagonal => {
            let v = m(0);
            Value::Matrix(DMatrix::from_diagonal(&v.column(0)))
        }
        Op::RowSum => Value::Matrix(DMatrix::from_fn(1, m(0).ncols(), |_, j| {
            m(0).column(j).sum()
        })),
        Op::ColumnSum => {
            let x = m(0);
            Value::Matrix(DMatrix::from_fn(x.nrows(), 1, |i, _| x.row(i).sum()))
        }
        Op::RepeatRow | Op::RepeatColumn => {
            let (r, c) = shape()?;
            let x = m(0);
            let by_row = *g.op(n) == Op::RepeatRow;
            Value::Matrix(DMatrix::from_fn(
                r,
                c,
                |i, j| if by_row { x[j] } else { x[i] },
            ))
        }
        Op::View(i, j) => {
            let (r, c) = shape()?;
            let x = m(0);
            let (i, j) = (index(i), index(j));
            if i + r > x.nrows() || j + c > x.ncols() {
                return Err(EvalError::Unsupported(n));
            }
            Value::Matrix(x.view((i, j), (r, c)).into_owned())
        }
        Op::Embed(i, j) => {
            let (r, c) = shape()?;
            let x = m(0);
            let (i, j) = (index(i), index(j));
            if i + x.nrows() > r || j + x.ncols() > c {
                return Err(EvalError::Unsupported(n));
            }
            let mut out = DMatrix::zeros(r, c);
            out.view_mut((i, j), x.shape()).copy_from(&x);
            Value::Matrix(out)
        }
        Op::Cross => {
            let (x, y) = (m(0), m(1));
            let (x, y) = (
                nalgebra::Vector3::new(x[0], x[1], x[2]),
                nalgebra::Vector3::new(y[0], y[1], y[2]),
            );
            let z = x.cross(&y);
            Value::Matrix(DMatrix::from_column_slice(3, 1, z.as_slice()))
        }
        Op::RowScale => {
            let (dv, x) = (m(0), m(1));
            Value::Matrix(DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| {
                dv[i] * x[(i, j)]
            }))
        }
        Op::TriSolve { upper, transpose } => {
            let (t, b) = (m(0), m(1));
            let out = match (upper, transpose) {
                (false, false) => t.solve_lower_triangular(&b),
                (true, false) => t.solve_upper_triangular(&b),
                (false, true) => t.tr_solve_lower_triangular(&b),
                (true, true) => t.tr_solve_upper_triangular(&b),
            };
            Value::Matrix(out.ok_or(EvalError::Singular(n))?)
        }
        Op::Cholesky => Value::Matrix(m(0).cholesky().ok_or(EvalError::Singular(n))?.unpack()),
        Op::Extremum { max } => {
            let x = m(0);
            let k = arg_extremum(&x, *max);
            Value::Scalar(x[k])
        }
        Op::ArgExtremum { max } => {
            let x = m(0);
            let mut out = DMatrix::zeros(x.nrows(), x.ncols());
            out[arg_extremum(&x, *max)] = 1.0;
            Value::Matrix(out)
        }
        Op::KronAdjLeft => {
            let (c, b) = (m(0), m(1));
            let (rows, cols) = shape()?;
            let (p, q) = b.shape();
            Value::Matrix(DMatrix::from_fn(rows, cols, |i, j| {
                (0..p)
                    .flat_map(|k| (0..q).map(move |l| (k, l)))
                    .map(|(k, l)| c[(i * p + k, j * q + l)] * b[(k, l)])
                    .sum()
            }))
        }
        Op::KronAdjRight => {
            let (c, a) = (m(0), m(1));
            let (p, q) = shape()?;
            let (mm, nn) = a.shape();
            Value::Matrix(DMatrix::from_fn(p, q, |k, l| {
                (0..mm)
                    .flat_map(|i| (0..nn).map(move |j| (i, j)))
                    .map(|(i, j)| a[(i, j)] * c[(i * p + k, j * q + l)])
                    .sum()
            }))
        }
        Op::MatMul => Value::Matrix(m(0) * m(1)),
        Op::Scale => Value::Matrix(m(1) * s(0)),
        Op::Mul => zip(&|x, y| x * y),
        Op::Kron => Value::Matrix(m(0).kronecker(&m(1))),
        Op::Dot => Value::Scalar(m(0).dot(&m(1))),
        Op::Div => {
            if g.ty(args[1]).is_matrix() || !is_matrix {
                zip(&|x, y| x / y)
            } else {
                Value::Matrix(m(0) / s(1))
            }
        }
        Op::Inverse => Value::Matrix(m(0).try_inverse().ok_or(EvalError::Singular(n))?),
        Op::Det => Value::Scalar(m(0).determinant()),
        Op::NormSq => Value::Scalar(m(0).norm_squared()),
        Op::Norm => Value::Scalar(m(0).norm()),
        Op::Elem(f) => map1(&|x| apply(*f, x)),
        Op::Powi(k) => map1(&|x| x.powi(*k)),
        Op::Powf => {
            let c = s(1);
            map1(&|x| x.powf(c))
        }
        Op::AddScalar => {
            let c = s(1);
            map1(&|x| x + c)
        }
        Op::Max => {
            let c = s(1);
            map1(&|x| x.max(c))
        }
        Op::Min => {
            let c = s(1);
            map1(&|x| x.min(c))
        }
        Op::Above => {
            let c = s(1);
            map1(&|x| if x > c { 1.0 } else { 0.0 })
        }
        // The interpreter knows no constant of unknown kind.
        Op::KindProduct { .. } => return Err(EvalError::Unsupported(n)),
        Op::Compare(cmp) => {
            let ind = |x: f64, y: f64| if cmp.holds(x, y) { 1.0 } else { 0.0 };
            match (&vals[args[0].index()], &vals[args[1].index()]) {
                (Value::Scalar(x), Value::Scalar(y)) => Value::Scalar(ind(*x, *y)),
                (Value::Matrix(x), Value::Scalar(y)) => Value::Matrix(x.map(|v| ind(v, *y))),
                (Value::Scalar(x), Value::Matrix(y)) => Value::Matrix(y.map(|v| ind(*x, v))),
                (Value::Matrix(x), Value::Matrix(y)) => Value::Matrix(x.zip_map(y, ind)),
            }
        }
        Op::Select => match &vals[args[0].index()] {
            Value::Scalar(c) => vals[args[if *c != 0.0 { 1 } else { 2 }].index()].clone(),
            Value::Matrix(c) => {
                let (x, y) = (m(1), m(2));
                Value::Matrix(c.zip_zip_map(&x, &y, |c, x, y| if c != 0.0 { x } else { y }))
            }
        },
        Op::MatPow(k) => {
            let x = m(0);
            let mut p = x.clone();
            for _ in 1..*k {
                p = &p * &x;
            }
            Value::Matrix(p)
        }
        Op::Stack => Value::Matrix(DMatrix::from_iterator(
            args.len(),
            1,
            (0..args.len()).map(s),
        )),
    };
    Ok(v)
}

/// The value of one node.
pub fn eval_node(g: &Graph, params: &[Value], n: NodeId) -> Result<Value, EvalError> {
    eval(g, params, n).map(|mut v| v.pop().unwrap_or(Value::Scalar(f64::NAN)))
}

type Tape = (Vec<NodeId>, Vec<Vec<Value>>);

/// Runs the graph's nodes in order, and its loops as loops.
struct Runner<'a> {
    g: &'a Graph,
    params: &'a [Value],
    size: Size<'a>,
    upto: NodeId,
    /// For each primal loop and each tangent loop of one, its body's nodes and their values in
    /// each iteration.
    tapes: std::collections::HashMap<usize, Tape>,
}

impl Runner<'_> {
    fn nodes(&mut self, vals: &mut [Value], nodes: &[NodeId]) -> Result<(), EvalError> {
        let g = self.g;
        for &n in nodes {
            match *g.op(n) {
                Op::LoopOut { lp, .. } | Op::LoopAdjoint { lp, .. } => {
                    if g.loops[lp].outs.first() == Some(&n) {
                        match g.loops[lp].kind {
                            crate::ir::loops::LoopKind::Primal => self.forward(vals, lp)?,
                            crate::ir::loops::LoopKind::Adjoint(_) => self.adjoint(vals, lp)?,
                            crate::ir::loops::LoopKind::Tangent(_) => self.tangent(vals, lp)?,
                        }
                    }
                }
                _ => vals[n.index()] = compute(g, self.params, self.size, vals, n)?,
            }
        }
        Ok(())
    }

    /// The nodes of loop `lp`'s own scope, in order.
    fn scope(&self, lp: usize) -> Vec<NodeId> {
        (0..=self.upto.index())
            .map(|id| NodeId(id as u32))
            .filter(|&n| self.g.scope_of(n) == Some(lp))
            .collect()
    }

    fn forward(&mut self, vals: &mut [Value], lp: usize) -> Result<(), EvalError> {
        let g = self.g;
        let l = &g.loops[lp];
        let first = l.outs[0];
        let count = trip_count(&l.header.iter.to_string()).ok_or(EvalError::Unsupported(first))?;
        let body = self.scope(lp);
        let mut state: Vec<Value> = l
            .carries
            .iter()
            .map(|c| vals[c.init.index()].clone())
            .collect();
        let mut tape = Vec::new();
        for _ in 0..count {
            for (c, v) in l.carries.iter().zip(&state) {
                vals[c.param.index()] = v.clone();
            }
            self.nodes(vals, &body)?;
            tape.push(body.iter().map(|b| vals[b.index()].clone()).collect());
            let ends = l.breaks.iter().any(|c| vals[c.index()].scalar() != 0.0);
            state = l
                .carries
                .iter()
                .map(|c| vals[c.out.index()].clone())
                .collect();
            if ends {
                break;
            }
        }
        self.tapes.insert(lp, (body, tape));
        for (j, o) in l.outs.iter().enumerate() {
            if o.index() < vals.len() {
                vals[o.index()] = state[j].clone();
            }
        }
        Ok(())
    }

    fn adjoint(&mut self, vals: &mut [Value], b: usize) -> Result<(), EvalError> {
        let g = self.g;
        let l = &g.loops[b];
        let crate::ir::loops::LoopKind::Adjoint(adj) = &l.kind else {
            return Ok(());
        };
        let fwd = &g.loops[adj.forward];
        let body = self.scope(b);
        let (primal, tape) = self.tapes.get(&adj.forward).cloned().unwrap_or_default();
        let mut state: Vec<Value> = l
            .carries
            .iter()
            .map(|c| vals[c.init.index()].clone())
            .collect();
        let mut acc: Vec<Option<Value>> = vec![None; adj.contributions.len()];
        for entry in tape.iter().rev() {
            for (p, v) in primal.iter().zip(entry) {
                vals[p.index()] = v.clone();
            }
            // Nodes of the forward scope that differentiation built after the loop may read
            // values computed after it: computed again here.
            let later: Vec<NodeId> = primal
                .iter()
                .copied()
                .filter(|p| *p > fwd.outs[0])
                .collect();
            self.nodes(vals, &later)?;
            for (c, v) in l.carries.iter().zip(&state) {
                vals[c.param.index()] = v.clone();
            }
            self.nodes(vals, &body)?;
            for (a, c) in acc.iter_mut().zip(&adj.contributions) {
                if let Some(c) = c {
                    add_to(a, vals[c.index()].clone());
                }
            }
            state = l
                .carries
                .iter()
                .map(|c| vals[c.out.index()].clone())
                .collect();
        }
        let nc = fwd.carries.len();
        let active: Vec<usize> = (0..nc)
            .filter(|&j| g.is_active(fwd.carries[j].param))
            .collect();
        for &o in &l.outs {
            if o.index() >= vals.len() {
                continue;
            }
            let Op::LoopAdjoint { arg, .. } = *g.op(o) else {
                continue;
            };
            vals[o.index()] = if arg < nc {
                let k = active.iter().position(|&j| j == arg).unwrap_or(0);
                state[k].clone()
            } else {
                match &acc[arg - nc] {
                    Some(v) => v.clone(),
                    None => self.zero_of(fwd.args[arg])?,
                }
            };
        }
        Ok(())
    }
}

impl Runner<'_> {
    /// A tangent loop, run beside its primal loop (again: the interpreter does not share
    /// iterations between loops).
    fn tangent(&mut self, vals: &mut [Value], t: usize) -> Result<(), EvalError> {
        use crate::ir::loops::LoopKind;
        let g = self.g;
        let tl = &g.loops[t];
        let LoopKind::Tangent(tk) = &tl.kind else {
            return Ok(());
        };
        let x = tk.primal;
        let xl = &g.loops[x];
        let (xb, tb) = (self.scope(x), self.scope(t));
        let mut xs: Vec<Value> = xl
            .carries
            .iter()
            .map(|c| vals[c.init.index()].clone())
            .collect();
        let mut ts: Vec<Value> = tl
            .carries
            .iter()
            .map(|c| vals[c.init.index()].clone())
            .collect();
        let mut acc: Vec<Option<Value>> = vec![None; tk.contributions.len()];
        let mut step = |run: &mut Self, vals: &mut [Value]| -> Result<(), EvalError> {
            for (c, v) in xl.carries.iter().zip(&xs) {
                vals[c.param.index()] = v.clone();
            }
            for (c, v) in tl.carries.iter().zip(&ts) {
                vals[c.param.index()] = v.clone();
            }
            run.nodes(vals, &xb)?;
            run.nodes(vals, &tb)?;
            for (a, c) in acc.iter_mut().zip(&tk.contributions) {
                if let Some(c) = c {
                    add_to(a, vals[c.index()].clone());
                }
            }
            xs = xl
                .carries
                .iter()
                .map(|c| vals[c.out.index()].clone())
                .collect();
            ts = tl
                .carries
                .iter()
                .map(|c| vals[c.out.index()].clone())
                .collect();
            Ok(())
        };
        match &xl.kind {
            LoopKind::Adjoint(a) => {
                let source = tk.forward.unwrap_or(a.forward);
                let (nodes, tape) = self.tapes.get(&source).cloned().unwrap_or_default();
                for entry in tape.iter().rev() {
                    for (p, v) in nodes.iter().zip(entry) {
                        vals[p.index()] = v.clone();
                    }
                    step(self, vals)?;
                }
            }
            _ => {
                let count = trip_count(&xl.header.iter.to_string())
                    .ok_or(EvalError::Unsupported(tl.outs[0]))?;
                let mut tape = Vec::new();
                let recorded: Vec<NodeId> = xb.iter().chain(&tb).copied().collect();
                for _ in 0..count {
                    step(self, vals)?;
                    tape.push(recorded.iter().map(|n| vals[n.index()].clone()).collect());
                }
                self.tapes.insert(t, (recorded, tape));
            }
        }
        let nc = tl.carries.len();
        for &o in &tl.outs {
            let Op::LoopOut { out, .. } = *g.op(o) else {
                continue;
            };
            if o.index() >= vals.len() {
                continue;
            }
            vals[o.index()] = if out < nc {
                ts[out].clone()
            } else {
                match &acc[out - nc] {
                    Some(v) => v.clone(),
                    // No iteration ran: the sum is zero, of the contribution's shape.
                    None => self.zero_of(o)?,
                }
            };
        }
        Ok(())
    }
}

impl Runner<'_> {
    /// The zero of a node's type.
    fn zero_of(&self, n: NodeId) -> Result<Value, EvalError> {
        Ok(match self.g.shape(n) {
            Some(sh) => Value::Matrix(DMatrix::zeros(
                (self.size)(n, sh.rows)?,
                (self.size)(n, sh.cols)?,
            )),
            None => Value::Scalar(0.0),
        })
    }
}

/// `acc += v`, where `None` is an empty sum.
fn add_to(acc: &mut Option<Value>, v: Value) {
    *acc = Some(match acc.take() {
        None => v,
        Some(Value::Scalar(x)) => Value::Scalar(x + v.scalar()),
        Some(Value::Matrix(x)) => Value::Matrix(x + v.matrix()),
    });
}

/// The number of iterations of `a..b`, `a..=b`, `(a..b).rev()` and `(a..b).step_by(k)` with
/// integer literals: the loops the randomized tests draw.
fn trip_count(iter: &str) -> Option<usize> {
    let text: String = iter.chars().filter(|c| !c.is_whitespace()).collect();
    let (range, step) = match text.split_once(").step_by(") {
        Some((r, k)) => (
            r.trim_start_matches('('),
            k.trim_end_matches(')').parse().ok()?,
        ),
        None => (
            text.trim_end_matches(".rev()")
                .trim_start_matches('(')
                .trim_end_matches(')'),
            1usize,
        ),
    };
    let range = range.trim_end_matches(").rev(").trim_end_matches(')');
    let (a, b, inclusive) = match range.split_once("..=") {
        Some((a, b)) => (a, b, true),
        None => {
            let (a, b) = range.split_once("..")?;
            (a, b, false)
        }
    };
    let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
    let n = if inclusive {
        (b + 1).saturating_sub(a)
    } else {
        b.saturating_sub(a)
    };
    Some(n.div_ceil(step.max(1)))
}
