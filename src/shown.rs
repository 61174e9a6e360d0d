//! The picture as the node shows it: the last version of every track sent on the event
//! stream, and the events that take it to the next fused picture.
//!
//! The fused picture predicts every track to one instant, so every track changes at every
//! fusion; publishing all of them each time would flood consumers with predictions they can
//! make themselves. A track is published (and replaced here) only when something new is known
//! of it: it is new, or its last update time, status, provenance or identity changed (a plot,
//! or a partner's report). The snapshot answers with this picture, so a late joiner gets
//! exactly what a subscriber of the event stream has.
//!
//! A number that leaves the picture is deleted with the best reason known: the tracker's when
//! it deleted the local track shown under that number, `MERGED` when its partner tracks are
//! now shown under another number, `SOURCE_DROPPED` when a partner-only object lost its
//! sources.

use crate::wire::deletion_to_wire;
use fusion_core::picture::{Picture, PictureTrack};
use fusion_core::{PictureSnapshot, TrackEvent};
use iapz_proto::v1;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What happened to one public track number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PictureEvent {
    /// The track is new or changed: publish its current state.
    Updated(u64),
    /// The track left the picture.
    Deleted(u64, v1::DeletionReason),
}

/// The published picture and which tracker track each public number shows.
#[derive(Debug, Default)]
pub struct ShownPicture {
    tracks: BTreeMap<u64, PictureTrack>,
    /// Public number -> tracker number, for the tracks that have a local track.
    local_of: BTreeMap<u64, u64>,
}

impl ShownPicture {
    /// Moves to `fused`, the fusion of the tracker's picture `local`, given the tracker's
    /// events since the last call and the numbers whose partner tracks moved to another
    /// object (`moved`). Returns the events to publish and the picture to show.
    pub fn update(
        &mut self,
        local: &Picture,
        mut fused: Picture,
        tracker_events: &[TrackEvent],
        moved: &BTreeMap<u64, u64>,
    ) -> (Vec<PictureEvent>, PictureSnapshot) {
        let deleted_locally: BTreeMap<u64, v1::DeletionReason> = tracker_events
            .iter()
            .filter_map(|e| match *e {
                TrackEvent::Deleted(n, r) => Some((n, deletion_to_wire(r))),
                _ => None,
            })
            .collect();
        let mut events = Vec::new();
        let numbers: BTreeSet<u64> = fused.tracks.iter().map(|t| t.number).collect();
        for (&number, _) in self.tracks.iter().filter(|(n, _)| !numbers.contains(n)) {
            let reason = match self.local_of.get(&number) {
                Some(m) if deleted_locally.contains_key(m) => deleted_locally[m],
                _ if moved.contains_key(&number) => v1::DeletionReason::Merged,
                None => v1::DeletionReason::SourceDropped,
                Some(_) => v1::DeletionReason::Unspecified,
            };
            events.push(PictureEvent::Deleted(number, reason));
        }
        self.tracks.retain(|n, _| numbers.contains(n));
        self.local_of = local_numbers(local, &fused);
        for tr in std::mem::take(&mut fused.tracks) {
            let news = self.tracks.get(&tr.number).is_none_or(|old| {
                old.last_update_t != tr.last_update_t
                    || old.status != tr.status
                    || old.sources != tr.sources
                    || old.icao24 != tr.icao24
            });
            if news {
                events.push(PictureEvent::Updated(tr.number));
                self.tracks.insert(tr.number, tr);
            }
        }
        // The fused picture's time and prediction noise, with the tracks last published.
        fused.tracks = self.tracks.values().cloned().collect();
        (events, Arc::new(fused))
    }
}

/// Which tracker track each fused track shows. A tracker number is only ever shown by its own
/// track (the fusion reserves them), so a fused track under a tracker number is that track;
/// a local track shown under a partner's number is the fused track with a local part (hits)
/// and the same score and hits, which the fusion copies from the local track.
fn local_numbers(local: &Picture, fused: &Picture) -> BTreeMap<u64, u64> {
    let tracker: BTreeSet<u64> = local.tracks.iter().map(|t| t.number).collect();
    let shown: BTreeSet<u64> = fused.tracks.iter().map(|t| t.number).collect();
    let mut aliased: Vec<&PictureTrack> = local
        .tracks
        .iter()
        .filter(|t| !shown.contains(&t.number))
        .collect();
    let mut map = BTreeMap::new();
    for tr in &fused.tracks {
        if tracker.contains(&tr.number) {
            map.insert(tr.number, tr.number);
        } else if tr.hits > 0
            && let Some(i) = aliased
                .iter()
                .position(|l| l.hits == tr.hits && l.score.to_bits() == tr.score.to_bits())
        {
            map.insert(tr.number, aliased.swap_remove(i).number);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use fusion_core::kalman::Gaussian;
    use fusion_core::track::{DeletionReason, TrackStatus};

    fn track(number: u64, last_update_t: f64, hits: u32, score: f64) -> PictureTrack {
        PictureTrack {
            number,
            status: TrackStatus::Confirmed,
            t: 10.0,
            estimate: Gaussian {
                x: nalgebra::SVector::zeros(),
                p: nalgebra::SMatrix::identity(),
            },
            score,
            sources: vec![Arc::from("R1")],
            icao24: None,
            last_update_t,
            hits,
        }
    }

    fn picture(tracks: Vec<PictureTrack>) -> Picture {
        let mut p = Picture::default();
        p.t = 10.0;
        p.tracks = tracks;
        p
    }

    #[test]
    fn only_news_is_published_and_deletions_carry_their_reason() {
        let mut shown = ShownPicture::default();
        // Tracker tracks 1 and 2; 2 is shown under a partner's number 900; 901 is partner-only.
        let local = picture(vec![track(1, 9.0, 5, 20.0), track(2, 9.0, 6, 21.0)]);
        let fused = picture(vec![
            track(1, 9.0, 5, 20.0),
            track(900, 9.5, 6, 21.0),
            track(901, 9.5, 0, 0.0),
            track(902, 9.5, 0, 0.0),
        ]);
        let none = BTreeMap::new();
        let (events, _) = shown.update(&local, fused.clone(), &[], &none);
        assert_eq!(events.len(), 4, "all new: {events:?}");
        assert_eq!(shown.local_of.get(&900), Some(&2));

        // Nothing new: track 1 was only predicted (later t, same last update).
        let mut later = fused.clone();
        later.tracks[0].t = 11.0;
        let (events, held) = shown.update(&local, later, &[], &none);
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(held.tracks[0].t, 10.0, "the shown version stays");

        // Track 2 deleted by the tracker (shown as 900), 901 lost its source, 902 merged
        // into 1.
        let local = picture(vec![track(1, 9.0, 5, 20.0)]);
        let fused = picture(vec![track(1, 10.0, 5, 20.0)]);
        let deleted = [TrackEvent::Deleted(2, DeletionReason::CoastTimeout)];
        let moved = BTreeMap::from([(902, 1)]);
        let (events, after) = shown.update(&local, fused, &deleted, &moved);
        assert_eq!(
            events,
            vec![
                PictureEvent::Deleted(900, v1::DeletionReason::CoastTimeout),
                PictureEvent::Deleted(901, v1::DeletionReason::SourceDropped),
                PictureEvent::Deleted(902, v1::DeletionReason::Merged),
                PictureEvent::Updated(1),
            ]
        );
        assert_eq!(after.tracks.len(), 1);
    }
}
