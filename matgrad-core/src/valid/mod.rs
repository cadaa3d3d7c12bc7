//! Validation: the checks of the attribute's options against the function and against its
//! derivatives, one named function per rule (serde_derive's `check.rs`). Each reports to the
//! [`Ctxt`] and returns what expansion needs, so that after `cx.check()` nothing can fail.
//!
//! Checks that need only the function run whether or not its body could be lowered, so that a
//! body's mistakes and the options' mistakes are reported in one compile; checks that need the
//! derivative (is the objective quadratic?) run once the body is known to be valid.

pub mod adapter;
pub mod minimize;

use crate::attr::Options;
use crate::ctxt::Ctxt;
use crate::derivation::Derived;
use crate::front::{Body, Function};

pub use adapter::{Field, LeastSquares, Struct};
pub use minimize::Minimizer;

/// What the solver options generate, as validation accepted them.
#[derive(Default)]
pub struct Solvers {
    /// `minimize`: the closed-form minimiser.
    pub minimize: Option<Minimizer>,
    /// `argmin = Name`: the struct implementing argmin's traits.
    pub argmin: Option<Struct>,
    /// `least_squares = Name`: the struct implementing levenberg-marquardt's problem.
    pub least_squares: Option<LeastSquares>,
}

/// The checks of the options against the function alone, with the adapters' plans; `None` if a
/// check failed.
pub fn function(cx: &mut Ctxt, f: &Function, options: &Options) -> Option<Solvers> {
    let mut ok = true;
    if let Some(span) = options.minimize {
        for e in minimize::function(f, span) {
            cx.push(e);
            ok = false;
        }
    }
    if let Some(span) = options.argmin_self {
        for e in adapter::method_problem(f, span) {
            cx.push(e);
            ok = false;
        }
    }
    let argmin = options
        .argmin
        .as_ref()
        .map(|a| adapter::report(cx, adapter::problem(f, options, a, "argmin")));
    let least_squares = options
        .least_squares
        .as_ref()
        .map(|a| adapter::report(cx, adapter::least_squares(f, options, a)));
    // A plan asked for and not made failed its checks.
    if !ok || matches!(argmin, Some(None)) || matches!(least_squares, Some(None)) {
        return None;
    }
    Some(Solvers {
        minimize: None,
        argmin: argmin.flatten(),
        least_squares: least_squares.flatten(),
    })
}

/// The checks that need the derivatives, for a function whose options passed [`function`]:
/// `minimize`'s plan added to the adapters'.
pub fn derived(
    cx: &mut Ctxt,
    f: &Function,
    options: &Options,
    body: &Body,
    derived: &Derived,
    solvers: Solvers,
) -> Solvers {
    let minimize = match (options.minimize, derived) {
        (Some(span), Derived::Gradient(gr)) => match &gr.second {
            Some(second) => adapter::report(cx, minimize::derived(f, body, second, span)),
            None => None,
        },
        _ => None,
    };
    Solvers {
        minimize,
        ..solvers
    }
}
