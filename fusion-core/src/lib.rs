//! Pure, deterministic core of the iapz-fusion air-picture tracker.
pub mod assign;
pub mod geodesy;
