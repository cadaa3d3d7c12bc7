//! Integration tests, gathered in one crate so that nalgebra is linked once.

mod support;
mod smoke;
