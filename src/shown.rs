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
use std::collections::BTreeMap;
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
    /// Public number -> tracker number, for the tracks shown under another number than their
    /// local track's (few: a partner's number inherited); the others are shown under their own.
    aliases: BTreeMap<u64, u64>,
    /// The tracker's picture at the last call: a public number in it is its own local track's.
    local: PictureSnapshot,
}

impl ShownPicture {
    /// Moves to `fused`, the fusion of the tracker's picture `local`, given the tracker's
    /// events since the last call and the numbers whose partner tracks moved to another
    /// object (`moved`). Returns the events to publish and the picture to show.
    pub fn update(
        &mut self,
        local: &PictureSnapshot,
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
        // Every collection here is ordered by number: membership is a forward walk.
        let mut in_fused = Walk::new(&fused.tracks);
        for (&number, _) in self.tracks.iter().filter(|(n, _)| !in_fused.holds(**n)) {
            let reason = match self.local_of(number) {
                Some(m) if deleted_locally.contains_key(&m) => deleted_locally[&m],
                _ if moved.contains_key(&number) => v1::DeletionReason::Merged,
                None => v1::DeletionReason::SourceDropped,
                Some(_) => v1::DeletionReason::Unspecified,
            };
            events.push(PictureEvent::Deleted(number, reason));
        }
        let mut in_fused = Walk::new(&fused.tracks);
        self.tracks.retain(|n, _| in_fused.holds(*n));
        self.aliases = aliases(local, &fused);
        self.local = local.clone();
        // What is left shown is in the fused picture: walk both together, replacing what
        // changed in place; the new numbers are inserted after.
        let mut shown = self.tracks.iter_mut().peekable();
        let mut new = Vec::new();
        for tr in std::mem::take(&mut fused.tracks) {
            match shown.next_if(|(n, _)| **n == tr.number) {
                Some((_, old)) => {
                    let news = old.last_update_t != tr.last_update_t
                        || old.status != tr.status
                        || old.sources != tr.sources
                        || old.icao24 != tr.icao24;
                    if news {
                        events.push(PictureEvent::Updated(tr.number));
                        *old = tr;
                    }
                }
                None => {
                    events.push(PictureEvent::Updated(tr.number));
                    new.push(tr);
                }
            }
        }
        self.tracks
            .extend(new.into_iter().map(|tr| (tr.number, tr)));
        // The fused picture's time and prediction noise, with the tracks last published.
        fused.tracks = self.tracks.values().cloned().collect();
        (events, Arc::new(fused))
    }

    /// The tracker number of the local track shown under public `number` at the last call.
    fn local_of(&self, number: u64) -> Option<u64> {
        self.aliases.get(&number).copied().or_else(|| {
            let own = self
                .local
                .tracks
                .binary_search_by_key(&number, |t| t.number);
            own.is_ok().then_some(number)
        })
    }
}

/// Which tracker track each fused track shown under another number shows. A tracker number is
/// only ever shown by its own track (the fusion reserves them), so a fused track under a
/// tracker number is that track; a local track shown under a partner's number is the fused
/// track with a local part (hits) and the same score and hits, which the fusion copies from the
/// local track.
fn aliases(local: &Picture, fused: &Picture) -> BTreeMap<u64, u64> {
    let mut shown = Walk::new(&fused.tracks);
    let mut aliased: Vec<&PictureTrack> = local
        .tracks
        .iter()
        .filter(|t| !shown.holds(t.number))
        .collect();
    let mut tracker = Walk::new(&local.tracks);
    let mut map = BTreeMap::new();
    for tr in &fused.tracks {
        if !tracker.holds(tr.number)
            && tr.hits > 0
            && let Some(i) = aliased
                .iter()
                .position(|l| l.hits == tr.hits && l.score.to_bits() == tr.score.to_bits())
        {
            map.insert(tr.number, aliased.swap_remove(i).number);
        }
    }
    map
}

/// Membership in tracks ordered by number, for numbers asked in increasing order: one forward
/// pass over the tracks, where a binary search per number would touch a new cache line at
/// every probe.
struct Walk<'a> {
    tracks: &'a [PictureTrack],
    at: usize,
}

impl<'a> Walk<'a> {
    fn new(tracks: &'a [PictureTrack]) -> Self {
        Self { tracks, at: 0 }
    }

    /// Whether `number` is among the tracks; `number` must not be below the last one asked.
    fn holds(&mut self, number: u64) -> bool {
        while self.tracks.get(self.at).is_some_and(|t| t.number < number) {
            self.at += 1;
        }
        self.tracks.get(self.at).is_some_and(|t| t.number == number)
    }
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
        let local = Arc::new(local);
        let (events, _) = shown.update(&local, fused.clone(), &[], &none);
        assert_eq!(events.len(), 4, "all new: {events:?}");
        assert_eq!(shown.local_of(900), Some(2));
        assert_eq!(shown.local_of(1), Some(1));
        assert_eq!(shown.local_of(901), None);

        // Nothing new: track 1 was only predicted (later t, same last update).
        let mut later = fused.clone();
        later.tracks[0].t = 11.0;
        let (events, held) = shown.update(&local, later, &[], &none);
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(held.tracks[0].t, 10.0, "the shown version stays");

        // Track 2 deleted by the tracker (shown as 900), 901 lost its source, 902 merged
        // into 1.
        let local = Arc::new(picture(vec![track(1, 9.0, 5, 20.0)]));
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
