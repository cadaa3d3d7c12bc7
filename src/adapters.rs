//! What the solver adapters' generated code needs from matgrad: the solver crates, re-exported
//! so that the user's crate needs no path of its own to them, and one macro per cargo feature
//! that passes the adapter's items through when the feature is on and otherwise reports, at the
//! user's `argmin` or `least_squares` option, which feature to enable. (The proc macro cannot see
//! matgrad's features; the expansion asks matgrad through these macros.)

#[cfg(feature = "argmin")]
pub use argmin;
#[cfg(feature = "argmin")]
pub use argmin_math;
#[cfg(feature = "levenberg-marquardt")]
pub use levenberg_marquardt;

#[cfg(feature = "argmin")]
#[doc(hidden)]
#[macro_export]
macro_rules! __matgrad_with_argmin {
    ($($item:tt)*) => { $($item)* };
}

#[cfg(not(feature = "argmin"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __matgrad_with_argmin {
    ($($item:tt)*) => {
        ::core::compile_error!(
            "`argmin = ..` needs matgrad's feature `argmin` (argmin 0.11 is built on nalgebra 0.34): \
             in Cargo.toml, `matgrad = { .., default-features = false, features = [\"nalgebra-0_34\", \"argmin\"] }`"
        );
    };
}

#[cfg(feature = "levenberg-marquardt")]
#[doc(hidden)]
#[macro_export]
macro_rules! __matgrad_with_levenberg_marquardt {
    ($($item:tt)*) => { $($item)* };
}

#[cfg(not(feature = "levenberg-marquardt"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __matgrad_with_levenberg_marquardt {
    ($($item:tt)*) => {
        ::core::compile_error!(
            "`least_squares = ..` needs matgrad's feature `levenberg-marquardt` (levenberg-marquardt 0.15 is built on nalgebra 0.34): \
             in Cargo.toml, `matgrad = { .., default-features = false, features = [\"nalgebra-0_34\", \"levenberg-marquardt\"] }`"
        );
    };
}

pub use crate::__matgrad_with_argmin as with_argmin;
pub use crate::__matgrad_with_levenberg_marquardt as with_levenberg_marquardt;
