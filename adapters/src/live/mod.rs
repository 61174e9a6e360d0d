//! The adapter processes: live feeds in, the picture out, over Zenoh.
//!
//! Each adapter is a library type with `start` (bind sockets, open the Zenoh session, declare
//! publishers) and `run(shutdown)` (work until the future `shutdown` completes), so that tests
//! and other programs embed them; the `iapz-adapter` binary is a thin command line over them.
//!
//! - [`asterix_in::AsterixIn`]: ASTERIX over UDP (unicast or multicast) -> CAT048 plot
//!   batches on `iapz/in/plots/<sensor>`, cut into sectors and scans by CAT034; CAT062
//!   system tracks -> `TrackFeed` on `iapz/in/tracks/<source>`.
//! - [`beast_in::BeastIn`]: a dump1090/readsb Beast TCP feed -> ADS-B position plots on
//!   `iapz/in/plots/<sensor>`, reconnecting with backoff.
//! - [`cat062_out::Cat062Out`]: the picture of `iapz/out/<picture>/**` -> CAT062 datagrams.
//!
//! Every adapter counts what it reads, decodes and rejects ([`counters::Counters`]): as
//! `metrics` counters (a Prometheus endpoint when the binary is given `--metrics ADDR`) and
//! in a periodic log line.

pub mod asterix_in;
pub mod asterix_wire;
pub mod beast_in;
pub mod cat062_out;
pub mod clock;
pub mod counters;
pub mod scan;
pub mod session;
