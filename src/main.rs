//! `iapzd`: the IAPZ air-picture fusion daemon.
//!
//! `iapzd run` runs the daemon over Zenoh (see the library, `src/lib.rs`); `iapzd
//! check-config` checks a configuration. The tracker itself is `fusion-core`.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use fusion_core::Tracker;
use iapzd::config::Config;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "iapzd", version, about = "IAPZ air-picture fusion daemon")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: Zenoh in, tracker, Zenoh out, until SIGINT or SIGTERM.
    Run {
        /// Configuration file.
        #[arg(long, default_value = "configs/default.toml")]
        config: PathBuf,
    },
    /// Load a configuration, build the tracker from it and print what it declares.
    CheckConfig {
        /// Configuration file.
        #[arg(long, default_value = "configs/default.toml")]
        config: PathBuf,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Run { config } => {
            tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .init();
            let cfg = Config::load(&config)?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the Tokio runtime")?
                .block_on(iapzd::run::run(cfg))?;
        }
        Command::CheckConfig { config } => {
            let cfg = Config::load(&config)?;
            let sensors = cfg.sensor_configs()?;
            let tracker = Tracker::new(cfg.tracker.clone(), cfg.frame(), &sensors)
                .with_context(|| format!("{}: building the tracker", config.display()))?;
            let o = cfg.picture.origin;
            println!(
                "{}: picture {:?}, origin {:.5} N {:.5} E {:.0} m, {:?} association, models {:?}",
                config.display(),
                cfg.picture.id,
                o.lat,
                o.lon,
                o.alt_m,
                tracker.config().mode,
                tracker.config().motion.models
            );
            for s in tracker.sensors() {
                let pos = s.position.map_or("-".to_string(), |p| {
                    format!("ENU ({:.0}, {:.0}, {:.0}) m", p[0], p[1], p[2])
                });
                println!(
                    "  sensor {:<8} {:<9} pd {:.2} period {:>5} clutter/scan {:>5.1} {pos}",
                    s.id,
                    format!("{:?}", s.kind).to_lowercase(),
                    s.pd,
                    s.period_s.map_or("-".into(), |p| format!("{p}s")),
                    s.clutter_per_scan
                );
            }
            println!("ok");
        }
    }
    Ok(())
}
