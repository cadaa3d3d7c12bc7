//! Integration tests, gathered in one crate so that nalgebra is linked once.

mod branches;
mod check;
mod cookbook;
mod edges;
mod factor;
mod helpers;
mod integrations;
mod iterators;
mod jacobian_ops;
mod jacobians;
mod kernels;
mod loops;
mod methods;
mod minimize;
mod real_code;
mod second;
mod seeds;
mod smoke;
mod structure;
mod support;
mod types;
mod ui;
