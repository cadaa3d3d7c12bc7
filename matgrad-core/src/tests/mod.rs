//! The engine's own tests: golden formulas and randomized derivations, all without compiling
//! user code.

mod cost;
mod derivations;
mod expansion_time;
mod formulas;
mod helpers;
mod random;
mod rng;
mod robust;
mod snapshot;
mod solvers;
pub(crate) mod textbook;
mod vocabulary;
