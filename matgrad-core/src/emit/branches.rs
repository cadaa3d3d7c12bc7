//! Branches are computed lazily: a node that only one side of a branch on a scalar condition
//! needs (`if c { a } else { b }`, `Op::Select` with a scalar condition) is computed inside that
//! side's block, so that the branch not taken costs nothing and cannot panic (a factorisation
//! that only the other branch may attempt). Entrywise branches (a condition per entry) compute
//! both sides: each entry takes its own.

use proc_macro2::TokenStream;

use super::Emitter;
use crate::ir::{NodeId, Op};

/// Where a node's `let` goes: at the top level (`None`), or in the side where a scalar
/// condition holds (`true`) or fails. Branches on one condition share their sides (the value
/// and the gradient of an `if` are two branches on one condition): a node that both read is
/// computed in each branch's block, only ever on the side taken.
pub(super) type Block = Option<(NodeId, bool)>;

impl Emitter<'_> {
    /// Whether `n` is a branch whose sides are blocks: a select on a scalar condition.
    pub(super) fn is_lazy_branch(&self, n: NodeId) -> bool {
        matches!(self.g.op(n), Op::Select) && !self.g.ty(self.g.args(n)[0]).is_matrix()
    }

    /// The block in which `reader` reads `arg`: a side of the branch `reader` for its values,
    /// the block of `reader` itself otherwise.
    fn block_of_read(&self, reader: NodeId, arg: NodeId, owner: &[Block]) -> Block {
        // A value read inside a loop is computed at the top of its own scope.
        if self.g.scope_of(reader) != self.g.scope_of(arg) {
            return None;
        }
        if self.is_lazy_branch(reader) {
            let args = self.g.args(reader);
            if arg == args[1] && arg != args[2] {
                return Some((args[0], true));
            }
            if arg == args[2] && arg != args[1] {
                return Some((args[0], false));
            }
        }
        owner[reader.index()]
    }

    /// Assign each needed node its block: the one block all its reads are in, or the top level
    /// where they disagree or an output reads it. Also marks the nodes read from a block other
    /// than their own, which must never be moved (the program order of blocks is not the
    /// graph's order).
    pub(super) fn plan_blocks(&mut self, needed: &[bool], outputs: &[NodeId]) {
        let g = self.g;
        let len = g.len();
        let mut readers: Vec<Vec<NodeId>> = vec![Vec::new(); len];
        for (id, &is_needed) in needed.iter().enumerate() {
            if is_needed {
                let n = NodeId(id as u32);
                for a in self.reads(n) {
                    readers[a.index()].push(n);
                }
            }
        }
        let mut owner: Vec<Block> = vec![None; len];
        for id in (0..len).rev() {
            let n = NodeId(id as u32);
            if !needed[id] || outputs.contains(&n) || readers[id].is_empty() {
                continue;
            }
            let blocks: Vec<Block> = readers[id]
                .iter()
                .map(|&r| self.block_of_read(r, n, &owner))
                .collect();
            if blocks.iter().all(|b| *b == blocks[0]) {
                owner[id] = blocks[0];
            }
        }
        self.foreign_reads = (0..len)
            .map(|id| {
                let n = NodeId(id as u32);
                readers[id]
                    .iter()
                    .any(|&r| self.block_of_read(r, n, &owner) != owner[id])
            })
            .collect();
        self.owner = owner;
    }

    /// The block a node's `let` goes in.
    pub(super) fn block(&self, n: NodeId) -> Block {
        self.owner.get(n.index()).copied().flatten()
    }

    /// The `let`s of one side of a lazy branch: what its value needs on that side.
    pub(super) fn side_lets(&self, branch: NodeId, then: bool) -> TokenStream {
        let args = self.g.args(branch);
        let side = Some((args[0], then));
        let mut inside = vec![false; self.g.len()];
        let mut stack = vec![args[if then { 1 } else { 2 }]];
        while let Some(k) = stack.pop() {
            if inside[k.index()] || self.block(k) != side {
                continue;
            }
            inside[k.index()] = true;
            stack.extend(self.reads(k));
        }
        self.lets(&self.needed, |k| inside[k.index()])
    }
}
