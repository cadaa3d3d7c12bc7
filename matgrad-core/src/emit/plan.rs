//! Planning, before any code is written: which nodes the outputs need and how often each is
//! read, which temporaries may be moved, and which nodes are never built (transposes folded into
//! products, inverses applied as solves, embeddings added in place, products fused into scalings).

use super::Emitter;
use crate::ir::{NodeId, Op};
use crate::shape::Dim;

impl Emitter<'_> {
    /// The arguments the emitted code for `n` actually reads: a scaled identity or all-ones
    /// matrix is built directly (`from_diagonal_element`, `from_element`), not from `I` or `J`.
    pub(super) fn reads(&self, n: NodeId) -> Vec<NodeId> {
        let g = self.g;
        let args = g.args(n);
        if let Some(p) = self.one_pass.get(n.index()).and_then(Option::as_ref) {
            return p.reads();
        }
        if let Some(s) = self.structured(n) {
            return s.reads();
        }
        match g.op(n) {
            Op::Scale if matches!(g.op(args[1]), Op::Ones | Op::Identity) => vec![args[0]],
            // sum(J) is the number of entries, known from the shape.
            Op::Sum if matches!(g.op(args[0]), Op::Ones) => vec![],
            Op::LoopOut { .. } | Op::LoopAdjoint { .. } => self.loop_reads(n),
            _ => args.to_vec(),
        }
    }

    /// A Kronecker product with an identity, or a product with one or with the commutation
    /// matrix: applied block by block or as a permutation, never built unless it is the value.
    pub(super) fn structured(&self, n: NodeId) -> Option<Structured> {
        let g = self.g;
        let args = g.args(n);
        let is_eye = |x: NodeId| matches!(g.op(x), Op::Identity);
        match g.op(n) {
            Op::Kron if is_eye(args[0]) => Some(Structured::IdentityKron(args[1])),
            Op::Kron if is_eye(args[1]) => Some(Structured::KronIdentity(args[0])),
            Op::MatMul => {
                let (a, j) = (args[0], args[1]);
                match g.op(a) {
                    Op::Kron if is_eye(g.args(a)[0]) => {
                        Some(Structured::ApplyIdentityKron(g.args(a)[1], j))
                    }
                    Op::Kron if is_eye(g.args(a)[1]) => {
                        Some(Structured::ApplyKronIdentity(g.args(a)[0], j))
                    }
                    Op::Commutation { rows } => Some(Structured::Commute(*rows, j)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Decide which nodes `outputs` need, how often each is read, and which transposes are
    /// folded into `tr_mul`. Returns the needed set.
    pub fn plan(&mut self, outputs: &[NodeId]) -> Vec<bool> {
        let g = self.g;
        self.written.borrow_mut().clear();
        self.one_pass = vec![None; g.len()];
        let mut needed = self.needed_by(outputs);
        if self.plan_one_pass(&needed, outputs) {
            // The chains fused into one-pass products are no longer read.
            needed = self.needed_by(outputs);
        }
        self.uses = vec![0; g.len()];
        for (id, &is_needed) in needed.iter().enumerate() {
            if is_needed {
                for a in self.reads(NodeId(id as u32)) {
                    self.uses[a.index()] += 1;
                }
            }
        }
        for &o in outputs {
            self.uses[o.index()] += 1;
        }
        self.last_reader = vec![None; g.len()];
        for (id, &is_needed) in needed.iter().enumerate() {
            if is_needed {
                for a in self.reads(NodeId(id as u32)) {
                    self.last_reader[a.index()] = Some(NodeId(id as u32));
                }
            }
        }
        self.returned = vec![false; g.len()];
        for &o in outputs {
            self.returned[o.index()] = true;
        }
        self.plan_solves(&needed);
        self.fused = vec![false; g.len()];
        for (id, &is_needed) in needed.iter().enumerate() {
            let n = NodeId(id as u32);
            let by_scaling =
                self.last_reader[id].is_some_and(|r| *g.op(r) == Op::Scale && g.args(r)[1] == n);
            if is_needed
                && *g.op(n) == Op::Mul
                && g.ty(n).is_matrix()
                && self.uses[id] == 1
                && !self.returned[id]
                && by_scaling
                && g.args(n).iter().all(|&x| g.ty(x) == g.ty(n))
            {
                self.fused[id] = true;
            }
        }
        self.embedded = vec![false; g.len()];
        for (id, &is_needed) in needed.iter().enumerate() {
            let n = NodeId(id as u32);
            let in_sum = |r: NodeId| match g.op(r) {
                Op::Add => g.args(r)[0] != g.args(r)[1],
                Op::Sub => g.args(r)[1] == n && g.args(r)[0] != n,
                _ => false,
            };
            if is_needed
                && matches!(g.op(n), Op::Embed(..) | Op::RepeatRow | Op::RepeatColumn)
                && self.uses[id] == 1
                && !self.returned[id]
                && self.last_reader[id].is_some_and(|r| {
                    // One term of the sum must be a matrix to add into.
                    let other_embedded = g
                        .args(r)
                        .iter()
                        .any(|&x| x != n && self.embedded[x.index()]);
                    in_sum(r) && g.ty(r) == g.ty(n) && !other_embedded
                })
            {
                self.embedded[id] = true;
            }
        }
        self.folded = vec![false; g.len()];
        for (id, &is_needed) in needed.iter().enumerate() {
            let n = NodeId(id as u32);
            // A transpose read once, as the left factor of a product, is not formed: `tr_mul`
            // reads it for matrix·vector, and `tr_gemm` (gemm on a strided view) for
            // matrix·matrix, where `tr_mul` has no blocking (see PERF-NOTES).
            if is_needed && *g.op(n) == Op::MatMul {
                let a = g.args(n)[0];
                let once = self.uses[a.index()] == 1 && !self.solved_transpose[a.index()];
                if *g.op(a) == Op::Transpose && once {
                    self.folded[a.index()] = true;
                }
            }
        }
        self.plan_scopes(&needed);
        needed
    }

    /// The nodes that `outputs` need, through what each node's code reads.
    fn needed_by(&self, outputs: &[NodeId]) -> Vec<bool> {
        let g = self.g;
        let mut needed = vec![false; g.len()];
        for &o in outputs {
            needed[o.index()] = true;
        }
        loop {
            for id in (0..g.len()).rev() {
                if needed[id] {
                    for a in self.reads(NodeId(id as u32)) {
                        needed[a.index()] = true;
                    }
                }
            }
            // A carried value read in an iteration needs its value at the end of one.
            if !self.carries_needed(&mut needed) {
                break;
            }
        }
        needed
    }

    /// The needed nodes that read each node.
    pub(super) fn readers(&self, needed: &[bool]) -> Vec<Vec<NodeId>> {
        let mut readers: Vec<Vec<NodeId>> = vec![Vec::new(); self.g.len()];
        for (id, &is_needed) in needed.iter().enumerate() {
            if is_needed {
                for a in self.reads(NodeId(id as u32)) {
                    readers[a.index()].push(NodeId(id as u32));
                }
            }
        }
        readers
    }

    /// Products Xᵀ r where r is a chain of entrywise operations of z = X w (a column vector,
    /// X of run-time size), read by nothing else: the gradients of least squares, ridge and
    /// logistic regression. Computed by `tr_mul_map` (`src/runtime.rs`), which reads X once
    /// for both products where X is large, instead of X w, the chain's vectors and Xᵀ r one
    /// after the other. Returns whether any was found.
    fn plan_one_pass(&mut self, needed: &[bool], outputs: &[NodeId]) -> bool {
        let g = self.g;
        let readers = self.readers(needed);
        let mut found = false;
        for (id, &is_needed) in needed.iter().enumerate() {
            let p = NodeId(id as u32);
            if !is_needed || *g.op(p) != Op::MatMul {
                continue;
            }
            let (t, r) = (g.args(p)[0], g.args(p)[1]);
            if *g.op(t) != Op::Transpose || readers[t.index()].len() != 1 || outputs.contains(&t) {
                continue;
            }
            let x = g.args(t)[0];
            let leaf = matches!(g.op(x), Op::Param(_) | Op::Local(_) | Op::Opaque(_));
            let column = |n: NodeId| g.shape(n).is_some_and(|s| s.cols == Dim::Fixed(1));
            let dynamic = g.shape(x).is_some_and(|s| matches!(s.rows, Dim::Dyn(_)));
            if !leaf || !dynamic || !column(r) {
                continue;
            }
            // z = X u: the candidates, each tried as the chain's start (an HVP has X w and X v).
            // Every node of the chain must be read by the chain (or, for r, the product) alone,
            // and all but z once (the closure computes each node once per entry).
            let closed = |chain: &Chain| {
                chain.nodes.iter().all(|&c| {
                    // (the chain and its product in one scope: a loop body's values stay in it)
                    g.scope_of(c) == g.scope_of(p)
                        && !outputs.contains(&c)
                        && readers[c.index()]
                            .iter()
                            .all(|q| *q == p || chain.nodes.contains(q))
                        && (c == chain.z || readers[c.index()].len() == 1)
                })
            };
            let start = (0..id).map(|k| NodeId(k as u32)).find_map(|z| {
                let is_z = needed[z.index()]
                    && *g.op(z) == Op::MatMul
                    && g.args(z)[0] == x
                    && column(g.args(z)[1]);
                let mut chain = Chain {
                    z,
                    nodes: Vec::new(),
                    outside: Vec::new(),
                };
                (is_z && chain.walk(g, r) && closed(&chain)).then_some(chain)
            });
            let Some(chain) = start else { continue };
            let z = chain.z;
            {
                self.one_pass[id] = Some(OnePass {
                    x,
                    w: g.args(z)[1],
                    z,
                    r,
                    outside: chain.outside,
                });
                found = true;
            }
        }
        found
    }

    /// Which needed inverses are only ever factors of products (directly or transposed), so
    /// that solves with an LU factorisation replace the inverse: X⁻¹ B, Aᵀ X⁻¹, X⁻ᵀ A.
    fn plan_solves(&mut self, needed: &[bool]) {
        let g = self.g;
        let readers = self.readers(needed);
        // A product of `m` with another matrix, m B or U m: a solve with k right-hand sides
        // costs 2n²k after the factorisation, the inverse 2n³ before its product.
        let by_vector = |r: NodeId, m: NodeId| {
            *g.op(r) == Op::MatMul && {
                let (a, b) = (g.args(r)[0], g.args(r)[1]);
                (a == m && b != m) || (b == m && a != m)
            }
        };
        self.solved = vec![false; g.len()];
        self.solved_transpose = vec![false; g.len()];
        for id in 0..g.len() {
            let c = NodeId(id as u32);
            if !needed[id] || *g.op(c) != Op::Inverse || self.returned[id] || readers[id].is_empty()
            {
                continue;
            }
            let ok = readers[id].iter().all(|&r| {
                by_vector(r, c)
                    || (*g.op(r) == Op::Transpose
                        && !self.returned[r.index()]
                        && !readers[r.index()].is_empty()
                        && readers[r.index()].iter().all(|&q| by_vector(q, r)))
            });
            if ok {
                self.solved[id] = true;
                for &r in &readers[id] {
                    if *g.op(r) == Op::Transpose {
                        self.solved_transpose[r.index()] = true;
                    }
                }
            }
        }
    }
}

/// The structured forms of Kronecker products with an identity and of the commutation matrix.
#[derive(Clone, Copy)]
pub(super) enum Structured {
    /// I ⊗ A: A copied into the diagonal blocks
    IdentityKron(NodeId),
    /// A ⊗ I: the entries of A spread along diagonals
    KronIdentity(NodeId),
    /// (I ⊗ A) J: A times each block of rows of J
    ApplyIdentityKron(NodeId, NodeId),
    /// (M ⊗ I) J: block i is Σₖ Mᵢₖ times block k of J
    ApplyKronIdentity(NodeId, NodeId),
    /// K J for matrices with this many rows: the rows of J permuted
    Commute(Dim, NodeId),
}

impl Structured {
    fn reads(self) -> Vec<NodeId> {
        match self {
            Structured::IdentityKron(a) | Structured::KronIdentity(a) => vec![a],
            Structured::ApplyIdentityKron(a, j) | Structured::ApplyKronIdentity(a, j) => vec![a, j],
            Structured::Commute(_, j) => vec![j],
        }
    }
}

/// Xᵀ r, with r an entrywise chain of z = X w: computed in one pass over X.
#[derive(Clone)]
pub(super) struct OnePass {
    pub x: NodeId,
    pub w: NodeId,
    /// X w, and the chain's last node (read by the product)
    pub z: NodeId,
    pub r: NodeId,
    /// The chain's other operands: vectors read entry by entry, scalars
    pub outside: Vec<NodeId>,
}

impl OnePass {
    fn reads(&self) -> Vec<NodeId> {
        let mut r = vec![self.x, self.w];
        r.extend(self.outside.iter().copied());
        r
    }
}

/// The nodes of an entrywise chain from z = X u, found from its last node.
struct Chain {
    z: NodeId,
    nodes: Vec<NodeId>,
    outside: Vec<NodeId>,
}

impl Chain {
    /// Whether `n` is part of the chain (z, or an entrywise operation on column vectors with an
    /// operand that reads z); its other operands are recorded as outside.
    fn walk(&mut self, g: &crate::ir::Graph, n: NodeId) -> bool {
        if self.nodes.contains(&n) {
            return true;
        }
        if n == self.z {
            self.nodes.push(n);
            return true;
        }
        let args = g.args(n);
        // A column vector (checked shapes: the chain's vectors all have X's row count).
        let same = |a: NodeId| g.shape(a).is_some_and(|s| s.cols == Dim::Fixed(1));
        // (operands that must be in the chain, operands read from outside)
        let (inner, outer): (Vec<NodeId>, Vec<NodeId>) = match g.op(n) {
            Op::Elem(_) | Op::Powi(_) | Op::Neg => (vec![args[0]], vec![]),
            Op::Add | Op::Sub | Op::Mul | Op::Div if args.iter().all(|&a| same(a)) => {
                let depends = |a: NodeId| self.depends(g, a);
                match (depends(args[0]), depends(args[1])) {
                    (true, true) => (args.to_vec(), vec![]),
                    (true, false) => (vec![args[0]], vec![args[1]]),
                    (false, true) => (vec![args[1]], vec![args[0]]),
                    (false, false) => return false,
                }
            }
            Op::Div | Op::AddScalar | Op::Max | Op::Min
                if same(args[0]) && !g.ty(args[1]).is_matrix() =>
            {
                (vec![args[0]], vec![args[1]])
            }
            Op::Scale
                if same(args[1])
                    && !g.ty(args[0]).is_matrix()
                    && !matches!(g.op(args[1]), Op::Ones | Op::Identity) =>
            {
                (vec![args[1]], vec![args[0]])
            }
            _ => return false,
        };
        if !same(n) || !inner.iter().all(|&a| same(a)) {
            return false;
        }
        for a in inner {
            if !self.walk(g, a) {
                return false;
            }
        }
        for a in outer {
            if !self.outside.contains(&a) {
                self.outside.push(a);
            }
        }
        self.nodes.push(n);
        true
    }

    /// Whether `n` reads z (then it must be part of the chain).
    fn depends(&self, g: &crate::ir::Graph, n: NodeId) -> bool {
        let mut stack = vec![n];
        let mut seen = std::collections::HashSet::new();
        while let Some(m) = stack.pop() {
            if m == self.z {
                return true;
            }
            if seen.insert(m) {
                stack.extend(g.args(m).iter().copied());
            }
        }
        false
    }
}
