//! Offline tracking of a plots file into a picture file (`iapz-bench track`).
//!
//! Plots are read as a stream and grouped per sensor into batches (a radar's sector, a
//! cartesian sensor's scan), each handed to the tracker in one call; the picture is written
//! after each batch or at a fixed period. Per-batch processing time is measured, so the same
//! run gives both the picture and the throughput.

use fusion_core::{Plot, Tracker, TrackerConfig};
use hdrhistogram::Histogram;
use iapz_adapters::scenario::{
    JsonLines, PictureRecord, PictureTrack, PlotRecord, read_header, write_record,
};
use iapz_adapters::scenario_plots::PlotDecoder;
use serde::Serialize;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Errors of an offline tracking run.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    /// A file could not be opened or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The plots file is not a scenario file.
    #[error("{path}: {source}")]
    Format {
        /// The file.
        path: String,
        /// The format error.
        source: iapz_adapters::scenario::FormatError,
    },
    /// The header's sensors or the configuration cannot build a tracker.
    #[error("tracker configuration: {0}")]
    Config(#[from] fusion_core::config::ConfigError),
}

/// How to run.
#[derive(Debug, Clone)]
pub struct TrackOptions {
    /// Tracker tuning.
    pub config: TrackerConfig,
    /// Write the picture at every multiple of this period (s) instead of after each batch.
    pub picture_every: Option<f64>,
    /// Longest time span of one batch of a rotating sensor, as a fraction of its period.
    pub batch_fraction: f64,
}

impl Default for TrackOptions {
    fn default() -> Self {
        Self {
            config: TrackerConfig::default(),
            picture_every: None,
            batch_fraction: 0.125,
        }
    }
}

/// What a run did and how fast: printed by `track`, read back by `score`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct TrackSummary {
    /// Plot lines read.
    pub plots: u64,
    /// Plots the tracker rejected or the decoder could not read.
    pub plots_rejected: u64,
    /// Batches processed.
    pub batches: u64,
    /// Picture lines written.
    pub picture_lines: u64,
    /// Track numbers given out (confirmed tracks over the run).
    pub tracks_confirmed: u64,
    /// Wall time spent inside the tracker (s).
    pub tracker_seconds: f64,
    /// Plots per second of tracker time.
    pub plots_per_s: f64,
    /// Per-batch processing time, median (ms).
    pub batch_ms_p50: f64,
    /// Per-batch processing time, 99th percentile (ms).
    pub batch_ms_p99: f64,
    /// Slowest batch (ms).
    pub batch_ms_max: f64,
}

/// Reads the `[tracker]` table of a configuration file (other tables belong to the daemon);
/// a file without one gives the defaults.
pub fn load_tracker_config(path: &Path) -> anyhow::Result<TrackerConfig> {
    use anyhow::Context;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let cfg = match table.get("tracker") {
        Some(t) => t
            .clone()
            .try_into::<TrackerConfig>()
            .with_context(|| format!("{}: [tracker]", path.display()))?,
        None => TrackerConfig::default(),
    };
    cfg.validate()
        .with_context(|| format!("{}: [tracker]", path.display()))?;
    Ok(cfg)
}

/// Path of the run summary written beside a picture file.
pub fn summary_path(picture: &Path) -> std::path::PathBuf {
    let mut s = picture.as_os_str().to_owned();
    s.push(".run.json");
    s.into()
}

struct OpenBatch {
    first_t: f64,
    plots: Vec<Plot>,
}

struct Runner<'a, W: Write> {
    tracker: Tracker,
    out: W,
    opts: &'a TrackOptions,
    windows: Vec<f64>,
    open: Vec<OpenBatch>,
    hist: Histogram<u64>,
    busy: Duration,
    summary: TrackSummary,
    next_picture: Option<f64>,
    last_picture_t: f64,
}

impl<W: Write> Runner<'_, W> {
    fn flush_sensor(&mut self, s: usize) -> std::io::Result<()> {
        if self.open[s].plots.is_empty() {
            return Ok(());
        }
        let plots = std::mem::take(&mut self.open[s].plots);
        let start = Instant::now();
        let outcome = self.tracker.process(&plots);
        let took = start.elapsed();
        self.busy += took;
        let _ = self.hist.record(took.as_nanos().max(1) as u64);
        self.summary.batches += 1;
        self.summary.plots_rejected += outcome.rejected.len() as u64;
        self.summary.tracks_confirmed += outcome
            .events
            .iter()
            .filter(|e| matches!(e, fusion_core::TrackEvent::Confirmed(_)))
            .count() as u64;
        if self.opts.picture_every.is_none() && self.tracker.time() > self.last_picture_t {
            self.write_picture(self.tracker.time())?;
        }
        Ok(())
    }

    /// Flushes every open batch, oldest first.
    fn flush_all(&mut self) -> std::io::Result<()> {
        let mut order: Vec<usize> = (0..self.open.len())
            .filter(|&s| !self.open[s].plots.is_empty())
            .collect();
        order.sort_by(|&a, &b| {
            self.open[a]
                .first_t
                .total_cmp(&self.open[b].first_t)
                .then(a.cmp(&b))
        });
        for s in order {
            self.flush_sensor(s)?;
        }
        Ok(())
    }

    fn write_picture(&mut self, t: f64) -> std::io::Result<()> {
        let snapshot = self.tracker.snapshot();
        write_record(&mut self.out, &picture_record(&snapshot, t))?;
        self.summary.picture_lines += 1;
        self.last_picture_t = t;
        Ok(())
    }

    /// Writes the fixed-period pictures due before data time `t`.
    fn pictures_before(&mut self, t: f64) -> std::io::Result<()> {
        while let (Some(next), Some(every)) = (self.next_picture, self.opts.picture_every) {
            if next >= t {
                break;
            }
            self.flush_all()?;
            self.write_picture(next)?;
            self.next_picture = Some(next + every);
        }
        Ok(())
    }

    fn push(&mut self, plot: Plot) -> std::io::Result<()> {
        let t = plot.t;
        if let (None, Some(every)) = (self.next_picture, self.opts.picture_every) {
            self.next_picture = Some((t / every).ceil() * every);
        }
        self.pictures_before(t)?;
        let s = plot.sensor.0 as usize;
        if !self.open[s].plots.is_empty() && t - self.open[s].first_t > self.windows[s] {
            self.flush_sensor(s)?;
        }
        if self.open[s].plots.is_empty() {
            self.open[s].first_t = t;
        }
        self.open[s].plots.push(plot);
        Ok(())
    }
}

/// The picture line at data time `t`: every track of `picture` predicted to `t`, with its
/// sources and status. `track` and `iapzd replay --offline` both write their pictures with it,
/// so that their picture files are the same format to the byte.
pub fn picture_record(picture: &fusion_core::Picture, t: f64) -> PictureRecord {
    let tracks = picture
        .predicted_to(t)
        .map(|(tr, g)| PictureTrack {
            id: tr.number,
            x: g.x[0],
            y: g.x[1],
            z: g.x[2],
            vx: g.x[3],
            vy: g.x[4],
            vz: g.x[5],
            cov: None,
            score: None,
            sources: Some(tr.sources.iter().map(|s| s.to_string()).collect()),
            status: Some(
                match tr.status {
                    fusion_core::track::TrackStatus::Coasting => "coasting",
                    _ => "confirmed",
                }
                .to_string(),
            ),
        })
        .collect();
    PictureRecord { t, tracks }
}

/// Tracks the plots in `input`, writing the picture to `output`. Plot lines that cannot be
/// read are counted as rejected and reported on stderr (the first few), not fatal.
pub fn track_stream<R: BufRead, W: Write>(
    input: R,
    output: W,
    opts: &TrackOptions,
) -> Result<TrackSummary, TrackError> {
    let mut lines = JsonLines::new(input);
    let header = read_header(&mut lines).map_err(|source| TrackError::Format {
        path: "plots".into(),
        source,
    })?;
    let sensors = header.sensor_configs();
    let tracker = Tracker::new(opts.config.clone(), header.frame(), &sensors)?;
    let decoder = PlotDecoder::new(&header);
    let windows = sensors
        .iter()
        .map(|s| s.period_s.map_or(0.0, |p| p * opts.batch_fraction))
        .collect();
    let mut runner = Runner {
        tracker,
        out: output,
        opts,
        windows,
        open: (0..sensors.len())
            .map(|_| OpenBatch {
                first_t: 0.0,
                plots: Vec::new(),
            })
            .collect(),
        hist: Histogram::new_with_bounds(1, 3_600_000_000_000, 3).map_err(|e| TrackError::Io {
            path: "histogram".into(),
            source: std::io::Error::other(e.to_string()),
        })?,
        busy: Duration::ZERO,
        summary: TrackSummary {
            plots: 0,
            plots_rejected: 0,
            batches: 0,
            picture_lines: 0,
            tracks_confirmed: 0,
            tracker_seconds: 0.0,
            plots_per_s: 0.0,
            batch_ms_p50: 0.0,
            batch_ms_p99: 0.0,
            batch_ms_max: 0.0,
        },
        next_picture: None,
        last_picture_t: f64::NEG_INFINITY,
    };
    let io = |source| TrackError::Io {
        path: "picture".into(),
        source,
    };
    let mut bad_lines = 0u64;
    while let Some(rec) = lines.next_record::<PlotRecord>() {
        runner.summary.plots += 1;
        let plot = rec.map_err(|e| e.to_string()).and_then(|r| {
            decoder
                .decode(&r)
                .map_err(|e| format!("line {}: {e}", lines.line()))
        });
        match plot {
            Ok(p) => runner.push(p).map_err(io)?,
            Err(e) => {
                bad_lines += 1;
                runner.summary.plots_rejected += 1;
                if bad_lines <= 10 {
                    eprintln!("skipped plot: {e}");
                }
            }
        }
    }
    runner.flush_all().map_err(io)?;
    if let Some(every) = opts.picture_every {
        let end = runner.tracker.time();
        while let Some(next) = runner.next_picture {
            if next > end + 1e-9 {
                break;
            }
            runner.write_picture(next).map_err(io)?;
            runner.next_picture = Some(next + every);
        }
    }
    runner.out.flush().map_err(io)?;
    if bad_lines > 10 {
        eprintln!("... {bad_lines} unreadable plot lines in all");
    }
    let mut s = runner.summary;
    s.tracker_seconds = runner.busy.as_secs_f64();
    s.plots_per_s = if s.tracker_seconds > 0.0 {
        s.plots as f64 / s.tracker_seconds
    } else {
        0.0
    };
    let ms = |v: u64| v as f64 / 1e6;
    s.batch_ms_p50 = ms(runner.hist.value_at_quantile(0.5));
    s.batch_ms_p99 = ms(runner.hist.value_at_quantile(0.99));
    s.batch_ms_max = ms(runner.hist.max());
    Ok(s)
}

/// Tracks a plots file into a picture file and writes the run summary beside it.
pub fn track_file(
    plots: &Path,
    picture: &Path,
    opts: &TrackOptions,
) -> Result<TrackSummary, TrackError> {
    let open_err = |p: &Path| {
        let path = p.display().to_string();
        move |source| TrackError::Io { path, source }
    };
    let input = BufReader::with_capacity(1 << 20, File::open(plots).map_err(open_err(plots))?);
    let output =
        BufWriter::with_capacity(1 << 20, File::create(picture).map_err(open_err(picture))?);
    let summary = track_stream(input, output, opts).map_err(|e| match e {
        TrackError::Format { source, .. } => TrackError::Format {
            path: plots.display().to_string(),
            source,
        },
        other => other,
    })?;
    let side = summary_path(picture);
    let text = serde_json::to_string_pretty(&summary).map_err(|e| TrackError::Io {
        path: side.display().to_string(),
        source: std::io::Error::other(e),
    })?;
    std::fs::write(&side, text + "\n").map_err(open_err(&side))?;
    Ok(summary)
}
