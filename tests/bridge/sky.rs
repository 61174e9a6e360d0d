//! The simulated sky of the bridge tests: four targets in straight flight, seen by one
//! cartesian sensor of our daemon, around a releasable box north of the picture origin.

use fusion_core::geodesy::{Geodetic, LocalFrame};
use iapz_proto::v1;
use nalgebra::Vector3;

/// Our picture's origin.
pub const ORIGIN: (f64, f64) = (49.84, 24.03);

/// The releasable box of the tests' release policy: lat 49.70-50.00, lon 23.80-24.30.
pub const BOX: [[f64; 2]; 4] = [
    [49.70, 23.80],
    [50.00, 23.80],
    [50.00, 24.30],
    [49.70, 24.30],
];

/// Whether a position is inside [`BOX`], checked without the bridge's code.
pub fn in_box(lat: f64, lon: f64) -> bool {
    (49.70..=50.00).contains(&lat) && (23.80..=24.30).contains(&lon)
}

/// Start (ENU m) and velocity (m/s) of each target in our frame:
/// T0 inside the box all along; T1 south of it all along; T2 leaves it northwards at about
/// 26 s; T3 enters it from the south at about 32 s.
pub const TARGETS: [([f64; 3], [f64; 3]); 4] = [
    ([0.0, 5000.0, 3000.0], [60.0, 0.0, 0.0]),
    ([0.0, -30_000.0, 3000.0], [0.0, 50.0, 0.0]),
    ([5000.0, 10_000.0, 4000.0], [0.0, 300.0, 0.0]),
    ([-5000.0, -25_000.0, 5000.0], [0.0, 300.0, 0.0]),
];

/// Our frame.
pub fn frame() -> LocalFrame {
    LocalFrame::new(Geodetic::new(ORIGIN.0, ORIGIN.1, 300.0))
}

/// Target `k` at data time `t`, ENU in our frame.
pub fn truth(k: usize, t: f64) -> Vector3<f64> {
    let (p, v) = TARGETS[k];
    Vector3::new(p[0] + v[0] * t, p[1] + v[1] * t, p[2] + v[2] * t)
}

/// The scan of sensor `sensor` at time `t`: a plot of each target in `seen`, with a small
/// deterministic error and each target's ICAO address (which the partner must never get).
pub fn scan(sensor: &str, sequence: u64, t: f64, seen: &[usize]) -> v1::PlotBatch {
    v1::PlotBatch {
        sensor_id: sensor.into(),
        sequence,
        scan_time: t,
        plots: seen
            .iter()
            .map(|&k| {
                let p = truth(k, t);
                let kf = k as f64;
                v1::Plot {
                    t,
                    measurement: Some(v1::plot::Measurement::Cartesian(v1::Cartesian {
                        x: p.x + 15.0 * (7.0 * t + kf).sin(),
                        y: p.y + 15.0 * (5.0 * t + 2.0 * kf).cos(),
                        z: Some(p.z + 10.0 * (3.0 * t + kf).sin()),
                    })),
                    identity: Some(v1::Identity {
                        icao24: Some(0xABC000 + k as u32),
                        ..Default::default()
                    }),
                    ..Default::default()
                }
            })
            .collect(),
    }
}

/// Which target a geodetic position at data time `t` is (within 2 km), if any.
pub fn which(lat: f64, lon: f64, alt_m: f64, t: f64) -> Option<usize> {
    let p = frame().to_enu(&Geodetic::new(lat, lon, alt_m));
    (0..TARGETS.len()).find(|&k| (truth(k, t) - p).norm() < 2000.0)
}
