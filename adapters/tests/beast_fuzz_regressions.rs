//! Replays the Beast fuzzing corpus (`tests/data/fuzz/beast/`, the inputs `cargo fuzz run
//! beast` kept, up to 512 bytes) with the fuzz target's checks, so that what fuzzing explored
//! stays covered by `cargo test` on stable: whole-buffer and streamed framing agree, the
//! reader never buffers more than one frame, and nothing panics in Mode S decoding.

use iapz_adapters::beast::{self, BeastReader};
use iapz_adapters::modes::ModeSDecoder;
use std::path::PathBuf;

#[test]
fn beast_fuzz_corpus_replays_cleanly() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz/beast");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    inputs.sort();
    assert!(inputs.len() > 100, "corpus present");
    let mut frames = 0;
    for path in &inputs {
        let data = std::fs::read(path).expect("read corpus file");
        let whole: Vec<_> = beast::frames(&data).filter_map(Result::ok).collect();
        for split in [1, 5, 16] {
            let mut reader = BeastReader::new();
            let mut streamed = Vec::new();
            for piece in data.chunks(split) {
                reader.push(piece);
                while let Some(r) = reader.next() {
                    streamed.extend(r.ok());
                }
                assert!(reader.buffered() <= beast::MAX_FRAME_BYTES);
            }
            assert_eq!(whole, streamed, "{}", path.display());
        }
        let mut decoder = ModeSDecoder::new();
        for f in &whole {
            let _ = decoder.decode(f.message(), f.mlat_s());
        }
        frames += whole.len();
    }
    assert!(frames > 0);
}
