//! `iapzd watch`: the live picture in a terminal, as an operations centre would follow it.
//!
//! A Zenoh session connects to the daemon (or router), subscribes to the picture's track
//! events and status, then asks the snapshot queryable for the picture so far (the order that
//! misses nothing: events that arrive meanwhile are newer and win). Tracks are kept by track
//! number; a deletion removes one. [`run`] redraws a table every second; [`once`] returns one
//! view, which `--once` prints and the tests read.

use crate::connect;
use crate::keys;
use anyhow::{Context, Result, anyhow, bail};
use iapz_proto::v1;
use prost::Message;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the watcher knows of one picture.
#[derive(Debug, Clone, Default)]
pub struct PictureView {
    /// The picture's tracks by track number, as last reported.
    pub tracks: BTreeMap<u64, v1::Track>,
    /// The latest status of the node, if one arrived.
    pub status: Option<v1::NodeStatus>,
    /// Data time of the latest snapshot received (0 before any).
    pub snapshot_t: f64,
    /// Track events received.
    pub events: u64,
    /// Messages that could not be decoded (a foreign publisher on our keys).
    pub undecodable: u64,
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackRow {
    /// Track number.
    pub number: u64,
    /// Latitude (deg).
    pub lat_deg: f64,
    /// Longitude (deg).
    pub lon_deg: f64,
    /// Height above the ellipsoid (m).
    pub alt_m: f64,
    /// Horizontal speed (m/s).
    pub speed_mps: f64,
    /// Course over ground, clockwise from north (deg, in the picture's frame).
    pub heading_deg: f64,
    /// Sensors (and feeds) that contributed.
    pub sources: Vec<String>,
    /// Data time since the last detection (s), at the picture's time.
    pub age_s: f64,
    /// Confirmed or coasting.
    pub status: v1::TrackStatus,
}

impl PictureView {
    /// Applies one track event: an update replaces an older state, a deletion removes.
    pub fn apply_event(&mut self, event: v1::TrackEvent) {
        self.events += 1;
        match event.event {
            Some(v1::track_event::Event::Update(u)) => {
                if let Some(track) = u.track {
                    self.keep_newer(track);
                }
            }
            Some(v1::track_event::Event::Deletion(d)) => {
                self.tracks.remove(&d.track_number);
            }
            None => self.undecodable += 1,
        }
    }

    /// Merges a snapshot: its tracks unless the stream already brought newer states.
    pub fn apply_snapshot(&mut self, snapshot: v1::PictureSnapshot) {
        self.snapshot_t = self.snapshot_t.max(snapshot.t);
        for track in snapshot.tracks {
            self.keep_newer(track);
        }
    }

    fn keep_newer(&mut self, track: v1::Track) {
        match self.tracks.get(&track.track_number) {
            Some(old) if old.t > track.t => {}
            _ => {
                self.tracks.insert(track.track_number, track);
            }
        }
    }

    /// Data time of the picture: the newest of the snapshot, the status and the tracks.
    pub fn picture_t(&self) -> f64 {
        let tracks = self.tracks.values().map(|t| t.t);
        let status = self.status.as_ref().map(|s| s.t);
        tracks.chain(status).fold(self.snapshot_t, f64::max)
    }

    /// The table's rows, by track number.
    pub fn rows(&self) -> Vec<TrackRow> {
        let now = self.picture_t();
        self.tracks
            .values()
            .map(|t| {
                let g = t.geodetic.unwrap_or_default();
                let v = t.velocity.unwrap_or_default();
                TrackRow {
                    number: t.track_number,
                    lat_deg: g.lat_deg,
                    lon_deg: g.lon_deg,
                    alt_m: g.alt_m,
                    speed_mps: v.x.hypot(v.y),
                    heading_deg: v.x.atan2(v.y).to_degrees().rem_euclid(360.0),
                    sources: t.sources.clone(),
                    age_s: (now - t.last_update_t).max(0.0),
                    status: v1::TrackStatus::try_from(t.status)
                        .unwrap_or(v1::TrackStatus::Unspecified),
                }
            })
            .collect()
    }

    /// The table as text: a header (picture, time, counts, node status) and one line per
    /// track.
    pub fn render(&self, picture: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "picture {picture}   t = {:.1} s   tracks {}   events {}{}",
            self.picture_t(),
            self.tracks.len(),
            self.events,
            if self.undecodable > 0 {
                format!("   undecodable {}", self.undecodable)
            } else {
                String::new()
            }
        );
        match &self.status {
            Some(st) => {
                let _ = writeln!(
                    s,
                    "node {}   live {}   confirmed {}   scan p99 {:.2} ms",
                    st.node_id, st.live_tracks, st.confirmed_tracks, st.scan_time_ms_p99
                );
                for sensor in &st.sensors {
                    let _ = writeln!(
                        s,
                        "  {:<10} {:>8.1} plots/s   in {:>9}   rejected {:>7}   queued {:>4}   last t {:.1}",
                        sensor.sensor_id,
                        sensor.plots_per_s,
                        sensor.plots_in,
                        sensor.plots_rejected,
                        sensor.queue_depth,
                        sensor.last_plot_t
                    );
                }
            }
            None => {
                let _ = writeln!(s, "node status: none yet");
            }
        }
        let _ = writeln!(
            s,
            "\n{:>6}  {:>9}  {:>10}  {:>7}  {:>7}  {:>5}  {:>6}  {:<9}  sources",
            "track", "lat", "lon", "alt m", "m/s", "hdg", "age s", "status"
        );
        for r in self.rows() {
            let status = match r.status {
                v1::TrackStatus::Confirmed => "confirmed",
                v1::TrackStatus::Coasting => "coasting",
                v1::TrackStatus::Tentative => "tentative",
                v1::TrackStatus::Deleted => "deleted",
                v1::TrackStatus::Unspecified => "?",
            };
            let _ = writeln!(
                s,
                "{:>6}  {:>9.4}  {:>10.4}  {:>7.0}  {:>7.1}  {:>5.0}  {:>6.1}  {:<9}  {}",
                r.number,
                r.lat_deg,
                r.lon_deg,
                r.alt_m,
                r.speed_mps,
                r.heading_deg,
                r.age_s,
                status,
                r.sources.join(",")
            );
        }
        s
    }
}

/// A running watcher: subscriptions feeding a shared [`PictureView`].
pub struct Watcher {
    view: Arc<Mutex<PictureView>>,
    picture: String,
    _tracks: zenoh::pubsub::Subscriber<()>,
    _status: zenoh::pubsub::Subscriber<()>,
}

fn lock(view: &Mutex<PictureView>) -> std::sync::MutexGuard<'_, PictureView> {
    // A panic elsewhere cannot leave a view half-updated in a way that matters to a display.
    view.lock().unwrap_or_else(|e| e.into_inner())
}

/// Subscribes to `key`, decoding each sample as an `M` and applying it to `view` (counting
/// what does not decode).
async fn follow<M: Message + Default + 'static>(
    session: &zenoh::Session,
    key: String,
    view: &Arc<Mutex<PictureView>>,
    apply: fn(&mut PictureView, M),
) -> Result<zenoh::pubsub::Subscriber<()>> {
    let view = view.clone();
    session
        .declare_subscriber(&key)
        .callback(move |sample| {
            let message = M::decode(sample.payload().to_bytes().as_ref());
            let mut v = lock(&view);
            match message {
                Ok(m) => apply(&mut v, m),
                Err(_) => v.undecodable += 1,
            }
        })
        .await
        .map_err(|e| anyhow!("subscribing to {key}: {e}"))
}

impl Watcher {
    /// Subscribes to the track events and status of `picture` on `session`.
    pub async fn start(session: &zenoh::Session, picture: &str) -> Result<Self> {
        let view: Arc<Mutex<PictureView>> = Arc::default();
        let tracks = follow(session, keys::tracks_out(picture), &view, |v, e| {
            v.apply_event(e)
        })
        .await?;
        let status = follow(session, keys::status(picture), &view, |v, s| {
            v.status = Some(s)
        })
        .await?;
        Ok(Self {
            view,
            picture: picture.to_string(),
            _tracks: tracks,
            _status: status,
        })
    }

    /// Asks the snapshot queryable for the whole picture and merges the answer; waits up to
    /// `patience` for a daemon serving the picture to be reachable.
    pub async fn query_snapshot(&self, session: &zenoh::Session, patience: Duration) -> Result<()> {
        let key = keys::snapshot(&self.picture);
        let querier = session
            .declare_querier(&key)
            .timeout(patience)
            .await
            .map_err(|e| anyhow!("declaring a querier on {key}: {e}"))?;
        if !connect::matched(patience, || async { querier.matching_status().await }).await? {
            bail!(
                "no daemon serves picture {:?} (nothing answers {key})",
                self.picture
            );
        }
        let replies = querier
            .get()
            .await
            .map_err(|e| anyhow!("querying {key}: {e}"))?;
        while let Ok(reply) = replies.recv_async().await {
            match reply.result() {
                Ok(sample) => {
                    let snap = v1::PictureSnapshot::decode(sample.payload().to_bytes().as_ref())
                        .with_context(|| format!("the answer on {key} is not a PictureSnapshot"))?;
                    lock(&self.view).apply_snapshot(snap);
                }
                Err(e) => tracing::warn!("snapshot query: error reply {:?}", e.payload()),
            }
        }
        Ok(())
    }

    /// A copy of the view now.
    pub fn view(&self) -> PictureView {
        lock(&self.view).clone()
    }
}

/// Connects to `endpoint`, takes the picture (snapshot) and waits up to `status_wait` for a
/// node status, then returns the view.
pub async fn once(endpoint: &str, picture: &str, status_wait: Duration) -> Result<PictureView> {
    let session = connect::open(endpoint).await?;
    let result = async {
        let w = Watcher::start(&session, picture).await?;
        w.query_snapshot(&session, Duration::from_secs(5)).await?;
        let started = Instant::now();
        while w.view().status.is_none() && started.elapsed() < status_wait {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(w.view())
    }
    .await;
    let _ = session.close().await;
    result
}

/// Follows the picture and redraws the table every second until Ctrl-C.
pub async fn run(endpoint: &str, picture: &str) -> Result<()> {
    let session = connect::open(endpoint).await?;
    let w = Watcher::start(&session, picture).await?;
    w.query_snapshot(&session, Duration::from_secs(10)).await?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let result = loop {
        tokio::select! {
            _ = tick.tick() => {
                // Clear the screen, cursor home, then the table.
                print!("\x1b[2J\x1b[H{}", w.view().render(picture));
            }
            r = tokio::signal::ctrl_c() => break r.context("waiting for Ctrl-C"),
        }
    };
    drop(w);
    let _ = session.close().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(n: u64, t: f64) -> v1::Track {
        v1::Track {
            track_number: n,
            t,
            last_update_t: t - 1.0,
            velocity: Some(v1::Enu {
                x: 100.0,
                y: 0.0,
                z: 0.0,
            }),
            geodetic: Some(v1::Geodetic {
                lat_deg: 50.0,
                lon_deg: 24.0,
                alt_m: 120.0,
            }),
            status: v1::TrackStatus::Confirmed as i32,
            sources: vec!["R1".into()],
            ..Default::default()
        }
    }

    fn update(t: v1::Track) -> v1::TrackEvent {
        v1::TrackEvent {
            event: Some(v1::track_event::Event::Update(v1::TrackUpdate {
                track: Some(t),
            })),
        }
    }

    #[test]
    fn newer_states_win_and_deletions_remove() {
        let mut v = PictureView::default();
        v.apply_event(update(track(1, 10.0)));
        v.apply_event(update(track(2, 12.0)));
        // A snapshot older than the stream does not undo it, but brings what it lacks.
        v.apply_snapshot(v1::PictureSnapshot {
            t: 11.0,
            tracks: vec![track(1, 9.0), track(2, 11.0), track(3, 11.0)],
            ..Default::default()
        });
        let rows = v.rows();
        assert_eq!(rows.iter().map(|r| r.number).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(v.tracks[&2].t, 12.0);
        assert_eq!(v.tracks[&1].t, 10.0);
        assert_eq!(v.picture_t(), 12.0);
        assert!((rows[0].heading_deg - 90.0).abs() < 1e-9);
        assert!((rows[0].speed_mps - 100.0).abs() < 1e-9);
        assert!((rows[0].age_s - 3.0).abs() < 1e-9);
        v.apply_event(v1::TrackEvent {
            event: Some(v1::track_event::Event::Deletion(v1::TrackDeletion {
                track_number: 2,
                ..Default::default()
            })),
        });
        assert_eq!(v.tracks.len(), 2);
        let table = v.render("west");
        assert!(table.contains("tracks 2"), "{table}");
        assert!(table.contains("confirmed  R1"), "{table}");
    }
}
