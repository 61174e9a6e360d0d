//! How long the daemon's tracker thread spends fusing feeds into its picture: `FeedInbox::fuse`
//! (track-to-track fusion) and `ShownPicture::update` (the published picture and its events),
//! for a local picture of N tracks and a partner feed of N tracks of which half are the same
//! objects. Wall time is printed, never asserted.
//!
//! `cargo run --release --example feed_fusion_timing [N ...]` (default N: 100 1000 3000).

use fusion_core::geodesy::{Geodetic, LocalFrame};
use fusion_core::kalman::Gaussian;
use fusion_core::picture::{Picture, PictureTrack};
use fusion_core::track::TrackStatus;
use iapz_proto::v1;
use iapzd::feeds::FeedInbox;
use iapzd::shown::ShownPicture;
use iapzd::wire::{AssumedAccuracy, source_track_to_wire};
use nalgebra::{SMatrix, Vector6};
use std::sync::Arc;
use std::time::Instant;

/// Fusions timed per size.
const REPS: u32 = 10;

/// `n` tracks on a 5 km grid starting at grid cell `first`, at time `t`.
fn grid(n: usize, first: usize, t: f64, source: &str) -> Picture {
    let mut p = Picture::default();
    p.t = t;
    p.tracks = (0..n)
        .map(|i| {
            let k = (i + first) as f64;
            let x = Vector6::new(
                (k % 40.0) * 5000.0 - 100_000.0,
                (k / 40.0).floor() * 5000.0 - 100_000.0,
                5000.0,
                100.0,
                0.0,
                0.0,
            );
            let var = Vector6::new(400.0, 400.0, 900.0, 25.0, 25.0, 25.0);
            PictureTrack {
                number: i as u64 + 1,
                status: TrackStatus::Confirmed,
                t,
                estimate: Gaussian {
                    x,
                    p: SMatrix::from_diagonal(&var),
                },
                score: 20.0 + k,
                sources: vec![Arc::from(source)],
                icao24: None,
                last_update_t: t,
                hits: 10,
            }
        })
        .collect();
    p
}

fn main() -> anyhow::Result<()> {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let sizes = if sizes.is_empty() {
        vec![100, 1000, 3000]
    } else {
        sizes
    };
    let frame = LocalFrame::new(Geodetic::new(49.84, 24.03, 300.0));
    let assumed = AssumedAccuracy {
        position_sigma_m: 500.0,
        velocity_sigma_mps: 50.0,
    };
    for n in sizes {
        let cfg = fusion_core::FeedConfig {
            node_id: "node-a".into(),
            sources: vec!["node-b".into()],
            ..Default::default()
        };
        let mut inbox = FeedInbox::new(cfg, &[assumed], frame.clone(), 0)?;
        let mut shown = ShownPicture::default();
        let (mut fuse_s, mut show_s, mut objects) = (0.0, 0.0, 0);
        for r in 0..REPS {
            let t = 10.0 + f64::from(r);
            let local = Arc::new(grid(n, 0, t, "A-R1"));
            let partner = grid(n, n / 2, t, "node-b");
            let feed = v1::TrackFeed {
                source_id: "node-b".into(),
                sequence: u64::from(r) + 1,
                t,
                tracks: partner
                    .tracks
                    .iter()
                    .map(|tr| source_track_to_wire(tr, &frame))
                    .collect(),
                dropped_track_numbers: Vec::new(),
                epoch_unix_ns: 0,
            };
            inbox.apply(0, feed);
            let started = Instant::now();
            let fused = inbox.fuse(&local);
            fuse_s += started.elapsed().as_secs_f64();
            let started = Instant::now();
            let (_, picture) = shown.update(&local, fused.picture, &[], &fused.moved);
            show_s += started.elapsed().as_secs_f64();
            objects = picture.tracks.len();
        }
        let per = |s: f64| s / f64::from(REPS) * 1e3;
        println!(
            "{n} local + {n} partner tracks ({} shared): {objects} objects; fuse {:.2} ms, shown update {:.2} ms",
            n - n / 2,
            per(fuse_s),
            per(show_s)
        );
    }
    Ok(())
}
