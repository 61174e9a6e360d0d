//! End-to-end behaviour of the core tracker on small simulated cases: filter consistency,
//! the life cycle, clutter, determinism and bad input.

use fusion_core::config::TrackerConfig;
use fusion_core::geodesy::{Geodetic, LocalFrame};
use fusion_core::motion::ModelKind;
use fusion_core::sensor::{SensorConfig, SensorIndex, SensorKind};
use fusion_core::track::DeletionReason;
use fusion_core::{Measurement, Plot, PlotError, TrackEvent, Tracker};
use nalgebra::{SMatrix, SVector, Vector3};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson};

fn frame() -> LocalFrame {
    LocalFrame::new(Geodetic::new(49.84, 24.03, 300.0))
}

fn cartesian(id: &str, sigma: f64, pd: f64, clutter: f64) -> SensorConfig {
    let mut s = SensorConfig::new(id, SensorKind::Cartesian);
    s.sigma_m = Some(sigma);
    s.period_s = Some(1.0);
    s.pd = pd;
    s.clutter_per_scan = clutter;
    s.max_range_m = Some(50_000.0);
    s
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

/// Monte-Carlo NEES: a target with white-noise acceleration exactly as the CV model assumes,
/// tracked by a CV-only tracker. The mean normalised estimation error squared of the
/// position-velocity state must lie inside the two-sided 99% chi-square interval.
#[test]
fn cv_target_nees_is_consistent() {
    let q = 0.5;
    let mut cfg = TrackerConfig::default();
    cfg.motion.models = vec![ModelKind::Cv];
    cfg.motion.cv_accel_psd = q;
    cfg.motion.ct_accel_psd = q;
    cfg.motion.vertical_accel_psd = q;
    let sigma = 30.0;
    let runs = 60;
    let mut nees_sum = 0.0;
    let mut samples = 0usize;
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let noise = Normal::new(0.0, sigma).expect("sigma");
    for _ in 0..runs {
        let mut tracker = Tracker::new(cfg.clone(), frame(), &[cartesian("C1", sigma, 1.0, 0.0)])
            .expect("tracker");
        let mut x =
            SVector::<f64, 6>::from_column_slice(&[1000.0, 2000.0, 500.0, 120.0, -40.0, 0.0]);
        let dt: f64 = 1.0;
        // Exact discretisation of continuous white-noise acceleration, per axis.
        let qd = SMatrix::<f64, 2, 2>::new(
            q * dt.powi(3) / 3.0,
            q * dt * dt / 2.0,
            q * dt * dt / 2.0,
            q * dt,
        );
        let chol = qd.cholesky().expect("psd").l();
        let w = Normal::new(0.0, 1.0).expect("unit");
        for k in 0..60 {
            if k > 0 {
                for a in 0..3 {
                    let e = chol * nalgebra::Vector2::new(w.sample(&mut rng), w.sample(&mut rng));
                    x[a] += x[a + 3] * dt + e[0];
                    x[a + 3] += e[1];
                }
            }
            let z =
                Vector3::new(x[0], x[1], x[2]) + Vector3::from_fn(|_, _| noise.sample(&mut rng));
            tracker.process(&[plot(k as f64, z)]);
            if k >= 20 {
                let track = &tracker.tracks()[0];
                let e = track.estimate.x - x;
                let p_inv = track.estimate.p.try_inverse().expect("invertible");
                nees_sum += (e.transpose() * p_inv * e)[(0, 0)];
                samples += 1;
            }
        }
        assert_eq!(tracker.tracks().len(), 1, "one target, one track");
    }
    let mean = nees_sum / samples as f64;
    // Mean of `samples` chi2(6) draws (correlated in time, so use a generous band: runs, not
    // samples, are independent): 6 +- 2.58 * sqrt(12 / runs).
    let half = 2.58 * (12.0 / runs as f64).sqrt();
    assert!(
        (mean - 6.0).abs() < half,
        "mean NEES {mean} outside 6 +- {half}"
    );
}

/// A target appears, is confirmed within a few scans, flies, disappears, and is deleted
/// within the coast rules; clutter around it never becomes a confirmed track.
#[test]
fn life_cycle_confirms_then_deletes_and_clutter_stays_tentative() {
    let cfg = TrackerConfig::default();
    let mut tracker =
        Tracker::new(cfg, frame(), &[cartesian("C1", 50.0, 0.9, 20.0)]).expect("tracker");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let noise = Normal::new(0.0, 50.0).expect("sigma");
    let clutter = Poisson::new(20.0).expect("rate");
    let mut confirmed_at = None;
    let mut deleted_at = None;
    let mut confirmed_numbers = Vec::new();
    for k in 0..120 {
        let t = k as f64;
        let mut plots = Vec::new();
        if (10..60).contains(&k) && rng.random::<f64>() < 0.9 {
            let truth = Vector3::new(-20_000.0 + 200.0 * (t - 10.0), 5_000.0, 3_000.0);
            plots.push(plot(
                t,
                truth + Vector3::from_fn(|_, _| noise.sample(&mut rng)),
            ));
        }
        let n: f64 = clutter.sample(&mut rng);
        for _ in 0..n as usize {
            // Uniform over the 50 km disc, 0-15 km up.
            let (r, a) = (
                50_000.0 * rng.random::<f64>().sqrt(),
                rng.random::<f64>() * std::f64::consts::TAU,
            );
            plots.push(plot(
                t,
                Vector3::new(r * a.sin(), r * a.cos(), 15_000.0 * rng.random::<f64>()),
            ));
        }
        for e in tracker.process(&plots).events {
            match e {
                TrackEvent::Confirmed(n) => {
                    confirmed_at.get_or_insert(k);
                    confirmed_numbers.push(n);
                }
                TrackEvent::Deleted(_, reason) => {
                    deleted_at = Some((k, reason));
                }
                TrackEvent::Updated(_) => {}
            }
        }
    }
    let confirmed_at = confirmed_at.expect("target confirmed");
    assert!(
        confirmed_at <= 13,
        "confirmed at scan {confirmed_at}, target from scan 10"
    );
    assert_eq!(
        confirmed_numbers,
        vec![1],
        "exactly one confirmed track, number 1"
    );
    let (k, reason) = deleted_at.expect("deleted after it vanished");
    assert!((60..=70).contains(&k), "deleted at scan {k}");
    assert_eq!(reason, DeletionReason::Score);
    assert!(tracker.snapshot().tracks.is_empty());
}

fn run_scenario(seed: u64) -> Vec<(u64, [u64; 6])> {
    let cfg = TrackerConfig::default();
    let mut tracker =
        Tracker::new(cfg, frame(), &[cartesian("C1", 40.0, 0.95, 5.0)]).expect("tracker");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let noise = Normal::new(0.0, 40.0).expect("sigma");
    for k in 0..40 {
        let t = k as f64;
        let mut plots = Vec::new();
        for i in 0..30 {
            // Crossing lines of targets 300 m apart.
            let y = 300.0 * i as f64;
            let truth = Vector3::new(
                -10_000.0 + 150.0 * t,
                y + if i % 2 == 0 { 5.0 * t } else { -5.0 * t },
                1000.0,
            );
            if rng.random::<f64>() < 0.95 {
                plots.push(plot(
                    t,
                    truth + Vector3::from_fn(|_, _| noise.sample(&mut rng)),
                ));
            }
        }
        tracker.process(&plots);
    }
    tracker
        .snapshot()
        .tracks
        .iter()
        .map(|t| (t.number, std::array::from_fn(|i| t.estimate.x[i].to_bits())))
        .collect()
}

/// Same plots, same picture, bit for bit: across runs and across thread counts.
#[test]
fn deterministic_across_runs_and_thread_counts() {
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("pool");
    let a = one.install(|| run_scenario(3));
    let b = two.install(|| run_scenario(3));
    let c = run_scenario(3);
    assert!(a.len() >= 25, "most of 30 targets confirmed: {}", a.len());
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_ne!(
        a,
        run_scenario(4),
        "a different seed gives a different picture"
    );
}

#[test]
fn bad_plots_are_rejected_with_reasons_and_do_not_disturb_tracks() {
    let mut radar = SensorConfig::new("R1", SensorKind::Radar);
    radar.position = Some([0.0, 0.0, 0.0]);
    radar.sigma_range_m = Some(50.0);
    radar.sigma_az_deg = Some(0.1);
    let mut tracker = Tracker::new(
        TrackerConfig::default(),
        frame(),
        &[cartesian("C1", 50.0, 0.9, 1.0), radar],
    )
    .expect("tracker");
    let good = plot(100.0, Vector3::new(1000.0, 1000.0, 1000.0));
    let nan = plot(100.0, Vector3::new(f64::NAN, 0.0, 0.0));
    let unknown = Plot {
        sensor: SensorIndex(9),
        ..good.clone()
    };
    let wrong_kind = Plot {
        sensor: SensorIndex(1),
        ..good.clone()
    };
    let negative_range = Plot {
        sensor: SensorIndex(1),
        measurement: Measurement::Polar {
            range_m: -5.0,
            az_deg: 0.0,
            el_deg: None,
        },
        ..good.clone()
    };
    let out = tracker.process(&[nan, good.clone(), unknown, wrong_kind, negative_range]);
    let reasons: Vec<_> = out
        .rejected
        .iter()
        .map(|r| (r.index, r.error.clone()))
        .collect();
    assert_eq!(reasons.len(), 4);
    assert_eq!(reasons[0], (0, PlotError::NonFinite));
    assert_eq!(reasons[1], (2, PlotError::UnknownSensor(9)));
    assert!(matches!(reasons[2], (3, PlotError::KindMismatch { .. })));
    assert!(matches!(reasons[3], (4, PlotError::OutOfRange(_))));
    assert_eq!(out.initiated, 1, "the one good plot still starts a track");
    // Time going backwards beyond the allowed lag.
    let late = plot(
        100.0 - tracker.config().max_plot_lag_s - 1.0,
        Vector3::new(0.0, 0.0, 0.0),
    );
    let out = tracker.process(&[late]);
    assert!(matches!(out.rejected[0].error, PlotError::TooLate { .. }));
    assert_eq!(tracker.tracks().len(), 1);
}

#[test]
fn incomplete_sensor_declarations_are_refused() {
    let radar = SensorConfig::new("R1", SensorKind::Radar);
    let err = Tracker::new(TrackerConfig::default(), frame(), &[radar])
        .err()
        .expect("refused");
    assert!(err.to_string().contains("R1"), "{err}");
    let c = cartesian("C1", 50.0, 0.9, 0.0);
    assert!(
        Tracker::new(TrackerConfig::default(), frame(), &[c.clone(), c]).is_err(),
        "duplicate id"
    );
}

fn adsb() -> SensorConfig {
    let mut s = SensorConfig::new("ADSB", SensorKind::Adsb);
    s.sigma_h_m = Some(15.0);
    s.sigma_v_m = Some(10.0);
    s.period_s = Some(1.0);
    s.pd = 0.95;
    s
}

fn adsb_plot(frame: &LocalFrame, t: f64, enu: Vector3<f64>, icao: u32) -> Plot {
    let g = frame.to_geodetic(&enu);
    Plot {
        t,
        sensor: SensorIndex(0),
        measurement: Measurement::Geodetic {
            lat_deg: g.lat,
            lon_deg: g.lon,
            alt_m: Some(g.alt_m),
        },
        icao24: Some(icao),
    }
}

/// Cooperative identity: reports that step well outside the kinematic gate (a glitch of the
/// kind real ADS-B data has) still updates the aircraft's own track instead of starting a
/// duplicate, and two aircraft with different addresses never share a track.
fn fly_two_aircraft_with_a_glitch(
    cfg: TrackerConfig,
) -> (Tracker, std::collections::BTreeSet<(u64, Option<u32>)>) {
    let frame = frame();
    let mut tracker = Tracker::new(cfg, frame.clone(), &[adsb()]).expect("tracker");
    let mut numbers = std::collections::BTreeSet::new();
    for k in 0..40 {
        let t = k as f64;
        let mut a = Vector3::new(10_000.0 + 150.0 * t, 5_000.0, 3_000.0);
        if k >= 20 {
            a.y += 150.0; // a lasting 10-sigma step, e.g. the aircraft's position source changed
        }
        // A second aircraft 60 m away, same velocity: identity keeps them apart.
        let b = a + Vector3::new(0.0, 60.0, 0.0);
        let out = tracker.process(&[
            adsb_plot(&frame, t, a, 0x4CA2D1),
            adsb_plot(&frame, t, b, 0x3C6444),
        ]);
        assert!(out.rejected.is_empty());
        numbers.extend(
            tracker
                .snapshot()
                .tracks
                .iter()
                .map(|t| (t.number, t.icao24)),
        );
    }
    (tracker, numbers)
}

#[test]
fn icao_identity_keeps_one_track_per_aircraft() {
    let (tracker, numbers) = fly_two_aircraft_with_a_glitch(TrackerConfig::default());
    let picture = tracker.snapshot();
    assert_eq!(picture.tracks.len(), 2, "{:?}", picture.tracks);
    assert_eq!(
        numbers.len(),
        2,
        "no duplicate or swapped track numbers: {numbers:?}"
    );
    let icaos: Vec<_> = picture.tracks.iter().map(|t| t.icao24).collect();
    assert!(icaos.contains(&Some(0x4CA2D1)) && icaos.contains(&Some(0x3C6444)));
    // Without the identity rules the glitch starts a second track on the first aircraft.
    let (_, numbers) = fly_two_aircraft_with_a_glitch(TrackerConfig {
        identity_gate_factor: 1.0,
        identity_llr: 0.0,
        ..TrackerConfig::default()
    });
    assert!(
        numbers.len() > 2,
        "expected a duplicate without identity: {numbers:?}"
    );
}
