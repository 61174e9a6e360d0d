//! Scenario simulation, offline tracking and scoring for iapz-fusion (`iapz-bench`).
//!
//! The three commands of `shared/docs/scenario-format.md` are thin wrappers over these
//! modules: [`simulate`] writes plots and truth files from a seeded scenario, [`track`] runs
//! the core tracker over a plots file and writes a picture file, [`score`] compares a picture
//! with the truth (GOSPA, OSPA, track-number changes).
pub mod score;
pub mod simulate;
pub mod track;
