//! Fuzzes the pcap reader and the ASTERIX decoder behind it.
#![no_main]

use iapz_adapters::asterix::Decoder;
use iapz_adapters::pcap::PcapReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = PcapReader::new(data) else {
        return;
    };
    for d in reader.flatten() {
        assert!(d.payload_offset + d.payload.len() <= data.len());
        for _ in Decoder::with_base_offset(d.payload, d.payload_offset) {}
    }
});
