//! Which nalgebra `matgrad::nalgebra` is: the one the features select, so that a crate on
//! nalgebra 0.34 (argmin 0.11, levenberg-marquardt 0.15) and matgrad share one nalgebra. Generated
//! code names nalgebra only as `::matgrad::nalgebra`, so it follows the choice.

#[cfg(all(feature = "nalgebra-0_35", feature = "nalgebra-0_34"))]
compile_error!(
    "matgrad: the features `nalgebra-0_35` and `nalgebra-0_34` are both enabled, but matgrad re-exports one nalgebra. \
     `nalgebra-0_35` is a default feature: for nalgebra 0.34 write \
     `matgrad = { .., default-features = false, features = [\"nalgebra-0_34\"] }`"
);

#[cfg(not(any(feature = "nalgebra-0_35", feature = "nalgebra-0_34")))]
compile_error!(
    "matgrad: no nalgebra selected. Enable the feature `nalgebra-0_35` (the default) or `nalgebra-0_34`, \
     e.g. `matgrad = { .., default-features = false, features = [\"nalgebra-0_34\"] }`"
);

#[cfg(all(
    any(feature = "argmin", feature = "levenberg-marquardt"),
    not(feature = "nalgebra-0_34")
))]
compile_error!(
    "matgrad: the solver adapters (features `argmin`, `levenberg-marquardt`) work on the solver crates' nalgebra, 0.34. \
     Select it instead of the default 0.35: \
     `matgrad = { .., default-features = false, features = [\"nalgebra-0_34\", \"argmin\"] }`"
);

// With both features on, 0.35 is re-exported so that the error above is the only one.
#[cfg(feature = "nalgebra-0_35")]
pub use ::nalgebra;

#[cfg(all(feature = "nalgebra-0_34", not(feature = "nalgebra-0_35")))]
pub use nalgebra_0_34 as nalgebra;
