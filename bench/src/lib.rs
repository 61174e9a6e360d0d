//! Scenario simulation, offline tracking and scoring for iapz-fusion (`iapz-bench`).
pub mod score;
pub mod simulate;
