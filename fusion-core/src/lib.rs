//! Pure, deterministic core of the iapz-fusion air-picture tracker.
pub mod geodesy;
