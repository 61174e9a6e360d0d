//! The demo's simulated sky: a wave of drones and cruise missiles seen by the configuration's
//! radars, simulated by `iapz-bench`'s simulator and cut into the plot batches a radar would
//! send (one sector at a time), plus the truth a partner system reports from.
//!
//! The load benchmark (`bench/load`) uses the same cutting into sectors, so the demo and the
//! benchmark feed the daemon exactly as an adapter would.

use anyhow::{Context, Result, bail};
use fusion_core::{Measurement, Plot, SensorKind};
use iapz_adapters::scenario::{PlotRecord, TruthRecord};
use iapz_adapters::scenario_plots::PlotDecoder;
use iapz_bench::simulate::{self, Scenario};
use iapz_proto::v1;
use std::collections::BTreeMap;

/// Fraction of a radar's scan sent as one batch: a sector of 45 degrees, as the throughput
/// benchmark of the core (`cargo bench -p iapz-bench --bench tracker`) batches too.
pub const SECTOR_FRACTION: f64 = 0.125;

/// One batch of one sensor, ready to publish once the data clock reaches `release_t`.
#[derive(Debug, Clone)]
pub struct SectorBatch {
    /// Index of the sensor in the scenario.
    pub sensor: usize,
    /// Data time at which a real sensor would have sent it: its newest plot.
    pub release_t: f64,
    /// The message (sequence numbers count per sensor from 1).
    pub batch: v1::PlotBatch,
}

impl SectorBatch {
    /// The message with every time moved `offset` seconds later and the given sequence
    /// number: how a looping simulation keeps its data time running on.
    pub fn shifted(&self, offset: f64, sequence: u64) -> v1::PlotBatch {
        let mut batch = self.batch.clone();
        batch.sequence = sequence;
        batch.scan_time += offset;
        for p in &mut batch.plots {
            p.t += offset;
        }
        batch
    }
}

/// Truth records grouped by their time, in time order.
pub type TruthByTime = Vec<(f64, Vec<TruthRecord>)>;

/// Simulates `scenario` with `seed` and cuts each sensor's plots into batches spanning at most
/// `fraction` of its period (sensors without a period: one batch per plot time), in the order
/// of their release. Truth records are returned grouped by time.
pub fn simulate_batches(
    scenario: &Scenario,
    seed: u64,
    fraction: f64,
) -> Result<(Vec<SectorBatch>, TruthByTime)> {
    let header = simulate::header(scenario);
    let decoder = PlotDecoder::new(&header);
    let windows: Vec<f64> = header
        .sensor_configs()
        .iter()
        .map(|s| s.period_s.map_or(0.0, |p| p * fraction))
        .collect();
    let mut open: Vec<Vec<Plot>> = vec![Vec::new(); windows.len()];
    let mut sequences = vec![0u64; windows.len()];
    let mut batches = Vec::new();
    let mut truth: BTreeMap<u64, (f64, Vec<TruthRecord>)> = BTreeMap::new();
    let mut close = |plots: &mut Vec<Plot>, batches: &mut Vec<SectorBatch>| {
        let Some(first) = plots.first() else { return };
        let sensor = first.sensor.0 as usize;
        let release_t = plots.iter().map(|p| p.t).fold(f64::NEG_INFINITY, f64::max);
        sequences[sensor] += 1;
        batches.push(SectorBatch {
            sensor,
            release_t,
            batch: v1::PlotBatch {
                sensor_id: header.sensors[sensor].id.clone(),
                sequence: sequences[sensor],
                scan_time: first.t,
                plots: plots.drain(..).map(|p| plot_to_wire(&p)).collect(),
            },
        });
    };
    let mut bad: Option<String> = None;
    simulate::simulate(
        scenario,
        seed,
        |r: &PlotRecord| {
            match decoder.decode(r) {
                Ok(plot) => {
                    let s = plot.sensor.0 as usize;
                    let first_t = open[s].first().map(|p| p.t);
                    if first_t.is_some_and(|f| plot.t - f > windows[s]) {
                        close(&mut open[s], &mut batches);
                    }
                    open[s].push(plot);
                }
                Err(e) => bad = Some(e.to_string()),
            }
            Ok(())
        },
        |t: &TruthRecord| {
            truth
                .entry(t.t.to_bits())
                .or_insert_with(|| (t.t, Vec::new()))
                .1
                .push(t.clone());
            Ok(())
        },
    )
    .with_context(|| format!("simulating scenario {:?}", scenario.name))?;
    if let Some(e) = bad {
        bail!("the simulator wrote a plot the decoder refuses: {e}");
    }
    for plots in &mut open {
        close(plots, &mut batches);
    }
    batches.sort_by(|a, b| a.release_t.total_cmp(&b.release_t));
    let mut truth: Vec<_> = truth.into_values().collect();
    truth.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok((batches, truth))
}

/// The wire form of a simulated plot (what an adapter would publish).
pub fn plot_to_wire(p: &Plot) -> v1::Plot {
    use v1::plot::Measurement as M;
    let measurement = match p.measurement {
        Measurement::Polar {
            range_m,
            az_deg,
            el_deg,
        } => M::Polar(v1::Polar {
            range_m,
            azimuth_deg: az_deg,
            elevation_deg: el_deg,
        }),
        Measurement::Cartesian { x, y, z } => M::Cartesian(v1::Cartesian { x, y, z }),
        Measurement::Bearing { az_deg } => M::Bearing(v1::Bearing {
            azimuth_deg: az_deg,
            elevation_deg: None,
        }),
        Measurement::Geodetic {
            lat_deg,
            lon_deg,
            alt_m,
        } => M::Geodetic(v1::GeodeticReport {
            lat_deg,
            lon_deg,
            alt_m,
        }),
    };
    v1::Plot {
        t: p.t,
        measurement: Some(measurement),
        identity: p.icao24.map(|a| v1::Identity {
            icao24: Some(a),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// How many of the demo's targets are drones; the rest are cruise missiles.
fn drones_of(targets: usize) -> usize {
    (targets * 2).div_ceil(3).min(targets)
}

/// The demo scenario for a daemon configured with `cfg`: its radars (the other sensors stay
/// silent), and `targets` drones and cruise missiles appearing over the first 30 s in a square
/// around the radars' middle, small enough that the radars see all of it, `duration_s` long.
pub fn demo_scenario(
    cfg: &crate::config::Config,
    targets: usize,
    duration_s: f64,
) -> Result<Scenario> {
    let radars: Vec<_> = cfg
        .sensor_configs()?
        .into_iter()
        .filter(|s| s.kind == SensorKind::Radar)
        .collect();
    if radars.is_empty() {
        bail!("the configuration declares no radar for the demo to simulate");
    }
    let o = cfg.picture.origin;
    let mut text = format!(
        "name = \"demo\"\nduration_s = {duration_s:?}\n\
         origin = {{ lat = {:?}, lon = {:?}, alt_m = {:?} }}\n",
        o.lat, o.lon, o.alt_m
    );
    let (mut cx, mut cy, mut reach) = (0.0, 0.0, f64::INFINITY);
    for r in &radars {
        let pos = r
            .position
            .with_context(|| format!("radar {} has no position", r.id))?;
        cx += pos[0] / radars.len() as f64;
        cy += pos[1] / radars.len() as f64;
        let range = r.max_range_m.unwrap_or(cfg.tracker.default_max_range_m);
        reach = reach.min(range);
        let opt =
            |key: &str, v: Option<f64>| v.map_or(String::new(), |v| format!("{key} = {v:?}\n"));
        text += &format!(
            "[[sensors]]\nid = {:?}\ntype = \"radar\"\npos = [{:?}, {:?}, {:?}]\n{}{}{}{}\
             pd = {:?}\nclutter_per_scan = {:?}\nmax_range_m = {range:?}\n",
            r.id,
            pos[0],
            pos[1],
            pos[2],
            opt("sigma_range_m", r.sigma_range_m),
            opt("sigma_az_deg", r.sigma_az_deg),
            opt("sigma_el_deg", r.sigma_el_deg),
            opt("period_s", r.period_s),
            r.pd,
            r.clutter_per_scan,
        );
    }
    // A quarter of the shortest radar range around the middle: targets stay in cover for
    // the whole run even when a cruise missile heads straight out.
    let half = reach / 4.0;
    let area = format!(
        "[{:?}, {:?}, {:?}, {:?}]",
        cx - half,
        cx + half,
        cy - half,
        cy + half
    );
    let drones = drones_of(targets);
    for (name, kind, count) in [
        ("drones", "drone", drones),
        ("cruise", "cruise", targets - drones),
    ] {
        if count > 0 {
            text += &format!(
                "[[groups]]\nname = {name:?}\nkind = {kind:?}\ncount = {count}\n\
                 area = {area}\nspawn_t = [0.0, 30.0]\n"
            );
        }
    }
    Scenario::from_toml(&text, std::path::Path::new("."))
        .with_context(|| format!("the demo scenario:\n{text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_one_sensor_within_a_sector_and_come_in_release_order() {
        let cfg = crate::config::Config::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/configs/default.toml"
        )))
        .expect("default config");
        let scenario = demo_scenario(&cfg, 9, 40.0).expect("scenario");
        let (batches, truth) = simulate_batches(&scenario, 3, SECTOR_FRACTION).expect("sim");
        assert!(!batches.is_empty() && !truth.is_empty());
        assert!(batches.windows(2).all(|w| w[0].release_t <= w[1].release_t));
        let sensors = ["R1", "R2"];
        for b in &batches {
            let period = if b.sensor == 0 { 4.0 } else { 5.0 };
            assert_eq!(b.batch.sensor_id, sensors[b.sensor]);
            let ts: Vec<f64> = b.batch.plots.iter().map(|p| p.t).collect();
            let lo = ts.iter().copied().fold(f64::INFINITY, f64::min);
            assert!(
                b.release_t - lo <= period * SECTOR_FRACTION + 1e-9,
                "{ts:?}"
            );
            assert!(matches!(
                b.batch.plots[0].measurement,
                Some(v1::plot::Measurement::Polar(_))
            ));
        }
        // Every target of the wave is in the truth by the end of the spawn window.
        let ids: std::collections::HashSet<String> = truth
            .iter()
            .filter(|(t, _)| *t >= 30.0)
            .flat_map(|(_, recs)| recs.iter().map(|r| r.id.to_string()))
            .collect();
        assert_eq!(ids.len(), 9);
    }
}
