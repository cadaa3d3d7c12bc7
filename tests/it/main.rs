//! Integration tests, gathered in one crate so that nalgebra is linked once.

mod check;
mod cookbook;
mod edges;
mod integrations;
mod jacobian_ops;
mod jacobians;
mod minimize;
mod second;
mod seeds;
mod smoke;
mod support;
mod types;
mod ui;
