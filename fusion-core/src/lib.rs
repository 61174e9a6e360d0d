//! Pure, deterministic core of the iapz-fusion air-picture tracker.
//!
//! Plots from radars, passive sensors, ADS-B and other fusion nodes go in; one air picture
//! (one track per real object, with a stable track number, a state and a covariance) comes
//! out. The crate does no I/O, reads no clock and spawns no async tasks: time comes from the
//! data, so the same plots always give the same picture, bit for bit. That is what makes a
//! recorded capture a regression test.
//!
//! The pipeline, one module per step (in the spirit of Stone Soup's components):
//! - [`measurement`]: plots, and their conversion to ENU observations (debiased polar);
//! - [`motion`], [`kalman`], [`imm`]: CV / CT / CA models, Kalman and EKF updates, the IMM;
//! - [`gate`]: the k-d tree coarse gate, followed by the exact chi-square gate;
//! - [`cluster`], [`assign`], [`associate`]: independent clusters, optimal assignment, GNN;
//! - [`track`]: the score-based life cycle;
//! - [`tracker`]: the orchestration, and [`picture`]: immutable snapshots for readers;
//! - [`feed`]: track-to-track fusion of the tracks other fusion nodes and partners report
//!   with our picture (gated association, covariance intersection, stable numbering, and
//!   provenance so that two nodes feeding each other neither duplicate nor keep ghosts).
//!
//! Everything lives in one local tangent plane (East-North-Up at a configured WGS-84
//! origin, [`geodesy`]); geodetic coordinates appear only where data enters or leaves.
pub mod assign;
pub mod associate;
pub mod chi2;
pub mod cluster;
pub mod config;
pub mod feed;
pub mod gate;
pub mod geodesy;
pub mod hypothesis;
pub mod imm;
pub mod kalman;
pub mod measurement;
pub mod motion;
pub mod murty;
pub mod picture;
pub mod sensor;
pub mod track;
pub mod tracker;

pub use config::TrackerConfig;
pub use feed::{FeedConfig, FeedFusion, RemoteTrack};
pub use measurement::{Measurement, Plot};
pub use picture::{Picture, PictureSnapshot};
pub use sensor::{SensorConfig, SensorIndex, SensorKind};
pub use tracker::{BatchOutcome, PlotError, ShownTrack, TrackEvent, Tracker};
