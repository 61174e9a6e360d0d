//! Format codecs that carry sensor data into the air picture and the picture back out.
//!
//! Every format the system speaks at its edge lives here, decoded into or encoded from
//! `fusion-core` types, so the core never sees a byte of wire format. Today: the scenario
//! JSON Lines files (plots, truth, picture) used by simulation, replay and scoring, and
//! EUROCONTROL ASTERIX (CAT048, CAT034, CAT021, CAT062) with the classic pcap captures it is
//! often recorded in; the Beast framing of Mode S receivers and Mode S / ADS-B decoding
//! (through `rs1090`); and the live adapter processes ([`live`]) that carry these feeds over
//! Zenoh into the daemon and the picture back out as CAT062.

pub mod asterix;
pub mod beast;
#[cfg(feature = "live")]
pub mod live;
pub mod modes;
pub mod pcap;
pub mod scenario;
pub mod scenario_plots;
pub mod tcp_stream;
