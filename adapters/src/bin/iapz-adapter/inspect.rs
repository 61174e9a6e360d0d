//! The inspection tool's output: one flat JSON object per decoded record, with the field
//! names and units the issue fixes (`cat`, `sac`, `sic`, `tod_s`, `rho_nm`, ...), so people
//! and scripts can read a feed the way Wireshark's dissector shows it.

use iapz_adapters::asterix::{DataSource, Decoded, Mode3A, Record};
use iapz_adapters::beast::{self, BeastFrame, BeastKind};
use iapz_adapters::modes::{ModeSDecoder, ModeSReport};
use serde_json::{Map, Value};
use std::io::Write;

/// Builds the JSON object of one record; `offset` is where it starts in the input file.
pub fn record_json(d: &Decoded) -> Value {
    let mut o = Fields(Map::new());
    o.put("offset", Some(d.offset));
    o.put("cat", Some(d.record.category()));
    match &d.record {
        Record::Cat048(r) => {
            o.source(r.source);
            o.put("tod_s", r.tod_s);
            o.put("typ", r.descriptor.map(|x| x.typ));
            o.put("rho_nm", r.polar.map(|p| p.rho_nm));
            o.put("theta_deg", r.polar.map(|p| p.theta_deg));
            o.mode3a(r.mode3a);
            o.put("fl", r.flight_level.map(|f| f.fl));
            o.icao(r.icao24);
            o.put("callsign", r.callsign.map(|c| c.to_string()));
            o.put("track_number", r.track_number);
            o.put("x_nm", r.xy_nm.map(|p| p.0));
            o.put("y_nm", r.xy_nm.map(|p| p.1));
            o.put("gs_kt", r.velocity.map(|v| v.ground_speed_kt));
            o.put("heading_deg", r.velocity.map(|v| v.heading_deg));
        }
        Record::Cat034(r) => {
            o.source(r.source);
            o.put("tod_s", r.tod_s);
            o.put("message_type", r.message_type.map(|m| m.code()));
            o.put("sector_deg", r.sector_deg);
            o.put("antenna_period_s", r.antenna_period_s);
        }
        Record::Cat021(r) => {
            o.source(r.source);
            o.put("tod_s", r.tod_s());
            o.icao(r.icao24);
            o.put("lat_deg", r.lat_lon_deg.map(|p| p.0));
            o.put("lon_deg", r.lat_lon_deg.map(|p| p.1));
            o.put("fl", r.fl);
            o.put("gs_kt", r.ground_vector.map(|v| v.0));
            o.put("track_deg", r.ground_vector.map(|v| v.1));
            o.mode3a(r.mode3a);
            o.put("callsign", r.callsign.map(|c| c.to_string()));
        }
        Record::Cat062(r) => {
            o.source(r.source);
            o.put("tod_s", r.tod_s);
            o.put("track_number", r.track_number);
            o.put("lat_deg", r.lat_lon_deg.map(|p| p.0));
            o.put("lon_deg", r.lat_lon_deg.map(|p| p.1));
            o.put("vx_mps", r.velocity_mps.map(|v| v.0));
            o.put("vy_mps", r.velocity_mps.map(|v| v.1));
            o.put("fl", r.fl);
            o.mode3a(r.mode3a);
            o.icao(r.icao24);
            let callsign = r.target_id.map(|t| t.callsign).or(r.derived_callsign);
            o.put("callsign", callsign.map(|c| c.to_string()));
        }
    }
    Value::Object(o.0)
}

/// Prints one JSON object per Beast frame of `data` (CPR positions need the frames before,
/// so the decoder keeps state, timed by the MLAT counter); bad frames go to stderr. Returns
/// the summary line.
pub fn print_beast(out: &mut impl Write, data: &[u8]) -> std::io::Result<String> {
    let mut decoder = ModeSDecoder::new();
    let (mut frames, mut positions, mut bad) = (0usize, 0usize, 0usize);
    for result in beast::frames(data) {
        let frame = match result {
            Ok(f) => f,
            Err(e) => {
                bad += 1;
                eprintln!("bad frame: {e}");
                continue;
            }
        };
        frames += 1;
        let report = if frame.kind == BeastKind::ModeAc {
            None
        } else {
            match decoder.decode(frame.message(), frame.mlat_s()) {
                Ok(r) => Some(r),
                Err(e) => {
                    eprintln!("undecoded frame: {e}");
                    None
                }
            }
        };
        positions += usize::from(report.as_ref().is_some_and(|r| r.lat_lon_deg.is_some()));
        writeln!(out, "{}", beast_json(&frame, report.as_ref()))?;
    }
    Ok(format!(
        "{frames} frames ({positions} positions), {bad} bad"
    ))
}

/// The JSON object of one Beast frame and what its message said.
pub fn beast_json(f: &BeastFrame, r: Option<&ModeSReport>) -> Value {
    let mut o = Fields(Map::new());
    o.put("mlat_ticks", Some(f.mlat_ticks));
    o.put("signal", Some(f.signal));
    let hex: String = f.message().iter().map(|b| format!("{b:02x}")).collect();
    o.put("hex", Some(hex));
    if let Some(r) = r {
        o.put("df", Some(r.df));
        o.icao(r.icao24);
        o.put("lat_deg", r.lat_lon_deg.map(|p| p.0));
        o.put("lon_deg", r.lat_lon_deg.map(|p| p.1));
        o.put("fl", r.altitude_ft.map(|(ft, _)| f64::from(ft) / 100.0));
        o.put("callsign", r.callsign.clone());
        o.put("squawk", r.mode3a.map(|m| format!("{m:04o}")));
    }
    Value::Object(o.0)
}

/// A JSON object that leaves absent items out rather than writing nulls.
struct Fields(Map<String, Value>);

impl Fields {
    fn put<T: Into<Value>>(&mut self, key: &str, v: Option<T>) {
        if let Some(v) = v {
            self.0.insert(key.to_string(), v.into());
        }
    }

    fn source(&mut self, s: Option<DataSource>) {
        self.put("sac", s.map(|s| s.sac));
        self.put("sic", s.map(|s| s.sic));
    }

    fn icao(&mut self, a: Option<u32>) {
        self.put("icao24", a.map(|a| format!("{a:06x}")));
    }

    fn mode3a(&mut self, m: Option<Mode3A>) {
        self.put("mode3a", m.map(|m| m.to_string()));
    }
}
