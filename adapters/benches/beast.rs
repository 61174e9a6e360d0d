//! Beast framing and Mode S decoding throughput, frames/s on one core
//! (`cargo bench -p iapz-adapters --bench beast`).
//!
//! Inputs: the real dump1090 recording (239 frames, all downlink formats) and the DF17/18
//! frames of a whole flight (CPR state across frames, airborne and surface). Each case repeats
//! for at least `IAPZ_BENCH_SECONDS` (default 2) seconds.

use iapz_adapters::beast::{self, BeastReader};
use iapz_adapters::modes::ModeSDecoder;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Runs `pass` (which handles `per_pass` frames) until `budget` has elapsed; frames/s.
fn rate(per_pass: usize, budget: Duration, mut pass: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut passes = 0usize;
    while start.elapsed() < budget {
        pass();
        passes += 1;
    }
    (passes * per_pass) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let budget = Duration::from_secs_f64(
        std::env::var("IAPZ_BENCH_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2.0),
    );
    let bin = std::fs::read(data("sample_dump1090_beast.bin")).expect("recording");
    let frames = beast::frames(&bin).filter(|f| f.is_ok()).count();

    let r = rate(frames, budget, || {
        let mut reader = BeastReader::new();
        for piece in black_box(&bin[..]).chunks(1460) {
            reader.push(piece);
            while let Some(f) = reader.next() {
                black_box(&f);
            }
        }
    });
    println!(
        "{:<40} {frames:>6} frames/pass {r:>12.0} frames/s",
        "Beast framing (TCP-sized pieces)"
    );

    let r = rate(frames, budget, || {
        let mut decoder = ModeSDecoder::new();
        for f in beast::frames(black_box(&bin)).flatten() {
            black_box(decoder.decode(f.message(), f.mlat_s()).ok());
        }
    });
    println!(
        "{:<40} {frames:>6} frames/pass {r:>12.0} frames/s",
        "Beast framing + Mode S decode"
    );

    let text = std::fs::read_to_string(data("full_flight_short_adsb.csv")).expect("flight");
    let flight: Vec<(f64, Vec<u8>)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let hex = f[1];
            let bytes = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
                .collect();
            (f[0].parse().expect("t"), bytes)
        })
        .collect();
    let r = rate(flight.len(), budget, || {
        let mut decoder = ModeSDecoder::with_reference(49.0097, 2.5479);
        for (t, m) in &flight {
            black_box(decoder.decode(black_box(m), *t).ok());
        }
    });
    println!(
        "{:<40} {:>6} frames/pass {r:>12.0} frames/s",
        "ADS-B DF17/18 decode with CPR (flight)",
        flight.len()
    );
}
