//! `iapzd replay`: a capture played back, into Zenoh ([`live`], with the original spacing
//! scaled by a speed) or straight into the tracker ([`offline`], on data time, as fast as the
//! core goes, writing a picture file).
//!
//! Both take the same selection of samples ([`Window`]): a span of the capture's time and a
//! key expression filter.

pub mod live;
pub mod offline;
pub mod progress;

use anyhow::{Context, Result};
use iapz_proto::v1;
use zenoh::key_expr::KeyExpr;

/// Which samples of a capture to replay.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Skip samples received earlier than this many seconds after the capture's first sample.
    pub from_s: Option<f64>,
    /// Stop at samples received later than this many seconds after the capture's first sample.
    pub to_s: Option<f64>,
    /// Only samples whose key expression this one includes (e.g. `iapz/in/plots/**`).
    pub keys: Option<String>,
}

/// Where a sample stands against a [`Window`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selected {
    /// Replay it.
    Yes,
    /// Skip it.
    No,
    /// Past the window's end: nothing after it is replayed.
    End,
}

/// A [`Window`] ready to test samples, anchored at the capture's first sample.
pub struct Selector {
    window: Window,
    keys: Option<KeyExpr<'static>>,
    first_ns: Option<i64>,
}

impl Selector {
    /// Checks the key expression filter.
    pub fn new(window: &Window) -> Result<Self> {
        let keys = window
            .keys
            .as_ref()
            .map(|k| KeyExpr::try_from(k.clone()).map_err(|e| anyhow::anyhow!("{e}")))
            .transpose()
            .context("--keys is not a valid key expression")?;
        Ok(Self {
            window: window.clone(),
            keys,
            first_ns: None,
        })
    }

    /// Whether `s` is replayed. The first sample seen (selected or not) is the capture's start.
    pub fn select(&mut self, s: &v1::CaptureSample) -> Selected {
        let first = *self.first_ns.get_or_insert(s.receive_unix_ns);
        let since = (s.receive_unix_ns - first) as f64 * 1e-9;
        if self.window.to_s.is_some_and(|to| since > to) {
            return Selected::End;
        }
        if self.window.from_s.is_some_and(|from| since < from) {
            return Selected::No;
        }
        match &self.keys {
            Some(filter) => match KeyExpr::try_from(s.key_expr.as_str()) {
                Ok(k) if filter.includes(&k) => Selected::Yes,
                _ => Selected::No,
            },
            None => Selected::Yes,
        }
    }
}

/// Parses a time of `--from`/`--to`: seconds after the capture's first sample, with an
/// optional unit (`90`, `90s`, `1.5m`, `2h`).
pub fn parse_offset(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let (num, scale) = match s.chars().last() {
        Some('s') => (&s[..s.len() - 1], 1.0),
        Some('m') => (&s[..s.len() - 1], 60.0),
        Some('h') => (&s[..s.len() - 1], 3600.0),
        _ => (s, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|e| format!("{s:?}: {e} (seconds after the capture's start, e.g. 90 or 1.5m)"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("{s:?}: must be a time >= 0"));
    }
    Ok(v * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ns: i64, key: &str) -> v1::CaptureSample {
        v1::CaptureSample {
            receive_unix_ns: ns,
            key_expr: key.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_window_selects_by_time_after_the_start_and_by_key() {
        let mut s = Selector::new(&Window {
            from_s: Some(1.0),
            to_s: Some(2.0),
            keys: Some("iapz/in/plots/**".into()),
        })
        .expect("selector");
        let g = 1_000_000_000;
        assert_eq!(s.select(&sample(10 * g, "iapz/in/plots/R1")), Selected::No);
        assert_eq!(s.select(&sample(11 * g, "iapz/in/plots/R1")), Selected::Yes);
        assert_eq!(s.select(&sample(11 * g, "iapz/in/tracks/P")), Selected::No);
        assert_eq!(s.select(&sample(12 * g, "iapz/in/plots/R2")), Selected::Yes);
        assert_eq!(
            s.select(&sample(12 * g + 1, "iapz/in/plots/R1")),
            Selected::End
        );
        assert_eq!(parse_offset("1.5m"), Ok(90.0));
        assert!(parse_offset("-1").is_err());
        assert!(
            Selector::new(&Window {
                keys: Some("a//b".into()),
                ..Default::default()
            })
            .is_err()
        );
    }
}
