//! The partner's tracks, in: a `TrackFeed` the partner put on its inbound key becomes a track
//! feed of our daemon (`iapz/in/tracks/<partner>`), checked against the partner's trust
//! settings first. The daemon then fuses it track-to-track with our picture like any declared
//! feed (its `[[feeds]]` entry for the partner holds the accuracy assumed for it).
//!
//! Echoes: a partner that relays what we released lists the id we are released as in the
//! provenance; it is replaced here by our daemon's node id, so that the daemon's echo rule
//! applies (an echo may be fused into an object we hold, never make a new one).

use super::area::{Area, inside_any};
use iapz_proto::v1;
use prost::Message;
use serde::Deserialize;

/// Why a partner message is refused whole. `as_str` is the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundReject {
    /// Not a `TrackFeed`.
    Malformed,
    /// Its `source_id` is not the partner's id.
    WrongSource,
    /// No `epoch_unix_ns`: its times cannot be placed in ours.
    NoEpoch,
    /// More tracks than `max_tracks`.
    TooManyTracks,
    /// The queue towards our daemon was full.
    Backlog,
}

impl InboundReject {
    /// Every reason, in index order.
    pub const ALL: [InboundReject; 5] = [
        InboundReject::Malformed,
        InboundReject::WrongSource,
        InboundReject::NoEpoch,
        InboundReject::TooManyTracks,
        InboundReject::Backlog,
    ];

    /// The label.
    pub fn as_str(self) -> &'static str {
        match self {
            InboundReject::Malformed => "malformed",
            InboundReject::WrongSource => "wrong_source",
            InboundReject::NoEpoch => "no_epoch",
            InboundReject::TooManyTracks => "too_many_tracks",
            InboundReject::Backlog => "backlog",
        }
    }
}

/// The trust settings of the partner's inbound tracks (`[inbound]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InboundConfig {
    /// Whether the partner's tracks are passed to our daemon at all.
    pub enabled: bool,
    /// A message with more tracks is refused whole (`too_many_tracks`).
    pub max_tracks: usize,
    /// When not empty, only tracks inside one of these areas are passed on (the partner's
    /// area of responsibility); others are removed and counted.
    pub areas: Vec<Area>,
    /// Drop the partner's covariances, so that our daemon assumes the accuracy of the
    /// partner's `[[feeds]]` entry instead of trusting what the partner claims.
    pub ignore_covariance: bool,
}

impl Default for InboundConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_tracks: 1000,
            areas: Vec::new(),
            ignore_covariance: false,
        }
    }
}

/// A partner message made ready for our daemon.
#[derive(Debug, Clone, PartialEq)]
pub struct Admitted {
    /// The feed to put on `iapz/in/tracks/<partner>`.
    pub feed: v1::TrackFeed,
    /// Tracks removed (outside the inbound areas).
    pub removed: u64,
}

/// Checks and translates the partner's messages.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// The partner's id: its feed's `source_id` and our daemon's feed id for it.
    pub partner: String,
    /// The id we are released as (found in the partner's echoes of our tracks).
    pub released_as: String,
    /// Our daemon's node id (what the echoes are marked with for it).
    pub node_id: String,
    /// Trust settings.
    pub config: InboundConfig,
}

impl Inbound {
    /// The feed our daemon gets for the partner's `payload`, or why there is none.
    pub fn admit(&self, payload: &[u8]) -> Result<Admitted, InboundReject> {
        let mut feed = v1::TrackFeed::decode(payload).map_err(|_| InboundReject::Malformed)?;
        if feed.source_id != self.partner {
            return Err(InboundReject::WrongSource);
        }
        if feed.epoch_unix_ns == 0 {
            return Err(InboundReject::NoEpoch);
        }
        if feed.tracks.len() > self.config.max_tracks {
            return Err(InboundReject::TooManyTracks);
        }
        let before = feed.tracks.len();
        if !self.config.areas.is_empty() {
            feed.tracks.retain(|t| {
                t.position
                    .as_ref()
                    .is_some_and(|p| inside_any(&self.config.areas, p.lat_deg, p.lon_deg))
            });
        }
        let removed = (before - feed.tracks.len()) as u64;
        for t in &mut feed.tracks {
            if self.config.ignore_covariance {
                t.covariance.clear();
            }
            if let Some(i) = t.sources.iter().position(|s| *s == self.released_as) {
                t.sources[i] = self.node_id.clone();
                t.sources.sort();
                t.sources.dedup();
            }
        }
        Ok(Admitted { feed, removed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbound() -> Inbound {
        Inbound {
            partner: "alpha".into(),
            released_as: "coalition-west".into(),
            node_id: "west-1".into(),
            config: InboundConfig {
                max_tracks: 2,
                areas: vec![Area {
                    name: "aor".into(),
                    polygon: vec![[49.0, 23.0], [51.0, 23.0], [51.0, 25.0], [49.0, 25.0]],
                }],
                ignore_covariance: true,
                ..InboundConfig::default()
            },
        }
    }

    fn track(number: u64, lat: f64, sources: &[&str]) -> v1::SourceTrack {
        v1::SourceTrack {
            track_number: number,
            position: Some(v1::Geodetic {
                lat_deg: lat,
                lon_deg: 24.0,
                alt_m: 1000.0,
            }),
            covariance: vec![1.0; 21],
            sources: sources.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn feed(source: &str, epoch: i64, tracks: Vec<v1::SourceTrack>) -> Vec<u8> {
        v1::TrackFeed {
            source_id: source.into(),
            sequence: 1,
            t: 1.0,
            tracks,
            dropped_track_numbers: vec![],
            epoch_unix_ns: epoch,
        }
        .encode_to_vec()
    }

    #[test]
    fn partner_feeds_are_checked_trimmed_and_echoes_marked_for_our_daemon() {
        let i = inbound();
        let ok = i
            .admit(&feed(
                "alpha",
                7,
                vec![
                    track(1, 50.0, &["A-R1", "alpha"]),
                    track(2, 52.0, &["alpha"]),
                ],
            ))
            .expect("admitted");
        assert_eq!(ok.removed, 1);
        assert_eq!(ok.feed.tracks.len(), 1);
        assert!(ok.feed.tracks[0].covariance.is_empty());
        let echo = i
            .admit(&feed(
                "alpha",
                7,
                vec![track(3, 50.0, &["alpha", "coalition-west"])],
            ))
            .expect("admitted");
        assert_eq!(echo.feed.tracks[0].sources, ["alpha", "west-1"]);

        assert_eq!(i.admit(b"\xff\xff"), Err(InboundReject::Malformed));
        assert_eq!(
            i.admit(&feed("bravo", 7, vec![])),
            Err(InboundReject::WrongSource)
        );
        assert_eq!(
            i.admit(&feed("alpha", 0, vec![])),
            Err(InboundReject::NoEpoch)
        );
        let many = (0..3).map(|n| track(n, 50.0, &[])).collect();
        assert_eq!(
            i.admit(&feed("alpha", 7, many)),
            Err(InboundReject::TooManyTracks)
        );
    }
}
