//! `iapz-bench`: simulate scenarios, track them offline, score the pictures.
//!
//! The commands and file formats are those of `shared/docs/scenario-format.md`; other tools
//! depend on them, so names and formats stay exactly as written there.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use fusion_core::config::AssociatorKind;
use iapz_bench::score::{ScoreOptions, read_picture, read_truth, score};
use iapz_bench::simulate::{Scenario, simulate_to_files};
use iapz_bench::track::{
    TrackOptions, TrackSummary, load_tracker_config, summary_path, track_file,
};
use std::path::{Path, PathBuf};

/// The allocator the deployed binaries use (see `iapzd`), so that what is measured is what runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "iapz-bench",
    version,
    about = "Simulate, track and score air-picture scenarios"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum TrackerMode {
    Gnn,
    Mht,
}

#[derive(clap::Args)]
struct TrackArgs {
    /// Tracker configuration (TOML with a [tracker] table, e.g. configs/default.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data association: global nearest neighbour or multi-hypothesis (overrides the
    /// configuration's `[tracker] mode`).
    #[arg(long, value_enum)]
    tracker: Option<TrackerMode>,
    /// Write the picture at every multiple of this period (s) instead of after each batch.
    #[arg(long)]
    picture_every: Option<f64>,
    /// Worker threads for the tracker (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario into a plots file and a truth file.
    Simulate {
        /// A scenario NAME from bench/scenarios, or a path to a .toml file.
        #[arg(long)]
        scenario: String,
        /// Random seed: same scenario and seed, same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Plots file to write.
        #[arg(long)]
        out_plots: PathBuf,
        /// Truth file to write.
        #[arg(long)]
        out_truth: PathBuf,
    },
    /// Track a plots file into a picture file; throughput goes to stderr.
    Track {
        /// Plots file to read.
        #[arg(long)]
        plots: PathBuf,
        /// Picture file to write.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        args: TrackArgs,
    },
    /// Score a picture against truth; prints one JSON object.
    Score {
        /// Truth file.
        #[arg(long)]
        truth: PathBuf,
        /// Picture file.
        #[arg(long)]
        picture: PathBuf,
        /// GOSPA / OSPA cut-off distance (m).
        #[arg(long, default_value_t = 100.0)]
        c: f64,
        /// GOSPA / OSPA order.
        #[arg(long, default_value_t = 1.0)]
        p: f64,
    },
    /// Simulate, track and score in one go (files go to --dir); prints the score.
    Run {
        /// A scenario NAME from bench/scenarios, or a path to a .toml file.
        #[arg(long, default_value = "mixed-100")]
        scenario: String,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Directory for the plots, truth and picture files.
        #[arg(long, default_value = "out")]
        dir: PathBuf,
        /// GOSPA cut-off (m).
        #[arg(long, default_value_t = 100.0)]
        c: f64,
        #[command(flatten)]
        args: TrackArgs,
    },
}

fn track_options(args: &TrackArgs) -> Result<TrackOptions> {
    let mut config = match &args.config {
        Some(p) => load_tracker_config(p)?,
        None => fusion_core::TrackerConfig::default(),
    };
    match args.tracker {
        Some(TrackerMode::Gnn) => config.mode = AssociatorKind::Gnn,
        Some(TrackerMode::Mht) => config.mode = AssociatorKind::Mht,
        None => {}
    }
    if let Some(p) = args.picture_every
        && !(p > 0.0 && p.is_finite())
    {
        bail!("--picture-every must be a positive number of seconds, got {p}");
    }
    Ok(TrackOptions {
        config,
        picture_every: args.picture_every,
        ..TrackOptions::default()
    })
}

fn with_threads<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T> {
    match threads {
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build()
                .context("thread pool")?;
            Ok(pool.install(f))
        }
        None => Ok(f()),
    }
}

fn print_track_summary(s: &TrackSummary) {
    eprintln!(
        "tracked {} plots in {} batches: {:.0} plots/s, batch p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; \
         {} tracks confirmed, {} plots rejected, {} picture lines",
        s.plots,
        s.batches,
        s.plots_per_s,
        s.batch_ms_p50,
        s.batch_ms_p99,
        s.batch_ms_max,
        s.tracks_confirmed,
        s.plots_rejected,
        s.picture_lines
    );
}

fn run_track(plots: &Path, out: &Path, args: &TrackArgs) -> Result<TrackSummary> {
    let opts = track_options(args)?;
    let summary = with_threads(args.threads, || track_file(plots, out, &opts))?
        .with_context(|| format!("tracking {}", plots.display()))?;
    print_track_summary(&summary);
    Ok(summary)
}

fn run_score(truth: &Path, picture: &Path, c: f64, p: f64) -> Result<serde_json::Value> {
    let truth_records = read_truth(truth)?;
    let picture_records = read_picture(picture)?;
    let mut report = score(&truth_records, &picture_records, &ScoreOptions { c, p })?;
    // The run's throughput, when `track` left its summary beside the picture.
    if let Ok(text) = std::fs::read_to_string(summary_path(picture))
        && let Ok(s) = serde_json::from_str::<TrackSummary>(&text)
    {
        report.plots_per_s = Some(s.plots_per_s);
    }
    Ok(serde_json::to_value(&report)?)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Simulate {
            scenario,
            seed,
            out_plots,
            out_truth,
        } => {
            let sc = Scenario::load(&scenario)
                .with_context(|| format!("loading scenario {scenario}"))?;
            let s = simulate_to_files(&sc, seed, &out_plots, &out_truth).context("simulating")?;
            eprintln!(
                "simulated {}: {} targets, {} plots ({} false), {} truth records",
                scenario, s.targets, s.plots, s.false_plots, s.truth_records
            );
        }
        Command::Track { plots, out, args } => {
            run_track(&plots, &out, &args)?;
        }
        Command::Score {
            truth,
            picture,
            c,
            p,
        } => {
            println!("{}", run_score(&truth, &picture, c, p)?);
        }
        Command::Run {
            scenario,
            seed,
            dir,
            c,
            args,
        } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let sc = Scenario::load(&scenario)
                .with_context(|| format!("loading scenario {scenario}"))?;
            let (plots, truth, picture) = (
                dir.join("plots.jsonl"),
                dir.join("truth.jsonl"),
                dir.join("picture.jsonl"),
            );
            let s = simulate_to_files(&sc, seed, &plots, &truth).context("simulating")?;
            eprintln!(
                "simulated {scenario} (seed {seed}): {} targets, {} plots ({} false)",
                s.targets, s.plots, s.false_plots
            );
            // Score on a common time grid: the truth's own step unless asked otherwise.
            let args = TrackArgs {
                picture_every: args.picture_every.or(Some(sc.truth_dt_s)),
                ..args
            };
            run_track(&plots, &picture, &args)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&run_score(&truth, &picture, c, 1.0)?)?
            );
            eprintln!("files in {}", dir.display());
        }
    }
    Ok(())
}
