//! Track feeds, both ways: the tracks of other fusion nodes and partners fused track-to-track
//! with our picture ([`FeedInbox`], around `fusion_core::feed::FeedFusion`), and our own
//! picture published as a feed for them ([`FeedOut`]). Both live in the tracker thread.
//!
//! In: each declared source's messages are checked for continuity (sequence gaps, restarts),
//! converted into our frame and epoch (`wire::remote_from_wire`) and handed to
//! `FeedFusion::ingest`; [`FeedInbox::fuse`] then joins them with the tracker's picture, so
//! that an object seen by our sensors and reported by a partner is shown once, under one
//! number, and a partner-only object is shown with a number of ours and its provenance.
//!
//! Out: every `[feed_out] interval_s` of data time, the whole fused picture goes out as a
//! `TrackFeed` with our node id as its source id and each track's provenance unchanged, which
//! is what lets the receivers (and us) apply the echo rule of `fusion_core::feed`.

use crate::wire::{AssumedAccuracy, remote_from_wire, source_track_to_wire};
use fusion_core::config::ConfigError;
use fusion_core::feed::{FeedConfig, FeedFusion, FeedOutcome};
use fusion_core::geodesy::LocalFrame;
use fusion_core::picture::PictureTrack;
use fusion_core::{Picture, RemoteTrack};
use iapz_proto::v1;
use std::collections::{BTreeMap, BTreeSet};

/// What applying a feed message found about the source's message stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedContinuity {
    /// The first message, or the next one in sequence.
    InOrder,
    /// Messages were lost between the previous one and this (their count).
    Gap(u64),
    /// The sequence went back: the source restarted, its old tracks were forgotten.
    Restarted,
}

/// What one feed message did.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The message's place in its source's stream.
    pub continuity: FeedContinuity,
    /// Tracks in the message (what a whole-message rejection counts).
    pub tracks: usize,
    /// What the fusion stored, dropped and refused.
    pub outcome: FeedOutcome,
}

/// The fused picture and what it tells about objects that ended.
#[derive(Debug, Clone)]
pub struct Fused {
    /// Our picture with the feeds fused in.
    pub picture: Picture,
    /// Public numbers of the previous fusion whose source tracks are now shown under another
    /// number (two objects turned out to be one): old number -> new number.
    pub moved: BTreeMap<u64, u64>,
}

/// One declared source as the inbox follows it.
#[derive(Debug, Clone)]
struct Source {
    id: String,
    assumed: AssumedAccuracy,
    sequence: Option<u64>,
    /// Source track numbers the fusion holds, with their time (our epoch), so that
    /// [`FeedInbox::fuse`] can tell which object each was shown in.
    held: BTreeMap<u64, f64>,
}

/// Every declared source's tracks, fused with our picture on demand.
pub struct FeedInbox {
    fusion: FeedFusion,
    sources: Vec<Source>,
    frame: LocalFrame,
    epoch_unix_ns: i64,
    max_age_s: f64,
    /// Public number of each (source index, source number) at the last fusion.
    shown_as: BTreeMap<(usize, u64), u64>,
}

/// Seconds to add to a time of a source with epoch `source_epoch_ns` to count it from our
/// epoch; a source epoch of 0 means ours (see `TrackFeed.epoch_unix_ns`).
pub fn epoch_offset_s(source_epoch_ns: i64, our_epoch_ns: i64) -> f64 {
    if source_epoch_ns == 0 {
        return 0.0;
    }
    (i128::from(source_epoch_ns) - i128::from(our_epoch_ns)) as f64 * 1e-9
}

impl FeedInbox {
    /// An inbox for the sources of `cfg` (in that order, each with the accuracy assumed for
    /// its tracks without covariance), converting into `frame` and the epoch `epoch_unix_ns`.
    pub fn new(
        cfg: FeedConfig,
        assumed: &[AssumedAccuracy],
        frame: LocalFrame,
        epoch_unix_ns: i64,
    ) -> Result<Self, ConfigError> {
        let sources = cfg
            .sources
            .iter()
            .zip(assumed)
            .map(|(id, a)| Source {
                id: id.clone(),
                assumed: *a,
                sequence: None,
                held: BTreeMap::new(),
            })
            .collect();
        let max_age_s = cfg.max_age_s;
        Ok(Self {
            fusion: FeedFusion::new(cfg)?,
            sources,
            frame,
            epoch_unix_ns,
            max_age_s,
            shown_as: BTreeMap::new(),
        })
    }

    /// Applies one validated feed message of source `source` (its index in the
    /// configuration): a restart forgets the source's tracks, then the message's dropped
    /// numbers are removed and its tracks stored. `None` for an unknown index.
    pub fn apply(&mut self, source: usize, feed: v1::TrackFeed) -> Option<Applied> {
        let s = self.sources.get_mut(source)?;
        let continuity = match s.sequence {
            None => FeedContinuity::InOrder,
            Some(prev) if feed.sequence == prev.wrapping_add(1) => FeedContinuity::InOrder,
            Some(prev) if feed.sequence > prev => FeedContinuity::Gap(feed.sequence - prev - 1),
            Some(_) => FeedContinuity::Restarted,
        };
        if continuity == FeedContinuity::Restarted {
            self.fusion.forget_source(&s.id);
            s.held.clear();
        }
        s.sequence = Some(feed.sequence);
        let offset = epoch_offset_s(feed.epoch_unix_ns, self.epoch_unix_ns);
        let tracks: Vec<RemoteTrack> = feed
            .tracks
            .iter()
            .filter_map(|t| remote_from_wire(t, &self.frame, offset, s.assumed))
            .collect();
        let outcome =
            self.fusion
                .ingest(&s.id, feed.t + offset, &tracks, &feed.dropped_track_numbers);
        for n in &feed.dropped_track_numbers {
            s.held.remove(n);
        }
        if !outcome.rejected.iter().any(|r| r.index.is_none()) {
            let refused: BTreeSet<usize> =
                outcome.rejected.iter().filter_map(|r| r.index).collect();
            for (i, t) in tracks.iter().enumerate() {
                if !refused.contains(&i) {
                    s.held.insert(t.number, t.t);
                }
            }
        }
        Some(Applied {
            continuity,
            tracks: feed.tracks.len(),
            outcome,
        })
    }

    /// Our picture `local` with every source's tracks fused in (see `FeedFusion::fuse`).
    pub fn fuse(&mut self, local: &Picture) -> Fused {
        let picture = self.fusion.fuse(local);
        // Forget what the fusion has aged out, as it did.
        let oldest = picture.t - self.max_age_s;
        let mut shown_as = BTreeMap::new();
        for (i, s) in self.sources.iter_mut().enumerate() {
            s.held.retain(|_, t| *t >= oldest);
            for &n in s.held.keys() {
                if let Some(p) = self.fusion.our_number(&s.id, n) {
                    shown_as.insert((i, n), p);
                }
            }
        }
        let shown: BTreeSet<u64> = picture.tracks.iter().map(|t| t.number).collect();
        let moved = self
            .shown_as
            .iter()
            .filter_map(|(key, &before)| {
                let &after = shown_as.get(key)?;
                (after != before && shown.contains(&after)).then_some((before, after))
            })
            .collect();
        self.shown_as = shown_as;
        Fused { picture, moved }
    }

    /// True when fusion would only predict our tracks (see `FeedFusion::is_trivial`): no
    /// source track is held, and no source number was shown at the last fusion.
    pub fn is_trivial(&self) -> bool {
        self.shown_as.is_empty() && self.fusion.is_trivial()
    }

    /// Moves the fusion's clock to `local_t` if later, and returns it (the picture's time).
    pub fn advance(&mut self, local_t: f64) -> f64 {
        self.fusion.advance(local_t)
    }

    /// Local track `tr` as a trivial fusion shows it at `t` (see `FeedFusion::show_alone`).
    pub fn show_alone(&self, tr: PictureTrack, t: f64, q: (f64, f64)) -> PictureTrack {
        self.fusion.show_alone(tr, t, q)
    }

    /// Our node id, which ends the provenance of every local track shown.
    pub fn node_id(&self) -> &str {
        self.fusion.node_id()
    }

    /// Source tracks held for fusion, all sources together.
    pub fn remote_count(&self) -> usize {
        self.fusion.remote_count()
    }
}

/// Our own picture as a track feed, one message every `interval_s` of data time.
pub struct FeedOut {
    node_id: String,
    epoch_unix_ns: i64,
    frame: LocalFrame,
    interval_s: f64,
    last_t: f64,
    sequence: u64,
    /// Track numbers of the previous message: those missing from the next are dropped.
    sent: BTreeSet<u64>,
}

impl FeedOut {
    /// A feed of node `node_id` (its `source_id`), times counted from `epoch_unix_ns`,
    /// positions from `frame`.
    pub fn new(node_id: &str, epoch_unix_ns: i64, frame: LocalFrame, interval_s: f64) -> Self {
        Self {
            node_id: node_id.to_string(),
            epoch_unix_ns,
            frame,
            interval_s,
            last_t: f64::NEG_INFINITY,
            sequence: 0,
            sent: BTreeSet::new(),
        }
    }

    /// Whether a picture at data time `t` is due as a feed message.
    pub fn is_due(&self, t: f64) -> bool {
        t.is_finite() && t >= self.last_t + self.interval_s
    }

    /// The next feed message when `picture` is at least `interval_s` of data time past the
    /// previous one: every track of the picture, and the numbers that left it since.
    pub fn due(&mut self, picture: &Picture) -> Option<v1::TrackFeed> {
        if !self.is_due(picture.t) {
            return None;
        }
        self.last_t = picture.t;
        self.sequence += 1;
        let now: BTreeSet<u64> = picture.tracks.iter().map(|t| t.number).collect();
        let dropped = self.sent.difference(&now).copied().collect();
        self.sent = now;
        Some(v1::TrackFeed {
            source_id: self.node_id.clone(),
            sequence: self.sequence,
            t: picture.t,
            tracks: picture
                .tracks
                .iter()
                .map(|t| source_track_to_wire(t, &self.frame))
                .collect(),
            dropped_track_numbers: dropped,
            epoch_unix_ns: self.epoch_unix_ns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fusion_core::geodesy::Geodetic;

    const ASSUMED: AssumedAccuracy = AssumedAccuracy {
        position_sigma_m: 300.0,
        velocity_sigma_mps: 30.0,
    };

    fn frame() -> LocalFrame {
        LocalFrame::new(Geodetic::new(49.84, 24.03, 300.0))
    }

    fn inbox() -> FeedInbox {
        let cfg = FeedConfig {
            node_id: "node-1".into(),
            sources: vec!["node-2".into()],
            ..FeedConfig::default()
        };
        FeedInbox::new(cfg, &[ASSUMED], frame(), 1_000_000_000_000).expect("inbox")
    }

    /// A track of the source at `lat`, `lon`, with the given provenance.
    fn track(number: u64, t: f64, lat: f64, sources: &[&str]) -> v1::SourceTrack {
        v1::SourceTrack {
            track_number: number,
            t,
            position: Some(v1::Geodetic {
                lat_deg: lat,
                lon_deg: 24.03,
                alt_m: 3000.0,
            }),
            sources: sources.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn feed(sequence: u64, t: f64, tracks: Vec<v1::SourceTrack>, dropped: &[u64]) -> v1::TrackFeed {
        v1::TrackFeed {
            source_id: "node-2".into(),
            sequence,
            t,
            tracks,
            dropped_track_numbers: dropped.to_vec(),
            // The source's epoch is 2 s after ours.
            epoch_unix_ns: 1_002_000_000_000,
        }
    }

    #[test]
    fn the_epoch_offset_moves_source_times_into_ours() {
        assert_eq!(epoch_offset_s(0, 5), 0.0);
        assert_eq!(epoch_offset_s(3_500_000_000, 1_000_000_000), 2.5);
        assert_eq!(epoch_offset_s(i64::MIN, i64::MAX), -18_446_744_073.709553);
    }

    #[test]
    fn feeds_are_fused_continuity_is_followed_and_restarts_forget() {
        let mut inbox = inbox();
        let a = inbox
            .apply(
                0,
                feed(1, 10.0, vec![track(7, 10.0, 50.0, &["R9", "node-2"])], &[]),
            )
            .expect("known source");
        assert_eq!(a.continuity, FeedContinuity::InOrder);
        assert_eq!(a.outcome.accepted, 1);
        let fused = inbox.fuse(&Picture::default());
        // Source time 10 s is 12 s of ours; the partner-only object keeps its provenance
        // and gets the feed's id.
        assert_eq!(fused.picture.t, 12.0);
        assert_eq!(fused.picture.tracks.len(), 1);
        let tr = &fused.picture.tracks[0];
        let ids: Vec<&str> = tr.sources.iter().map(|s| &**s).collect();
        assert_eq!(ids, vec!["R9", "node-2"]);
        assert!(tr.number >= 1 << 63, "a number of the remote block");
        let g = frame().to_geodetic(&nalgebra::Vector3::new(
            tr.estimate.x[0],
            tr.estimate.x[1],
            tr.estimate.x[2],
        ));
        assert!((g.lat - 50.0).abs() < 1e-9 && (g.alt_m - 3000.0).abs() < 1e-6);

        // An echo of our own track (our id in its provenance) never makes an object.
        let a = inbox
            .apply(
                0,
                feed(4, 11.0, vec![track(8, 11.0, 51.0, &["node-1"])], &[7]),
            )
            .expect("known source");
        assert_eq!(a.continuity, FeedContinuity::Gap(2));
        assert!(inbox.fuse(&Picture::default()).picture.tracks.is_empty());

        let a = inbox
            .apply(0, feed(1, 12.0, vec![track(9, 12.0, 50.5, &[])], &[]))
            .expect("known source");
        assert_eq!(a.continuity, FeedContinuity::Restarted);
        assert_eq!(inbox.remote_count(), 1, "the echo was forgotten");
        assert_eq!(inbox.fuse(&Picture::default()).picture.tracks.len(), 1);
        assert!(inbox.apply(3, feed(2, 13.0, Vec::new(), &[])).is_none());
    }

    #[test]
    fn our_feed_carries_the_picture_and_what_left_it() {
        let mut inbox = inbox();
        inbox.apply(
            0,
            feed(
                1,
                10.0,
                vec![
                    track(1, 10.0, 50.0, &["node-2"]),
                    track(2, 10.0, 50.5, &["node-2"]),
                ],
                &[],
            ),
        );
        let picture = inbox.fuse(&Picture::default()).picture;
        let mut out = FeedOut::new("node-1", 1_000_000_000_000, frame(), 1.0);
        let first = out.due(&picture).expect("the first is due at once");
        assert_eq!((first.sequence, first.t), (1, 12.0));
        assert_eq!(first.source_id, "node-1");
        assert_eq!(first.tracks.len(), 2);
        assert!(first.tracks.iter().all(|t| t.sources == ["node-2"]));
        let p = first.tracks[0].position.expect("position");
        assert!((p.lat_deg - 50.0).abs() < 1e-9, "{p:?}");
        assert!(out.due(&picture).is_none(), "not before interval_s");
        inbox.apply(
            0,
            feed(2, 11.0, vec![track(1, 11.0, 50.0, &["node-2"])], &[2]),
        );
        let picture = inbox.fuse(&Picture::default()).picture;
        let second = out.due(&picture).expect("due");
        assert_eq!(second.sequence, 2);
        assert_eq!(second.tracks.len(), 1);
        assert_eq!(second.dropped_track_numbers.len(), 1);
    }
}
