//! ASTERIX decode throughput per category (records/s on one core) and CAT062 encode
//! throughput (`cargo bench -p iapz-bench --bench asterix`).
//!
//! Inputs are the project's test vectors: the simulated radar's CAT048 and CAT034 datablocks
//! (several records per block, as radars send them), and the libasterix CAT021 and CAT062
//! files (one record per block, the worst case for framing overhead). Each case repeats for
//! at least `IAPZ_BENCH_SECONDS` (default 2) seconds.

use iapz_adapters::asterix::cat062::Cat062Record;
use iapz_adapters::asterix::{Decoder, Record};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn read(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../adapters/tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The datablocks of category `cat` in `data`, concatenated.
fn blocks_of(data: &[u8], cat: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 3 <= data.len() {
        let len = usize::from(u16::from_be_bytes([data[pos + 1], data[pos + 2]]));
        if len < 3 || pos + len > data.len() {
            break;
        }
        if data[pos] == cat {
            out.extend_from_slice(&data[pos..pos + len]);
        }
        pos += len;
    }
    out
}

/// Runs `pass` (which handles `per_pass` records) until `budget` has elapsed; records/s.
fn rate(per_pass: usize, budget: Duration, mut pass: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut passes = 0usize;
    while start.elapsed() < budget {
        pass();
        passes += 1;
    }
    (passes * per_pass) as f64 / start.elapsed().as_secs_f64()
}

fn decode_case(name: &str, data: &[u8], budget: Duration) {
    let records = Decoder::new(data).filter(|r| r.is_ok()).count();
    let r = rate(records, budget, || {
        for d in Decoder::new(black_box(data)).flatten() {
            black_box(&d);
        }
    });
    println!(
        "{name:<28} {records:>6} records/pass {:>8} bytes/pass {:>12.0} records/s",
        data.len(),
        r
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let seconds: f64 = std::env::var("IAPZ_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let budget = Duration::from_secs_f64(seconds);
    let radar = read("radar_dev_cat048.ast");
    let cat062 = read("cat062_tracks.ast");
    decode_case("decode CAT048 (radar)", &blocks_of(&radar, 48), budget);
    decode_case("decode CAT034 (radar)", &blocks_of(&radar, 34), budget);
    decode_case("decode CAT021 (1/block)", &read("cat021_adsb.ast"), budget);
    decode_case("decode CAT062 (1/block)", &cat062, budget);
    decode_case("decode mixed radar file", &radar, budget);

    let tracks: Vec<Cat062Record> = Decoder::new(&cat062)
        .filter_map(|r| match r {
            Ok(d) => match d.record {
                Record::Cat062(t) => Some(t),
                _ => None,
            },
            Err(_) => None,
        })
        .collect();
    // Our picture goes out in datablocks of up to 32 tracks.
    let mut out = Vec::with_capacity(64 * 1024);
    let r = rate(tracks.len(), budget, || {
        out.clear();
        for chunk in tracks.chunks(32) {
            if let Err(e) = Cat062Record::encode_datablock(black_box(chunk), &mut out) {
                eprintln!("encode: {e}");
                return;
            }
        }
        black_box(out.len());
    });
    let mut packed = Vec::new();
    for chunk in tracks.chunks(32) {
        if Cat062Record::encode_datablock(chunk, &mut packed).is_err() {
            return;
        }
    }
    println!(
        "{:<28} {:>6} records/pass {:>21.0} records/s",
        "encode CAT062 (32/block)",
        tracks.len(),
        r
    );
    decode_case("decode CAT062 (32/block)", &packed, budget);
}
