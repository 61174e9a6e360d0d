//! Protobuf messages of the IAPZ air picture, package `iapz.v1`.
//!
//! # Why a schema
//!
//! Everything that crosses a process boundary in iapz-fusion travels as one
//! of these messages over Zenoh: sensor adapters publish [`v1::PlotBatch`]es,
//! the tracker publishes the air picture as a stream of [`v1::TrackEvent`]s
//! plus periodic [`v1::PictureSnapshot`]s, partner systems and other fusion
//! nodes send [`v1::TrackFeed`]s, and every node reports [`v1::NodeStatus`].
//! The `.proto` files in `proto/proto/iapz/v1/` are the public interface:
//! consumers in other languages generate their own code from them, and the
//! field numbers are a wire contract that must never be reused or changed
//! (add new fields with new numbers, and `reserved` the numbers of removed
//! ones).
//!
//! # Conventions
//!
//! * SI units (metres, seconds, m/s) and degrees for angles; the unit is in
//!   the field name where it is not obvious (`range_m`, `azimuth_deg`).
//! * `t` fields are data time in seconds since the run epoch, which is sent
//!   as [`v1::PictureSnapshot::epoch_unix_ns`]; see [`t_to_unix_ns`].
//! * Track positions and velocities are in the local ENU frame of
//!   [`v1::PictureSnapshot::origin`]; partner feeds use geodetic positions.
//! * Covariances are the 21-value row-major upper triangle of the 6x6 matrix
//!   over (x, y, z, vx, vy, vz); see [`cov6_to_upper`] and [`upper_to_cov6`].
//!
//! # Using the messages from another language
//!
//! Generate code from the `.proto` files with the language's usual tool
//! (`protoc`, `grpcio-tools` for Python, `buf`, ...) using `proto/proto` as
//! the include path, subscribe to the Zenoh key expression and decode each
//! sample's payload with the generated type. `proto/README.md` has a Python
//! example. Tools that work by reflection can use [`FILE_DESCRIPTOR_SET`]
//! instead of the `.proto` files.
//!
//! # Example
//!
//! ```
//! use iapz_proto::v1::{track_event, Enu, Track, TrackEvent, TrackStatus, TrackUpdate};
//! use prost::Message;
//!
//! let event = TrackEvent {
//!     event: Some(track_event::Event::Update(TrackUpdate {
//!         track: Some(Track {
//!             track_number: 17,
//!             t: 12.5,
//!             position: Some(Enu { x: 1000.0, y: -250.0, z: 3000.0 }),
//!             status: TrackStatus::Confirmed as i32,
//!             ..Default::default()
//!         }),
//!     })),
//! };
//! let bytes = event.encode_to_vec();
//! assert_eq!(TrackEvent::decode(bytes.as_slice())?, event);
//! # Ok::<(), prost::DecodeError>(())
//! ```

pub mod keys;

/// The generated messages of package `iapz.v1` (see the `.proto` files for
/// the authoritative documentation).
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/iapz.v1.rs"));
}

/// The encoded `google.protobuf.FileDescriptorSet` of the `iapz.v1` schema,
/// with source info (so with the comments), for tools that reflect on the
/// schema (e.g. `prost-reflect`, `protoc --descriptor_set_in`, Python's
/// `descriptor_pool`).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/iapz.v1.fds.bin"));

/// Number of values in a packed 6x6 covariance: the upper triangle, 21.
pub const COV6_UPPER_LEN: usize = 21;

/// Errors of the helpers of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// A packed covariance does not have [`COV6_UPPER_LEN`] values.
    #[error("packed 6x6 covariance must have {COV6_UPPER_LEN} values, got {0}")]
    CovarianceLength(usize),
}

/// Index of element (`i`, `j`) of a symmetric 6x6 matrix in its packed
/// row-major upper triangle. The order is symmetric: (`j`, `i`) gives the
/// same index.
///
/// # Panics
///
/// If `i` or `j` is not below 6.
#[must_use]
pub const fn cov6_index(i: usize, j: usize) -> usize {
    assert!(i < 6 && j < 6, "6x6 matrix index out of range");
    let (i, j) = if i <= j { (i, j) } else { (j, i) };
    6 * i - i * i.saturating_sub(1) / 2 + (j - i)
}

/// Packs a 6x6 covariance over (x, y, z, vx, vy, vz) into the 21-value
/// row-major upper triangle used by `Track.covariance` and
/// `SourceTrack.covariance`: P00..P05, P11..P15, P22..P25, P33..P35, P44,
/// P45, P55.
///
/// Only the upper triangle (`j >= i`) of `m` is read; the matrix is assumed
/// symmetric.
#[must_use]
pub fn cov6_to_upper(m: &[[f64; 6]; 6]) -> Vec<f64> {
    let mut v = Vec::with_capacity(COV6_UPPER_LEN);
    for (i, row) in m.iter().enumerate() {
        v.extend_from_slice(&row[i..]);
    }
    v
}

/// Unpacks the 21-value row-major upper triangle of [`cov6_to_upper`] into a
/// full symmetric 6x6 matrix.
///
/// # Errors
///
/// [`ProtoError::CovarianceLength`] if `v` does not have exactly 21 values
/// (an empty field, meaning "no covariance", is an error too: check for it
/// first).
pub fn upper_to_cov6(v: &[f64]) -> Result<[[f64; 6]; 6], ProtoError> {
    if v.len() != COV6_UPPER_LEN {
        return Err(ProtoError::CovarianceLength(v.len()));
    }
    let mut m = [[0.0; 6]; 6];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, x) in row.iter_mut().enumerate() {
            *x = v[cov6_index(i, j)];
        }
    }
    Ok(m)
}

/// Converts a data time `t` (seconds since the run epoch) to nanoseconds
/// since the Unix epoch, given the run epoch `epoch_unix_ns`
/// ([`v1::PictureSnapshot::epoch_unix_ns`]). Rounds to the nearest
/// nanosecond and saturates at the `i64` range.
#[must_use]
pub fn t_to_unix_ns(epoch_unix_ns: i64, t: f64) -> i64 {
    // `as` from f64 saturates (and maps NaN to 0).
    epoch_unix_ns.saturating_add((t * 1e9).round() as i64)
}

/// Converts nanoseconds since the Unix epoch to data time `t` (seconds since
/// the run epoch `epoch_unix_ns`). The inverse of [`t_to_unix_ns`] up to
/// floating-point precision (about 0.1 us for a run of a few days).
#[must_use]
pub fn unix_ns_to_t(epoch_unix_ns: i64, unix_ns: i64) -> f64 {
    // Difference in i128 so that no input overflows; a run is short enough
    // for the difference to be exact in f64 up to ~104 days.
    (i128::from(unix_ns) - i128::from(epoch_unix_ns)) as f64 * 1e-9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cov6_index_matches_packing_order() {
        let mut k = 0;
        for i in 0..6 {
            for j in i..6 {
                assert_eq!(cov6_index(i, j), k);
                assert_eq!(cov6_index(j, i), k);
                k += 1;
            }
        }
        assert_eq!(k, COV6_UPPER_LEN);
    }

    #[test]
    fn unix_time_round_trip() {
        let epoch = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z
        assert_eq!(t_to_unix_ns(epoch, 1.5), epoch + 1_500_000_000);
        assert_eq!(t_to_unix_ns(epoch, -0.25), epoch - 250_000_000);
        assert_eq!(t_to_unix_ns(i64::MAX, 10.0), i64::MAX);
        let t = 86_400.123_456_789;
        let back = unix_ns_to_t(epoch, t_to_unix_ns(epoch, t));
        assert!((back - t).abs() < 1e-6, "{back} vs {t}");
        assert_eq!(unix_ns_to_t(i64::MIN, i64::MAX), (u64::MAX as f64) * 1e-9);
    }
}
