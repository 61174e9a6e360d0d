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
//! Two ways to the next picture, with the same result: [`ShownPicture::update`] takes a whole
//! fused picture (when partner tracks are held, fusion may change any track);
//! [`ShownPicture::update_alone`] takes only the tracks the tracker logged as possibly changed,
//! compares them with what was shown and fuses those with news, which is all that fusion does
//! while no partner track is held. Shown tracks are shared (`Arc`), so the copy the snapshot
//! store takes costs a pointer per track.
//!
//! A number that leaves the picture is deleted with the best reason known: the tracker's when
//! it deleted the local track shown under that number, `MERGED` when its partner tracks are
//! now shown under another number, `SOURCE_DROPPED` when a partner-only object lost its
//! sources.

use crate::wire::deletion_to_wire;
use fusion_core::picture::{Picture, PictureTrack};
use fusion_core::track::TrackStatus;
use fusion_core::{PictureSnapshot, ShownTrack, TrackEvent};
use iapz_proto::v1;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What happened to one public track number.
#[derive(Debug, Clone, PartialEq)]
pub enum PictureEvent {
    /// The track is new or changed: publish this state.
    Updated(Arc<PictureTrack>),
    /// The track left the picture.
    Deleted(u64, v1::DeletionReason),
}

/// The picture as shown: what the snapshot queryable answers with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShownTracks {
    /// Data time of the latest show.
    pub t: f64,
    /// The tracks ordered by number, each in the version last published.
    pub tracks: Vec<Arc<PictureTrack>>,
}

/// Which tracker track each public number shows, as of the last update.
#[derive(Debug, Default)]
enum LocalView {
    /// No show yet.
    #[default]
    Empty,
    /// After a whole fused picture: the tracker's picture then, and the public numbers shown
    /// under another number than their local track's (few: a partner's number inherited).
    Fused {
        local: PictureSnapshot,
        aliases: BTreeMap<u64, u64>,
    },
    /// After [`ShownPicture::update_alone`]: every shown number is its own local track's.
    Own,
}

/// The published picture and which tracker track each public number shows.
#[derive(Debug, Default)]
pub struct ShownPicture {
    shown: ShownTracks,
    /// Beside each shown track, what tells its news without reading it (the tracks are
    /// scattered over the heap; this is one run of memory).
    keys: Vec<Key>,
    local: LocalView,
}

/// What is compared to tell whether a local track has news (see [`differs`]).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Key {
    number: u64,
    last_update_t: f64,
    status: TrackStatus,
    icao24: Option<u32>,
    /// The local track's sensors (`ShownTrack::sensor_set`); `None` when not known as a set
    /// (shown from a whole fused picture, or sensor indices past 63): compare the sources.
    sensors: Option<u64>,
}

impl Key {
    fn of(tr: &PictureTrack) -> Self {
        Self {
            number: tr.number,
            last_update_t: tr.last_update_t,
            status: tr.status,
            icao24: tr.icao24,
            sensors: None,
        }
    }

    fn of_local(st: &ShownTrack<'_>) -> Self {
        Self {
            number: st.number,
            last_update_t: st.track.last_update_t,
            status: st.track.status,
            icao24: st.track.icao24,
            sensors: st.sensor_set(),
        }
    }
}

impl ShownPicture {
    /// Moves to `fused`, the fusion of the tracker's picture `local`, given the tracker's
    /// events since the last call and the numbers whose partner tracks moved to another
    /// object (`moved`). Returns the events to publish and the picture to show.
    pub fn update(
        &mut self,
        local: &PictureSnapshot,
        fused: Picture,
        tracker_events: &[TrackEvent],
        moved: &BTreeMap<u64, u64>,
    ) -> (Vec<PictureEvent>, ShownTracks) {
        let aliases = aliases(local, &fused);
        self.keys = fused.tracks.iter().map(Key::of).collect();
        let mut next = Vec::with_capacity(fused.tracks.len());
        let mut gone = Vec::new();
        let mut updated = Vec::new();
        let mut old = std::mem::take(&mut self.shown.tracks)
            .into_iter()
            .peekable();
        // Both are ordered by number: walk them together.
        for tr in fused.tracks {
            while let Some(o) = old.next_if(|o| o.number < tr.number) {
                gone.push(o.number);
            }
            match old.next_if(|o| o.number == tr.number) {
                Some(o) if !differs(&o, &tr) => next.push(o),
                _ => {
                    let tr = Arc::new(tr);
                    updated.push(PictureEvent::Updated(tr.clone()));
                    next.push(tr);
                }
            }
        }
        gone.extend(old.map(|o| o.number));
        let mut events = self.deletions(&gone, tracker_events, moved);
        events.extend(updated);
        self.local = LocalView::Fused {
            local: local.clone(),
            aliases,
        };
        self.shown = ShownTracks {
            t: fused.t,
            tracks: next,
        };
        (events, self.shown.clone())
    }

    /// Moves to the tracker's picture as fusion shows it while it is trivial (no partner track
    /// held, every track under its own number), given only what may have changed since the
    /// last update: `changed`, the shown tracks the tracker logged (`Tracker::take_changed`),
    /// ordered by number, and the tracker's events (deletions). `show` makes the shown version
    /// of a track, and is called only for tracks with news; every shown provenance is the
    /// track's sensors and our `node_id`, sorted. `t` is the time of the picture. Gives the
    /// same events and picture as [`ShownPicture::update`] on the whole fused picture, at the
    /// cost of the changes and a copy of pointers and keys.
    pub fn update_alone(
        &mut self,
        changed: &[ShownTrack<'_>],
        t: f64,
        node_id: &str,
        tracker_events: &[TrackEvent],
        show: impl Fn(&ShownTrack<'_>) -> PictureTrack,
    ) -> (Vec<PictureEvent>, ShownTracks) {
        let mut deleted: Vec<u64> = tracker_events
            .iter()
            .filter_map(|e| match *e {
                TrackEvent::Deleted(n, _) => Some(n),
                _ => None,
            })
            .collect();
        deleted.sort_unstable();
        let n = self.keys.len() + changed.len();
        let (mut next, mut keys) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut gone = Vec::new();
        let mut updated = Vec::new();
        let mut old = std::mem::take(&mut self.shown.tracks)
            .into_iter()
            .zip(std::mem::take(&mut self.keys))
            .peekable();
        let mut changed = changed.iter().peekable();
        let mut deleted = deleted.into_iter().peekable();
        loop {
            // The lowest number of both lists; every list is ordered by number.
            let (o, c) = (
                old.peek().map(|(_, k)| k.number),
                changed.peek().map(|c| c.number),
            );
            let number = match (o, c) {
                (Some(o), Some(c)) => o.min(c),
                (Some(n), None) | (None, Some(n)) => n,
                (None, None) => break,
            };
            let shown = old.next_if(|(_, k)| k.number == number);
            let Some(st) = changed.next_if(|c| c.number == number) else {
                // Not logged: unchanged, unless the tracker deleted it.
                while deleted.next_if(|&d| d < number).is_some() {}
                if let Some((tr, key)) = shown {
                    if deleted.next_if(|&d| d == number).is_some() {
                        gone.push(number);
                    } else {
                        next.push(tr);
                        keys.push(key);
                    }
                }
                continue;
            };
            let key = Key::of_local(st);
            let same = match shown {
                // Both sets known: the keys tell it all, the track is not read.
                Some((tr, k)) if k.sensors.is_some() && key.sensors.is_some() => {
                    (k == key).then_some(tr)
                }
                Some((tr, _)) => (!differs_from_local(&tr, st, node_id)).then_some(tr),
                None => None,
            };
            match same {
                Some(tr) => next.push(tr),
                None => {
                    let tr = Arc::new(show(st));
                    updated.push(PictureEvent::Updated(tr.clone()));
                    next.push(tr);
                }
            }
            keys.push(key);
        }
        self.keys = keys;
        let mut events = self.deletions(&gone, tracker_events, &BTreeMap::new());
        events.extend(updated);
        self.local = LocalView::Own;
        self.shown = ShownTracks { t, tracks: next };
        (events, self.shown.clone())
    }

    /// Deletion events for the public numbers `gone`, with their reasons (see the module
    /// doc), judged by what the numbers showed before this update.
    fn deletions(
        &self,
        gone: &[u64],
        tracker_events: &[TrackEvent],
        moved: &BTreeMap<u64, u64>,
    ) -> Vec<PictureEvent> {
        let deleted_locally: BTreeMap<u64, v1::DeletionReason> = tracker_events
            .iter()
            .filter_map(|e| match *e {
                TrackEvent::Deleted(n, r) => Some((n, deletion_to_wire(r))),
                _ => None,
            })
            .collect();
        gone.iter()
            .map(|&number| {
                let reason = match self.local_of(number) {
                    Some(m) if deleted_locally.contains_key(&m) => deleted_locally[&m],
                    _ if moved.contains_key(&number) => v1::DeletionReason::Merged,
                    None => v1::DeletionReason::SourceDropped,
                    Some(_) => v1::DeletionReason::Unspecified,
                };
                PictureEvent::Deleted(number, reason)
            })
            .collect()
    }

    /// The tracker number of the local track shown under public `number` at the last update.
    fn local_of(&self, number: u64) -> Option<u64> {
        match &self.local {
            LocalView::Empty => None,
            LocalView::Own => Some(number),
            LocalView::Fused { local, aliases } => aliases.get(&number).copied().or_else(|| {
                let own = local.tracks.binary_search_by_key(&number, |t| t.number);
                own.is_ok().then_some(number)
            }),
        }
    }
}

/// Whether the fused track `new` is news against the shown version `old`.
fn differs(old: &PictureTrack, new: &PictureTrack) -> bool {
    old.last_update_t != new.last_update_t
        || old.status != new.status
        || old.sources != new.sources
        || old.icao24 != new.icao24
}

/// [`differs`] for a tracker track that trivial fusion would show with its sensors and
/// `node_id` as provenance (sorted, without repeats), without making its shown version.
fn differs_from_local(old: &PictureTrack, new: &ShownTrack<'_>, node_id: &str) -> bool {
    let tr = new.track;
    if old.last_update_t != tr.last_update_t || old.status != tr.status || old.icao24 != tr.icao24 {
        return true;
    }
    // The same set: the same size, and each of the new provenance among the old (sensor ids
    // are distinct; the node id may be one of them).
    let shown = |id: &str| old.sources.binary_search_by(|s| (**s).cmp(id)).is_ok();
    let mut size = 0;
    let mut has_node = false;
    for id in new.sources() {
        if !shown(id) {
            return true;
        }
        size += 1;
        has_node |= **id == *node_id;
    }
    size += usize::from(!has_node);
    !(shown(node_id) && old.sources.len() == size)
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

    /// Each event as its number, with the reason of a deletion.
    fn summary(events: &[PictureEvent]) -> Vec<(u64, Option<v1::DeletionReason>)> {
        events
            .iter()
            .map(|e| match e {
                PictureEvent::Updated(tr) => (tr.number, None),
                PictureEvent::Deleted(n, r) => (*n, Some(*r)),
            })
            .collect()
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
            summary(&events),
            vec![
                (900, Some(v1::DeletionReason::CoastTimeout)),
                (901, Some(v1::DeletionReason::SourceDropped)),
                (902, Some(v1::DeletionReason::Merged)),
                (1, None),
            ]
        );
        assert_eq!(after.tracks.len(), 1);
    }
}

/// The two ways to the next picture agree: for a simulated scenario through both
/// association modes, comparing the tracker's tracks and fusing only those with news gives
/// the same events and the same picture as fusing the whole picture and diffing it.
#[cfg(test)]
mod same_result {
    use super::*;
    use crate::demo::scene::{self, SectorBatch};
    use crate::feeds::FeedInbox;
    use crate::wire::{AssumedAccuracy, plot_from_wire};
    use fusion_core::config::AssociatorKind;
    use fusion_core::geodesy::{Geodetic, LocalFrame};
    use fusion_core::track::TrackStatus;
    use fusion_core::{FeedConfig, Plot, SensorIndex, Tracker, TrackerConfig};
    use iapz_bench::simulate::{self, Scenario};

    fn inbox(frame: LocalFrame) -> FeedInbox {
        let cfg = FeedConfig {
            node_id: "node-1".into(),
            sources: vec!["partner".into()],
            ..FeedConfig::default()
        };
        let assumed = AssumedAccuracy {
            position_sigma_m: 500.0,
            velocity_sigma_mps: 50.0,
        };
        FeedInbox::new(cfg, &[assumed], frame, 0).expect("feed inbox")
    }

    /// A tracker in `mode` for `Scenario::scaled(targets)` run for `duration_s`, its frame, and
    /// the scenario's plots in sector batches (sensor index, plots).
    fn simulated(
        targets: usize,
        duration_s: f64,
        mode: AssociatorKind,
        seed: u64,
    ) -> (Tracker, LocalFrame, Vec<(SectorBatch, Vec<Plot>)>) {
        let mut scenario = Scenario::scaled(targets);
        scenario.duration_s = duration_s;
        let (batches, _) =
            scene::simulate_batches(&scenario, seed, scene::SECTOR_FRACTION).expect("simulation");
        let o = &scenario.origin;
        let frame = LocalFrame::new(Geodetic::new(o.lat, o.lon, o.alt_m));
        let sensors = simulate::header(&scenario).sensor_configs();
        let cfg = TrackerConfig {
            mode,
            ..TrackerConfig::default()
        };
        let tracker = Tracker::new(cfg, frame.clone(), &sensors).expect("tracker");
        let batches = batches
            .into_iter()
            .map(|b| {
                let plots = b
                    .batch
                    .plots
                    .iter()
                    .map(|p| plot_from_wire(SensorIndex(b.sensor as u16), p).expect("plot"))
                    .collect();
                (b, plots)
            })
            .collect();
        (tracker, frame, batches)
    }

    fn run(mode: AssociatorKind, seed: u64) {
        let (mut tracker, frame, batches) = simulated(150, 100.0, mode, seed);
        tracker.log_changes(true);
        let (mut whole, mut alone) = (ShownPicture::default(), ShownPicture::default());
        let (mut inbox_whole, mut inbox_alone) = (inbox(frame.clone()), inbox(frame));
        let (mut updates, mut deletions, mut coasting) = (0, 0, 0);
        for (b, plots) in &batches {
            // The radars go blind after 70 s: every track coasts, then is deleted.
            let events = if b.release_t > 70.0 {
                tracker.advance(SensorIndex(b.sensor as u16), b.release_t)
            } else {
                tracker.process(plots).events
            };

            let local = tracker.snapshot();
            let fused = inbox_whole.fuse(&local);
            let (e1, p1) = whole.update(&local, fused.picture, &events, &fused.moved);

            assert!(inbox_alone.is_trivial());
            let t = inbox_alone.advance(tracker.time());
            let q = tracker.prediction_noise();
            let uids = tracker.take_changed();
            let shown = tracker.shown_tracks_of(&uids);
            let (e2, p2) = alone.update_alone(&shown, t, inbox_alone.node_id(), &events, |st| {
                inbox_alone.show_alone(st.to_picture(), t, q)
            });
            if e1 != e2 {
                let brief = |e: &[PictureEvent]| -> Vec<String> {
                    e.iter()
                        .map(|e| match e {
                            PictureEvent::Updated(tr) => format!(
                                "U{} {:?} {:?} {:.3} x{:.1}",
                                tr.number,
                                tr.sources,
                                tr.status,
                                tr.last_update_t,
                                tr.estimate.x[0]
                            ),
                            PictureEvent::Deleted(n, r) => format!("D{n} {r:?}"),
                        })
                        .collect()
                };
                let (b1, b2) = (brief(&e1), brief(&e2));
                let only1: Vec<_> = b1.iter().filter(|x| !b2.contains(x)).collect();
                let only2: Vec<_> = b2.iter().filter(|x| !b1.contains(x)).collect();
                panic!("events at t = {t}: whole only {only1:#?}\nalone only {only2:#?}");
            }
            assert_eq!(p1, p2, "pictures at t = {t}");
            for e in &e1 {
                match e {
                    PictureEvent::Updated(tr) => {
                        updates += 1;
                        coasting += usize::from(tr.status == TrackStatus::Coasting);
                    }
                    PictureEvent::Deleted(..) => deletions += 1,
                }
            }
        }
        // The run exercised what can differ: births, updates, coasting and deletions.
        assert!(updates > 1000, "{updates} updates");
        assert!(coasting > 0, "no track coasted");
        assert!(deletions > 0, "no track was deleted");
    }

    #[test]
    fn a_changed_provenance_is_news() {
        let (mut tracker, _, batches) = simulated(20, 40.0, AssociatorKind::Gnn, 3);
        for (_, plots) in &batches {
            tracker.process(plots);
        }
        assert!(tracker.take_changed().is_empty(), "no log unless asked for");
        let shown = tracker.shown_tracks();
        let st = shown
            .iter()
            .find(|st| st.sources().count() == 2)
            .expect("a track seen by both radars");
        assert_eq!(st.sensor_set(), Some(0b11), "sensors 0 and 1");
        let node = "node-1";
        let mut same = st.to_picture();
        same.sources.push(node.into());
        same.sources.sort();
        assert!(!differs_from_local(&same, st, node));
        let mut changed = vec![same.clone(), same.clone(), same.clone(), same];
        changed[0].sources.retain(|s| &**s != "R2");
        changed[1].sources.push("R3".into());
        changed[2].sources.retain(|s| &**s != node);
        changed[3].sources[0] = "A0".into();
        for old in &changed {
            assert!(differs_from_local(old, st, node), "{:?}", old.sources);
        }
    }

    #[test]
    fn gnn_pictures_are_the_same_either_way() {
        for seed in [3, 7] {
            run(AssociatorKind::Gnn, seed);
        }
    }

    #[test]
    fn mht_pictures_are_the_same_either_way() {
        for seed in [3, 7] {
            run(AssociatorKind::Mht, seed);
        }
    }
}
