//! End to end: seeded scenarios are simulated, tracked and scored against their truth (a
//! 100-target scenario with two 3-D rotating radars and a cartesian sensor with clutter, real
//! flights, and the MHT scenarios with both associators).

use fusion_core::config::AssociatorKind;
use iapz_adapters::scenario::{JsonLines, PictureRecord, TruthRecord};
use iapz_bench::score::{ScoreOptions, ScoreReport, score};
use iapz_bench::simulate::{Scenario, simulate_to_writers};
use iapz_bench::track::{TrackOptions, track_stream};

fn records<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Vec<T> {
    let mut lines = JsonLines::new(bytes);
    let mut out = Vec::new();
    while let Some(r) = lines.next_record::<T>() {
        out.push(r.expect("valid record"));
    }
    out
}

fn simulate(name: &str, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let scenario = Scenario::load(name).expect("shipped scenario");
    let (mut plots, mut truth) = (Vec::new(), Vec::new());
    simulate_to_writers(&scenario, seed, &mut plots, &mut truth).expect("simulate");
    (plots, truth)
}

fn track(plots: &[u8], threads: usize) -> Vec<u8> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let opts = TrackOptions {
        picture_every: Some(1.0),
        ..TrackOptions::default()
    };
    let mut picture = Vec::new();
    pool.install(|| track_stream(plots, &mut picture, &opts))
        .expect("track");
    picture
}

#[test]
fn hundred_targets_two_radars_with_clutter() {
    let (plots, truth) = simulate("mixed-100", 7);
    let picture = track(&plots, 2);
    let truth: Vec<TruthRecord> = records(&truth);
    let picture_records: Vec<PictureRecord> = records(&picture);
    // Cut-off 300 m: about 2.3 times the cross-range sigma of one radar plot at 50 km
    // (0.15 deg), so a track further than that from its target has lost it.
    let report =
        score(&truth, &picture_records, &ScoreOptions { c: 300.0, p: 1.0 }).expect("score");
    assert_eq!(report.targets, 100);
    assert_eq!(
        report.targets_tracked, 100,
        "every true target gets a confirmed track"
    );
    let coverage = report.mean_track_coverage.expect("targets");
    assert!(coverage > 0.95, "mean coverage {coverage}");
    // Bound on mean GOSPA per target: a filtered track of two such radars should sit within
    // about half the single-plot cross-range sigma (~65 m in 3-D); each target is missed for
    // about 3 scans (12 s) of its ~300 s life while its track is confirmed, which costs about
    // c/2 * 12/300 = 6 m; 1.5x margin on the sum gives 110 m.
    let per_target = report.gospa_per_target.expect("targets");
    assert!(per_target < 110.0, "mean GOSPA per target {per_target} m");
    // False tracks: under one per instant on average over 100 targets.
    assert!(
        report.gospa_false / 150.0 < 1.0,
        "false tracks per instant {}",
        report.gospa_false / 150.0
    );
    let changes = report.track_number_changes_per_target.expect("targets");
    assert!(changes < 0.5, "track-number changes per target {changes}");
}

#[test]
fn same_plots_same_picture_bytes_whatever_the_threads() {
    let (plots, _) = simulate("crossing", 3);
    let one = track(&plots, 1);
    let two = track(&plots, 2);
    assert!(!one.is_empty());
    assert_eq!(one, two, "pictures differ between 1 and 2 threads");
    assert_eq!(one, track(&plots, 2), "pictures differ between runs");
}

/// Real recorded trajectories seen by ADS-B and a radar: each flight keeps its track number
/// except where the recording itself has a gap (the flight leaves and comes back).
#[test]
fn real_flights_with_adsb_and_radar() {
    let (plots, truth) = simulate("flights", 5);
    let picture = track(&plots, 2);
    let truth: Vec<TruthRecord> = records(&truth);
    let picture_records: Vec<PictureRecord> = records(&picture);
    let report =
        score(&truth, &picture_records, &ScoreOptions { c: 300.0, p: 1.0 }).expect("score");
    // Segments of truth separated by gaps longer than the truth step: each may start a new track.
    let mut by_id: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for r in &truth {
        by_id.entry(r.id.to_string()).or_default().push(r.t);
    }
    let segments: usize = by_id
        .values()
        .map(|ts| 1 + ts.windows(2).filter(|w| w[1] - w[0] > 1.5).count())
        .sum();
    assert_eq!(report.targets_tracked, report.targets);
    assert!(report.mean_track_coverage.expect("targets") > 0.98);
    let allowed = segments - report.targets + 4;
    assert!(
        report.track_number_changes <= allowed,
        "{} track-number changes, {segments} truth segments of {} flights",
        report.track_number_changes,
        report.targets
    );
    assert!(
        report.gospa_per_target.expect("targets") < 40.0,
        "{:?}",
        report.gospa_per_target
    );
}

/// A 2-D scenario (2-D radars and a 2-D cartesian sensor, no heights anywhere) is tracked and
/// scored on x, y only.
#[test]
fn planar_scenario_is_tracked_in_two_dimensions() {
    let (plots, truth) = simulate("planar", 5);
    let picture = track(&plots, 2);
    let truth: Vec<TruthRecord> = records(&truth);
    let picture_records: Vec<PictureRecord> = records(&picture);
    let report =
        score(&truth, &picture_records, &ScoreOptions { c: 300.0, p: 1.0 }).expect("score");
    assert_eq!(report.dims, 2);
    assert_eq!(report.targets_tracked, report.targets);
    assert!(
        report.mean_track_coverage.expect("targets") > 0.95,
        "{:?}",
        report.mean_track_coverage
    );
    assert!(
        report.gospa_per_target.expect("targets") < 90.0,
        "{:?}",
        report.gospa_per_target
    );
    // Heights stay at the configured initial height: nothing measured them.
    assert!(
        picture_records
            .iter()
            .flat_map(|p| &p.tracks)
            .all(|t| t.z.abs() < 1e-6)
    );
}

/// Simulates `name` with `seed`, tracks it with both associators, and scores both.
fn both(name: &str, seed: u64) -> (ScoreReport, ScoreReport) {
    let (plots, truth) = simulate(name, seed);
    let truth: Vec<TruthRecord> = records(&truth);
    let run = |mode| {
        let mut opts = TrackOptions {
            picture_every: Some(1.0),
            ..TrackOptions::default()
        };
        opts.config.mode = mode;
        let mut picture = Vec::new();
        track_stream(&plots[..], &mut picture, &opts).expect("track");
        let picture: Vec<PictureRecord> = records(&picture);
        score(&truth, &picture, &ScoreOptions { c: 300.0, p: 1.0 }).expect("score")
    };
    (run(AssociatorKind::Gnn), run(AssociatorKind::Mht))
}

fn per_target(r: &ScoreReport) -> f64 {
    r.gospa_per_target.expect("targets")
}

/// Where deferring decisions pays, MHT must win: eight drones 150 m apart (below the radar's
/// cross-range resolution) splitting up.
#[test]
fn mht_tracks_a_splitting_formation_better_than_gnn() {
    // Three seeds, summed: one seed alone is at the mercy of a single early swap.
    // Measured (seeds 1-3): GNN 140 m and 701 changes, MHT 125 m and 523 changes.
    let (mut gnn, mut mht, mut gnn_changes, mut mht_changes) = (0.0, 0.0, 0, 0);
    for seed in 1..=3 {
        let (g, m) = both("mht-formation", seed);
        gnn += per_target(&g);
        mht += per_target(&m);
        gnn_changes += g.track_number_changes;
        mht_changes += m.track_number_changes;
    }
    assert!(
        mht < 0.95 * gnn,
        "mean GOSPA per target: MHT {:.1} m, GNN {:.1} m",
        mht / 3.0,
        gnn / 3.0
    );
    assert!(
        (mht_changes as f64) < 0.9 * gnn_changes as f64,
        "track-number changes: MHT {mht_changes}, GNN {gnn_changes}"
    );
}

/// At crossings MHT must swap tracks between targets less often than GNN: counted as lasting
/// changes (each track held 20 s or more), because the per-instant count is dominated by the
/// scorer flickering between two tracks that both sit on two crossing targets.
#[test]
fn mht_swaps_fewer_tracks_at_crossings_than_gnn() {
    // Measured (seeds 1-6): GNN 8 lasting changes, MHT 4; seeds 1-12: 23 and 8.
    let (mut gnn, mut mht) = (0, 0);
    for seed in 1..=6 {
        let (g, m) = both("mht-crossing", seed);
        gnn += g.lasting_track_number_changes;
        mht += m.lasting_track_number_changes;
    }
    assert!(
        (mht as f64) <= 0.75 * gnn as f64,
        "lasting track-number changes at crossings: MHT {mht}, GNN {gnn}"
    );
}

/// On the other MHT scenarios MHT must not lose accuracy; it does not beat GNN there yet.
#[test]
fn mht_loses_no_accuracy_on_crossings_clutter_and_low_pd() {
    // Measured (seed 1), GNN vs MHT: crossing 145.1 / 146.2 m, dense clutter 159.3 / 159.4 m,
    // low Pd 104.1 / 104.1 m. 3% margin.
    for name in ["mht-crossing", "mht-dense-clutter", "mht-low-pd"] {
        let (g, m) = both(name, 1);
        assert!(
            per_target(&m) < 1.03 * per_target(&g),
            "{name}: mean GOSPA per target MHT {:.1} m, GNN {:.1} m",
            per_target(&m),
            per_target(&g)
        );
        assert!(
            m.targets_tracked >= g.targets_tracked,
            "{name}: targets tracked MHT {}, GNN {}",
            m.targets_tracked,
            g.targets_tracked
        );
    }
}
