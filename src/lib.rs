//! `iapzd`: the IAPZ air-picture fusion daemon, as a library so that tests and other programs
//! can start a daemon in-process ([`run::Daemon`]) and stop it.
//!
//! Plot batches and track feeds arrive over Zenoh as protobuf (`iapz.v1`, crate
//! `iapz-proto`); the tracker (`fusion-core`) runs on its own thread behind a bounded queue;
//! track events, snapshots and status leave over Zenoh; metrics go to Prometheus. One file per
//! part: [`config`], [`keys`], [`wire`], [`ingest`], [`engine`], [`feeds`], [`shown`], [`snapshot`],
//! [`publish`], [`status`], [`metrics`], and [`run`] which wires them. [`demo`] (simulated
//! feeds around an in-process daemon), [`watch`] (the picture in a terminal) and [`connect`]
//! (their Zenoh sessions) are the tools around it.

pub mod bridge;
pub mod capture;
pub mod config;
pub mod connect;
pub mod demo;
pub mod engine;
pub mod feeds;
pub mod ingest;
pub use iapz_proto::keys;
pub mod metrics;
pub mod publish;
pub mod record;
pub mod replay;
pub mod run;
pub mod shown;
pub mod snapshot;
pub mod status;
pub mod watch;
pub mod wire;
