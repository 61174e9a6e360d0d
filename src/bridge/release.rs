//! What one partner receives, and when: our track events go through a bounded delay line
//! (the release delay), then the release policy (on the state that would be sent), then a
//! per-track minimum interval and a global token bucket (the maximum rate, which coalesces:
//! a track's latest state waits, older ones are superseded), and leave renumbered as
//! `TrackFeed` messages.
//!
//! Partner track numbers are allocated sequentially per partner, in the order tracks are first
//! released, and never reused: they carry nothing of our numbers. A released track that a
//! rule now withholds, that our daemon deleted, or that has been silent for `max_silence` is
//! withdrawn (its partner number goes in `dropped_track_numbers`); if it becomes releasable
//! again it gets a new number.
//!
//! Pure state: the caller gives the time ([`Release::offer`], [`Release::tick`]), so that the
//! behaviour is tested without a clock.

use super::convert::to_source_track;
use super::counters::{BridgeCounters, Dropped, Withdrawal};
use super::policy::{ReleasePolicy, Rule};
use fusion_core::geodesy::LocalFrame;
use iapz_proto::v1;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Timing and bounds of the release.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReleaseTiming {
    /// Every event waits this long before it is considered.
    pub delay: Duration,
    /// A track is sent at most once per this interval (its latest state).
    pub min_interval: Duration,
    /// At most this many track states are sent per second, all tracks together (bursts up to
    /// one second's worth).
    pub max_tracks_per_s: f64,
    /// Track updates waiting in the delay line at most; more are dropped and counted.
    pub max_queue: usize,
    /// A released track without an update for this long is withdrawn.
    pub max_silence: Duration,
}

/// One change of our picture, waiting in the delay line.
#[derive(Debug, Clone)]
enum Change {
    Update(Box<v1::Track>),
    Delete(u64),
}

/// A released track: its partner number and rate state.
#[derive(Debug, Clone)]
struct Released {
    number: u64,
    last_sent: Option<Instant>,
    /// The latest state not sent yet (rate limits).
    pending: Option<v1::SourceTrack>,
}

/// What the bridge knows of one of our tracks.
#[derive(Debug, Clone)]
struct Followed {
    last_t: f64,
    last_seen: Instant,
    /// The last decision: `None` released, `Some(rule)` withheld by it (logged on change).
    withheld_by: Option<Option<Rule>>,
    released: Option<Released>,
}

/// A token bucket: `rate` tokens per second, at most `rate` (one second's worth) stored.
#[derive(Debug, Clone)]
struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.rate.max(1.0));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Deleted numbers remembered so that a late, older state does not bring a track back.
const DELETED_MEMORY: usize = 16_384;
/// Withdrawn partner numbers repeated in a full message (the partner may have missed them).
const WITHDRAWN_MEMORY: usize = 4096;
/// How often silent tracks are looked for.
const SILENCE_SCAN: Duration = Duration::from_secs(1);

/// The release of our picture to one partner.
pub struct Release {
    policy: ReleasePolicy,
    timing: ReleaseTiming,
    counters: Arc<BridgeCounters>,
    partner: String,
    /// Our picture's frame and run epoch, once our snapshot told them.
    picture: Option<(LocalFrame, i64)>,
    line: VecDeque<(Instant, Change)>,
    updates_in_line: usize,
    followed: BTreeMap<u64, Followed>,
    deleted: HashSet<u64>,
    deleted_order: VecDeque<u64>,
    /// What the partner holds: partner number -> the state last sent.
    released: BTreeMap<u64, v1::SourceTrack>,
    next_number: u64,
    withdrawn: Vec<u64>,
    recently_withdrawn: VecDeque<u64>,
    bucket: Bucket,
    sequence: u64,
    t: f64,
    last_silence_scan: Instant,
}

impl Release {
    /// A release with nothing released yet; events are taken at once, but nothing leaves
    /// before [`Release::set_picture`].
    pub fn new(
        partner: &str,
        policy: ReleasePolicy,
        timing: ReleaseTiming,
        counters: Arc<BridgeCounters>,
        now: Instant,
    ) -> Self {
        Self {
            policy,
            timing,
            counters,
            partner: partner.to_string(),
            picture: None,
            line: VecDeque::new(),
            updates_in_line: 0,
            followed: BTreeMap::new(),
            deleted: HashSet::new(),
            deleted_order: VecDeque::new(),
            released: BTreeMap::new(),
            next_number: 1,
            withdrawn: Vec::new(),
            recently_withdrawn: VecDeque::new(),
            bucket: Bucket {
                rate: timing.max_tracks_per_s,
                tokens: timing.max_tracks_per_s.max(1.0),
                last: now,
            },
            sequence: 0,
            t: 0.0,
            last_silence_scan: now,
        }
    }

    /// Our picture's frame (its origin) and run epoch: the partner's feed carries geodetic
    /// positions and our epoch.
    pub fn set_picture(&mut self, frame: LocalFrame, epoch_unix_ns: i64) {
        self.picture = Some((frame, epoch_unix_ns));
    }

    /// Takes one of our track events into the delay line.
    pub fn offer(&mut self, now: Instant, event: v1::TrackEvent) {
        let change = match event.event {
            Some(v1::track_event::Event::Update(u)) => match u.track {
                Some(track) => Change::Update(Box::new(track)),
                None => {
                    self.counters.dropped(Dropped::Malformed);
                    return;
                }
            },
            Some(v1::track_event::Event::Deletion(d)) => Change::Delete(d.track_number),
            None => {
                self.counters.dropped(Dropped::Malformed);
                return;
            }
        };
        if let Change::Update(_) = change {
            if self.updates_in_line >= self.timing.max_queue {
                self.counters.dropped(Dropped::QueueFull);
                return;
            }
            self.updates_in_line += 1;
        }
        self.line.push_back((now + self.timing.delay, change));
    }

    /// Everything due at `now`: delayed changes decided, rate-limited states sent, silent
    /// tracks withdrawn. The message to publish, if anything changed for the partner.
    pub fn tick(&mut self, now: Instant) -> Option<v1::TrackFeed> {
        let (frame, epoch) = self.picture.clone()?;
        while self.line.front().is_some_and(|(due, _)| *due <= now) {
            let Some((_, change)) = self.line.pop_front() else {
                break;
            };
            match change {
                Change::Update(track) => {
                    self.updates_in_line -= 1;
                    self.decide(now, *track, &frame);
                }
                Change::Delete(ours) => self.delete(ours),
            }
        }
        if now.saturating_duration_since(self.last_silence_scan) >= SILENCE_SCAN {
            self.last_silence_scan = now;
            self.withdraw_silent(now);
        }
        let tracks = self.flush(now);
        self.counters.set_released_tracks(self.released.len());
        if tracks.is_empty() && self.withdrawn.is_empty() {
            return None;
        }
        self.counters.released(tracks.len() as u64);
        self.sequence += 1;
        Some(v1::TrackFeed {
            source_id: self.policy.released_as.clone(),
            sequence: self.sequence,
            t: self.t,
            tracks,
            dropped_track_numbers: std::mem::take(&mut self.withdrawn),
            epoch_unix_ns: epoch,
        })
    }

    /// The whole released picture as the next message of the feed (sent again after the
    /// partner comes back), with the numbers withdrawn recently.
    pub fn full(&mut self) -> Option<v1::TrackFeed> {
        self.picture.as_ref()?;
        self.sequence += 1;
        self.snapshot()
    }

    /// The whole released picture, for the snapshot queryable (same sequence as the last
    /// message: nothing new).
    pub fn snapshot(&self) -> Option<v1::TrackFeed> {
        let epoch = self.picture.as_ref()?.1;
        Some(v1::TrackFeed {
            source_id: self.policy.released_as.clone(),
            sequence: self.sequence,
            t: self.t,
            tracks: self.released.values().cloned().collect(),
            dropped_track_numbers: self.recently_withdrawn.iter().copied().collect(),
            epoch_unix_ns: epoch,
        })
    }

    /// Tracks the partner holds from us.
    pub fn released_count(&self) -> usize {
        self.released.len()
    }

    fn decide(&mut self, now: Instant, track: v1::Track, frame: &LocalFrame) {
        let ours = track.track_number;
        if self.deleted.contains(&ours) {
            return;
        }
        let f = self.followed.entry(ours).or_insert(Followed {
            last_t: f64::NEG_INFINITY,
            last_seen: now,
            withheld_by: None,
            released: None,
        });
        if track.t < f.last_t {
            return; // superseded by a newer state already decided
        }
        f.last_t = track.t;
        f.last_seen = now;
        if track.t.is_finite() {
            self.t = self.t.max(track.t);
        }
        let decision = self.policy.check(&track).err();
        if f.withheld_by != Some(decision) {
            match decision {
                Some(rule) => tracing::info!(
                    partner = %self.partner,
                    track = ours,
                    rule = rule.as_str(),
                    "track withheld"
                ),
                None => tracing::info!(partner = %self.partner, track = ours, "track released"),
            }
            f.withheld_by = Some(decision);
        }
        if let Some(rule) = decision {
            self.counters.withheld(rule);
            if let Some(r) = f.released.take() {
                Self::withdraw(
                    &mut self.released,
                    &mut self.withdrawn,
                    &mut self.recently_withdrawn,
                    &self.counters,
                    r.number,
                    Withdrawal::Withheld,
                );
            }
            return;
        }
        let mut st = match to_source_track(&track, frame) {
            Ok(st) => st,
            Err(e) => {
                tracing::warn!(partner = %self.partner, track = ours, "not released: {e}");
                self.counters.dropped(Dropped::Malformed);
                return;
            }
        };
        self.policy.strip(&mut st);
        let next = &mut self.next_number;
        let r = f.released.get_or_insert_with(|| {
            let number = *next;
            *next += 1;
            Released {
                number,
                last_sent: None,
                pending: None,
            }
        });
        st.track_number = r.number;
        r.pending = Some(st);
    }

    fn delete(&mut self, ours: u64) {
        if self.deleted.insert(ours) {
            self.deleted_order.push_back(ours);
            if self.deleted_order.len() > DELETED_MEMORY
                && let Some(old) = self.deleted_order.pop_front()
            {
                self.deleted.remove(&old);
            }
        }
        self.forget(ours, Withdrawal::Deleted);
    }

    /// Stops following our track `ours`, withdrawing it from the partner if it was released.
    fn forget(&mut self, ours: u64, why: Withdrawal) {
        if let Some(r) = self.followed.remove(&ours).and_then(|f| f.released) {
            Self::withdraw(
                &mut self.released,
                &mut self.withdrawn,
                &mut self.recently_withdrawn,
                &self.counters,
                r.number,
                why,
            );
        }
    }

    fn withdraw_silent(&mut self, now: Instant) {
        let silent: Vec<u64> = self
            .followed
            .iter()
            .filter(|(_, f)| now.saturating_duration_since(f.last_seen) > self.timing.max_silence)
            .map(|(n, _)| *n)
            .collect();
        for ours in silent {
            self.forget(ours, Withdrawal::Silent);
        }
    }

    fn withdraw(
        released: &mut BTreeMap<u64, v1::SourceTrack>,
        withdrawn: &mut Vec<u64>,
        recently: &mut VecDeque<u64>,
        counters: &BridgeCounters,
        number: u64,
        why: Withdrawal,
    ) {
        // A track decided but never sent (rate limits) is not known to the partner.
        if released.remove(&number).is_none() {
            return;
        }
        withdrawn.push(number);
        recently.push_back(number);
        if recently.len() > WITHDRAWN_MEMORY {
            recently.pop_front();
        }
        counters.withdrawn(why);
    }

    /// Sends the pending states whose track interval has passed, while tokens last.
    fn flush(&mut self, now: Instant) -> Vec<v1::SourceTrack> {
        let mut out = Vec::new();
        for f in self.followed.values_mut() {
            let Some(r) = f.released.as_mut() else {
                continue;
            };
            if r.pending.is_none() {
                continue;
            }
            let due = r
                .last_sent
                .is_none_or(|t| now.saturating_duration_since(t) >= self.timing.min_interval);
            if !due || !self.bucket.take(now) {
                continue;
            }
            if let Some(st) = r.pending.take() {
                r.last_sent = Some(now);
                self.released.insert(r.number, st.clone());
                out.push(st);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::area::Area;
    use crate::bridge::policy::Field;
    use fusion_core::geodesy::Geodetic;
    use nalgebra::Vector3;

    fn frame() -> LocalFrame {
        LocalFrame::new(Geodetic::new(49.84, 24.03, 300.0))
    }

    fn release(timing: ReleaseTiming, now: Instant) -> (Release, Arc<BridgeCounters>) {
        let policy = ReleasePolicy {
            // North of the origin only.
            areas: vec![Area {
                name: "north".into(),
                polygon: vec![[49.84, 23.0], [51.0, 23.0], [51.0, 25.0], [49.84, 25.0]],
            }],
            min_updates: 0,
            release_coasting: true,
            own_sources: ["west-1".to_string()].into(),
            restricted_sources: Default::default(),
            strip: [Field::Sources].into(),
            released_as: "coalition".into(),
        };
        let counters = Arc::new(BridgeCounters::new("alpha"));
        let mut r = Release::new("alpha", policy, timing, counters.clone(), now);
        r.set_picture(frame(), 42);
        (r, counters)
    }

    const TIMING: ReleaseTiming = ReleaseTiming {
        delay: Duration::from_secs(2),
        min_interval: Duration::ZERO,
        max_tracks_per_s: 1000.0,
        max_queue: 100,
        max_silence: Duration::from_secs(30),
    };

    /// Our track `number` at time `t`, `north_m` north of the origin.
    fn update(number: u64, t: f64, north_m: f64) -> v1::TrackEvent {
        let f = frame();
        let pos = Vector3::new(0.0, north_m, 1000.0);
        let g = f.to_geodetic(&pos);
        let mut cov = [[0.0; 6]; 6];
        for (i, row) in cov.iter_mut().enumerate() {
            row[i] = 100.0;
        }
        let track = v1::Track {
            track_number: number,
            t,
            position: Some(v1::Enu {
                x: pos.x,
                y: pos.y,
                z: pos.z,
            }),
            velocity: Some(v1::Enu::default()),
            covariance: iapz_proto::cov6_to_upper(&cov),
            geodetic: Some(v1::Geodetic {
                lat_deg: g.lat,
                lon_deg: g.lon,
                alt_m: g.alt_m,
            }),
            status: v1::TrackStatus::Confirmed as i32,
            sources: vec!["R1".into(), "west-1".into()],
            update_count: 5,
            ..Default::default()
        };
        v1::TrackEvent {
            event: Some(v1::track_event::Event::Update(v1::TrackUpdate {
                track: Some(track),
            })),
        }
    }

    fn deletion(number: u64) -> v1::TrackEvent {
        v1::TrackEvent {
            event: Some(v1::track_event::Event::Deletion(v1::TrackDeletion {
                track_number: number,
                ..Default::default()
            })),
        }
    }

    #[test]
    fn releases_wait_the_delay_are_renumbered_and_withdrawn_when_withheld() {
        let t0 = Instant::now();
        let (mut r, counters) = release(TIMING, t0);
        r.offer(t0, update(9001, 1.0, 5000.0));
        r.offer(t0, update(9002, 1.0, -5000.0)); // south: withheld
        assert!(r.tick(t0 + Duration::from_secs(1)).is_none(), "the delay");
        let m = r.tick(t0 + Duration::from_secs(2)).expect("due");
        assert_eq!((m.sequence, m.epoch_unix_ns), (1, 42));
        assert_eq!(m.source_id, "coalition");
        assert_eq!(m.tracks.len(), 1);
        assert_eq!(m.tracks[0].track_number, 1, "partner numbers start at 1");
        assert_eq!(m.tracks[0].sources, ["coalition"]);
        assert_eq!(counters.withheld_count(Rule::OutsideArea), 1);
        assert_eq!(counters.released_count(), 1);

        // 9001 flies south of the area: withdrawn, its number never comes back.
        let t1 = t0 + Duration::from_secs(3);
        r.offer(t1, update(9001, 2.0, -100.0));
        r.offer(t1, update(9003, 2.0, 100.0));
        let m = r.tick(t1 + Duration::from_secs(2)).expect("due");
        assert_eq!(m.dropped_track_numbers, vec![1]);
        assert_eq!(m.tracks.len(), 1);
        assert_eq!(m.tracks[0].track_number, 2);
        assert_eq!(counters.withdrawn_count(Withdrawal::Withheld), 1);
        r.offer(t1, update(9001, 3.0, 200.0));
        let m = r
            .tick(t1 + Duration::from_secs(2))
            .expect("back in the area");
        assert_eq!(m.tracks[0].track_number, 3, "a new number");
        assert_eq!(r.released_count(), 2);

        // A deletion withdraws; an older state of the deleted track does not resurrect it.
        r.offer(t1, deletion(9003));
        r.offer(t1, update(9003, 1.5, 100.0));
        let m = r.tick(t1 + Duration::from_secs(2)).expect("due");
        assert_eq!(
            (m.tracks.len(), m.dropped_track_numbers.clone()),
            (0, vec![2])
        );
        let full = r.full().expect("picture known");
        assert_eq!(full.tracks.len(), 1);
        assert_eq!(full.tracks[0].track_number, 3);
        assert_eq!(full.dropped_track_numbers, vec![1, 2]);
        assert_eq!(r.snapshot().expect("known").sequence, full.sequence);
    }

    #[test]
    fn rate_limits_coalesce_and_the_line_is_bounded() {
        let t0 = Instant::now();
        let timing = ReleaseTiming {
            delay: Duration::ZERO,
            min_interval: Duration::from_secs(1),
            max_tracks_per_s: 2.0,
            max_queue: 3,
            max_silence: Duration::from_secs(5),
        };
        let (mut r, counters) = release(timing, t0);
        for n in 1..=4 {
            r.offer(t0, update(n, 1.0, 1000.0 * n as f64));
        }
        assert_eq!(counters.dropped_count(Dropped::QueueFull), 1);
        let m = r.tick(t0).expect("two tokens");
        assert_eq!(m.tracks.len(), 2);
        // Newer states of track 1 within its interval: only the latest goes, a second later.
        r.offer(t0, update(1, 2.0, 1100.0));
        r.offer(t0, update(1, 3.0, 1200.0));
        let later = t0 + Duration::from_millis(1000);
        let m = r.tick(later).expect("due");
        let sent: Vec<(u64, f64)> = m.tracks.iter().map(|t| (t.track_number, t.t)).collect();
        assert_eq!(sent, vec![(1, 3.0), (3, 1.0)]);
        // Silent tracks are withdrawn.
        let m = r.tick(later + Duration::from_secs(7)).expect("silent");
        assert_eq!(m.dropped_track_numbers.len(), 3);
        assert_eq!(counters.withdrawn_count(Withdrawal::Silent), 3);
        assert_eq!(r.released_count(), 0);
    }

    #[test]
    fn nothing_leaves_before_the_picture_is_known() {
        let t0 = Instant::now();
        let counters = Arc::new(BridgeCounters::new("alpha"));
        let (r0, _) = release(TIMING, t0);
        let mut r = Release::new("alpha", r0.policy.clone(), TIMING, counters, t0);
        r.offer(t0, update(1, 1.0, 1000.0));
        assert!(r.tick(t0 + Duration::from_secs(5)).is_none());
        assert!(r.full().is_none() && r.snapshot().is_none());
        r.set_picture(frame(), 42);
        assert_eq!(
            r.tick(t0 + Duration::from_secs(5))
                .expect("now")
                .tracks
                .len(),
            1
        );
    }
}
