//! Track feeds from other fusion nodes and partners, held for track-to-track fusion.
//!
//! HANDOVER: this is the seam for `fusion_core::feed::FeedFusion` (being written in
//! parallel). Today the daemon decodes, validates and counts every `TrackFeed` (see
//! `ingest`), and keeps each declared source's current tracks here, in the tracker thread, in
//! arrival order with the plots. When `FeedFusion` lands, [`FeedInbox::apply`] is where
//! `FeedFusion::ingest(source, t, &[RemoteTrack], dropped)` is called (converting each
//! [`v1::SourceTrack`] into a `RemoteTrack`), and the engine publishes
//! `FeedFusion::fuse(&picture)` instead of the tracker's picture alone. Until then feeds do
//! not change the published picture.

use iapz_proto::v1;
use std::collections::BTreeMap;

/// The current tracks of one source, as its feed messages left them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourcePicture {
    /// Sequence number of the last message applied.
    pub sequence: Option<u64>,
    /// Data time of the last message, in the source's epoch.
    pub t: f64,
    /// The source's epoch (ns since the Unix epoch; 0: ours).
    pub epoch_unix_ns: i64,
    /// Tracks by the source's track number.
    pub tracks: BTreeMap<u64, v1::SourceTrack>,
}

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

/// Every declared source's current tracks.
#[derive(Debug, Clone, Default)]
pub struct FeedInbox {
    sources: Vec<SourcePicture>,
}

impl FeedInbox {
    /// An empty inbox for `sources` declared sources.
    pub fn new(sources: usize) -> Self {
        Self {
            sources: vec![SourcePicture::default(); sources],
        }
    }

    /// Applies one validated feed message of source `source` (its index in the
    /// configuration): new and changed tracks replace the old, dropped ones are removed.
    pub fn apply(&mut self, source: usize, feed: v1::TrackFeed) -> Option<FeedContinuity> {
        let s = self.sources.get_mut(source)?;
        let continuity = match s.sequence {
            None => FeedContinuity::InOrder,
            Some(prev) if feed.sequence == prev.wrapping_add(1) => FeedContinuity::InOrder,
            Some(prev) if feed.sequence > prev => FeedContinuity::Gap(feed.sequence - prev - 1),
            Some(_) => FeedContinuity::Restarted,
        };
        if continuity == FeedContinuity::Restarted {
            s.tracks.clear();
        }
        s.sequence = Some(feed.sequence);
        s.t = feed.t;
        s.epoch_unix_ns = feed.epoch_unix_ns;
        for n in &feed.dropped_track_numbers {
            s.tracks.remove(n);
        }
        for t in feed.tracks {
            s.tracks.insert(t.track_number, t);
        }
        Some(continuity)
    }

    /// The current tracks of source `source`.
    pub fn source(&self, source: usize) -> Option<&SourcePicture> {
        self.sources.get(source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(sequence: u64, numbers: &[u64], dropped: &[u64]) -> v1::TrackFeed {
        v1::TrackFeed {
            source_id: "node-2".into(),
            sequence,
            t: sequence as f64,
            tracks: numbers
                .iter()
                .map(|&n| v1::SourceTrack {
                    track_number: n,
                    t: sequence as f64,
                    ..Default::default()
                })
                .collect(),
            dropped_track_numbers: dropped.to_vec(),
            epoch_unix_ns: 0,
        }
    }

    #[test]
    fn keeps_each_sources_tracks_and_notices_gaps_and_restarts() {
        let mut inbox = FeedInbox::new(1);
        assert_eq!(
            inbox.apply(0, feed(1, &[7, 8], &[])),
            Some(FeedContinuity::InOrder)
        );
        assert_eq!(
            inbox.apply(0, feed(2, &[8], &[7])),
            Some(FeedContinuity::InOrder)
        );
        let s = inbox.source(0).expect("source");
        assert_eq!(s.tracks.keys().copied().collect::<Vec<_>>(), vec![8]);
        assert_eq!(s.tracks[&8].t, 2.0);
        assert_eq!(
            inbox.apply(0, feed(5, &[9], &[])),
            Some(FeedContinuity::Gap(2))
        );
        assert_eq!(inbox.source(0).map(|s| s.tracks.len()), Some(2));
        assert_eq!(
            inbox.apply(0, feed(1, &[1], &[])),
            Some(FeedContinuity::Restarted)
        );
        let s = inbox.source(0).expect("source");
        assert_eq!(s.tracks.keys().copied().collect::<Vec<_>>(), vec![1]);
        assert_eq!(inbox.apply(3, feed(1, &[], &[])), None);
    }
}
