//! matgrad's solver adapters with the real solver crates, in a crate on nalgebra 0.34 (the
//! nalgebra those crates are built on). One test binary, so that the dependencies link once.

mod argmin_solvers;
mod helpers;
mod loops;
mod mgh;
mod minimize;
mod model;
