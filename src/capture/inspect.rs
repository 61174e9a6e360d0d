//! `iapzd capture inspect`: what a capture holds, per key expression and per sensor, over
//! which time, with which gaps and which damage.

use super::CaptureError;
use super::reader::{CaptureSet, Damage};
use super::utc::utc;
use iapz_proto::{keys, v1};
use prost::Message;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Counts of one key expression.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyStats {
    /// Samples.
    pub samples: u64,
    /// Payload bytes.
    pub bytes: u64,
    /// Receive time of the first and last sample (ns since 1970).
    pub first_ns: i64,
    /// See `first_ns`.
    pub last_ns: i64,
    /// Plots (for `PlotBatch` keys) or source tracks (for `TrackFeed` keys) in the payloads.
    pub items: u64,
    /// Payloads that do not decode as the key's message.
    pub undecodable: u64,
    /// Silences longer than the gap threshold: (receive time of the sample before, length s).
    pub gaps: Vec<(i64, f64)>,
}

/// What a capture holds.
#[derive(Debug, Clone, Default)]
pub struct Inspection {
    /// The files read.
    pub parts: Vec<PathBuf>,
    /// Their headers.
    pub headers: Vec<v1::CaptureHeader>,
    /// Samples, every key together.
    pub samples: u64,
    /// Per key expression (for `iapz/in/plots/<sensor>`: per sensor).
    pub keys: BTreeMap<String, KeyStats>,
    /// Receive time of the first and last sample (ns since 1970).
    pub first_ns: Option<i64>,
    /// See `first_ns`.
    pub last_ns: Option<i64>,
    /// Samples whose receive time is earlier than the sample before them.
    pub out_of_order: u64,
    /// Damage met while reading.
    pub damage: Vec<Damage>,
}

/// Reads the whole capture `path` (and its rotated parts), reporting a gap wherever a key is
/// silent for longer than `gap_s`.
pub fn inspect(path: &Path, gap_s: f64) -> Result<Inspection, CaptureError> {
    let mut set = CaptureSet::open(path)?;
    let mut out = Inspection {
        parts: set.parts().to_vec(),
        ..Default::default()
    };
    while let Some(s) = set.next_sample()? {
        out.samples += 1;
        if out.last_ns.is_some_and(|l| s.receive_unix_ns < l) {
            out.out_of_order += 1;
        }
        out.first_ns.get_or_insert(s.receive_unix_ns);
        out.last_ns = Some(
            out.last_ns
                .map_or(s.receive_unix_ns, |l| l.max(s.receive_unix_ns)),
        );
        let k = out.keys.entry(s.key_expr.clone()).or_default();
        if k.samples == 0 {
            k.first_ns = s.receive_unix_ns;
        } else {
            let silent = (s.receive_unix_ns - k.last_ns) as f64 * 1e-9;
            if silent > gap_s {
                k.gaps.push((k.last_ns, silent));
            }
        }
        k.samples += 1;
        k.bytes += s.payload.len() as u64;
        k.last_ns = s.receive_unix_ns;
        let items = if s.key_expr.starts_with(keys::PLOTS_IN.trim_end_matches('*')) {
            v1::PlotBatch::decode(s.payload.as_slice()).map(|b| b.plots.len())
        } else if s
            .key_expr
            .starts_with(keys::TRACKS_IN.trim_end_matches('*'))
        {
            v1::TrackFeed::decode(s.payload.as_slice()).map(|f| f.tracks.len())
        } else {
            Ok(0)
        };
        match items {
            Ok(n) => k.items += n as u64,
            Err(_) => k.undecodable += 1,
        }
    }
    out.headers = set.headers().to_vec();
    out.damage = set.damage();
    Ok(out)
}

impl Inspection {
    /// The report printed by `iapzd capture inspect`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (p, h) in self.parts.iter().zip(&self.headers) {
            let _ = writeln!(
                s,
                "{}: part {}, format v{}, created {}, by {:?}, keys {:?}, epoch {}",
                p.display(),
                h.part,
                h.version,
                utc(h.created_unix_ns),
                h.source,
                h.keys,
                if h.epoch_unix_ns == 0 {
                    "unknown".to_string()
                } else {
                    utc(h.epoch_unix_ns)
                }
            );
        }
        let span = match (self.first_ns, self.last_ns) {
            (Some(a), Some(b)) => {
                format!("{} .. {} ({:.3} s)", utc(a), utc(b), (b - a) as f64 * 1e-9)
            }
            _ => "empty".into(),
        };
        let _ = writeln!(s, "samples: {}   span: {span}", self.samples);
        if self.out_of_order > 0 {
            let _ = writeln!(
                s,
                "{} samples received earlier than the sample before them",
                self.out_of_order
            );
        }
        let _ = writeln!(
            s,
            "{:<32} {:>9} {:>11} {:>9} {:>10} {:>5}  first .. last",
            "key (sensor / source)", "samples", "bytes", "items", "rate/s", "gaps"
        );
        for (key, k) in &self.keys {
            let dur = (k.last_ns - k.first_ns) as f64 * 1e-9;
            let rate = if dur > 0.0 {
                format!("{:.2}", (k.samples - 1) as f64 / dur)
            } else {
                "-".into()
            };
            let _ = writeln!(
                s,
                "{key:<32} {:>9} {:>11} {:>9} {rate:>10} {:>5}  {} .. {}",
                k.samples,
                k.bytes,
                k.items,
                k.gaps.len(),
                utc(k.first_ns),
                utc(k.last_ns)
            );
            if k.undecodable > 0 {
                let _ = writeln!(s, "    {} payloads do not decode", k.undecodable);
            }
            for (at, len) in k.gaps.iter().take(10) {
                let _ = writeln!(s, "    gap of {len:.3} s after {}", utc(*at));
            }
            if k.gaps.len() > 10 {
                let _ = writeln!(s, "    ... {} gaps in all", k.gaps.len());
            }
        }
        if self.damage.is_empty() {
            let _ = writeln!(s, "damage: none");
        }
        for d in &self.damage {
            let _ = writeln!(s, "damage: {d}");
        }
        s
    }
}
