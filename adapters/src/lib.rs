//! Format codecs that carry sensor data into the air picture and the picture back out.
//!
//! Every format the system speaks at its edge lives here, decoded into or encoded from
//! `fusion-core` types, so the core never sees a byte of wire format. Today: the scenario
//! JSON Lines files (plots, truth, picture) used by simulation, replay and scoring, and
//! EUROCONTROL ASTERIX (CAT048, CAT034, CAT021, CAT062) with the classic pcap captures it is
//! often recorded in. Beast and the adapter processes join in later increments.

pub mod asterix;
pub mod pcap;
pub mod scenario;
pub mod scenario_plots;
