//! End to end: a seeded 100-target scenario (two 3-D rotating radars with clutter and a
//! cartesian sensor with clutter) is simulated, tracked and scored against its truth.

use iapz_adapters::scenario::{JsonLines, PictureRecord, TruthRecord};
use iapz_bench::score::{ScoreOptions, score};
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
