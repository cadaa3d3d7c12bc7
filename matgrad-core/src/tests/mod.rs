//! The engine's own tests: golden formulas and randomized derivations, all without compiling
//! user code.

mod formulas;
mod random;
