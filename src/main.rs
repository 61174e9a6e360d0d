//! `iapzd`: the IAPZ air-picture fusion daemon.
//!
//! `iapzd run` runs the daemon over Zenoh (see the library, `src/lib.rs`); `iapzd demo` runs
//! it with simulated radars and a partner feeding it; `iapzd watch` shows a picture live in
//! the terminal; `iapzd check-config` checks a configuration. The tracker is `fusion-core`.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use fusion_core::Tracker;
use iapzd::config::Config;
use iapzd::demo::DemoOptions;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Run the daemon with simulated radars and a partner feeding it over Zenoh (Ctrl-C stops).
    Demo {
        /// Configuration file (its radars are simulated; a partner feed is added).
        #[arg(long, default_value = "configs/default.toml")]
        config: PathBuf,
        /// Targets per wave: two thirds drones, one third cruise missiles.
        #[arg(long, default_value_t = 24)]
        targets: usize,
        /// Simulated seconds per wall-clock second.
        #[arg(long, default_value_t = 1.0)]
        speedup: f64,
        /// Seed of the first wave of targets.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Follow a picture and redraw it as a table every second (Ctrl-C stops).
    Watch {
        /// Zenoh endpoint of the daemon or of the router.
        #[arg(long, default_value = "tcp/127.0.0.1:7447")]
        connect: String,
        /// Picture id.
        #[arg(long, default_value = "west")]
        picture: String,
        /// Print the current picture once and exit.
        #[arg(long)]
        once: bool,
    },
    /// Bridge our picture to a coalition partner under a release policy, and the partner's
    /// tracks into our daemon (until SIGINT or SIGTERM).
    Bridge {
        /// Bridge configuration (`configs/bridge-<partner>.toml`).
        #[arg(long)]
        config: PathBuf,
    },
    /// Load a configuration, build the tracker from it and print what it declares.
    CheckConfig {
        /// Configuration file.
        #[arg(long, default_value = "configs/default.toml")]
        config: PathBuf,
    },
}

/// Logs to stderr at `default` unless `RUST_LOG` says otherwise.
fn init_logs(default: &str) {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .init();
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the Tokio runtime")
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Run { config } => {
            init_logs("info");
            let cfg = Config::load(&config)?;
            runtime()?.block_on(iapzd::run::run(cfg))?;
        }
        Command::Demo {
            config,
            targets,
            speedup,
            seed,
        } => {
            init_logs("info");
            let cfg = Config::load(&config)?;
            let opts = DemoOptions {
                targets,
                speedup,
                seed,
            };
            runtime()?.block_on(iapzd::demo::run(cfg, opts))?;
        }
        Command::Watch {
            connect,
            picture,
            once,
        } => {
            init_logs("warn");
            runtime()?.block_on(async {
                if once {
                    let view =
                        iapzd::watch::once(&connect, &picture, Duration::from_millis(1500)).await?;
                    print!("{}", view.render(&picture));
                    Ok(())
                } else {
                    iapzd::watch::run(&connect, &picture).await
                }
            })?;
        }
        Command::Bridge { config } => {
            init_logs("info");
            let cfg = iapzd::bridge::config::BridgeConfig::load(&config)?;
            runtime()?.block_on(iapzd::bridge::run(cfg))?;
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
