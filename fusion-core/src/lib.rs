//! Pure, deterministic core of the iapz-fusion air-picture tracker.
pub mod assign;
pub mod geodesy;
pub mod imm;
pub mod kalman;
pub mod measurement;
pub mod motion;
pub mod sensor;
