//! Throughput and per-batch latency of the core tracker at 100, 1,000 and 10,000 targets,
//! with 1 and 2 worker threads (`cargo bench -p iapz-bench --bench tracker`).
//!
//! Each case simulates `Scenario::scaled(n)` (two rotating 3-D radars, 4 s scans, clutter),
//! then tracks it from memory. Only time inside the tracker is counted: JSON decoding of the
//! plots is excluded. A batch is one radar sector (1/8 of a scan). Set `IAPZ_BENCH_TARGETS`
//! (e.g. `100,1000`) and `IAPZ_BENCH_THREADS` (e.g. `2`) to choose cases,
//! `IAPZ_BENCH_CONFIG` (a TOML file with a `[tracker]` table) to change the tuning, and
//! `IAPZ_BENCH_BATCH` (fraction of a scan per batch, default 0.125).

use iapz_bench::simulate::{Scenario, simulate_to_writers};
use iapz_bench::track::{TrackOptions, track_stream};

/// The allocator the deployed binaries use (see `iapzd`), so that what is measured is what runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn list(var: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(var)
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let targets = list("IAPZ_BENCH_TARGETS", &[100, 1_000, 10_000]);
    let threads = list("IAPZ_BENCH_THREADS", &[1, 2]);
    let config = match std::env::var("IAPZ_BENCH_CONFIG") {
        Ok(path) => match iapz_bench::track::load_tracker_config(std::path::Path::new(&path)) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("{e}");
                return;
            }
        },
        Err(_) => None,
    };
    println!(
        "{:>8} {:>7} {:>10} {:>9} {:>12} {:>10} {:>10} {:>10} {:>11} {:>9}",
        "targets",
        "threads",
        "plots",
        "batches",
        "plots/s",
        "batch p50",
        "batch p99",
        "batch max",
        "scan (4 s)",
        "x realtime"
    );
    for &n in &targets {
        let scenario = Scenario::scaled(n);
        let (mut plots, mut truth) = (Vec::new(), Vec::new());
        let sim = match simulate_to_writers(&scenario, 1, &mut plots, &mut truth) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("simulating {n} targets: {e}");
                continue;
            }
        };
        drop(truth);
        for &t in &threads {
            let pool = match rayon::ThreadPoolBuilder::new().num_threads(t).build() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("thread pool: {e}");
                    continue;
                }
            };
            let mut opts = TrackOptions {
                picture_every: Some(scenario.duration_s),
                ..TrackOptions::default()
            };
            if let Some(c) = config.clone() {
                opts.config = c;
            }
            if let Some(b) = std::env::var("IAPZ_BENCH_BATCH")
                .ok()
                .and_then(|v| v.parse().ok())
            {
                opts.batch_fraction = b;
            }
            let result = pool.install(|| track_stream(plots.as_slice(), std::io::sink(), &opts));
            match result {
                Ok(s) => {
                    let scans = scenario.duration_s / 4.0;
                    let scan_ms = s.tracker_seconds * 1e3 / scans;
                    println!(
                        "{:>8} {:>7} {:>10} {:>9} {:>12.0} {:>8.3}ms {:>8.3}ms {:>8.3}ms {:>9.1}ms {:>9.0}x",
                        n,
                        t,
                        s.plots,
                        s.batches,
                        s.plots_per_s,
                        s.batch_ms_p50,
                        s.batch_ms_p99,
                        s.batch_ms_max,
                        scan_ms,
                        scenario.duration_s / s.tracker_seconds
                    );
                }
                Err(e) => eprintln!("tracking {n} targets: {e}"),
            }
        }
        let _ = sim;
    }
}
