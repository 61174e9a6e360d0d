//! Fuzzes the Beast framing (whole-buffer and streamed in pieces must agree) and the Mode S
//! decoder behind it, including CPR: the input's bytes also become DF17 messages with a
//! valid CRC, so that the position decoding (not only the CRC check) is explored.
#![no_main]

use iapz_adapters::beast::{self, BeastReader};
use iapz_adapters::modes::ModeSDecoder;
use libfuzzer_sys::fuzz_target;

/// The Mode S CRC-24 (generator 0xFFF409) of `bytes`.
fn crc24(bytes: &[u8]) -> u32 {
    let mut crc: u32 = 0;
    for &b in bytes {
        crc ^= u32::from(b) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x100_0000 != 0 {
                crc ^= 0x1FF_F409;
            }
        }
    }
    crc & 0xFF_FFFF
}

fuzz_target!(|data: &[u8]| {
    let whole: Vec<_> = beast::frames(data).collect();
    let split = data.first().map_or(1, |&b| usize::from(b % 16) + 1);
    let mut reader = BeastReader::new();
    let mut streamed = Vec::new();
    for piece in data.chunks(split) {
        reader.push(piece);
        while let Some(r) = reader.next() {
            streamed.push(r);
        }
    }
    let whole_frames: Vec<_> = whole.iter().filter_map(|r| r.as_ref().ok()).collect();
    let streamed_frames: Vec<_> = streamed.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(whole_frames, streamed_frames);
    assert!(reader.buffered() <= beast::MAX_FRAME_BYTES);

    let mut decoder = ModeSDecoder::new();
    for f in &whole_frames {
        let _ = decoder.decode(f.message(), f.mlat_s());
    }
    // DF17 squitters with the fuzzer's ME field and a valid CRC.
    for (i, chunk) in data.chunks_exact(8).enumerate() {
        let mut m = [0u8; 14];
        m[0] = 0x8d;
        // Four addresses, so that even/odd pairs of one aircraft meet.
        m[3] = chunk[0] & 3;
        m[4..11].copy_from_slice(&chunk[1..8]);
        let crc = crc24(&m[..11]);
        m[11..14].copy_from_slice(&crc.to_be_bytes()[1..]);
        let _ = decoder.decode(&m, i as f64 * 0.5);
    }
});
