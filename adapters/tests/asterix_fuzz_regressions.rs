//! Replays the fuzzing corpus (`tests/data/fuzz/`, minimised with `cargo fuzz cmin`) through
//! every decoder with the fuzz targets' checks, so that what fuzzing explored stays covered
//! by `cargo test` on stable. Inputs that ever crash a fuzz target are added here too.

use iapz_adapters::asterix::{Decoder, Record, RecordWriter, cat021, cat034, cat048, cat062};

/// The per-category fuzz targets' loop, shared with them.
#[path = "../../fuzz/fuzz_targets/records.rs"]
mod records;
use records::walk;
use std::path::PathBuf;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz/datablocks");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.expect("dir entry").path();
            let bytes = std::fs::read(&path).expect("read corpus file");
            (path.display().to_string(), bytes)
        })
        .collect();
    inputs.sort();
    inputs
}

#[test]
fn fuzz_corpus_replays_cleanly() {
    let inputs = corpus();
    assert!(inputs.len() > 100, "corpus present");
    let mut records = 0;
    for (name, data) in &inputs {
        for r in Decoder::new(data) {
            match r {
                Ok(d) => {
                    records += 1;
                    let mut out = Vec::new();
                    let encoded = match &d.record {
                        Record::Cat048(x) => x.encode(RecordWriter::new(&mut out)),
                        Record::Cat062(x) => x.encode(RecordWriter::new(&mut out)),
                        _ => Ok(()),
                    };
                    assert!(encoded.is_ok(), "{name}: {encoded:?}");
                }
                Err(e) => assert!(e.offset().is_some_and(|o| o <= data.len()), "{name}: {e}"),
            }
        }
        walk(data, cat048::decode);
        walk(data, cat034::decode);
        walk(data, cat021::decode);
        walk(data, cat062::decode);
    }
    assert!(records > 0);
}
