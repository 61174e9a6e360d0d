//! Behaviour of the scenario simulator seen from its public API: statistics of the simulated
//! sensors, ordering and determinism of the output, the shipped scenarios and the flights data.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use fusion_core::geodesy::{Geodetic, LocalFrame};
use iapz_adapters::scenario::{JsonLines, PlotRecord, TruthId, TruthRecord, read_header};
use iapz_bench::simulate::{Scenario, SimError, SimSummary, header, simulate, simulate_to_writers};
use serde_json::Value;

/// Every scenario shipped in `bench/scenarios/`, by name: a new file is tested without
/// anyone remembering to list it.
fn shipped() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(manifest().join("scenarios"))
        .expect("scenarios directory")
        .filter_map(|e| {
            let path = e.ok()?.path();
            (path.extension()? == "toml").then(|| path.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    names
}

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a scenario into memory: (summary, plots file text, truth file text).
fn run(sc: &Scenario, seed: u64) -> (SimSummary, String, String) {
    let (mut p, mut t) = (Vec::new(), Vec::new());
    let s = simulate_to_writers(sc, seed, &mut p, &mut t).expect("simulate");
    (
        s,
        String::from_utf8(p).expect("utf8 plots"),
        String::from_utf8(t).expect("utf8 truth"),
    )
}

/// Runs a scenario into records.
fn records(sc: &Scenario, seed: u64) -> (SimSummary, Vec<PlotRecord>, Vec<TruthRecord>) {
    let (mut plots, mut truth) = (Vec::new(), Vec::new());
    let s = simulate(
        sc,
        seed,
        |p| {
            plots.push(p.clone());
            Ok(())
        },
        |t| {
            truth.push(t.clone());
            Ok(())
        },
    )
    .expect("simulate");
    (s, plots, truth)
}

fn scenario(text: &str) -> Scenario {
    Scenario::from_toml(text, manifest()).expect("scenario")
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, var.sqrt())
}

fn wrap180(a: f64) -> f64 {
    (a + 180.0).rem_euclid(360.0) - 180.0
}

const ONE_FIXED_TARGET: &str = r#"
name = "fixed"
duration_s = 3000.0
origin = { lat = 49.84, lon = 24.03, alt_m = 300.0 }
[[sensors]]
id = "R1"
type = "radar"
pos = [1000.0, -2000.0, 30.0]
sigma_range_m = 50.0
sigma_az_deg = 0.2
sigma_el_deg = 0.4
period_s = 1.0
phase_s = 0.5
pd = PD
max_range_m = 100000.0
[[targets]]
pos = [21000.0, 8000.0, 3030.0]
vel = [0.0, 0.0, 0.0]
"#;

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_differs() {
    let mut sc = Scenario::load("mixed-100").expect("load");
    sc.duration_s = 60.0;
    let (s1, p1, t1) = run(&sc, 7);
    let (s2, p2, t2) = run(&sc, 7);
    let (_, p3, t3) = run(&sc, 8);
    assert!(s1.plots > 1000, "{s1:?}");
    assert_eq!(s1, s2);
    assert_eq!(p1, p2);
    assert_eq!(t1, t2);
    assert_ne!(p1, p3);
    assert_ne!(t1, t3, "generated targets depend on the seed");
}

#[test]
fn adding_a_sensor_does_not_change_the_other_streams() {
    let base = scenario(&ONE_FIXED_TARGET.replace("PD", "0.8"));
    let mut more = base.clone();
    let mut extra = more.sensors[0].clone();
    extra.id = "R0".into();
    more.sensors.insert(0, extra);
    let (_, p1, _) = records(&base, 3);
    let (_, p2, _) = records(&more, 3);
    let r1: Vec<_> = p2.into_iter().filter(|p| p.sensor == "R1").collect();
    assert!(!p1.is_empty());
    assert_eq!(p1, r1);
}

#[test]
fn radar_noise_has_the_configured_sigmas() {
    let sc = scenario(&ONE_FIXED_TARGET.replace("PD", "1.0"));
    let (_, plots, _) = records(&sc, 11);
    assert_eq!(plots.len(), 3000);
    let d = [20000.0f64, 10000.0, 3000.0];
    let r_true = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
    let az_true = d[0].atan2(d[1]).to_degrees();
    let el_true = (d[2] / r_true).asin().to_degrees();
    let (mut dr, mut daz, mut del) = (Vec::new(), Vec::new(), Vec::new());
    for p in &plots {
        dr.push(p.range_m.expect("range") - r_true);
        daz.push(wrap180(p.az_deg.expect("az") - az_true));
        del.push(p.el_deg.expect("el") - el_true);
    }
    let n = plots.len() as f64;
    for (res, sigma, what) in [(dr, 50.0, "range"), (daz, 0.2, "az"), (del, 0.4, "el")] {
        let (m, s) = mean_std(&res);
        assert!(
            (s / sigma - 1.0).abs() < 0.1,
            "{what}: std {s} vs sigma {sigma}"
        );
        assert!(m.abs() < 4.0 * sigma / n.sqrt(), "{what}: bias {m}");
    }
}

#[test]
fn detection_rate_matches_pd() {
    let pd = 0.7;
    let sc = scenario(&ONE_FIXED_TARGET.replace("PD", "0.7"));
    let (summary, plots, _) = records(&sc, 5);
    let n = 3000.0;
    let rate = plots.len() as f64 / n;
    let tol = 3.0 * (pd * (1.0 - pd) / n).sqrt();
    assert!((rate - pd).abs() < tol, "rate {rate}, pd {pd}, tol {tol}");
    assert_eq!(summary.sensors[0].opportunities, 3000);
    assert_eq!(summary.sensors[0].detections, plots.len() as u64);
}

#[test]
fn clutter_count_and_spread_match_the_configuration() {
    let sc = scenario(
        r#"
name = "clutter"
duration_s = 999.5
origin = { lat = 49.84, lon = 24.03, alt_m = 300.0 }
[[sensors]]
id = "R1"
type = "radar"
pos = [0.0, 0.0, 100.0]
sigma_range_m = 50.0
sigma_az_deg = 0.2
sigma_el_deg = 0.4
period_s = 1.0
phase_s = 0.0
clutter_per_scan = 8.0
min_range_m = 2000.0
max_range_m = 50000.0
rotating = false
"#,
    );
    let (summary, plots, truth) = records(&sc, 21);
    assert!(truth.is_empty());
    let scans = 1000.0;
    assert_eq!(summary.sensors[0].scans, 1000);
    let mean = plots.len() as f64 / scans;
    assert!(
        (mean - 8.0).abs() < 3.0 * (8.0f64 / scans).sqrt(),
        "mean {mean}"
    );
    assert_eq!(summary.false_plots, plots.len() as u64);
    // Uniform in area: half of the plots inside the radius that halves the annulus.
    let r_half = ((2000.0f64.powi(2) + 50000.0f64.powi(2)) / 2.0).sqrt();
    let inner = plots
        .iter()
        .filter(|p| p.range_m.unwrap_or(0.0) < r_half)
        .count() as f64;
    let frac = inner / plots.len() as f64;
    assert!((frac - 0.5).abs() < 0.03, "inner fraction {frac}");
    for p in &plots {
        let (r, az, el) = (
            p.range_m.expect("r"),
            p.az_deg.expect("az"),
            p.el_deg.expect("el"),
        );
        assert!((2000.0..=50000.0).contains(&r));
        assert!((0.0..360.0).contains(&az));
        let h = 100.0 + r * el.to_radians().sin();
        assert!((-1e-6..=15000.0 + 1e-6).contains(&h), "clutter height {h}");
    }
}

#[test]
fn rotating_radar_stamps_each_plot_at_its_azimuth() {
    let sc = scenario(
        r#"
name = "rotating"
duration_s = 400.0
origin = { lat = 49.84, lon = 24.03, alt_m = 300.0 }
[[sensors]]
id = "R1"
type = "radar"
pos = [0.0, 0.0, 0.0]
sigma_range_m = 0.0
sigma_az_deg = 0.0
sigma_el_deg = 0.0
period_s = 4.0
phase_s = 0.25
clutter_per_scan = 3.0
max_range_m = 100000.0
[[targets]]
id = "still"
pos = [-20000.0, -5000.0, 1000.0]
vel = [0.0, 0.0, 0.0]
[[targets]]
id = "fast"
pos = [5000.0, 2000.0, 100.0]
vel = [0.0, -250.0, 0.0]
[[targets]]
id = "crossing"
pos = [15000.0, 20000.0, 500.0]
vel = [-200.0, -10.0, 0.0]
"#,
    );
    let (_, plots, _) = records(&sc, 1);
    let period = 4.0;
    let mut spread = Vec::new();
    for p in &plots {
        let az = p.az_deg.expect("az");
        let start = 0.25 + ((p.t - 0.25) / period).floor() * period;
        let offset = p.t - start - az / 360.0 * period;
        spread.push(p.t - start);
        // Exact for clutter and the still target; the moving ones move during one
        // iteration of the time/azimuth fixed point: far below a millisecond here.
        assert!(offset.abs() < 2e-3, "t {} az {az} offset {offset}", p.t);
    }
    // The still target at the south-west: az = atan2(-20000, -5000) is stamped exactly.
    let still_az = (-20000.0f64).atan2(-5000.0).to_degrees().rem_euclid(360.0);
    let still: Vec<_> = plots
        .iter()
        .filter(|p| (p.az_deg.unwrap_or(0.0) - still_az).abs() < 1e-9)
        .collect();
    assert!(
        still.len() > 90,
        "{} plots of the still target",
        still.len()
    );
    for p in still {
        let start = 0.25 + ((p.t - 0.25) / period).floor() * period;
        assert!((p.t - start - still_az / 360.0 * period).abs() < 1e-9);
    }
    // Plots are spread over the whole rotation, not lumped at the scan start.
    assert!(spread.iter().any(|s| *s > 3.0) && spread.iter().any(|s| *s < 1.0));
}

#[test]
fn plots_are_in_non_decreasing_time_across_sensors() {
    for (name, duration) in [("drones", 300.0), ("flights", 900.0), ("mixed-100", 120.0)] {
        let mut sc = Scenario::load(name).expect("load");
        sc.duration_s = duration;
        let (s, plots, truth) = records(&sc, 9);
        assert!(s.plots > 100, "{name}");
        assert!(
            plots.windows(2).all(|w| w[0].t <= w[1].t),
            "{name}: plots out of order"
        );
        assert!(
            truth.windows(2).all(|w| w[0].t <= w[1].t),
            "{name}: truth out of order"
        );
        assert!(plots.iter().all(|p| (0.0..=duration).contains(&p.t)));
        // Several sensors really are interleaved.
        let sensors: HashSet<_> = plots.iter().take(200).map(|p| p.sensor.clone()).collect();
        assert!(sensors.len() >= 2, "{name}: {sensors:?}");
    }
}

/// The keys a plot of each sensor type may carry: the format's fields and nothing else.
fn allowed_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "radar" => &["t", "sensor", "range_m", "az_deg", "el_deg"],
        "cartesian" => &["t", "sensor", "x", "y", "z"],
        "bearing" => &["t", "sensor", "az_deg"],
        "adsb" => &["t", "sensor", "lat", "lon", "alt_m", "icao"],
        _ => &[],
    }
}

#[test]
fn files_have_a_valid_header_and_clean_plot_lines() {
    for name in ["drones", "mixed-100", "flights"] {
        let mut sc = Scenario::load(name).expect("load");
        sc.duration_s = 30.0;
        let (_, plots, truth) = run(&sc, 2);
        let mut lines = JsonLines::new(plots.as_bytes());
        let h = read_header(&mut lines).expect("header");
        assert_eq!(h, header(&sc));
        let kinds: HashMap<String, String> = h
            .sensors
            .iter()
            .map(|s| {
                let v = serde_json::to_value(s.kind).expect("kind");
                (s.id.clone(), v.as_str().unwrap_or("").to_string())
            })
            .collect();
        for spec in &h.sensors {
            assert!(spec.period_s.is_some() && spec.pd.is_some(), "{spec:?}");
        }
        let mut n = 0;
        for line in plots.lines().skip(1) {
            let v: Value = serde_json::from_str(line).expect("json");
            let obj = v.as_object().expect("object");
            let sensor = obj["sensor"].as_str().expect("sensor");
            let allowed = allowed_keys(&kinds[sensor]);
            for k in obj.keys() {
                assert!(allowed.contains(&k.as_str()), "{name}: key {k} in {line}");
            }
            n += 1;
        }
        assert!(n > 0);
        for line in truth.lines() {
            let r: TruthRecord = serde_json::from_str(line).expect("truth line");
            assert!(r.z.is_some() && r.vz.is_some());
        }
    }
}

#[test]
fn every_shipped_scenario_loads_and_simulates_ten_seconds() {
    let names = shipped();
    assert!(names.len() >= 10, "{names:?}");
    for name in &names {
        let name = name.as_str();
        let mut sc = Scenario::load(name).expect(name);
        assert!(!sc.description.is_empty(), "{name} needs a description");
        assert_eq!(
            Scenario::load(&format!("scenarios/{name}.toml"))
                .expect("path")
                .name,
            sc.name
        );
        sc.duration_s = 10.0;
        let (s, _, _) = run(&sc, 1);
        assert!(s.plots > 0 && s.truth_records > 0, "{name}: {s:?}");
    }
    assert!(matches!(
        Scenario::load("no-such-scenario"),
        Err(SimError::NotFound { .. })
    ));
}

#[test]
fn mixed_100_keeps_its_targets_inside_both_radars() {
    let sc = Scenario::load("mixed-100").expect("load");
    let (s, _, truth) = records(&sc, 1);
    assert_eq!(s.targets, 100);
    let radars: Vec<[f64; 3]> = sc.sensors.iter().take(2).filter_map(|r| r.pos).collect();
    let inside = truth
        .iter()
        .filter(|r| {
            radars.iter().all(|p| {
                let d = [r.x - p[0], r.y - p[1], r.z.unwrap_or(0.0) - p[2]];
                let range = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
                (500.0..=150000.0).contains(&range)
            })
        })
        .count();
    let frac = inside as f64 / truth.len() as f64;
    assert!(frac > 0.95, "only {frac} of truth inside both radars");
    let ids: HashSet<_> = truth.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 100);
}

#[test]
fn crossing_pairs_meet_and_the_formation_splits() {
    let sc = Scenario::load("crossing").expect("load");
    let (_, _, truth) = records(&sc, 4);
    let at = |t: f64, id: i64| {
        truth
            .iter()
            .find(|r| r.t == t && r.id == TruthId::Int(id))
            .unwrap_or_else(|| panic!("no truth for {id} at {t}"))
    };
    for (t, a, b) in [(60.0, 1, 2), (90.0, 3, 4), (120.0, 5, 6)] {
        let (p, q) = (at(t, a), at(t, b));
        assert!(
            (p.x - q.x).abs() < 1e-6 && (p.y - q.y).abs() < 1e-6,
            "pair {a}/{b}"
        );
        let (p, q) = (at(t - 20.0, a), at(t - 20.0, b));
        assert!((p.x - q.x).hypot(p.y - q.y) > 100.0);
    }
    // Formation members 7..=10: 300 m apart side by side until 120 s, then fanning out.
    for t in [0.0, 60.0, 119.0] {
        for id in 7..10 {
            let (p, q) = (at(t, id), at(t, id + 1));
            let d = (p.x - q.x).hypot(p.y - q.y);
            assert!((d - 300.0).abs() < 1e-6, "t {t}: spacing {d}");
            // Side by side: the offset is perpendicular to the velocity.
            assert!(((q.x - p.x) * p.vx + (q.y - p.y) * p.vy).abs() < 1e-3);
        }
    }
    let (p, q) = (at(240.0, 7), at(240.0, 10));
    assert!((p.x - q.x).hypot(p.y - q.y) > 3000.0);
}

/// (timestamp, lat, lon, alt) of the airborne samples of one aircraft in the shipped file.
fn file_samples(icao: &str) -> Vec<(f64, f64, f64, f64)> {
    let text = std::fs::read_to_string(manifest().join("data/flights_sample.jsonl")).expect("file");
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["icao24"] == icao && v["onground"] == false && v["alt_m"].is_f64())
        .map(|v| {
            let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
            (f("timestamp"), f("lat"), f("lon"), f("alt_m"))
        })
        .collect()
}

#[test]
fn flights_truth_matches_the_file_at_sample_times() {
    let sc = scenario(
        r#"
name = "one-flight"
duration_s = 7000.0
origin = { lat = 48.9, lon = 2.3, alt_m = 0.0 }
[[sensors]]
id = "ADSB"
type = "adsb"
sigma_h_m = 15.0
sigma_v_m = 10.0
[[flights]]
file = "data/flights_sample.jsonl"
icao = ["39c82b"]
"#,
    );
    let (s, plots, truth) = records(&sc, 1);
    assert_eq!(s.targets, 1);
    let samples = file_samples("39c82b");
    let t0 = samples[0].0;
    let frame = LocalFrame::new(Geodetic::new(48.9, 2.3, 0.0));
    let by_t: BTreeMap<i64, &TruthRecord> = truth.iter().map(|r| (r.t as i64, r)).collect();
    let mut checked = 0;
    for w in samples.windows(2).take(300) {
        let (prev, (ts, lat, lon, alt)) = (w[0], w[1]);
        if prev.1 == lat && prev.2 == lon || ts - prev.0 != 1.0 {
            continue; // stale repeat: not a real position report
        }
        let Some(r) = by_t.get(&((ts - t0) as i64)) else {
            continue; // dropped as a glitch
        };
        let p = frame.to_enu(&Geodetic::new(lat, lon, alt));
        let err =
            ((r.x - p.x).powi(2) + (r.y - p.y).powi(2) + (r.z.unwrap_or(0.0) - p.z).powi(2)).sqrt();
        assert!(err < 1.0, "t {}: {err} m from the file", r.t);
        checked += 1;
    }
    assert!(checked > 100, "only {checked} samples checked");
    assert!(truth.iter().all(|r| r.id == TruthId::Str("39c82b".into())));
    // The file has no data of this aircraft for 4100 s: no truth is made up inside the gap.
    let gap = samples
        .windows(2)
        .find(|w| w[1].0 - w[0].0 > 1000.0)
        .expect("gap");
    let (g0, g1) = (gap[0].0 - t0, gap[1].0 - t0);
    assert!(truth.iter().all(|r| r.t <= g0 || r.t >= g1));
    assert!(
        truth.iter().any(|r| r.t >= g1),
        "the flight resumes after the gap"
    );
    // ADS-B reports carry the identity and land near the truth.
    assert!(!plots.is_empty());
    for p in plots.iter().take(200) {
        assert_eq!(p.icao.as_deref(), Some("39c82b"));
        let g = Geodetic::new(
            p.lat.expect("lat"),
            p.lon.expect("lon"),
            p.alt_m.expect("alt"),
        );
        let e = frame.to_enu(&g);
        let near = truth
            .iter()
            .min_by(|a, b| (a.t - p.t).abs().total_cmp(&(b.t - p.t).abs()));
        let r = near.expect("truth");
        let moved = (r.vx.hypot(r.vy)) * (r.t - p.t).abs();
        assert!((e.x - r.x).hypot(e.y - r.y) < 5.0 * 15.0 * 1.5 + moved + 5.0);
    }
}

#[test]
fn flights_scenario_uses_all_eight_aircraft_near_paris() {
    let sc = Scenario::load("flights").expect("load");
    let (s, _, truth) = records(&sc, 1);
    assert_eq!(s.targets, 8);
    let first = truth.first().expect("truth");
    assert_eq!(first.t, 0.0);
    assert!(truth.iter().all(|r| r.x.hypot(r.y) < 200_000.0));
    let ids: HashSet<_> = truth.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(ids.len(), 8);
}

#[test]
fn a_planar_scenario_carries_no_height() {
    let mut sc = Scenario::load("planar").expect("load");
    sc.duration_s = 60.0;
    let (s, plots, truth) = run(&sc, 3);
    assert!(s.plots > 100);
    for line in plots.lines().skip(1).chain(truth.lines()) {
        let v: Value = serde_json::from_str(line).expect("json");
        for key in ["z", "vz", "el_deg", "alt_m"] {
            assert!(v.get(key).is_none(), "{key} in {line}");
        }
    }
    assert!(plots.contains("\"range_m\"") && plots.contains("\"x\""));
    let mut bad_text =
        std::fs::read_to_string(manifest().join("scenarios/planar.toml")).expect("read");
    bad_text = bad_text.replacen(
        "sigma_az_deg = 0.2",
        "sigma_az_deg = 0.2\nsigma_el_deg = 0.3",
        1,
    );
    assert!(matches!(
        Scenario::from_toml(&bad_text, manifest()),
        Err(SimError::Invalid(_))
    ));
}

#[test]
fn scaled_scenario_gives_about_n_plots_per_radar_scan() {
    let sc = Scenario::scaled(1000);
    let (s, _, _) = records(&sc, 1);
    assert_eq!(s.targets, 1000);
    assert_eq!(s.sensors.len(), 2);
    for r in &s.sensors {
        let per_scan = (r.detections + r.false_plots) as f64 / r.scans as f64;
        // 1000 targets at pd 0.9 plus 20 clutter: about 920.
        assert!(
            (850.0..=980.0).contains(&per_scan),
            "{}: {per_scan} plots/scan",
            r.id
        );
        // Every target is in coverage on every scan; only the part of the last rotation that
        // falls after the end of the run is cut.
        let cut = 1000 * r.scans - r.opportunities;
        assert!(cut < 1000, "{}: {cut} target-scans out of coverage", r.id);
    }
    let small = Scenario::scaled(100);
    let big = Scenario::scaled(10_000);
    let side = |s: &Scenario| s.groups[0].area[1] - s.groups[0].area[0];
    assert!(
        (side(&big) / side(&small) - 10.0).abs() < 1e-9,
        "area grows with sqrt(n)"
    );
}

#[test]
#[ignore = "slow in debug builds: cargo test --release -p iapz-bench -- --ignored"]
fn ten_thousand_targets_stream_without_holding_the_run() {
    let sc = Scenario::scaled(10_000);
    let (mut plots, mut last) = (0u64, 0.0);
    let s = simulate(
        &sc,
        1,
        |p| {
            assert!(p.t >= last);
            last = p.t;
            plots += 1;
            Ok(())
        },
        |_| Ok(()),
    )
    .expect("simulate");
    assert_eq!(s.plots, plots);
    assert!(plots > 500_000);
}

#[test]
fn bad_scenarios_fail_with_a_reason() {
    let ok = ONE_FIXED_TARGET.replace("PD", "0.9");
    assert!(Scenario::from_toml(&ok, manifest()).is_ok());
    let cases = [
        (ok.replace("pd = 0.9", "pd = 1.5"), "pd"),
        (ok.replace("pos = [1000.0, -2000.0, 30.0]", ""), "pos"),
        (
            ok.replace("duration_s = 3000.0", "duration_s = -1.0"),
            "duration",
        ),
        (
            ok.replace(
                "vel = [0.0, 0.0, 0.0]",
                "vel = [0.0, 0.0, 0.0]\nlegs = [{ duration_s = 5.0, accel_mps2 = -1.0 }]",
            ),
            "speed",
        ),
        (
            ok.replace(
                "vel = [0.0, 0.0, 0.0]",
                "vel = [1.0, 0.0]\nlegs = [{ duration_s = 5.0, heading_change_deg = 10.0 }]",
            ),
            "exactly one",
        ),
    ];
    for (text, why) in cases {
        let sc = Scenario::from_toml(&text, manifest());
        let err = match sc {
            Ok(sc) => records_err(&sc),
            Err(e) => e,
        };
        assert!(err.to_string().contains(why), "{err} should mention {why}");
    }
    let typo = ok.replace("sigma_range_m", "sigma_rnge_m");
    assert!(matches!(
        Scenario::from_toml(&typo, manifest()),
        Err(SimError::Toml { .. })
    ));
    let missing = format!("{ok}\n[[flights]]\nfile = \"nope.jsonl\"\n");
    assert!(matches!(
        Scenario::from_toml(&missing, manifest()),
        Err(SimError::Io { .. })
    ));
}

fn records_err(sc: &Scenario) -> SimError {
    simulate(sc, 1, |_| Ok(()), |_| Ok(())).expect_err("should fail")
}

#[test]
fn a_failing_sink_stops_the_run_with_its_error() {
    let sc = scenario(&ONE_FIXED_TARGET.replace("PD", "1.0"));
    let err = simulate(
        &sc,
        1,
        |_| Err(std::io::Error::other("disk full")),
        |_| Ok(()),
    )
    .expect_err("sink error");
    assert!(matches!(err, SimError::Sink(_)));
    assert!(err.to_string().contains("disk full"));
}
