//! The expression graph: one node per distinct sub-expression (hash-consed), each with its
//! operation, its arguments and its type.

mod graph;
pub mod loops;
mod op;
pub mod vocabulary;

pub use graph::{Graph, Leaf, Node, NodeId};
pub use loops::Loop;
pub use op::{Cmp, Func, Index, Op, Part};

/// The highest matrix power `Op::MatPow` stands for: products of one matrix are merged up to it,
/// by lowering and by simplification alike (the derivative of xᵏ has k terms).
pub const MAX_POWER: u32 = 64;
