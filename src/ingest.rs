//! The input edge: Zenoh payloads on `iapz/in/**` become tracker work, or counted rejections.
//!
//! Runs inside the Zenoh callbacks, so it never blocks and never waits for the tracker: it
//! decodes, validates, checks each sensor's time order and hands the result to the bounded
//! queue. What it rejects is counted in [`Health`] with its [`Reason`] and logged.
//!
//! Time order: a plot may be older than the newest plot already received from its sensor by
//! at most `reorder_window_s` (adapters that merge several receivers, or a network path that
//! reorders, deliver slightly out of order); an older plot is rejected as `out_of_order`.
//! Within the window the tracker takes it, and its own `max_plot_lag_s` still applies.
//!
//! Track feeds: our own feed coming back (`iapz/in/tracks/<node_id>`, e.g. republished by
//! another node) is ignored and counted apart; a feed whose time, converted to our epoch, is
//! ahead of our wall-clock run time by more than `max_feed_lead_s` is rejected as
//! `ahead_of_clock` (the only place the daemon compares data time with the wall clock).

use crate::feeds::epoch_offset_s;
use crate::status::{Health, InputHealth, Reason};
use crate::wire::{WirePlotError, plot_from_wire};
use fusion_core::{Plot, SensorIndex};
use iapz_proto::v1;
use prost::Message;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// What the ingest of track feeds needs to know about this node and its clock.
#[derive(Debug, Clone)]
pub struct FeedClock {
    /// Our node id: the source id of our own feed, which we ignore when it comes back.
    pub node_id: String,
    /// Our run epoch (ns since the Unix epoch).
    pub epoch_unix_ns: i64,
    /// How far (s) a feed may be ahead of our wall-clock run time.
    pub max_lead_s: f64,
}

impl FeedClock {
    /// Our run time now by the wall clock (s since our epoch).
    fn run_time_s(&self) -> f64 {
        let now_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        (now_ns as f64 - self.epoch_unix_ns as f64) * 1e-9
    }
}

/// One sensor's plots, ready for the tracker.
#[derive(Debug, Clone)]
pub struct PlotJob {
    /// The sensor, as the tracker indexes it.
    pub sensor: SensorIndex,
    /// Data time of the scan (used alone when the batch is empty: the sensor looked and saw
    /// nothing).
    pub scan_time: f64,
    /// The valid plots of the batch.
    pub plots: Vec<Plot>,
    /// Wall time of arrival, for the plot-to-publish latency.
    pub received: Instant,
}

/// One feed message of a declared source, validated.
#[derive(Debug, Clone)]
pub struct FeedJob {
    /// Index of the source in the configuration's `[[feeds]]`.
    pub source: usize,
    /// The message, with its invalid tracks removed.
    pub feed: v1::TrackFeed,
    /// Wall time of arrival.
    pub received: Instant,
}

/// Decodes and validates what arrives on the input key expressions.
pub struct Ingest {
    sensors: HashMap<String, SensorIndex>,
    feeds: HashMap<String, usize>,
    reorder_window_s: f64,
    clock: FeedClock,
    health: Arc<Health>,
}

impl Ingest {
    /// An ingest for the sensors and feed sources of `health` (same order as the tracker's
    /// sensor indices and the configuration's feeds).
    pub fn new(health: Arc<Health>, reorder_window_s: f64, clock: FeedClock) -> Self {
        Self {
            sensors: health
                .sensors
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id.clone(), SensorIndex(i as u16)))
                .collect(),
            feeds: health
                .feeds
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id.clone(), i))
                .collect(),
            reorder_window_s,
            clock,
            health,
        }
    }

    /// A `PlotBatch` received on `iapz/in/plots/<sensor>`. `None` when nothing in it is left
    /// for the tracker (every rejection is counted).
    pub fn plot_batch(&self, sensor: &str, payload: &[u8], received: Instant) -> Option<PlotJob> {
        let Some(&index) = self.sensors.get(sensor) else {
            self.health.plot_messages.reject(
                Reason::UnknownSensor,
                1,
                &format_args!("plots from undeclared sensor {sensor:?}"),
            );
            return None;
        };
        let h = &self.health.sensors[index.0 as usize];
        let batch = match v1::PlotBatch::decode(payload) {
            Ok(b) => b,
            Err(e) => {
                h.reject(Reason::Malformed, 1, &format_args!("PlotBatch: {e}"));
                return None;
            }
        };
        if !batch.sensor_id.is_empty() && batch.sensor_id != sensor {
            h.reject(
                Reason::SensorMismatch,
                1,
                &format_args!(
                    "batch of sensor {:?} published on the key of {sensor:?}",
                    batch.sensor_id
                ),
            );
            return None;
        }
        h.received(batch.plots.len() as u64);
        if batch.plots.is_empty() {
            if !batch.scan_time.is_finite() {
                h.reject(
                    Reason::Malformed,
                    1,
                    &"empty batch with a non-finite scan_time",
                );
                return None;
            }
            if self.out_of_order(h, batch.scan_time) {
                h.reject(Reason::OutOfOrder, 1, &"empty batch older than the window");
                return None;
            }
            h.raise_newest_t(batch.scan_time);
        }
        let newest = h.newest_t();
        let mut plots = Vec::with_capacity(batch.plots.len());
        for p in &batch.plots {
            match plot_from_wire(index, p) {
                Ok(plot) => {
                    if newest.is_some_and(|n| plot.t < n - self.reorder_window_s) {
                        h.reject(
                            Reason::OutOfOrder,
                            1,
                            &format_args!(
                                "plot at t = {} s is older than the newest ({:?} s) by more than {} s",
                                plot.t, newest, self.reorder_window_s
                            ),
                        );
                    } else {
                        plots.push(plot);
                    }
                }
                Err(e) => h.reject(wire_reason(e), 1, &e),
            }
        }
        if batch.plots.is_empty() {
            return Some(PlotJob {
                sensor: index,
                scan_time: batch.scan_time,
                plots,
                received,
            });
        }
        let t_max = plots.iter().map(|p| p.t).fold(f64::NEG_INFINITY, f64::max);
        if plots.is_empty() {
            return None;
        }
        h.raise_newest_t(t_max);
        Some(PlotJob {
            sensor: index,
            scan_time: if batch.scan_time.is_finite() {
                batch.scan_time
            } else {
                t_max
            },
            plots,
            received,
        })
    }

    /// A `TrackFeed` received on `iapz/in/tracks/<source>`. Invalid tracks are removed and
    /// counted; `None` when the whole message is rejected.
    pub fn track_feed(&self, source: &str, payload: &[u8], received: Instant) -> Option<FeedJob> {
        if source == self.clock.node_id {
            self.health.own_feed_ignored();
            return None;
        }
        let Some(&index) = self.feeds.get(source) else {
            self.health.feed_messages.reject(
                Reason::UnknownSensor,
                1,
                &format_args!("track feed from undeclared source {source:?}"),
            );
            return None;
        };
        let h = &self.health.feeds[index];
        let mut feed = match v1::TrackFeed::decode(payload) {
            Ok(f) => f,
            Err(e) => {
                h.reject(Reason::Malformed, 1, &format_args!("TrackFeed: {e}"));
                return None;
            }
        };
        if !feed.source_id.is_empty() && feed.source_id != source {
            let detail = format!("feed of {:?} on the key of {source:?}", feed.source_id);
            h.reject(Reason::SensorMismatch, 1, &detail);
            return None;
        }
        h.received(feed.tracks.len() as u64);
        if !feed.t.is_finite() {
            h.reject(Reason::NonFinite, feed.tracks.len() as u64, &"feed time");
            return None;
        }
        let ours = feed.t + epoch_offset_s(feed.epoch_unix_ns, self.clock.epoch_unix_ns);
        let limit = self.clock.run_time_s() + self.clock.max_lead_s;
        if ours > limit {
            let detail = format!("feed at t = {ours} s of our run, the clock allows {limit} s");
            h.reject(Reason::AheadOfClock, feed.tracks.len() as u64, &detail);
            return None;
        }
        // In our epoch: a source that restarts with a new epoch starts its times again.
        if self.out_of_order(h, ours) {
            let detail = format!("feed at t = {ours} s of our run older than the window");
            h.reject(Reason::OutOfOrder, feed.tracks.len() as u64, &detail);
            return None;
        }
        h.raise_newest_t(ours);
        feed.tracks.retain(|t| match check_source_track(t) {
            Ok(()) => true,
            Err((reason, what)) => {
                let detail = format!("source track {}: {what}", t.track_number);
                h.reject(reason, 1, &detail);
                false
            }
        });
        Some(FeedJob {
            source: index,
            feed,
            received,
        })
    }

    fn out_of_order(&self, h: &InputHealth, t: f64) -> bool {
        h.newest_t().is_some_and(|n| t < n - self.reorder_window_s)
    }
}

/// The reason under which a wire plot error is counted.
fn wire_reason(e: WirePlotError) -> Reason {
    match e {
        WirePlotError::NoMeasurement => Reason::NoMeasurement,
        WirePlotError::NonFiniteTime => Reason::NonFinite,
        WirePlotError::BadIcao(_) => Reason::OutOfRange,
    }
}

/// Checks one partner track: a finite time and position, finite velocity if given, and a
/// covariance that is absent or 21 finite values.
fn check_source_track(t: &v1::SourceTrack) -> Result<(), (Reason, &'static str)> {
    let Some(p) = &t.position else {
        return Err((Reason::NoMeasurement, "no position"));
    };
    let finite = t.t.is_finite()
        && [p.lat_deg, p.lon_deg, p.alt_m]
            .iter()
            .all(|x| x.is_finite())
        && t.velocity
            .as_ref()
            .is_none_or(|v| [v.x, v.y, v.z].iter().all(|x| x.is_finite()))
        && t.covariance.iter().all(|x| x.is_finite());
    if !finite {
        return Err((Reason::NonFinite, "non-finite value"));
    }
    if !(-90.0..=90.0).contains(&p.lat_deg) || !(-180.0..=180.0).contains(&p.lon_deg) {
        return Err((Reason::OutOfRange, "latitude or longitude out of range"));
    }
    if !(t.covariance.is_empty() || t.covariance.len() == iapz_proto::COV6_UPPER_LEN) {
        return Err((
            Reason::OutOfRange,
            "covariance is neither empty nor 21 values",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    fn ingest() -> Ingest {
        let health = Health::new(&["R1".into()], &["node-2".into()], Metrics::unexported());
        let clock = FeedClock {
            node_id: "node-1".into(),
            epoch_unix_ns: 0,
            max_lead_s: 30.0,
        };
        Ingest::new(health, 2.0, clock)
    }

    fn batch(sensor: &str, times: &[f64]) -> Vec<u8> {
        v1::PlotBatch {
            sensor_id: sensor.into(),
            sequence: 1,
            scan_time: times.first().copied().unwrap_or(0.0),
            plots: times
                .iter()
                .map(|&t| v1::Plot {
                    t,
                    measurement: Some(v1::plot::Measurement::Polar(v1::Polar {
                        range_m: 1000.0,
                        azimuth_deg: 10.0,
                        elevation_deg: None,
                    })),
                    ..Default::default()
                })
                .collect(),
        }
        .encode_to_vec()
    }

    #[test]
    fn plots_are_validated_and_kept_in_time_order_within_the_window() {
        let i = ingest();
        let now = Instant::now();
        let job = i
            .plot_batch("R1", &batch("R1", &[10.0, 9.0]), now)
            .expect("job");
        assert_eq!(job.plots.len(), 2);
        assert_eq!(job.sensor, SensorIndex(0));
        // 8.0 is exactly the window behind the newest (10): kept; 7.9 is not.
        let job = i
            .plot_batch("R1", &batch("R1", &[8.0, 7.9]), now)
            .expect("job");
        assert_eq!(job.plots.iter().map(|p| p.t).collect::<Vec<_>>(), vec![8.0]);
        assert!(i.plot_batch("R1", &batch("R1", &[1.0]), now).is_none());
        let h = &i.health.sensors[0];
        assert_eq!(h.rejected(Reason::OutOfOrder), 2);
        assert_eq!(h.received_count(), 5);
        assert_eq!(h.newest_t(), Some(10.0));

        assert!(i.plot_batch("R1", &batch("R2", &[11.0]), now).is_none());
        assert_eq!(h.rejected(Reason::SensorMismatch), 1);
        assert!(i.plot_batch("R1", b"\xff\xff", now).is_none());
        assert_eq!(h.rejected(Reason::Malformed), 1);
        assert!(i.plot_batch("R7", &batch("R7", &[11.0]), now).is_none());
        assert_eq!(i.health.plot_messages.rejected(Reason::UnknownSensor), 1);
        // An empty scan still goes to the tracker (the sensor looked and saw nothing).
        let empty = i.plot_batch("R1", &batch("", &[]), now);
        assert!(empty.is_none(), "scan_time 0 is older than the window");
        let mut b = v1::PlotBatch::decode(batch("R1", &[]).as_slice()).expect("decode");
        b.scan_time = 12.0;
        let job = i
            .plot_batch("R1", &b.encode_to_vec(), now)
            .expect("empty scan");
        assert!(job.plots.is_empty() && job.scan_time == 12.0);
    }

    #[test]
    fn feeds_lose_only_their_invalid_tracks() {
        let i = ingest();
        let good = v1::SourceTrack {
            track_number: 1,
            t: 5.0,
            position: Some(v1::Geodetic {
                lat_deg: 50.0,
                lon_deg: 24.0,
                alt_m: 1000.0,
            }),
            ..Default::default()
        };
        let mut short_cov = good.clone();
        short_cov.track_number = 2;
        short_cov.covariance = vec![1.0; 6];
        let mut no_pos = good.clone();
        no_pos.track_number = 3;
        no_pos.position = None;
        let feed = v1::TrackFeed {
            source_id: "node-2".into(),
            sequence: 1,
            t: 5.0,
            tracks: vec![good, short_cov, no_pos],
            ..Default::default()
        };
        let job = i
            .track_feed("node-2", &feed.encode_to_vec(), Instant::now())
            .expect("feed");
        assert_eq!(job.feed.tracks.len(), 1);
        let h = &i.health.feeds[0];
        assert_eq!(h.rejected(Reason::OutOfRange), 1);
        assert_eq!(h.rejected(Reason::NoMeasurement), 1);
        assert!(
            i.track_feed("partner", &feed.encode_to_vec(), Instant::now())
                .is_none()
        );
        assert_eq!(i.health.feed_messages.rejected(Reason::UnknownSensor), 1);
        // Our own feed coming back is ignored, not rejected.
        assert!(
            i.track_feed("node-1", &feed.encode_to_vec(), Instant::now())
                .is_none()
        );
        assert_eq!(i.health.own_feed_ignored_count(), 1);
        assert_eq!(i.health.feed_messages.rejected(Reason::UnknownSensor), 1);
        // Our epoch is 1970 here: a feed a day ahead of the wall clock is refused.
        let mut ahead = feed.clone();
        ahead.sequence = 2;
        ahead.epoch_unix_ns = 86_400_000_000_000;
        ahead.t = i.clock.run_time_s();
        assert!(
            i.track_feed("node-2", &ahead.encode_to_vec(), Instant::now())
                .is_none()
        );
        assert_eq!(h.rejected(Reason::AheadOfClock), 3);
        // The source restarts with an epoch 100 s later: its times start again, and are new.
        let mut restarted = feed.clone();
        restarted.sequence = 1;
        restarted.epoch_unix_ns = 100_000_000_000;
        restarted.t = 1.0;
        let job = i.track_feed("node-2", &restarted.encode_to_vec(), Instant::now());
        assert!(job.is_some(), "times are compared in our epoch");
        assert_eq!(h.newest_t(), Some(101.0));
        restarted.epoch_unix_ns = 0;
        let job = i.track_feed("node-2", &restarted.encode_to_vec(), Instant::now());
        assert!(
            job.is_none(),
            "1 s of our run is older than 101 s by more than the window"
        );
        assert_eq!(h.rejected(Reason::OutOfOrder), 3);
    }
}
