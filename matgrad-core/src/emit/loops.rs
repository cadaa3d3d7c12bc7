//! Loops (`ir/loops.rs`) as Rust `for` loops.
//!
//! A primal loop keeps each carried value in a mutable state (`__mg_s{loop}_{carry}`), binds
//! the carry's leaf to it at the start of an iteration, computes the body's nodes (those whose
//! scope is the loop) and moves the carries' new values into the states. Where the derivative
//! needs it, each iteration also pushes onto a tape (`__mg_tape{loop}`) the loop's index and the
//! residuals: the values of the body that the adjoint body reads. The adjoint loop runs over the
//! tape backwards: it restores an iteration's index and residuals, replays the body's constant
//! `let`s, computes the adjoint body and adds each iteration's contributions into accumulators.
//! Memory: one tape entry per iteration, of the index and the residuals.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::prelude::collect_idents;
use super::Emitter;
use crate::ir::loops::LoopKind;
use crate::ir::{NodeId, Op};

impl Emitter<'_> {
    /// What the node of a loop's result reads besides its arguments: the body's results (for an
    /// adjoint loop, also the contributions), which the loop computes each iteration.
    pub(super) fn loop_reads(&self, n: NodeId) -> Vec<NodeId> {
        let g = self.g;
        let mut reads = g.args(n).to_vec();
        if let Op::LoopOut { lp, .. } | Op::LoopAdjoint { lp, .. } = *g.op(n) {
            let l = &g.loops[lp];
            reads.extend(l.carries.iter().map(|c| c.out));
            reads.extend(l.contributions().iter().flatten());
            reads.extend(l.breaks.iter().copied());
        }
        reads
    }

    /// Mark the value at the end of an iteration of each carry whose value at the start is
    /// needed; whether any was not marked yet.
    pub(super) fn carries_needed(&self, needed: &mut [bool]) -> bool {
        let g = self.g;
        let mut changed = false;
        for l in &g.loops {
            for c in &l.carries {
                if needed[c.param.index()] && !needed[c.out.index()] {
                    needed[c.out.index()] = true;
                    changed = true;
                }
            }
        }
        changed
    }

    /// Planning across scopes: a value read in another scope than its own is never moved,
    /// folded into its reader, fused or solved in place (its reader may run in another loop
    /// or after it in program order).
    pub(super) fn plan_scopes(&mut self, needed: &[bool]) {
        let g = self.g;
        let mut cross = vec![false; g.len()];
        for (id, &is_needed) in needed.iter().enumerate() {
            if !is_needed {
                continue;
            }
            let n = NodeId(id as u32);
            for a in self.reads(n) {
                if g.scope_of(a) != g.scope_of(n) {
                    cross[a.index()] = true;
                }
            }
        }
        for (id, &c) in cross.iter().enumerate() {
            if c {
                self.folded[id] = false;
                self.fused[id] = false;
                self.embedded[id] = false;
                self.solved[id] = false;
                self.solved_transpose[id] = false;
            }
        }
        // A transpose read only in other scopes (an adjoint loop) is computed there, from its
        // argument, not in its own loop.
        let mut only_elsewhere = vec![true; g.len()];
        let mut read = vec![false; g.len()];
        for (id, &is_needed) in needed.iter().enumerate() {
            let n = NodeId(id as u32);
            if is_needed {
                for a in self.reads(n) {
                    read[a.index()] = true;
                    if g.scope_of(a) == g.scope_of(n) {
                        only_elsewhere[a.index()] = false;
                    }
                }
            }
        }
        self.remat = (0..g.len())
            .map(|id| {
                let n = NodeId(id as u32);
                needed[id]
                    && read[id]
                    && only_elsewhere[id]
                    && *g.op(n) == Op::Transpose
                    && g.scope_of(n).is_some()
                    && g.scope_of(g.args(n)[0]) == g.scope_of(n)
            })
            .collect();
        self.cross_scope = cross;
        self.plan_sums(needed);
    }

    /// Contributions that are products, s·A B or s·a bᵀ, read by nothing but the loop's sum:
    /// added into the accumulator in place (`gemm`, `ger`), the product never built.
    fn plan_sums(&mut self, needed: &[bool]) {
        let g = self.g;
        let mut readers = vec![0u32; g.len()];
        for (id, &is_needed) in needed.iter().enumerate() {
            let n = NodeId(id as u32);
            if is_needed && !matches!(g.op(n), Op::LoopOut { .. } | Op::LoopAdjoint { .. }) {
                for a in self.reads(n) {
                    readers[a.index()] += 1;
                }
            }
        }
        self.summed = vec![false; g.len()];
        for l in &g.loops {
            for &x in l.contributions().iter().flatten() {
                if !needed[x.index()] || readers[x.index()] > 0 {
                    continue;
                }
                let m = match g.op(x) {
                    Op::Scale => g.args(x)[1],
                    _ => x,
                };
                if *g.op(m) != Op::MatMul || (m != x && readers[m.index()] != 1) {
                    continue;
                }
                let (a, b) = (g.args(m)[0], g.args(m)[1]);
                let outer = *g.op(b) == Op::Transpose && readers[b.index()] == 1;
                let col = |n: NodeId| {
                    g.shape(n)
                        .is_some_and(|s| s.cols == crate::shape::Dim::Fixed(1))
                };
                if outer && !(col(a) && col(g.args(b)[0])) {
                    continue;
                }
                self.summed[x.index()] = true;
                self.summed[m.index()] = true;
                if outer {
                    self.summed[b.index()] = true;
                }
            }
        }
    }

    /// `acc += x` for one contribution: in place where the plan sums it.
    fn add_into(&self, acc: &proc_macro2::Ident, x: NodeId) -> TokenStream {
        let g = self.g;
        if !self.summed.get(x.index()).copied().unwrap_or(false) {
            let v = self.v(x);
            return quote!(#acc += #v;);
        }
        let (scale, m) = match g.op(x) {
            Op::Scale => (self.s(g.args(x)[0]), g.args(x)[1]),
            _ => (self.lit(1.0), x),
        };
        let (a, b) = (g.args(m)[0], g.args(m)[1]);
        let one = self.lit(1.0);
        let av = self.m(a);
        if self.summed[b.index()] {
            let bv = self.m(g.args(b)[0]);
            quote!(#acc.ger(#scale, #av, #bv, #one);)
        } else {
            let bv = self.m(b);
            quote!(#acc.gemm(#scale, #av, #bv, #one);)
        }
    }

    /// For code run once per direction (`compute_looped`, Jacobian sweeps): a loop whose body
    /// varies with the direction varies as a whole, and so does what reads it. (A tangent loop
    /// that varies is then written with its primal loop run again, per direction, while the
    /// primal loop's own results are computed once, before.)
    pub fn group_variance(&self, variant: &[bool], needed: &[bool]) -> Vec<bool> {
        let g = self.g;
        let mut v: Vec<bool> = (0..g.len())
            .map(|i| variant.get(i).copied().unwrap_or(false))
            .collect();
        loop {
            let mut changed = false;
            for id in 0..g.len() {
                let n = NodeId(id as u32);
                if needed[id] && !v[id] && self.reads(n).iter().any(|a| v[a.index()]) {
                    v[id] = true;
                    changed = true;
                }
            }
            // A carried value varies where its initial value or its update does.
            for l in &g.loops {
                for c in &l.carries {
                    let p = c.param.index();
                    if !v[p] && (v[c.init.index()] || v[c.out.index()]) {
                        v[p] = true;
                        changed = true;
                    }
                }
            }
            for (lp, l) in g.loops.iter().enumerate() {
                let body_varies =
                    (0..g.len()).any(|id| needed[id] && v[id] && g.scope[id] == Some(lp));
                if !body_varies {
                    continue;
                }
                // One iteration is written in one place: all of it varies.
                for id in 0..g.len() {
                    if needed[id] && g.scope[id] == Some(lp) && !v[id] {
                        v[id] = true;
                        changed = true;
                    }
                }
                for &o in &l.outs {
                    if !v[o.index()] {
                        v[o.index()] = true;
                        changed = true;
                    }
                }
            }
            if !changed {
                return v;
            }
        }
    }

    /// The order in which the needed nodes of the scope being written are written: the graph's,
    /// except that a loop (with the loops written in its `for`) comes after everything its
    /// body reads from this scope, which differentiation may have built after it.
    pub(super) fn order(&self, needed: &[bool]) -> Vec<NodeId> {
        let g = self.g;
        let nodes: Vec<NodeId> = (0..needed.len())
            .map(|id| NodeId(id as u32))
            .filter(|&n| needed[n.index()] && self.is_here(g.scope_of(n)))
            .collect();
        if g.loops.is_empty() {
            return nodes;
        }
        let mut done = vec![false; g.len()];
        let mut order = Vec::new();
        for &n in &nodes {
            self.visit(n, needed, &mut done, &mut order);
        }
        order
    }

    fn visit(&self, n: NodeId, needed: &[bool], done: &mut [bool], order: &mut Vec<NodeId>) {
        let g = self.g;
        if done[n.index()] {
            return;
        }
        done[n.index()] = true;
        let deps: Vec<NodeId> = match *g.op(n) {
            Op::LoopOut { lp, .. } | Op::LoopAdjoint { lp, .. } => {
                // The group of the loop this result belongs to: its primal (or adjoint) loop
                // and the tangent loops written with it.
                let head = match &g.loops[lp].kind {
                    LoopKind::Tangent(t) => t.primal,
                    _ => lp,
                };
                let members = self.group(head, needed, &|_| true);
                let inside = |s: Option<usize>| {
                    let mut s = s;
                    while let Some(l) = s {
                        if members.contains(&l) {
                            return true;
                        }
                        s = g.loops[l].parent;
                    }
                    false
                };
                let mut deps = BTreeSet::new();
                for (id, &is_needed) in needed.iter().enumerate() {
                    let m = NodeId(id as u32);
                    if is_needed && inside(g.scope_of(m)) {
                        deps.extend(self.reads(m));
                    }
                }
                for &m in &members {
                    for &o in &g.loops[m].outs {
                        deps.extend(g.args(o).iter().copied());
                    }
                }
                deps.into_iter()
                    .filter(|&d| self.is_here(g.scope_of(d)) && needed[d.index()])
                    .collect()
            }
            _ => self
                .reads(n)
                .into_iter()
                .filter(|&d| self.is_here(g.scope_of(d)))
                .collect(),
        };
        for d in deps {
            self.visit(d, needed, done, order);
        }
        order.push(n);
    }

    /// The statements of a loop, at the first of its needed results in graph order (the rest
    /// are bound by the same statements).
    pub(super) fn loop_lets(&self, n: NodeId, needed: &[bool], select: Select) -> TokenStream {
        let g = self.g;
        let (Op::LoopOut { lp, .. } | Op::LoopAdjoint { lp, .. }) = *g.op(n) else {
            return TokenStream::new();
        };
        if self.written.borrow().contains(&lp) {
            return TokenStream::new();
        }
        self.written.borrow_mut().insert(lp);
        match &g.loops[lp].kind {
            LoopKind::Primal => self.forward_loop(lp, needed, select),
            LoopKind::Adjoint(_) => self.adjoint_loop(lp, needed, select),
            // Written with its primal loop, in the same iterations: here, where the primal
            // loop's results were written elsewhere (once, while this runs per direction), the
            // primal loop runs again with it.
            LoopKind::Tangent(t) => {
                let head = t.primal;
                if self.written.borrow().contains(&head) {
                    return TokenStream::new();
                }
                self.written.borrow_mut().insert(head);
                match g.loops[head].kind {
                    LoopKind::Adjoint(_) => self.adjoint_loop(head, needed, select),
                    _ => self.forward_loop(head, needed, select),
                }
            }
        }
    }

    /// The adjoint loops of loop `lp` that the outputs need.
    /// (Whichever part of the code they are written in: a tape written once, before code run
    /// per direction, is read by the adjoint loops that run per direction.)
    fn needed_adjoints(&self, lp: usize, needed: &[bool]) -> Vec<usize> {
        let g = self.g;
        (0..g.loops.len())
            .filter(|&b| {
                matches!(&g.loops[b].kind, LoopKind::Adjoint(a) if a.forward == lp)
                    && g.loops[b].outs.iter().any(|o| needed[o.index()])
            })
            .collect()
    }

    /// The values of loop `lp`'s body that its needed adjoint loops read: stored on the tape.
    /// Constants computed from the index are not stored: the adjoint loop computes them again.
    fn residuals(&self, lp: usize, needed: &[bool], select: Select) -> Vec<NodeId> {
        let g = self.g;
        let forward = self.group(lp, needed, select);
        let backward: Vec<usize> = self
            .needed_adjoints(lp, needed)
            .into_iter()
            .flat_map(|b| self.group_in(b, needed, &|_| true, &|_| true))
            .collect();
        let mut set = BTreeSet::new();
        let is_residual = |a: NodeId| {
            g.scope_of(a).is_some_and(|s| forward.contains(&s))
                && !matches!(g.op(a), Op::Opaque(_) | Op::Local(_))
        };
        // A transpose is not stored: the adjoint reads its argument (`remat`).
        let is_residual =
            |a: NodeId| is_residual(a) && !(*g.op(a) == Op::Transpose && is_residual(g.args(a)[0]));
        let stored = |a: NodeId| -> NodeId {
            if *g.op(a) == Op::Transpose && is_residual(g.args(a)[0]) {
                g.args(a)[0]
            } else {
                a
            }
        };
        for (id, &is_needed) in needed.iter().enumerate() {
            let n = NodeId(id as u32);
            if !is_needed {
                continue;
            }
            let in_backward = g.scope_of(n).is_some_and(|s| backward.contains(&s));
            if in_backward && !matches!(g.op(n), Op::LoopOut { .. } | Op::LoopAdjoint { .. }) {
                set.extend(
                    self.reads(n)
                        .into_iter()
                        .map(stored)
                        .filter(|&a| is_residual(a)),
                );
            }
        }
        // An inner loop that the adjoint runs again reads its arguments and what its body
        // reads from this loop's iteration.
        let inside = |s: Option<usize>, root: usize| {
            let mut s = s;
            while let Some(l) = s {
                if l == root {
                    return true;
                }
                s = g.loops[l].parent;
            }
            false
        };
        for &b in &backward {
            for (id, &is_needed) in needed.iter().enumerate() {
                let n = NodeId(id as u32);
                let Op::LoopAdjoint { lp: inner_b, .. } = *g.op(n) else {
                    continue;
                };
                if !is_needed || g.scope_of(n) != Some(b) {
                    continue;
                }
                let LoopKind::Adjoint(a) = &g.loops[inner_b].kind else {
                    continue;
                };
                // The inner loop with the tangent loops written beside it.
                let enclosing = |p: Option<usize>| {
                    p.is_some_and(|p| forward.contains(&p) || backward.contains(&p))
                };
                let inner_group = self.group_in(a.forward, needed, &|_| true, &enclosing);
                for &o in inner_group.iter().flat_map(|&m| &g.loops[m].outs) {
                    set.extend(
                        g.args(o)
                            .iter()
                            .copied()
                            .map(stored)
                            .filter(|&x| is_residual(x)),
                    );
                }
                for (k, &kn) in needed.iter().enumerate() {
                    let m = NodeId(k as u32);
                    if kn && inner_group.iter().any(|&l| inside(g.scope_of(m), l)) {
                        set.extend(
                            self.reads(m)
                                .into_iter()
                                .map(stored)
                                .filter(|&x| is_residual(x)),
                        );
                    }
                }
            }
        }
        for &b in &backward {
            let l = &g.loops[b];
            let outs = l
                .carries
                .iter()
                .map(|c| c.out)
                .chain(l.contributions().iter().flatten().copied());
            set.extend(outs.map(stored).filter(|&a| is_residual(a)));
        }
        // A carry whose name constant code mentions is bound under that name again.
        for c in self.shadowed(lp) {
            set.insert(g.loops[lp].carries[c].param);
        }
        set.into_iter().collect()
    }

    /// The carries of loop `lp` whose names the body's constant code mentions (copied
    /// expressions, statements): generated code binds those names to the carried values.
    fn shadowed(&self, lp: usize) -> Vec<usize> {
        let g = self.g;
        let mut names = BTreeSet::new();
        for s in &g.loops[lp].stmts {
            collect_idents(&s.tokens, &mut names);
        }
        for leaf in g.opaque.iter().chain(&g.locals) {
            if leaf.scope == Some(lp) {
                collect_idents(&leaf.code, &mut names);
            }
        }
        let l = &g.loops[lp];
        (0..l.carries.len())
            .filter(|&j| matches!(l.kind, LoopKind::Primal) && names.contains(&l.carries[j].name))
            .collect()
    }

    /// `let name = value;` of a carry for code that names it.
    fn shadow(&self, lp: usize, j: usize) -> TokenStream {
        let g = self.g;
        let c = &g.loops[lp].carries[j];
        let name = format_ident!("{}", c.name);
        let alias = g.leaf_alias(c.param);
        if g.ty(c.param).is_matrix() {
            quote!(let #name = #alias;)
        } else {
            quote!(let #name = *#alias;)
        }
    }

    /// A node's value as an owned value, for a loop's state: moved where it is a temporary of
    /// the iteration that nothing else takes, cloned otherwise.
    fn owned(&self, n: NodeId, movable: bool) -> TokenStream {
        let g = self.g;
        if !g.ty(n).is_matrix() {
            return self.s(n);
        }
        let computed_here = self.is_here(g.scope_of(n))
            && !g.op(n).is_leaf()
            && !self.is_leaf_alias(n)
            && !self.restored.borrow().contains(&n);
        if movable && computed_here {
            let t = self.t(n);
            return quote!(#t);
        }
        let m = self.m(n);
        quote!(#m.clone())
    }

    /// The code of one iteration of loop `lp`'s group, with the aliases of the loop's
    /// constants that it reads bound first.
    fn iteration(&self, lp: usize, lets: TokenStream, tail: TokenStream) -> TokenStream {
        let g = self.g;
        let body = quote!(#lets #tail);
        // The loop's own constants (`y[t]`, `x.column(t)`) that the code reads, directly or
        // through another of them.
        let leaf_scope = match &g.loops[lp].kind {
            LoopKind::Primal => lp,
            LoopKind::Adjoint(a) => a.forward,
            LoopKind::Tangent(t) => t.primal,
        };
        let mut used = BTreeSet::new();
        collect_idents(&body, &mut used);
        let mut bindings = Vec::new();
        for leaf in g.opaque.iter().rev() {
            if leaf.scope == Some(leaf_scope) && used.contains(&leaf.alias.to_string()) {
                collect_idents(&leaf.code, &mut used);
                let (alias, code) = (&leaf.alias, &leaf.code);
                bindings.push(quote!(let #alias = &(#code);));
            }
        }
        bindings.reverse();
        quote!(#(#bindings)* #body)
    }

    /// Loop `x` and the tangent loops that run beside it, where the outputs need them.
    fn group(&self, x: usize, needed: &[bool], select: Select) -> Vec<usize> {
        // In an adjoint loop's iteration, an inner loop run again takes the tangent loop that
        // ran with the forward loop's (the tangent of the adjoint reads it).
        let enclosing = |p: Option<usize>| {
            self.is_here(p)
                || self.here.borrow().iter().any(|&h| {
                    matches!(&self.g.loops[h].kind, LoopKind::Tangent(t) if t.forward.is_some() && t.forward == p)
                })
        };
        self.group_in(x, needed, select, &enclosing)
    }

    /// [`Self::group`], where `enclosing` says which loops' iterations are being written: a
    /// tangent loop nested in another loop's tangent is written only with that one.
    fn group_in(
        &self,
        x: usize,
        needed: &[bool],
        select: Select,
        enclosing: &dyn Fn(Option<usize>) -> bool,
    ) -> Vec<usize> {
        let g = self.g;
        let mut members = vec![x];
        // A tangent loop is needed for its results, or for values of its body that the tangent
        // of an adjoint loop reads.
        members.extend((0..g.loops.len()).filter(|&t| {
            matches!(&g.loops[t].kind, LoopKind::Tangent(tl) if tl.primal == x)
                && (g.loops[t].parent == g.loops[x].parent || enclosing(g.loops[t].parent))
                && (g.loops[t]
                    .outs
                    .iter()
                    .any(|o| needed[o.index()] && select(*o))
                    || (0..g.len()).any(|id| {
                        needed[id] && g.scope[id] == Some(t) && select(NodeId(id as u32))
                    }))
        }));
        members
    }

    /// The states, carry aliases, accumulators, new values and results of the members of a
    /// loop's group.
    fn states(&self, members: &[usize], needed: &[bool]) -> States {
        let g = self.g;
        let mut st = States::default();
        for &m in members {
            let l = &g.loops[m];
            let state = |j: usize| format_ident!("__mg_s{}_{}", m, j);
            for (j, c) in l.carries.iter().enumerate() {
                if !needed[c.out.index()] {
                    continue;
                }
                let s = state(j);
                let init = self.owned(c.init, false);
                st.before.extend(quote!(let mut #s = #init;));
                st.names.push(s.clone());
                let alias = g.leaf_alias(c.param);
                st.start.extend(quote!(let #alias = &#s;));
            }
            // The value of each result after the loop, by the position `LoopOut`/`LoopAdjoint`
            // give it.
            let nc = l.carries.len();
            for &o in &l.outs {
                if !needed[o.index()] {
                    continue;
                }
                let slot = match (g.op(o).clone(), &l.kind) {
                    (Op::LoopAdjoint { arg, .. }, LoopKind::Adjoint(a)) => {
                        let fwd = &g.loops[a.forward];
                        let nf = fwd.carries.len();
                        if arg < nf {
                            let k = (0..nf)
                                .filter(|&j| g.is_active(fwd.carries[j].param))
                                .position(|j| j == arg)
                                .unwrap_or(0);
                            Slot::Carry(k)
                        } else {
                            Slot::Sum(arg - nf)
                        }
                    }
                    (Op::LoopOut { out, .. }, _) if out < nc => Slot::Carry(out),
                    (Op::LoopOut { out, .. }, _) => Slot::Sum(out - nc),
                    _ => continue,
                };
                let t = self.t(o);
                let value = match slot {
                    Slot::Carry(k) => state(k),
                    Slot::Sum(c) => {
                        st.sums.push((m, c));
                        format_ident!("__mg_a{}_{}", m, c)
                    }
                };
                st.after.extend(quote!(let #t = #value;));
            }
        }
        st
    }

    /// The end of an iteration: each sum's contribution added in, each state's new value.
    fn update(&self, members: &[usize], needed: &[bool], st: &mut States) -> TokenStream {
        let g = self.g;
        let mut tail = TokenStream::new();
        for &(m, c) in &st.sums {
            let l = &g.loops[m];
            let Some(x) = l.contributions().get(c).copied().flatten() else {
                continue;
            };
            let a = format_ident!("__mg_a{}_{}", m, c);
            let zero = match g.ty(x).shape() {
                Some(s) => {
                    let (r, cc) = self.dims(s);
                    let om = self.omatrix();
                    quote!(#om::zeros_generic(#r, #cc))
                }
                None => self.lit(0.0),
            };
            st.before.extend(quote!(let mut #a = #zero;));
            tail.extend(self.add_into(&a, x));
        }
        let outs: Vec<NodeId> = members
            .iter()
            .flat_map(|&m| g.loops[m].carries.iter().map(|c| c.out))
            .collect();
        let summed: Vec<NodeId> = members
            .iter()
            .flat_map(|&m| g.loops[m].contributions().iter().flatten().copied())
            .collect();
        let mut assign = TokenStream::new();
        for &m in members {
            for (j, c) in g.loops[m].carries.iter().enumerate() {
                if !needed[c.out.index()] {
                    continue;
                }
                let once =
                    outs.iter().filter(|&&x| x == c.out).count() == 1 && !summed.contains(&c.out);
                let value = self.owned(c.out, once);
                let (n, s) = (
                    format_ident!("__mg_n{}_{}", m, j),
                    format_ident!("__mg_s{}_{}", m, j),
                );
                tail.extend(quote!(let #n = #value;));
                assign.extend(quote!(#s = #n;));
            }
        }
        quote!(#tail #assign)
    }

    /// The lets of one iteration of a group: the nodes of all its loops, in one order.
    fn group_lets(&self, members: &[usize], needed: &[bool]) -> TokenStream {
        let saved = self.here.replace(members.to_vec());
        let lets = self.lets(needed, |k| self.block(k).is_none());
        self.here.replace(saved);
        lets
    }

    /// Whether a node of scope `s` is written by the code being written now.
    pub(super) fn is_here(&self, s: Option<usize>) -> bool {
        let here = self.here.borrow();
        match s {
            None => here.is_empty(),
            Some(l) => here.contains(&l),
        }
    }

    fn statements(&self, lp: usize, lets_only: bool) -> TokenStream {
        let mut out = TokenStream::new();
        for s in self.g.loops[lp]
            .stmts
            .iter()
            .filter(|s| s.is_let || !lets_only)
        {
            out.extend(s.tokens.clone());
            if let Some((alias, name)) = &s.alias {
                out.extend(if s.by_ref {
                    quote!(let #alias = #name;)
                } else {
                    quote!(let #alias = &#name;)
                });
            }
        }
        out
    }

    /// The parts of a primal loop's group: its states' initial values, the start of an
    /// iteration, the iteration (with the tape's push where `taped`), and the results.
    fn forward_parts(&self, lp: usize, needed: &[bool], select: Select, taped: bool) -> Parts {
        let g = self.g;
        let l = &g.loops[lp];
        let residuals = if taped {
            self.residuals(lp, needed, select)
        } else {
            Vec::new()
        };
        let members = self.group(lp, needed, select);
        let mut st = self.states(&members, needed);
        let mut start = st.start.clone();
        for j in self.shadowed(lp) {
            start.extend(self.shadow(lp, j));
        }
        start.extend(self.statements(lp, false));
        let mut tail = TokenStream::new();
        let saved = self.here.replace(members.clone());
        if taped {
            let tape = format_ident!("__mg_tape{}", lp);
            let index = l.header.bound.iter();
            // Moved onto the tape where nothing after it in the iteration reads it.
            let later: Vec<NodeId> = members
                .iter()
                .flat_map(|&m| {
                    let l = &g.loops[m];
                    l.carries
                        .iter()
                        .map(|c| c.out)
                        .chain(l.contributions().iter().flatten().copied())
                        .collect::<Vec<_>>()
                })
                .collect();
            let values: Vec<TokenStream> = residuals
                .iter()
                .map(|&r| self.owned(r, !later.contains(&r)))
                .collect();
            tail.extend(
                quote!(#tape.push((#(::core::clone::Clone::clone(&#index),)* #(#values,)*));),
            );
        }
        tail.extend(self.update(&members, needed, &mut st));
        // A `break` that follows an update ends the loop after this iteration.
        for &c in &l.breaks {
            let v = self.s(c);
            let zero = self.lit(0.0);
            tail.extend(quote!(if #v != #zero { break; }));
        }
        self.here.replace(saved);
        // Without the tape, an iteration computes only what the next one needs.
        let lets = if taped {
            self.group_lets(&members, needed)
        } else {
            self.group_lets(&members, &self.carried_only(&members, needed))
        };
        let body = self.iteration(lp, lets, tail);
        Parts {
            before: st.before,
            start,
            body,
            after: st.after,
            states: st.names,
        }
    }

    /// `needed`, but of the nodes of the loops `members`, only those their carries' new values
    /// and their sums read.
    fn carried_only(&self, members: &[usize], needed: &[bool]) -> Vec<bool> {
        let g = self.g;
        let in_members = |n: NodeId| g.scope_of(n).is_some_and(|s| members.contains(&s));
        let mut keep = needed.to_vec();
        let mut reach = vec![false; g.len()];
        for &m in members {
            let l = &g.loops[m];
            for n in l
                .carries
                .iter()
                .map(|c| c.out)
                .chain(l.contributions().iter().flatten().copied())
            {
                reach[n.index()] = true;
            }
        }
        for id in (0..g.len()).rev() {
            if reach[id] && needed[id] {
                for a in self.reads(NodeId(id as u32)) {
                    reach[a.index()] = true;
                }
            }
        }
        for (id, k) in keep.iter_mut().enumerate() {
            if in_members(NodeId(id as u32)) && !reach[id] {
                *k = false;
            }
        }
        keep
    }

    /// Whether the backward pass through loop `lp` recomputes from checkpoints (`checkpoint`:
    /// loops of the function's top level).
    fn checkpointed(&self, lp: usize, needed: &[bool]) -> bool {
        self.g.checkpoint
            && self.g.loops[lp].parent.is_none()
            && !self.needed_adjoints(lp, needed).is_empty()
    }

    fn forward_loop(&self, lp: usize, needed: &[bool], select: Select) -> TokenStream {
        let g = self.g;
        let l = &g.loops[lp];
        let (pat, iter) = (&l.header.pat, &l.header.iter);
        let taped = !self.needed_adjoints(lp, needed).is_empty();
        let tape = format_ident!("__mg_tape{}", lp);
        if self.checkpointed(lp, needed) {
            // Every k-th state is stored (k = ⌈√n⌉); the adjoint loop recomputes each segment.
            let p = self.forward_parts(lp, needed, select, false);
            let (before, start, body, after) = (&p.before, &p.start, &p.body, &p.after);
            let (items, k, ckpt, ran) = checkpoint_names(lp);
            let states = &p.states;
            return quote! {
                #before
                let #items: ::std::vec::Vec<_> = ::core::iter::IntoIterator::into_iter(#iter).collect();
                let #k = ::matgrad::__private::checkpoint_interval(#items.len());
                let mut #ckpt = ::std::vec::Vec::with_capacity(#items.len() / #k + 1);
                let mut #ran = 0usize;
                for (__mg_it, __mg_item) in #items.iter().enumerate() {
                    if __mg_it % #k == 0 {
                        #ckpt.push((#(::core::clone::Clone::clone(&#states),)*));
                    }
                    #ran += 1;
                    let #pat = ::core::clone::Clone::clone(__mg_item);
                    #start
                    #body
                }
                #after
            };
        }
        let p = self.forward_parts(lp, needed, select, taped);
        let (before, start, body, after) = (&p.before, &p.start, &p.body, &p.after);
        let tape_decl = if taped {
            quote!(let mut #tape = ::std::vec::Vec::new();)
        } else {
            TokenStream::new()
        };
        quote! {
            #before
            #tape_decl
            for #pat in #iter {
                #start
                #body
            }
            #after
        }
    }

    fn adjoint_loop(&self, b: usize, needed: &[bool], select: Select) -> TokenStream {
        let g = self.g;
        let l = &g.loops[b];
        let LoopKind::Adjoint(adj) = &l.kind else {
            return TokenStream::new();
        };
        let lp = adj.forward;
        let fwd = &g.loops[lp];
        // Where this code needs tangent values of the forward loop that the forward loop written
        // elsewhere does not have (code run per direction), the forward loop runs again here.
        // So does a loop nested in another, whose tape each iteration of the outer loop made
        // anew: the adjoint of the outer loop runs the inner one again from restored values.
        let mut rerun = TokenStream::new();
        let elsewhere = g.loops[lp].parent != l.parent;
        if (self.group(lp, needed, select).len() > 1 || elsewhere)
            && !self.written.borrow().contains(&lp)
        {
            self.written.borrow_mut().insert(lp);
            rerun = self.forward_loop(lp, needed, select);
        }
        let residuals = self.residuals(lp, needed, select);
        let tape = format_ident!("__mg_tape{}", lp);
        let entry = format_ident!("__mg_e{}", b);
        let members = self.group(b, needed, select);
        let mut st = self.states(&members, needed);
        // Restore the iteration: its index, its residuals, the names constant code reads.
        let mut start = TokenStream::new();
        for (i, name) in fwd.header.bound.iter().enumerate() {
            let i = syn::Index::from(i);
            start.extend(quote!(let #name = ::core::clone::Clone::clone(&#entry.#i);));
        }
        let offset = fwd.header.bound.len();
        let mut restored = BTreeSet::new();
        for (i, &r) in residuals.iter().enumerate() {
            let i = syn::Index::from(offset + i);
            if matches!(g.op(r), Op::Carry { .. }) {
                let alias = g.leaf_alias(r);
                start.extend(quote!(let #alias = &#entry.#i;));
            } else if g.ty(r).is_matrix() {
                let t = self.t(r);
                start.extend(quote!(let #t = &#entry.#i;));
                restored.insert(r);
            } else {
                let t = self.t(r);
                start.extend(quote!(let #t = #entry.#i;));
            }
        }
        for j in self.shadowed(lp) {
            start.extend(self.shadow(lp, j));
        }
        let saved = self.restored.replace(restored.clone());
        for (id, &r) in self.remat.iter().enumerate() {
            let n = NodeId(id as u32);
            let here = g
                .scope_of(n)
                .is_some_and(|s| self.group(lp, needed, select).contains(&s));
            if r && here && !self.summed[id] {
                let (t, value) = (self.t(n), self.node(n));
                start.extend(quote!(let #t = #value;));
            }
        }
        self.restored.replace(saved);
        start.extend(self.statements(b, true));
        start.extend(st.start.clone());
        let saved = self.restored.replace(restored);
        let here = self.here.replace(members.clone());
        let tail = self.update(&members, needed, &mut st);
        self.here.replace(here);
        let body = self.iteration(b, self.group_lets(&members, needed), tail);
        self.restored.replace(saved);
        let (before, after) = (&st.before, &st.after);
        if self.checkpointed(lp, needed) {
            // Each segment, last first: the forward loop again from its checkpoint, onto a
            // tape of the segment, then the segment backwards.
            let f = self.forward_parts(lp, needed, select, true);
            let (fstart, fbody) = (&f.start, &f.body);
            let (items, k, ckpt, ran) = checkpoint_names(lp);
            let states = &f.states;
            let pat = &fwd.header.pat;
            return quote! {
                #before
                for __mg_seg in (0..#ckpt.len()).rev() {
                    let __mg_lo = __mg_seg * #k;
                    let __mg_hi = ::core::cmp::min(__mg_lo + #k, #ran);
                    let (#(mut #states,)*) = ::core::clone::Clone::clone(&#ckpt[__mg_seg]);
                    let mut #tape = ::std::vec::Vec::with_capacity(#k);
                    for __mg_item in &#items[__mg_lo..__mg_hi] {
                        let #pat = ::core::clone::Clone::clone(__mg_item);
                        #fstart
                        #fbody
                    }
                    for #entry in #tape.iter().rev() {
                        #start
                        #body
                    }
                }
                #after
            };
        }
        quote! {
            #rerun
            #before
            for #entry in #tape.iter().rev() {
                #start
                #body
            }
            #after
        }
    }
}

/// Which nodes the code being written computes (`Emitter::lets`'s filter).
type Select<'s> = &'s dyn Fn(NodeId) -> bool;

/// The code a loop group's states need (`Emitter::states`).
#[derive(Default)]
struct States {
    before: TokenStream,
    start: TokenStream,
    after: TokenStream,
    /// The sums a result reads: (loop, contribution).
    sums: Vec<(usize, usize)>,
    /// The states' names.
    names: Vec<proc_macro2::Ident>,
}

/// A primal loop's code, in parts (`Emitter::forward_parts`).
struct Parts {
    before: TokenStream,
    start: TokenStream,
    body: TokenStream,
    after: TokenStream,
    states: Vec<proc_macro2::Ident>,
}

/// The names of a checkpointed loop's items, interval, checkpoints and iteration count.
fn checkpoint_names(
    lp: usize,
) -> (
    proc_macro2::Ident,
    proc_macro2::Ident,
    proc_macro2::Ident,
    proc_macro2::Ident,
) {
    (
        format_ident!("__mg_items{}", lp),
        format_ident!("__mg_k{}", lp),
        format_ident!("__mg_ckpt{}", lp),
        format_ident!("__mg_ran{}", lp),
    )
}

enum Slot {
    Carry(usize),
    Sum(usize),
}
