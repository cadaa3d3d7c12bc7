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

use proc_macro2::{TokenStream, TokenTree};
use quote::{format_ident, quote};

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
            if let LoopKind::Adjoint(a) = &l.kind {
                reads.extend(a.contributions.iter().flatten());
            }
        }
        reads
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
        self.cross_scope = cross;
    }

    /// The statements of a loop, at the first of its needed results in graph order (the rest
    /// are bound by the same statements).
    pub(super) fn loop_lets(&self, n: NodeId, needed: &[bool]) -> TokenStream {
        let g = self.g;
        let (Op::LoopOut { lp, .. } | Op::LoopAdjoint { lp, .. }) = *g.op(n) else {
            return TokenStream::new();
        };
        let first = g.loops[lp].outs.iter().find(|o| needed[o.index()]);
        if first != Some(&n) {
            return TokenStream::new();
        }
        match g.loops[lp].kind {
            LoopKind::Primal => self.forward_loop(lp, needed),
            LoopKind::Adjoint(_) => self.adjoint_loop(lp, needed),
        }
    }

    /// The adjoint loops of loop `lp` that the outputs need.
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
    fn residuals(&self, lp: usize, needed: &[bool]) -> Vec<NodeId> {
        let g = self.g;
        let adjoints = self.needed_adjoints(lp, needed);
        let mut set = BTreeSet::new();
        let is_residual = |a: NodeId| {
            g.scope_of(a) == Some(lp) && !matches!(g.op(a), Op::Opaque(_) | Op::Local(_))
        };
        for (id, &is_needed) in needed.iter().enumerate() {
            let n = NodeId(id as u32);
            if !is_needed {
                continue;
            }
            let in_adjoint = g.scope_of(n).is_some_and(|s| adjoints.contains(&s));
            if in_adjoint && !matches!(g.op(n), Op::LoopOut { .. } | Op::LoopAdjoint { .. }) {
                set.extend(self.reads(n).into_iter().filter(|&a| is_residual(a)));
            }
        }
        for &b in &adjoints {
            let l = &g.loops[b];
            let mut outs: Vec<NodeId> = l.carries.iter().map(|c| c.out).collect();
            if let LoopKind::Adjoint(a) = &l.kind {
                outs.extend(a.contributions.iter().flatten());
            }
            set.extend(outs.into_iter().filter(|&a| is_residual(a)));
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
        let computed_here = g.scope_of(n) == self.scope_now.get()
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

    /// The code of one iteration's nodes of scope `lp`, with the aliases of the loop's
    /// constants that it reads bound first.
    fn iteration(&self, lp: usize, needed: &[bool], tail: TokenStream) -> TokenStream {
        let g = self.g;
        let saved = self.scope_now.replace(Some(lp));
        let lets = self.lets(needed, |k| self.block(k).is_none());
        self.scope_now.set(saved);
        let body = quote!(#lets #tail);
        // The loop's own constants (`y[t]`, `x.column(t)`) that the code reads, directly or
        // through another of them.
        let leaf_scope = match &g.loops[lp].kind {
            LoopKind::Primal => lp,
            LoopKind::Adjoint(a) => a.forward,
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

    fn forward_loop(&self, lp: usize, needed: &[bool]) -> TokenStream {
        let g = self.g;
        let l = &g.loops[lp];
        let (pat, iter) = (&l.header.pat, &l.header.iter);
        let taped = !self.needed_adjoints(lp, needed).is_empty();
        let residuals = if taped {
            self.residuals(lp, needed)
        } else {
            Vec::new()
        };
        let state = |j: usize| format_ident!("__mg_s{}_{}", lp, j);
        let tape = format_ident!("__mg_tape{}", lp);
        let mut before = TokenStream::new();
        let mut start = TokenStream::new();
        for (j, c) in l.carries.iter().enumerate() {
            let s = state(j);
            let init = self.owned(c.init, false);
            before.extend(quote!(let mut #s = #init;));
            let alias = g.leaf_alias(c.param);
            start.extend(quote!(let #alias = &#s;));
        }
        for j in self.shadowed(lp) {
            start.extend(self.shadow(lp, j));
        }
        for s in &l.stmts {
            start.extend(s.tokens.clone());
            if let Some((alias, name)) = &s.alias {
                start.extend(if s.by_ref {
                    quote!(let #alias = #name;)
                } else {
                    quote!(let #alias = &#name;)
                });
            }
        }
        let mut tail = TokenStream::new();
        if taped {
            before.extend(quote!(let mut #tape = ::std::vec::Vec::new();));
            let index = l.header.bound.iter();
            let values = residuals.iter().map(|&r| self.owned(r, false));
            tail.extend(
                quote!(#tape.push((#(::core::clone::Clone::clone(&#index),)* #(#values,)*));),
            );
        }
        let outs: Vec<NodeId> = l.carries.iter().map(|c| c.out).collect();
        let news: Vec<_> = (0..outs.len())
            .map(|j| format_ident!("__mg_n{}_{}", lp, j))
            .collect();
        for (j, &o) in outs.iter().enumerate() {
            let once = outs.iter().filter(|&&x| x == o).count() == 1;
            let value = self.owned(o, once);
            let n = &news[j];
            tail.extend(quote!(let #n = #value;));
        }
        for (j, n) in news.iter().enumerate() {
            let s = state(j);
            tail.extend(quote!(#s = #n;));
        }
        let body = self.iteration(lp, needed, tail);
        let mut after = TokenStream::new();
        for (j, &o) in l.outs.iter().enumerate() {
            if needed[o.index()] {
                let (t, s) = (self.t(o), state(j));
                after.extend(quote!(let #t = #s;));
            }
        }
        quote! {
            #before
            for #pat in #iter {
                #start
                #body
            }
            #after
        }
    }

    fn adjoint_loop(&self, b: usize, needed: &[bool]) -> TokenStream {
        let g = self.g;
        let l = &g.loops[b];
        let LoopKind::Adjoint(adj) = &l.kind else {
            return TokenStream::new();
        };
        let lp = adj.forward;
        let fwd = &g.loops[lp];
        let residuals = self.residuals(lp, needed);
        let tape = format_ident!("__mg_tape{}", lp);
        let entry = format_ident!("__mg_e{}", b);
        let state = |k: usize| format_ident!("__mg_s{}_{}", b, k);
        let acc = |c: usize| format_ident!("__mg_a{}_{}", b, c);
        let nc = fwd.carries.len();
        let needed_out = |arg: usize| {
            l.outs
                .iter()
                .find(|o| matches!(g.op(**o), Op::LoopAdjoint { arg: a, .. } if *a == arg))
                .copied()
                .filter(|o| needed[o.index()])
        };
        let mut before = TokenStream::new();
        let mut start = TokenStream::new();
        // Restore the iteration: its index, its residuals, the names constant code reads.
        for (i, name) in fwd.header.bound.iter().enumerate() {
            let i = syn::Index::from(i);
            start.extend(quote!(let #name = ::core::clone::Clone::clone(&#entry.#i);));
        }
        let offset = fwd.header.bound.len();
        let mut restored = BTreeSet::new();
        for (i, &r) in residuals.iter().enumerate() {
            let i = syn::Index::from(offset + i);
            let is_matrix = g.ty(r).is_matrix();
            if matches!(g.op(r), Op::Carry { .. }) {
                let alias = g.leaf_alias(r);
                start.extend(quote!(let #alias = &#entry.#i;));
            } else if is_matrix {
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
        for s in &l.stmts {
            start.extend(s.tokens.clone());
            if let Some((alias, name)) = &s.alias {
                start.extend(if s.by_ref {
                    quote!(let #alias = #name;)
                } else {
                    quote!(let #alias = &#name;)
                });
            }
        }
        for (k, c) in l.carries.iter().enumerate() {
            let s = state(k);
            let init = self.owned(c.init, false);
            before.extend(quote!(let mut #s = #init;));
            let alias = g.leaf_alias(c.param);
            start.extend(quote!(let #alias = &#s;));
        }
        let saved = self.restored.replace(restored);
        let mut tail = TokenStream::new();
        let captures = fwd.captures();
        for (c, contribution) in adj.contributions.iter().enumerate() {
            let (Some(x), Some(_)) = (contribution, needed_out(nc + c)) else {
                continue;
            };
            let a = acc(c);
            let ty = g.ty(captures[c]);
            let zero = match ty.shape() {
                Some(s) => {
                    let (r, cc) = self.dims(s);
                    let om = self.omatrix();
                    quote!(#om::zeros_generic(#r, #cc))
                }
                None => self.lit(0.0),
            };
            before.extend(quote!(let mut #a = #zero;));
            let v = self.v(*x);
            tail.extend(quote!(#a += #v;));
        }
        let outs: Vec<NodeId> = l.carries.iter().map(|c| c.out).collect();
        let news: Vec<_> = (0..outs.len())
            .map(|k| format_ident!("__mg_n{}_{}", b, k))
            .collect();
        for (k, &o) in outs.iter().enumerate() {
            let once = outs.iter().filter(|&&x| x == o).count() == 1
                && !adj.contributions.contains(&Some(o));
            let value = self.owned(o, once);
            let n = &news[k];
            tail.extend(quote!(let #n = #value;));
        }
        for (k, n) in news.iter().enumerate() {
            let s = state(k);
            tail.extend(quote!(#s = #n;));
        }
        let body = self.iteration(b, needed, tail);
        self.restored.replace(saved);
        let mut after = TokenStream::new();
        let active: Vec<usize> = (0..nc)
            .filter(|&j| g.is_active(fwd.carries[j].param))
            .collect();
        for (k, &j) in active.iter().enumerate() {
            if let Some(o) = needed_out(j) {
                let (t, s) = (self.t(o), state(k));
                after.extend(quote!(let #t = #s;));
            }
        }
        for c in 0..adj.contributions.len() {
            if let Some(o) = needed_out(nc + c) {
                let (t, a) = (self.t(o), acc(c));
                after.extend(quote!(let #t = #a;));
            }
        }
        quote! {
            #before
            for #entry in #tape.iter().rev() {
                #start
                #body
            }
            #after
        }
    }
}

fn collect_idents(ts: &TokenStream, out: &mut BTreeSet<String>) {
    for tt in ts.clone() {
        match tt {
            TokenTree::Ident(i) => {
                out.insert(i.to_string());
            }
            TokenTree::Group(g) => collect_idents(&g.stream(), out),
            _ => {}
        }
    }
}
