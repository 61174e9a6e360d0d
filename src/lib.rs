//! `iapzd`: the IAPZ air-picture fusion daemon, as a library so that tests and other programs
//! can start a daemon in-process ([`run::Daemon`]) and stop it.
//!
//! Plot batches and track feeds arrive over Zenoh as protobuf (`iapz.v1`, crate
//! `iapz-proto`); the tracker (`fusion-core`) runs on its own thread behind a bounded queue;
//! track events, snapshots and status leave over Zenoh; metrics go to Prometheus. One file per
//! part: [`config`], [`keys`], [`wire`], [`ingest`], [`engine`], [`feeds`], [`snapshot`],
//! [`publish`], [`status`], [`metrics`], and [`run`] which wires them.

pub mod config;
pub mod engine;
pub mod feeds;
pub mod ingest;
pub use iapz_proto::keys;
pub mod metrics;
pub mod publish;
pub mod run;
pub mod snapshot;
pub mod status;
pub mod wire;
