//! A simulated scenario written as a capture: the plot batches its sensors would have
//! published (cut into sectors as the demo and the load benchmark cut them), each stamped with
//! the data time at which the sensor would have sent it. This is how the committed test
//! captures are made, and how a capture of a large scenario is made for measuring the replay.
//!
//! [`scenario_config`] is the daemon configuration that declares the scenario's sensors (at
//! their ENU positions around the scenario's origin) with the capture's run epoch, so that an
//! offline replay of the capture needs nothing else.

use super::writer::{CaptureOptions, CaptureWriter, WriteSummary};
use crate::demo::scene::{SECTOR_FRACTION, simulate_batches};
use anyhow::{Context, Result};
use iapz_bench::simulate::{Scenario, header};
use iapz_proto::{keys, t_to_unix_ns, v1};
use prost::Message;
use std::path::Path;

/// The run epoch of a simulated capture: the scenario's own epoch (RFC 3339 in the scenario).
pub fn scenario_epoch(scenario: &Scenario) -> Result<i64> {
    super::utc::parse(&scenario.epoch)
        .map_err(|e| anyhow::anyhow!("scenario {:?} epoch: {e}", scenario.name))
}

/// Simulates `scenario` with `seed` and writes its plot batches to the capture `path`.
pub fn write_capture(scenario: &Scenario, seed: u64, path: &Path) -> Result<WriteSummary> {
    let epoch = scenario_epoch(scenario)?;
    let (batches, _truth) = simulate_batches(scenario, seed, SECTOR_FRACTION)?;
    let mut opts = CaptureOptions::new(
        vec![keys::PLOTS_IN.to_string()],
        &format!(
            "iapzd capture simulate --scenario {} --seed {seed}",
            scenario.name
        ),
    );
    opts.epoch_unix_ns = epoch;
    let mut w = CaptureWriter::create(path, opts)?;
    for b in &batches {
        w.write(&v1::CaptureSample {
            receive_unix_ns: t_to_unix_ns(epoch, b.release_t),
            key_expr: keys::plots_in(&b.batch.sensor_id),
            encoding: zenoh::bytes::Encoding::ZENOH_BYTES.to_string(),
            payload: b.batch.encode_to_vec(),
        })?;
    }
    Ok(w.finish()?)
}

/// The daemon configuration (TOML text) for replaying a capture of `scenario`: its origin,
/// its sensors, its epoch, the tracker's defaults.
pub fn scenario_config(scenario: &Scenario) -> Result<String> {
    let epoch = scenario_epoch(scenario)?;
    let o = &scenario.origin;
    let mut text = format!(
        "# The daemon configuration of scenario {:?} (written by `iapzd capture simulate`):\n\
         # its origin and sensors, the tracker's defaults.\n\n\
         [picture]\nid = {:?}\norigin = {{ lat = {:?}, lon = {:?}, alt_m = {:?} }}\n\n\
         [daemon]\nnode_id = \"replay\"\nepoch_unix_ns = {epoch}\n",
        scenario.name, scenario.name, o.lat, o.lon, o.alt_m
    );
    for s in header(scenario).sensor_configs() {
        let table = toml::Table::try_from(&s).context("a sensor as TOML")?;
        let mut doc = toml::Table::new();
        doc.insert("sensors".into(), toml::Value::Array(vec![table.into()]));
        text += "\n";
        text += &toml::to_string(&doc).context("a sensor as TOML")?;
    }
    // What the daemon would refuse, refuse here.
    crate::config::Config::from_toml(&text)?;
    Ok(text)
}
