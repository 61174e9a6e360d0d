//! Seeded scenario simulation: targets, sensors, plots and truth.
