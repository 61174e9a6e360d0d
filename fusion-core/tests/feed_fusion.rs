//! Track-to-track fusion of partner and node feeds with a real local tracker: one object per
//! target, tighter but consistent estimates, stable numbers, life of remote tracks, bad input,
//! two nodes feeding each other, determinism.

use fusion_core::chi2;
use fusion_core::config::TrackerConfig;
use fusion_core::feed::{FeedConfig, FeedError, FeedFusion, RemoteTrack};
use fusion_core::geodesy::{Geodetic, LocalFrame};
use fusion_core::kalman::Gaussian;
use fusion_core::picture::PictureTrack;
use fusion_core::sensor::{SensorConfig, SensorIndex, SensorKind};
use fusion_core::track::TrackStatus;
use fusion_core::{Measurement, Picture, Plot, Tracker};
use nalgebra::SVector;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const REMOTE_BASE: u64 = 1 << 63;

/// Three targets flying straight lines (ENU position and velocity at t = 0).
const TARGETS: [([f64; 3], [f64; 3]); 3] = [
    ([-20_000.0, 5_000.0, 3_000.0], [150.0, 0.0, 0.0]),
    ([0.0, -15_000.0, 2_000.0], [0.0, 120.0, 0.0]),
    ([30_000.0, 20_000.0, 4_000.0], [-100.0, -50.0, 0.0]),
];

fn truth(i: usize, t: f64) -> SVector<f64, 6> {
    let (p, v) = TARGETS[i];
    SVector::from_column_slice(&[
        p[0] + v[0] * t,
        p[1] + v[1] * t,
        p[2] + v[2] * t,
        v[0],
        v[1],
        v[2],
    ])
}

/// A node or partner: its own tracker with one Cartesian sensor and its own noise.
struct Site {
    tracker: Tracker,
    sigma: f64,
    pd: f64,
    rng: ChaCha8Rng,
}

impl Site {
    fn new(sensor_id: &str, sigma: f64, pd: f64, seed: u64) -> Self {
        let mut s = SensorConfig::new(sensor_id, SensorKind::Cartesian);
        s.sigma_m = Some(sigma);
        s.period_s = Some(1.0);
        s.pd = pd;
        s.clutter_per_scan = 1.0;
        s.max_range_m = Some(60_000.0);
        let frame = LocalFrame::new(Geodetic::new(49.84, 24.03, 300.0));
        Self {
            tracker: Tracker::new(TrackerConfig::default(), frame, &[s]).expect("tracker"),
            sigma,
            pd,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// One scan of the targets `seen` at time `t`; returns the tracker's picture.
    fn scan(&mut self, t: f64, seen: &[usize]) -> Arc<Picture> {
        let noise = Normal::new(0.0, self.sigma).expect("sigma");
        let mut plots = Vec::new();
        for &i in seen {
            if self.rng.random::<f64>() < self.pd {
                let x = truth(i, t);
                plots.push(Plot {
                    t,
                    sensor: SensorIndex(0),
                    measurement: Measurement::Cartesian {
                        x: x[0] + noise.sample(&mut self.rng),
                        y: x[1] + noise.sample(&mut self.rng),
                        z: Some(x[2] + noise.sample(&mut self.rng)),
                    },
                    icao24: None,
                });
            }
        }
        if plots.is_empty() {
            // The scan happened but brought nothing: tracks must count the miss.
            self.tracker.advance(SensorIndex(0), t);
        } else {
            self.tracker.process(&plots);
        }
        self.tracker.snapshot()
    }
}

/// What a daemon publishes for a picture: every track with its provenance, and the numbers
/// that were published before and are gone now.
struct Publisher {
    shown: BTreeSet<u64>,
}

impl Publisher {
    fn new() -> Self {
        Self {
            shown: BTreeSet::new(),
        }
    }

    fn publish(&mut self, picture: &Picture) -> (Vec<RemoteTrack>, Vec<u64>) {
        let tracks: Vec<RemoteTrack> = picture
            .tracks
            .iter()
            .map(|tr| RemoteTrack {
                number: tr.number,
                t: tr.t,
                estimate: tr.estimate,
                icao24: tr.icao24,
                sources: tr.sources.clone(),
            })
            .collect();
        let now: BTreeSet<u64> = tracks.iter().map(|r| r.number).collect();
        let dropped = self.shown.difference(&now).copied().collect();
        self.shown = now;
        (tracks, dropped)
    }
}

fn fusion(node: &str, sources: &[&str]) -> FeedFusion {
    FeedFusion::new(FeedConfig {
        node_id: node.into(),
        sources: sources.iter().map(|s| s.to_string()).collect(),
        ..FeedConfig::default()
    })
    .expect("feed fusion")
}

/// The picture's tracks within `radius` of target `i`, as (number, estimate at picture time).
fn near(picture: &Picture, i: usize, radius: f64) -> Vec<(u64, Gaussian<6>)> {
    let x = truth(i, picture.t);
    picture
        .predicted_to(picture.t)
        .filter(|(_, g)| (g.x.fixed_rows::<3>(0) - x.fixed_rows::<3>(0)).norm() < radius)
        .map(|(tr, g)| (tr.number, g))
        .collect()
}

/// Per-scan record of the main scenario.
struct Run {
    fused: Vec<Picture>,
    local: Vec<Arc<Picture>>,
    fusion: FeedFusion,
    partner_pictures: Vec<Arc<Picture>>,
}

/// Local radar sees targets 0 and 1 throughout and target 2 from t = 70; partner 1 reports all
/// three from t = 8, partner 2 reports targets 1 and 2 from t = 8.
fn main_scenario(seed: u64, scans: usize) -> Run {
    let mut local = Site::new("R-local", 50.0, 0.95, seed);
    let mut p1 = Site::new("R-p1", 80.0, 0.95, seed + 100);
    let mut p2 = Site::new("R-p2", 60.0, 0.95, seed + 200);
    let mut pub1 = Publisher::new();
    let mut pub2 = Publisher::new();
    let mut fusion = fusion("node-a", &["partner-1", "partner-2"]);
    let (mut fused, mut locals, mut partner_pictures) = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..scans {
        let t = k as f64;
        let seen: &[usize] = if k >= 70 { &[0, 1, 2] } else { &[0, 1] };
        let picture = local.scan(t, seen);
        let pic1 = p1.scan(t, &[0, 1, 2]);
        let pic2 = p2.scan(t, &[1, 2]);
        if k >= 8 {
            for (source, publisher, pic) in [
                ("partner-1", &mut pub1, &pic1),
                ("partner-2", &mut pub2, &pic2),
            ] {
                let (tracks, dropped) = publisher.publish(pic);
                let out = fusion.ingest(source, pic.t, &tracks, &dropped);
                assert!(
                    out.rejected.is_empty(),
                    "{source} at {t}: {:?}",
                    out.rejected
                );
            }
        }
        fused.push(fusion.fuse(&picture));
        locals.push(picture);
        partner_pictures.push(pic1);
    }
    Run {
        fused,
        local: locals,
        fusion,
        partner_pictures,
    }
}

#[test]
fn each_target_once_with_stable_numbers_and_consistent_tighter_estimates() {
    let run = main_scenario(11, 120);
    let mut numbers: [BTreeSet<u64>; 3] = Default::default();
    let (mut nees_sum, mut nees_n, mut nees_outliers) = (0.0, 0usize, 0usize);
    let (mut associated, mut tightened) = (0usize, 0usize);
    for (k, (fused, local)) in run.fused.iter().zip(&run.local).enumerate().skip(15) {
        assert_eq!(fused.tracks.len(), 3, "scan {k}: {:?}", fused.tracks);
        for (i, set) in numbers.iter_mut().enumerate() {
            let hits = near(fused, i, 1_000.0);
            assert_eq!(hits.len(), 1, "scan {k}, target {i}: {hits:?}");
            let (number, g) = hits[0];
            set.insert(number);
            let shown = fused.tracks.iter().find(|tr| tr.number == number);
            associated += usize::from(
                shown.is_some_and(|tr| tr.sources.iter().any(|s| s.starts_with("partner"))),
            );
            // NEES of the fused (or local-only) estimate against the truth.
            let e = g.x - truth(i, fused.t);
            let p_inv = g.p.try_inverse().expect("invertible");
            let nees = (e.transpose() * p_inv * e)[(0, 0)];
            nees_sum += nees;
            nees_outliers += usize::from(nees > chi2::quantile(0.999, 6));
            nees_n += 1;
            // Wherever the local picture has this target, fusion did not loosen it.
            if let Some((_, lg)) = local
                .predicted_to(fused.t)
                .find(|(tr, _)| tr.number == number)
            {
                assert!(
                    g.p.trace() <= lg.p.trace() * (1.0 + 1e-9),
                    "scan {k} target {i}: fused trace {} > local {}",
                    g.p.trace(),
                    lg.p.trace()
                );
                tightened += usize::from(g.p.trace() < 0.99 * lg.p.trace());
            }
        }
    }
    for (i, set) in numbers.iter().enumerate() {
        assert_eq!(set.len(), 1, "target {i} numbers changed: {set:?}");
    }
    let n: Vec<u64> = numbers.iter().filter_map(|s| s.first().copied()).collect();
    assert!(n[0] < REMOTE_BASE && n[1] < REMOTE_BASE, "{n:?}");
    assert!(
        n[2] >= REMOTE_BASE,
        "remote-only target keeps its remote number after the local radar picks it up: {n:?}"
    );
    // CI keeps the better estimate when one covariance dominates the other on every axis
    // (here the local radar is the most accurate), and gains where their shapes differ.
    assert!(
        associated > 150 && tightened > 0,
        "associated {associated}, tightened {tightened}"
    );
    let mean = nees_sum / nees_n as f64;
    // CI is conservative: the mean NEES must not exceed the 6-dof mean with a wide margin for
    // the time correlation of one run (and the tracker's own IMM), and must not collapse.
    println!(
        "mean NEES {mean:.2} over {nees_n} samples ({:.1}% above the 99.9% chi2(6) bound); \
         {associated} associated, {tightened} tightened by > 1%",
        100.0 * nees_outliers as f64 / nees_n as f64
    );
    assert!(mean < 9.0 && mean > 0.5, "mean NEES {mean}");
    assert!(
        nees_outliers as f64 <= 0.02 * nees_n as f64,
        "{nees_outliers} of {nees_n} NEES samples above the 99.9% bound"
    );
    // Every partner track that is shown maps to the number of its object.
    let last_partner = run.partner_pictures.last().expect("scans");
    let fused = run.fused.last().expect("scans");
    for tr in &last_partner.tracks {
        let ours = run
            .fusion
            .our_number("partner-1", tr.number)
            .expect("mapped");
        let shown = fused
            .tracks
            .iter()
            .find(|f| f.number == ours)
            .expect("shown");
        let d = (shown.estimate.x - tr.estimate.x).fixed_rows::<3>(0).norm();
        assert!(d < 1_000.0, "partner {} -> ours {ours}: {d} m", tr.number);
        assert!(shown.sources.iter().any(|s| &**s == "partner-1"));
    }
    assert_eq!(run.fusion.our_number("partner-1", 999), None);
}

#[test]
fn dropped_and_aged_out_remote_tracks_disappear() {
    let mut run = main_scenario(5, 40);
    let fusion = &mut run.fusion;
    let local = run.local.last().expect("scans").clone();
    let fused = fusion.fuse(&local);
    let remote_only = near(&fused, 2, 1_000.0);
    assert_eq!(remote_only.len(), 1);
    assert!(remote_only[0].0 >= REMOTE_BASE);
    // Partner 1 drops its track of target 2: partner 2 still reports it, one object stays.
    let p1_number = run
        .partner_pictures
        .last()
        .expect("scans")
        .tracks
        .iter()
        .find(|tr| {
            (tr.estimate.x.fixed_rows::<3>(0) - truth(2, tr.t).fixed_rows::<3>(0)).norm() < 1_000.0
        });
    let p1_number = p1_number.expect("partner 1 tracks target 2").number;
    let t = local.t;
    let out = fusion.ingest("partner-1", t, &[], &[p1_number, 12_345]);
    assert_eq!(out.dropped, 1, "only the known number counts");
    let fused = fusion.fuse(&local);
    assert_eq!(fusion.our_number("partner-1", p1_number), None);
    let still = near(&fused, 2, 1_000.0);
    assert_eq!(still.len(), 1);
    assert_eq!(still[0].0, remote_only[0].0, "partner 2 keeps the number");
    // Partner 2 goes silent: past max_age_s its tracks age out; local tracks stay.
    let mut later = (*local).clone();
    later.t = t + FeedConfig::default().max_age_s + 0.5;
    let fused = fusion.fuse(&later);
    assert!(near(&fused, 2, 5_000.0).is_empty(), "{:?}", fused.tracks);
    assert_eq!(fused.tracks.len(), local.tracks.len());
    for (f, (l, predicted)) in fused.tracks.iter().zip(local.predicted_to(later.t)) {
        assert_eq!(f.number, l.number);
        assert_eq!(f.t, later.t);
        assert_eq!(
            f.estimate, predicted,
            "unfused local tracks are only predicted"
        );
        assert!(f.sources.iter().any(|s| &**s == "node-a"));
        assert!(l.sources.iter().all(|s| f.sources.contains(s)));
    }
    // Only partner 1's tracks of targets 0 and 1 were left; now everything aged out.
    assert_eq!(fusion.remote_count(), 0);
}

fn remote(number: u64, t: f64, x: [f64; 6], var: f64) -> RemoteTrack {
    RemoteTrack {
        number,
        t,
        estimate: Gaussian {
            x: SVector::from_column_slice(&x),
            p: nalgebra::SMatrix::<f64, 6, 6>::identity() * var,
        },
        icao24: None,
        sources: vec![Arc::from("R-p")],
    }
}

#[test]
fn malformed_feeds_are_rejected_with_reasons_and_leave_the_picture_alone() {
    let mut run = main_scenario(3, 30);
    let fusion = &mut run.fusion;
    let local = run.local.last().expect("scans").clone();
    let before = fusion.fuse(&local);
    let t = local.t;
    let x = [1.0e4, 1.0e4, 1.0e3, 0.0, 0.0, 0.0];
    let out = fusion.ingest("stranger", t, &[remote(1, t, x, 100.0)], &[]);
    assert_eq!(out.accepted, 0);
    assert_eq!(
        out.rejected[0].error,
        FeedError::UnknownSource("stranger".into())
    );
    assert_eq!(out.rejected[0].index, None);
    let out = fusion.ingest("partner-1", f64::NAN, &[], &[]);
    assert_eq!(out.rejected[0].error, FeedError::NonFinite);

    let mut nan = remote(900, t, x, 100.0);
    nan.estimate.x[4] = f64::NAN;
    let mut not_pd = remote(901, t, x, 100.0);
    not_pd.estimate.p[(2, 2)] = -1.0;
    let mut asymmetric = remote(902, t, x, 100.0);
    asymmetric.estimate.p[(0, 1)] = 50.0;
    let stale = remote(903, t - 100.0, x, 100.0);
    let ahead = remote(904, t + 60.0, x, 100.0);
    let good = remote(905, t, x, 100.0);
    let duplicate = remote(905, t, x, 100.0);
    let out = fusion.ingest(
        "partner-2",
        t,
        &[nan, not_pd, asymmetric, stale, ahead, good, duplicate],
        &[],
    );
    let reasons: Vec<_> = out.rejected.iter().map(|r| (r.index, &r.error)).collect();
    assert_eq!(out.accepted, 1, "{reasons:?}");
    assert_eq!(reasons.len(), 6);
    assert_eq!(reasons[0], (Some(0), &FeedError::NonFinite));
    assert_eq!(reasons[1], (Some(1), &FeedError::NotPositiveDefinite));
    assert_eq!(reasons[2], (Some(2), &FeedError::NotPositiveDefinite));
    assert!(matches!(reasons[3], (Some(3), FeedError::Stale { .. })));
    assert!(matches!(reasons[4], (Some(4), FeedError::Ahead { .. })));
    assert_eq!(reasons[5], (Some(6), &FeedError::DuplicateNumber(905)));
    // Time going backwards for an accepted track.
    let out = fusion.ingest("partner-2", t, &[remote(905, t - 1.0, x, 100.0)], &[]);
    assert!(matches!(out.rejected[0].error, FeedError::Backwards { .. }));
    // The one good track is a new remote-only object; drop it and the picture is as before.
    let with_good = fusion.fuse(&local);
    assert_eq!(with_good.tracks.len(), before.tracks.len() + 1);
    fusion.ingest("partner-2", t, &[], &[905]);
    let after = fusion.fuse(&local);
    assert_eq!(after, before);
    // A bounded store: a source cannot grow it past max_tracks_per_source.
    let mut small = FeedFusion::new(FeedConfig {
        sources: vec!["p".into()],
        max_tracks_per_source: 2,
        ..FeedConfig::default()
    })
    .expect("fusion");
    let many: Vec<_> = (0..3).map(|n| remote(n, 0.0, x, 100.0)).collect();
    let out = small.ingest("p", 0.0, &many, &[]);
    assert_eq!(out.accepted, 2);
    assert_eq!(out.rejected[0].error, FeedError::TooManyTracks(2));
}

/// Two nodes with overlapping coverage, each publishing its fused picture as the other's
/// feed. Node A sees targets 0 and 1 (target 0 only until t = 60), node B targets 1 and 2.
/// With `provenance` false the nodes publish their tracks without their `sources` (a
/// daemon that breaks the provenance rule), the control for the ghost test.
fn echo_loop(seed: u64, provenance: bool) -> Vec<(Picture, Picture)> {
    let mut a = Site::new("R-a", 50.0, 0.95, seed);
    let mut b = Site::new("R-b", 70.0, 0.95, seed + 1);
    let mut fa = fusion("node-a", &["node-b"]);
    let mut fb = fusion("node-b", &["node-a"]);
    let (mut pub_a, mut pub_b) = (Publisher::new(), Publisher::new());
    let mut out: Vec<(Picture, Picture)> = Vec::new();
    for k in 0..150 {
        let t = k as f64;
        let seen_a: &[usize] = match k {
            0..60 => &[0, 1],
            60..100 => &[1],
            _ => &[],
        };
        let pa = a.scan(t, seen_a);
        let pb = b.scan(t, if k < 125 { &[1, 2] } else { &[2] });
        // Each node ingests the other's previous fused picture (one scan of latency).
        if let Some((prev_a, prev_b)) = out.last() {
            let (mut tracks, dropped) = pub_b.publish(prev_b);
            if !provenance {
                tracks.iter_mut().for_each(|r| r.sources.clear());
            }
            let rejected = fa.ingest("node-b", prev_b.t, &tracks, &dropped).rejected;
            assert!(rejected.is_empty(), "scan {k}: {rejected:?}");
            let (mut tracks, dropped) = pub_a.publish(prev_a);
            if !provenance {
                tracks.iter_mut().for_each(|r| r.sources.clear());
            }
            let rejected = fb.ingest("node-a", prev_a.t, &tracks, &dropped).rejected;
            assert!(rejected.is_empty(), "scan {k}: {rejected:?}");
        }
        out.push((fa.fuse(&pa), fb.fuse(&pb)));
    }
    out
}

#[test]
fn two_nodes_feeding_each_other_show_each_target_once_and_keep_no_ghost() {
    let run = echo_loop(21, true);
    let mut last_ghost = [None, None];
    let (mut handover_numbers, mut handover_gap) = (BTreeSet::new(), 0);
    let mut target_1_last_shown = [0, 0];
    for (k, (pa, pb)) in run.iter().enumerate().skip(15) {
        for (node, p) in [pa, pb].into_iter().enumerate() {
            for i in 0..3 {
                let hits = near(p, i, 1_000.0);
                if i == 1 && !hits.is_empty() {
                    target_1_last_shown[node] = k;
                }
                if i == 1 && k >= 125 {
                    // Nobody sees target 1 any more: it may coast a little, never come back.
                } else if node == 0 && i == 1 {
                    // Target 1 at node A: its own radar until t = 100, then only node B's.
                    handover_numbers.extend(hits.iter().map(|h| h.0));
                    handover_gap += usize::from(hits.is_empty() && k >= 100);
                    assert!(hits.len() == 1 || (k >= 100 && hits.is_empty()), "scan {k}");
                } else if i != 0 || k < 60 {
                    assert_eq!(
                        hits.len(),
                        1,
                        "scan {k} node {node} target {i}: {:?}",
                        p.tracks
                    );
                }
            }
            // After t = 60 any third track is target 0 coasting on, or a ghost.
            if k < 60 {
                assert_eq!(p.tracks.len(), 3, "scan {k} node {node}");
            } else if p.tracks.len() > 2 {
                last_ghost[node] = Some(k);
            }
            if k >= 140 {
                assert_eq!(
                    p.tracks.len(),
                    1,
                    "scan {k} node {node}: only target 2 is left"
                );
            }
        }
    }
    // Node A coasts its track of target 0 for at most the tracker's coast limit after its
    // radar lost it, then both nodes drop it within a few feed round trips.
    assert!(
        last_ghost[0].is_some(),
        "node A coasts its track for a while"
    );
    for (node, k) in last_ghost.iter().enumerate() {
        println!("node {node}: target 0 last shown at scan {k:?}");
        if let Some(k) = k {
            assert!(
                *k < 60 + 35,
                "node {node} still showed target 0 at scan {k}"
            );
        }
    }
    println!("target 1 last shown at scan {target_1_last_shown:?} (both radars lost it at 125)");
    assert!(target_1_last_shown.iter().all(|&k| k < 125 + 10));
    // When A's radar loses target 1, which B still sees, A shows it from B's feed under the
    // same number, after at most a few scans (A's track coasting ends, then B's track stops
    // being an echo of A's one feed round trip later).
    println!("target 1 at node A: numbers {handover_numbers:?}, {handover_gap} scans missing");
    assert_eq!(handover_numbers.len(), 1, "{handover_numbers:?}");
    assert!(handover_gap <= 3, "{handover_gap} scans without target 1");
    // B shows target 0 (seen only by A) under a remote number, A shows target 2 likewise.
    let (pa, pb) = &run[40];
    assert!(near(pb, 0, 1_000.0)[0].0 >= REMOTE_BASE);
    assert!(near(pa, 2, 1_000.0)[0].0 >= REMOTE_BASE);
    assert!(near(pa, 1, 1_000.0)[0].0 < REMOTE_BASE);
}

#[test]
fn same_feeds_give_the_same_pictures() {
    let a = main_scenario(8, 50);
    let b = main_scenario(8, 50);
    assert_eq!(a.fused, b.fused);
    assert_eq!(echo_loop(4, true), echo_loop(4, true));
    assert_ne!(a.fused, main_scenario(9, 50).fused);
    // Different partner track numbering maps to the same objects.
    let mut map = BTreeMap::new();
    for tr in &a.partner_pictures.last().expect("scans").tracks {
        map.insert(tr.number, a.fusion.our_number("partner-1", tr.number));
    }
    assert!(map.values().all(Option::is_some), "{map:?}");
}

fn local_track(number: u64, x: [f64; 6], icao24: Option<u32>) -> PictureTrack {
    PictureTrack {
        number,
        status: TrackStatus::Confirmed,
        t: 0.0,
        estimate: remote(0, 0.0, x, 1.0).estimate,
        score: 20.0,
        sources: vec![Arc::from("R-local")],
        icao24,
        last_update_t: 0.0,
        hits: 10,
    }
}

/// Hand-placed tracks with known distances. Variances: 100 m^2 per axis on both sides, so
/// the difference has 200 m^2; velocities are known (25 (m/s)^2), so the gate is 6-dof:
/// chi2(0.9999, 6) = 27.86, i.e. 74.6 m, and 4x that squared (hold) 149 m.
#[test]
fn identity_gates_and_sticky_pairs() {
    let gate = chi2::quantile(0.9999, 6);
    let at = |east: f64| [east, 0.0, 1_000.0, 100.0, 0.0, 0.0];
    let mut local = Picture::default();
    local.tracks.push(local_track(1, at(0.0), Some(0xABC)));
    for tr in &mut local.tracks {
        tr.estimate.p = remote(0, 0.0, at(0.0), 100.0).estimate.p;
        for i in 3..6 {
            tr.estimate.p[(i, i)] = 25.0;
        }
    }
    let track = |number: u64, east: f64, icao: Option<u32>| {
        let mut r = remote(number, 0.0, at(east), 100.0);
        for i in 3..6 {
            r.estimate.p[(i, i)] = 25.0;
        }
        r.icao24 = icao;
        r
    };
    let shown = |f: &mut FeedFusion, r: RemoteTrack| {
        let out = f.ingest("p", 0.0, std::slice::from_ref(&r), &[]);
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        let picture = f.fuse(&local);
        f.ingest("p", 0.0, &[], &[r.number]);
        (picture.tracks.len(), f.our_number("p", r.number))
    };
    let mut f = fusion("node-a", &["p"]);
    // 250 m: far outside the kinematic gate (d2 = 312), inside it widened 16x by equal ICAO.
    assert!(250.0_f64.powi(2) / 200.0 > gate && 250.0_f64.powi(2) / 200.0 < 16.0 * gate);
    assert_eq!(shown(&mut f, track(7, 250.0, Some(0xABC))), (1, Some(1)));
    let (n, number) = shown(&mut f, track(8, 250.0, None));
    assert_eq!(n, 2, "no identity, no association at 250 m");
    assert!(number.is_some_and(|n| n >= REMOTE_BASE));
    // 10 m but a different ICAO address: never the same object.
    let (n, number) = shown(&mut f, track(9, 10.0, Some(0xDEF)));
    assert_eq!(n, 2);
    assert!(number.is_some_and(|n| n >= REMOTE_BASE));
    // Two tracks of one source near one local track: one joins, the other stays its own.
    f.ingest(
        "p",
        0.0,
        &[track(10, 5.0, None), track(11, 20.0, None)],
        &[],
    );
    let picture = f.fuse(&local);
    assert_eq!(picture.tracks.len(), 2);
    assert_eq!(f.our_number("p", 10), Some(1), "the closer one");
    assert!(f.our_number("p", 11).is_some_and(|n| n >= REMOTE_BASE));
    f.ingest("p", 0.0, &[], &[10, 11]);
    // Hysteresis: a pair made at 5 m holds at 110 m (d2 = 60.5, beyond the gate of 27.9
    // but inside 4x), where a fresh pair would not form.
    let mut f = fusion("node-a", &["p"]);
    f.ingest("p", 0.0, &[track(12, 5.0, None)], &[]);
    f.fuse(&local);
    assert_eq!(f.our_number("p", 12), Some(1));
    f.ingest("p", 0.0, &[track(12, 110.0, None)], &[]);
    let picture = f.fuse(&local);
    assert_eq!((picture.tracks.len(), f.our_number("p", 12)), (1, Some(1)));
    let mut fresh = fusion("node-a", &["p"]);
    assert_eq!(shown(&mut fresh, track(12, 110.0, None)).0, 2);
    // Beyond the hold gate (200 m, d2 = 200 > 111) the pair breaks.
    f.ingest("p", 0.0, &[track(12, 200.0, None)], &[]);
    assert_eq!(f.fuse(&local).tracks.len(), 2);
}

/// The control for the test above: without provenance, echoes are not recognised, and the
/// nodes keep a target alive between them long after every radar lost it.
#[test]
fn without_provenance_the_nodes_keep_a_ghost() {
    let run = echo_loop(21, false);
    let (pa, pb) = run.last().expect("scans");
    assert!(
        pa.tracks.len() > 1 || pb.tracks.len() > 1,
        "expected a ghost: {} and {} tracks",
        pa.tracks.len(),
        pb.tracks.len()
    );
}

/// A node without sensors of its own (its tracker's picture stays empty at time 0) still
/// relays its feeds: their times drive the fused picture's time.
#[test]
fn a_node_without_local_data_shows_its_feeds() {
    let mut f = fusion("relay", &["p"]);
    assert!(f.fuse(&Picture::default()).tracks.is_empty());
    let x = [1.0e4, 1.0e4, 1.0e3, 50.0, 0.0, 0.0];
    let out = f.ingest("p", 100.0, &[remote(4, 99.5, x, 100.0)], &[]);
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    let picture = f.fuse(&Picture::default());
    assert_eq!(picture.t, 99.5);
    assert_eq!(picture.tracks.len(), 1);
    assert_eq!(
        picture.tracks[0].sources,
        vec![Arc::from("R-p"), Arc::from("p")]
    );
    // Nothing new for longer than max_age_s of the feed's own time: gone.
    let later = remote(5, 99.5 + 13.0, [-1.0e4, 0.0, 1.0e3, 0.0, 0.0, 0.0], 100.0);
    f.ingest("p", 112.5, &[later], &[]);
    let picture = f.fuse(&Picture::default());
    assert_eq!(picture.tracks.len(), 1);
    assert_eq!(f.our_number("p", 4), None, "aged out");
}

/// A value that is usually plausible and sometimes anything at all (NaN, infinite, huge).
fn wild(plausible: std::ops::Range<f64>) -> impl Strategy<Value = f64> {
    prop_oneof![proptest::num::f64::ANY, plausible]
}

/// One reported track: (number, time offset from its message, state, variance, ICAO).
fn wild_track() -> impl Strategy<Value = (u64, f64, Vec<f64>, f64, Option<u32>)> {
    (
        0u64..6,
        -1e3..1e3f64,
        prop::collection::vec(wild(-1e4..1e4), 6),
        wild(1.0..1e6),
        prop::option::of(0u32..3),
    )
}

proptest! {
    /// Whatever a source sends (any numbers, NaN, infinities, huge or negative times, repeated
    /// numbers), ingest and fuse do not panic, and the fused picture shows every number once.
    #[test]
    fn arbitrary_feeds_never_panic_and_numbers_stay_unique(
        messages in prop::collection::vec(
            (
                wild(-1e3..1e3),
                prop::collection::vec(wild_track(), 0..6),
                prop::collection::vec(0u64..6, 0..3),
            ),
            1..8,
        )
    ) {
        let mut f = fusion("node-a", &["p", "q"]);
        let mut local = Picture::default();
        local.tracks.push(local_track(1, [0.0, 0.0, 1e3, 10.0, 0.0, 0.0], None));
        for (k, (t, tracks, dropped)) in messages.into_iter().enumerate() {
            let tracks: Vec<RemoteTrack> = tracks
                .into_iter()
                .map(|(number, dt, x, var, icao)| {
                    let mut r = remote(number, t + dt, [x[0], x[1], x[2], x[3], x[4], x[5]], var);
                    r.icao24 = icao;
                    if number % 2 == 0 {
                        r.sources.push(Arc::from("node-a"));
                    }
                    r
                })
                .collect();
            let source = if k % 2 == 0 { "p" } else { "q" };
            let out = f.ingest(source, t, &tracks, &dropped);
            if t.is_finite() {
                prop_assert_eq!(out.accepted + out.rejected.len(), tracks.len());
            } else {
                prop_assert_eq!(out.rejected.len(), 1);
            }
            local.t = k as f64;
            let picture = f.fuse(&local);
            let numbers: BTreeSet<u64> = picture.tracks.iter().map(|tr| tr.number).collect();
            prop_assert_eq!(numbers.len(), picture.tracks.len());
        }
    }
}
