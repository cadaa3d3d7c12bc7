//! The expression graph: one node per distinct sub-expression (hash-consed), each with its
//! operation, its arguments and its type.

mod graph;
mod op;

pub use graph::{Graph, Leaf, Node, NodeId};
pub use op::{Func, Index, Op, Part};
