//! Fuzzes the CAT021 record decoder directly.
#![no_main]

mod records;

use iapz_adapters::asterix::cat021;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| records::walk(data, cat021::decode));
