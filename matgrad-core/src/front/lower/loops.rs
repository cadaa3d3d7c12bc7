//! Loops: `for PAT in ITER { .. }` whose body updates carried state (`ir/loops.rs`), and the
//! assignments (`s = ..`, `s += ..`) that update it, in a loop or not.
//!
//! A loop's trip count must not depend on a variable: matgrad differentiates the iterations a
//! loop runs, not the number it runs. The body is read once, into nodes that depend on the
//! loop's leaves (the carried values at the start of an iteration, and constants computed from
//! the index), so that its derivative is derived once, whatever the trip count.

use std::collections::HashMap;

use quote::ToTokens;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{BinOp, Expr};

use super::{collect_pat_idents, text_of, Bound, Lowerer};
use crate::ir::loops::{Carry, Header, LoopKind, Statement};
use crate::ir::{NodeId, Op};
use crate::shape::Ty;

pub(super) const TRIP_COUNT: &str = "matgrad differentiates the iterations a loop runs, not how many it runs: the number of iterations cannot depend on a variable (for the derivative of an iteration run to convergence, differentiate its fixed point instead; or run a fixed number of iterations)";

impl Lowerer<'_> {
    /// `for PAT in ITER { body }`, on the active path.
    pub(super) fn for_loop(&mut self, fl: &syn::ExprForLoop) {
        if self.elementwise.is_some() {
            self.cx
                .error_spanned_by(fl, "a loop inside a closure over entries is not supported");
            return;
        }
        if let Some(label) = &fl.label {
            self.cx.error_spanned_by(
                label,
                "labelled loops are not supported on a path from a variable: `break` and `continue` apply to the innermost loop",
            );
            return;
        }
        if self.mentions_active(&fl.expr) {
            self.cx.error_spanned_by(
                &fl.expr,
                format!("a loop's iterator cannot depend on a variable (iterate over indices, `for i in 0..w.len()`, and read `w[i]` in the body): {TRIP_COUNT}"),
            );
            return;
        }
        let mut bound = Vec::new();
        collect_pat_idents(&fl.pat, &mut bound);
        // The carried values: names bound before the loop that its body assigns, whose value
        // matgrad tracks (a scalar or a matrix; a counter of another type stays a constant
        // statement, copied as written).
        let mut assigned = Assigned::default();
        assigned.visit_block(&fl.body);
        let mut carries: Vec<(String, Bound)> = Vec::new();
        for name in assigned.names {
            if assigned.declared.contains(&name) || carries.iter().any(|(n, _)| *n == name) {
                continue;
            }
            if let Some(b) = self.lookup(&name) {
                let tracked = self.ty(b.node) != Ty::Unknown || self.g.is_active(b.node);
                if tracked && !b.entry {
                    carries.push((name, b));
                }
            }
        }
        let nesting = self.g.current_scope.map_or(0, |p| self.g.loops[p].depth);
        let index = match bound.as_slice() {
            [one] => one.to_string(),
            // Nested loops' formulas keep their steps apart: i, j, k, …
            _ => ["i", "j", "k", "l", "m"][nesting.min(4)].to_string(),
        };
        let (pat, iter) = (&fl.pat, &fl.expr);
        let header = Header {
            pat: pat.to_token_stream(),
            iter: iter.to_token_stream(),
            bound: bound.clone(),
            text: format!("{} ∈ {}", text_of(pat), text_of(iter)),
            index,
        };
        let lp = self
            .g
            .push_loop(header, self.g.current_scope, LoopKind::Primal);
        // A carry is on the active path if its initial value is, or if the body makes it so:
        // read the body again until that settles (at most once per carry).
        let mut active: Vec<bool> = carries
            .iter()
            .map(|(_, b)| self.g.is_active(b.node))
            .collect();
        let outs = loop {
            let (errors, missing, waiting) =
                (self.cx.count(), self.missing.len(), self.waiting.len());
            let outs = self.loop_body(lp, fl, &carries, &active, &bound);
            let mut changed = false;
            for (j, out) in outs.iter().enumerate() {
                if out.is_some_and(|o| self.g.is_active(o)) && !active[j] {
                    active[j] = true;
                    changed = true;
                }
            }
            if !changed {
                break outs;
            }
            self.cx.truncate(errors);
            self.missing.truncate(missing);
            self.waiting.truncate(waiting);
        };
        let Some(outs) = outs.into_iter().collect::<Option<Vec<NodeId>>>() else {
            return;
        };
        self.finish_loop(lp, fl, &carries, outs);
    }

    /// Read the body with the carries bound to fresh `Op::Carry` leaves; the carries' values
    /// at the end of the body.
    fn loop_body(
        &mut self,
        lp: usize,
        fl: &syn::ExprForLoop,
        carries: &[(String, Bound)],
        active: &[bool],
        bound: &[syn::Ident],
    ) -> Vec<Option<NodeId>> {
        let saved_opaque = std::mem::take(&mut self.opaque_by_text);
        let saved_exits = std::mem::take(&mut self.exits);
        let saved_stmts = std::mem::take(&mut self.stmts);
        let saved_scope = self.g.current_scope.replace(lp);
        self.scopes.push(HashMap::new());
        for name in bound {
            self.shadow_with_constant(name.clone());
        }
        let mut params = Vec::new();
        for (j, (name, b)) in carries.iter().enumerate() {
            let ty = self.ty(b.node);
            let op = Op::Carry {
                lp,
                index: j,
                active: active[j],
            };
            let param = self.mk(op, vec![], ty, fl.for_token.span);
            self.bind(name.clone(), param);
            params.push(param);
        }
        self.carried.push(
            carries
                .iter()
                .map(|(n, _)| n.clone())
                .zip(params.iter().copied())
                .collect(),
        );
        let depth = self.scopes.len();
        for stmt in &fl.body.stmts {
            match stmt {
                syn::Stmt::Local(local) => self.local(local),
                other => self.statement(other),
            }
        }
        let mut outs: Vec<Option<NodeId>> = carries
            .iter()
            .map(|(name, _)| {
                self.scopes[depth - 1]
                    .get(name)
                    .map(|b| b.node)
                    .filter(|_| !self.waiting.contains(name))
            })
            .collect();
        // Each `break`/`continue` after an update: where its condition holds, the values at
        // that point (the last exit first, so that the first one taken wins).
        let exits = std::mem::replace(&mut self.exits, saved_exits);
        let mut breaks = Vec::new();
        for exit in exits.iter().rev() {
            for (out, &at) in outs.iter_mut().zip(&exit.values) {
                *out = out.map(|o| self.g.select(exit.cond, at, o));
            }
        }
        // A `break` ends the loop where it is reached: its condition holds and no exit before
        // it was taken in the iteration.
        for (k, exit) in exits.iter().enumerate() {
            if exit.is_break {
                let mut reached = exit.cond;
                for earlier in &exits[..k] {
                    let one = self.g.lit(1.0);
                    let not_taken = self.g.sub(one, earlier.cond);
                    reached = self.g.mul(reached, not_taken);
                }
                breaks.push(reached);
            }
        }
        self.g.loops[lp].breaks = breaks;
        self.scopes.pop();
        self.carried.pop();
        self.g.current_scope = saved_scope;
        self.opaque_by_text = saved_opaque;
        let stmts = std::mem::replace(&mut self.stmts, saved_stmts);
        self.check_counters(lp, &stmts);
        let l = &mut self.g.loops[lp];
        l.stmts = stmts
            .into_iter()
            .map(|s| Statement {
                is_let: syn::parse2::<syn::Stmt>(s.tokens.clone())
                    .is_ok_and(|st| matches!(st, syn::Stmt::Local(_))),
                tokens: s.tokens,
                alias: s.alias,
                by_ref: s.by_ref,
            })
            .collect();
        l.carries = carries
            .iter()
            .zip(&params)
            .map(|((name, b), &param)| Carry {
                name: name.clone(),
                param,
                init: b.node,
                out: param,
            })
            .collect();
        outs
    }

    /// A constant the body updates (`k += 2;`) may steer what runs (`if k > m { continue; }`),
    /// but the backward pass, which computes the body's constants again from the index, does
    /// not run such updates: the body's constants may not read it.
    fn check_counters(&mut self, lp: usize, stmts: &[super::Stmt]) {
        let mut updated: Vec<(String, proc_macro2::TokenStream)> = Vec::new();
        for st in stmts {
            let Ok(syn::Stmt::Expr(e, _)) = syn::parse2::<syn::Stmt>(st.tokens.clone()) else {
                continue;
            };
            let mut assigned = Assigned::default();
            assigned.visit_expr(&e);
            for name in assigned.names {
                updated.push((name, st.tokens.clone()));
            }
        }
        if updated.is_empty() {
            return;
        }
        let mut read = Vec::new();
        for leaf in self.g.opaque.iter().chain(&self.g.locals) {
            if leaf.scope == Some(lp) {
                super::collect_idents(leaf.code.clone(), &mut read);
            }
        }
        // Indices computed by code (`y[k]`), which name constants through their aliases.
        for id in 0..self.g.len() {
            let n = NodeId(id as u32);
            if !self.g.within(self.g.scope_of(n), lp) {
                continue;
            }
            if let Op::Entry(r, c) | Op::Scatter(r, c) | Op::View(r, c) | Op::Embed(r, c) =
                self.g.op(n)
            {
                for i in [r, c] {
                    if let crate::ir::Index::Expr { code, .. } = i {
                        if let Ok(ts) = code.parse() {
                            super::collect_idents(ts, &mut read);
                        }
                    }
                }
            }
        }
        let aliased: Vec<String> = self
            .g
            .locals
            .iter()
            .filter(|l| read.contains(&l.alias.to_string()))
            .map(|l| l.code.to_string())
            .collect();
        read.extend(aliased);
        for st in stmts.iter().filter(|s| {
            syn::parse2::<syn::Stmt>(s.tokens.clone())
                .is_ok_and(|st| matches!(st, syn::Stmt::Local(_)))
        }) {
            super::collect_idents(st.tokens.clone(), &mut read);
        }
        if let Some((name, tokens)) = updated.iter().find(|(n, _)| read.contains(n)) {
            self.cx.error_spanned_by(
                tokens,
                format!("the loop updates `{name}` in place, and values the derivative reads depend on it: compute them from the loop's index instead (e.g. `let {name} = 2 * i;`), so that the backward pass can compute them again"),
            );
        }
    }

    /// The loop's results: its `Op::LoopOut` nodes, bound to the carries' names.
    fn finish_loop(
        &mut self,
        lp: usize,
        fl: &syn::ExprForLoop,
        carries: &[(String, Bound)],
        outs: Vec<NodeId>,
    ) {
        for (j, &out) in outs.iter().enumerate() {
            let (tp, to) = (self.ty(self.g.loops[lp].carries[j].param), self.ty(out));
            let fits = match (tp, to) {
                (Ty::Matrix(a), Ty::Matrix(b)) => {
                    self.g.dims.unify(a.rows, b.rows).is_ok()
                        && self.g.dims.unify(a.cols, b.cols).is_ok()
                }
                (a, b) => a == b || b == Ty::Unknown,
            };
            if !fits {
                self.cx.error_spanned_by(
                    &fl.body,
                    format!(
                        "the loop changes the kind or shape of `{}`: a value carried from one iteration to the next must keep its type",
                        carries[j].0
                    ),
                );
                return;
            }
            self.g.loops[lp].carries[j].out = out;
        }
        // The captures: values from outside the loop, on the active path, that its body reads
        // (including a carry's new value when it is one of them).
        let mut captures: Vec<NodeId> = Vec::new();
        let mut note = |n: NodeId, g: &crate::ir::Graph| {
            if g.is_active(n) && !g.within(g.scope_of(n), lp) && !captures.contains(&n) {
                captures.push(n);
            }
        };
        for id in 0..self.g.len() {
            let n = NodeId(id as u32);
            if self.g.within(self.g.scope_of(n), lp) && !self.g.op(n).is_leaf() {
                for &a in self.g.args(n) {
                    note(a, &self.g);
                }
            }
        }
        for &o in &outs {
            note(o, &self.g);
        }
        captures.sort();
        let mut args: Vec<NodeId> = carries.iter().map(|(_, b)| b.node).collect();
        args.extend(captures);
        self.g.loops[lp].args = args.clone();
        let span = fl.for_token.span;
        let mut loop_outs = Vec::new();
        for (j, (name, _)) in carries.iter().enumerate() {
            let ty = self.ty(self.g.loops[lp].carries[j].param);
            let n = self.mk(Op::LoopOut { lp, out: j }, args.clone(), ty, span);
            loop_outs.push(n);
            self.assign_name(name, n);
            self.g.names.entry(n).or_insert_with(|| name.clone());
        }
        self.g.loops[lp].outs = loop_outs;
    }

    /// Bind `name` anew where it is bound (an assignment, not a shadowing `let`).
    pub(super) fn assign_name(&mut self, name: &str, node: NodeId) {
        self.waiting.retain(|w| w != name);
        if let Some(scope) = self.scopes.iter_mut().rev().find(|s| s.contains_key(name)) {
            scope.insert(name.to_string(), Bound { node, entry: false });
        }
    }

    /// `name = value`, `name += value` (and `-=`, `*=`, `/=`) of a name matgrad tracks.
    /// Returns false if the statement is not such an assignment.
    pub(super) fn assignment(&mut self, e: &Expr) -> bool {
        let (left, value): (&Expr, Expr) = match e {
            Expr::Assign(a) => (&a.left, (*a.right).clone()),
            Expr::Binary(b) => {
                let op = match b.op {
                    BinOp::AddAssign(t) => BinOp::Add(syn::Token![+](t.spans[0])),
                    BinOp::SubAssign(t) => BinOp::Sub(syn::Token![-](t.spans[0])),
                    BinOp::MulAssign(t) => BinOp::Mul(syn::Token![*](t.spans[0])),
                    BinOp::DivAssign(t) => BinOp::Div(syn::Token![/](t.spans[0])),
                    _ => return false,
                };
                let right = &b.right;
                let right: Expr = syn::parse_quote!((#right));
                let value = Expr::Binary(syn::ExprBinary {
                    attrs: Vec::new(),
                    left: b.left.clone(),
                    op,
                    right: Box::new(right),
                });
                (&b.left, value)
            }
            _ => return false,
        };
        let Expr::Path(p) = super::strip(left) else {
            return false;
        };
        let Some(ident) = p.path.get_ident() else {
            return false;
        };
        let name = ident.to_string();
        let Some(b) = self.lookup(&name) else {
            return false;
        };
        let tracked = self.g.is_active(b.node)
            || matches!(self.g.op(b.node), Op::Carry { .. } | Op::LoopOut { .. })
            || self.mentions_active(&value);
        if !tracked || b.entry {
            return false;
        }
        if let Some(n) = self.expr(&value) {
            self.assign_name(&name, n);
            if !self.g.op(n).is_leaf() {
                self.g.names.entry(n).or_insert_with(|| name.clone());
            }
        }
        true
    }
}

/// A `break` or `continue` after the body changed carried values.
pub(super) struct Exit {
    /// 1 where the condition holds, 0 elsewhere (a constant of the iteration).
    cond: NodeId,
    /// The carried values at that point.
    values: Vec<NodeId>,
    is_break: bool,
}

/// The names a loop body assigns (`x = ..`, `x += ..`), in order, and those it declares.
#[derive(Default)]
struct Assigned {
    names: Vec<String>,
    declared: Vec<String>,
}

impl<'ast> Visit<'ast> for Assigned {
    fn visit_expr_assign(&mut self, a: &'ast syn::ExprAssign) {
        if let Expr::Path(p) = super::strip(&a.left) {
            if let Some(id) = p.path.get_ident() {
                self.names.push(id.to_string());
            }
        }
        syn::visit::visit_expr_assign(self, a);
    }
    fn visit_expr_binary(&mut self, b: &'ast syn::ExprBinary) {
        let compound = matches!(
            b.op,
            BinOp::AddAssign(_) | BinOp::SubAssign(_) | BinOp::MulAssign(_) | BinOp::DivAssign(_)
        );
        if let (true, Expr::Path(p)) = (compound, super::strip(&b.left)) {
            if let Some(id) = p.path.get_ident() {
                self.names.push(id.to_string());
            }
        }
        syn::visit::visit_expr_binary(self, b);
    }
    fn visit_local(&mut self, l: &'ast syn::Local) {
        let mut names = Vec::new();
        collect_pat_idents(&l.pat, &mut names);
        self.declared.extend(names.iter().map(|n| n.to_string()));
        syn::visit::visit_local(self, l);
    }
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
}

/// Whether a statement leaves the loop it is in (`break`, `continue`, `return`), not counting
/// the loops and closures inside it.
pub(super) fn exits(stmt: &syn::Stmt) -> Option<proc_macro2::TokenStream> {
    #[derive(Default)]
    struct Exit(Option<proc_macro2::TokenStream>);
    impl<'ast> Visit<'ast> for Exit {
        fn visit_expr_break(&mut self, b: &'ast syn::ExprBreak) {
            self.0.get_or_insert_with(|| b.to_token_stream());
        }
        fn visit_expr_continue(&mut self, c: &'ast syn::ExprContinue) {
            self.0.get_or_insert_with(|| c.to_token_stream());
        }
        fn visit_expr_for_loop(&mut self, _: &'ast syn::ExprForLoop) {}
        fn visit_expr_while(&mut self, _: &'ast syn::ExprWhile) {}
        fn visit_expr_loop(&mut self, _: &'ast syn::ExprLoop) {}
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    }
    let mut v = Exit::default();
    v.visit_stmt(stmt);
    v.0
}

impl Lowerer<'_> {
    /// Whether a `for` loop is read into the graph: it uses a variable, or it assigns a value
    /// matgrad tracks (which generated code does not hold under its name).
    pub(super) fn is_graph_loop(&self, fl: &syn::ExprForLoop) -> bool {
        let mut assigned = Assigned::default();
        assigned.visit_block(&fl.body);
        self.mentions_active(&fl.expr)
            || self.mentions_active(&fl.body)
            || assigned.names.iter().any(|n| {
                !assigned.declared.contains(n)
                    && self
                        .lookup(n)
                        .is_some_and(|b| self.ty(b.node) != Ty::Unknown || self.g.is_active(b.node))
            })
    }

    /// `break`/`continue` in a loop body: allowed where its condition is a constant and no
    /// carried value changed before it in the iteration, so that leaving early changes which
    /// iterations run, not what one computes.
    pub(super) fn loop_exit(&mut self, stmt: &syn::Stmt, exit: proc_macro2::TokenStream) -> bool {
        let Some(carried) = self.carried.last().cloned() else {
            return false;
        };
        if self.mentions_active(stmt) {
            self.cx.error_spanned_by(
                stmt,
                format!(
                    "a `break` or `continue` whose condition depends on a variable: {TRIP_COUNT}"
                ),
            );
            return true;
        }
        let changed = carried
            .iter()
            .any(|(name, param)| self.lookup(name).is_some_and(|b| b.node != *param));
        if !changed {
            // Copied as written: the iteration leaves before it computes anything.
            return false;
        }
        // After the body changed carried values: `if c { break; }` (or `continue`) on a
        // constant c makes the iteration's results the values at this point where c holds.
        let (cond, is_break) = match stmt {
            syn::Stmt::Expr(Expr::If(i), _) if i.else_branch.is_none() => {
                let only = match i.then_branch.stmts.as_slice() {
                    [syn::Stmt::Expr(Expr::Break(b), _)]
                        if b.label.is_none() && b.expr.is_none() =>
                    {
                        Some(true)
                    }
                    [syn::Stmt::Expr(Expr::Continue(c), _)] if c.label.is_none() => Some(false),
                    _ => None,
                };
                match only {
                    Some(is_break) => (Some(&*i.cond), is_break),
                    None => (None, false),
                }
            }
            _ => (None, false),
        };
        let Some(cond) = cond else {
            self.cx.error_spanned_by(
                exit,
                "after the loop body changed a carried value, leave the iteration with `if condition { break; }` or `if condition { continue; }` (a condition on constants), or move the `break` or `continue` to the start of the body",
            );
            return true;
        };
        let one = quote::quote!(if #cond { 1.0 } else { 0.0 });
        let c = self.opaque_code(
            one,
            format!("[{}]", text_of(cond)),
            crate::shape::Ty::Scalar,
            cond.span(),
        );
        let values: Vec<NodeId> = carried
            .iter()
            .map(|(name, param)| self.lookup(name).map_or(*param, |b| b.node))
            .collect();
        self.exits.push(Exit {
            cond: c,
            values,
            is_break,
        });
        true
    }
}
