//! The multi-hypothesis tracker on a small hard case: a tight group of five targets in
//! local clutter that splits up. Checks that it branches, that its caps hold after every
//! batch, that it ends with one track per target, and that it is deterministic.

use fusion_core::config::{AssociatorKind, TrackerConfig};
use fusion_core::geodesy::{Geodetic, LocalFrame};
use fusion_core::sensor::{SensorConfig, SensorIndex, SensorKind};
use fusion_core::{Measurement, Picture, Plot, TrackEvent, Tracker};
use nalgebra::Vector3;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::collections::BTreeMap;

const TARGETS: usize = 5;

fn config() -> TrackerConfig {
    let mut cfg = TrackerConfig {
        mode: AssociatorKind::Mht,
        ceiling_m: 1000.0,
        ..TrackerConfig::default()
    };
    cfg.mht.hypotheses = 6;
    cfg.mht.max_branches_per_track = 4;
    cfg
}

fn sensor() -> SensorConfig {
    let mut s = SensorConfig::new("C1", SensorKind::Cartesian);
    s.sigma_m = Some(50.0);
    s.period_s = Some(1.0);
    s.pd = 0.85;
    // 20 false plots a scan over a 4 km x 4 km x 1 km box: the declared range gives the same
    // density over a disc of equal area.
    s.clutter_per_scan = 20.0;
    s.max_range_m = Some(2257.0);
    s
}

/// True positions at time `t`: abreast 120 m apart flying east, fanning out after 20 s.
fn truth(t: f64) -> Vec<Vector3<f64>> {
    (0..TARGETS)
        .map(|i| {
            let y0 = (i as f64 - 2.0) * 120.0;
            let straight = t.min(20.0);
            let mut p = Vector3::new(-1500.0 + 40.0 * straight, y0, 500.0);
            if t > 20.0 {
                let heading = ((i as f64 - 2.0) * 15.0_f64).to_radians();
                p += Vector3::new(heading.cos(), heading.sin(), 0.0) * 40.0 * (t - 20.0);
            }
            p
        })
        .collect()
}

fn scans(seed: u64) -> Vec<Vec<Plot>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let noise = Normal::new(0.0, 50.0).expect("sigma");
    let s = sensor();
    (0..70)
        .map(|k| {
            let t = f64::from(k);
            let mut plots: Vec<Plot> = Vec::new();
            for x in truth(t) {
                if rng.random::<f64>() < s.pd {
                    let m = x + Vector3::from_fn(|_, _| noise.sample(&mut rng));
                    plots.push(plot(t, m));
                }
            }
            for _ in 0..20 {
                let m = Vector3::new(
                    rng.random_range(-2000.0..2000.0),
                    rng.random_range(-2000.0..2000.0),
                    rng.random_range(0.0..1000.0),
                );
                plots.push(plot(t, m));
            }
            plots
        })
        .collect()
}

fn plot(t: f64, x: Vector3<f64>) -> Plot {
    Plot {
        t,
        sensor: SensorIndex(0),
        measurement: Measurement::Cartesian {
            x: x.x,
            y: x.y,
            z: Some(x.z),
        },
        icao24: None,
    }
}

fn tracker() -> Tracker {
    let frame = LocalFrame::new(Geodetic::new(49.84, 24.03, 300.0));
    Tracker::new(config(), frame, &[sensor()]).expect("tracker")
}

#[test]
fn branches_within_its_caps_and_ends_with_one_track_per_target() {
    let cfg = config();
    let mut tracker = tracker();
    let mut most_open = 0;
    for batch in scans(3) {
        let outcome = tracker.process(&batch);
        assert!(outcome.rejected.is_empty());
        let (open, most_hypotheses) = tracker.open_hypotheses();
        most_open = most_open.max(open);
        assert!(
            most_hypotheses <= cfg.mht.hypotheses,
            "{most_hypotheses} hypotheses in one cluster"
        );
        let mut per_tree: BTreeMap<u64, usize> = BTreeMap::new();
        for t in tracker.tracks() {
            *per_tree.entry(t.family).or_default() += 1;
        }
        let widest = per_tree.values().max().copied().unwrap_or(0);
        assert!(
            widest <= cfg.mht.max_branches_per_track,
            "a tree with {widest} branches"
        );
    }
    assert!(
        most_open > 0,
        "the group in clutter never left a decision open"
    );

    // At the end every target has its own confirmed track, and nothing else is shown.
    let picture = tracker.snapshot();
    let end = truth(tracker.time());
    let mut used = Vec::new();
    for x in &end {
        let nearest = picture
            .predicted_to(tracker.time())
            .filter(|(t, _)| !used.contains(&t.number))
            .map(|(t, g)| {
                let p = Vector3::new(g.x[0], g.x[1], g.x[2]);
                ((p - x).norm(), t.number)
            })
            .min_by(|a, b| a.0.total_cmp(&b.0));
        match nearest {
            Some((d, n)) if d < 150.0 => used.push(n),
            other => panic!("target at {x:?} untracked (nearest {other:?})"),
        }
    }
    assert!(
        picture.tracks.len() <= TARGETS + 1,
        "{} tracks shown for {TARGETS} targets",
        picture.tracks.len()
    );
}

fn run(threads: usize) -> (Vec<Vec<TrackEvent>>, Vec<Picture>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    pool.install(|| {
        let mut tracker = tracker();
        let mut events = Vec::new();
        let mut pictures = Vec::new();
        for batch in scans(11) {
            events.push(tracker.process(&batch).events);
            pictures.push((*tracker.snapshot()).clone());
        }
        (events, pictures)
    })
}

#[test]
fn same_plots_same_picture_whatever_the_threads() {
    let one = run(1);
    let two = run(2);
    assert!(
        one.1.iter().any(|p| !p.tracks.is_empty()),
        "something tracked"
    );
    assert_eq!(one, two, "1 and 2 worker threads differ");
}

/// Numbers belong to target trees: every branch carrying a number is of the tree that
/// earned it, for the whole run, and an update only ever names a number in the picture.
#[test]
fn a_number_always_names_the_same_tree() {
    let mut tracker = tracker();
    let mut tree_of: BTreeMap<u64, u64> = BTreeMap::new();
    let mut shown: Vec<u64> = Vec::new();
    for batch in scans(5) {
        for e in tracker.process(&batch).events {
            match e {
                TrackEvent::Confirmed(n) => shown.push(n),
                TrackEvent::Deleted(n, _) => shown.retain(|&m| m != n),
                TrackEvent::Updated(n) => assert!(shown.contains(&n), "update of {n}"),
            }
        }
        for t in tracker.tracks() {
            if let Some(n) = t.number {
                let tree = *tree_of.entry(n).or_insert(t.family);
                assert_eq!(tree, t.family, "number {n} moved to another tree");
            }
        }
        let mut in_picture: Vec<u64> = tracker.snapshot().tracks.iter().map(|t| t.number).collect();
        in_picture.sort_unstable();
        let mut by_events = shown.clone();
        by_events.sort_unstable();
        assert_eq!(in_picture, by_events, "events and picture disagree");
    }
    assert!(tree_of.len() >= TARGETS);
}
