//! Conformance of the ASTERIX decoders against independent encoders: libasterix-encoded
//! CAT062 and CAT021 with their expected values, a libasterix-encoded simulated radar
//! (CAT034 + CAT048) with its truth CSV, and real recorded radar captures (GPL, read from
//! `../shared/data/asterix/` when present, never copied).

use iapz_adapters::asterix::{Decoded, Decoder, Record, cat034::MessageType};
use iapz_adapters::pcap::PcapReader;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

fn data(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn decode_all(bytes: &[u8]) -> Vec<Decoded> {
    Decoder::new(bytes)
        .map(|r| r.unwrap_or_else(|e| panic!("decode error: {e}")))
        .collect()
}

fn expected(name: &str) -> Vec<Value> {
    String::from_utf8(data(name))
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("expected line is JSON"))
        .collect()
}

/// Asserts `got` is within one least significant bit (`lsb`) of the expected field.
fn close(e: &Value, key: &str, got: Option<f64>, lsb: f64, at: u64) {
    let want = e[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing at {at}"));
    let got = got.unwrap_or_else(|| panic!("{key} not decoded at {at}"));
    assert!(
        (got - want).abs() <= lsb,
        "{key} at {at}: got {got}, want {want} (lsb {lsb})"
    );
}

fn icao(e: &Value) -> Option<u32> {
    e["icao24"]
        .as_str()
        .map(|s| u32::from_str_radix(s, 16).expect("hex"))
}

/// Decodes exactly one record from the datablock an expected line points at.
fn one_record(file: &[u8], e: &Value) -> (u64, Record) {
    let off = e["offset"].as_u64().expect("offset");
    let len = e["len"].as_u64().expect("len");
    let block = &file[off as usize..(off + len) as usize];
    let records = decode_all(block);
    assert_eq!(records.len(), 1, "datablock at {off}");
    (off, records[0].record.clone())
}

#[test]
fn cat062_matches_libasterix_expected_values() {
    let file = data("cat062_tracks.ast");
    let lines = expected("cat062_tracks.expected.jsonl");
    assert_eq!(lines.len(), 316);
    assert_eq!(decode_all(&file).len(), lines.len(), "whole file");
    for e in &lines {
        let (at, Record::Cat062(r)) = one_record(&file, e) else {
            panic!("not CAT062")
        };
        let src = r.source.expect("I062/010");
        assert_eq!(u64::from(src.sac), e["sac"].as_u64().unwrap());
        assert_eq!(u64::from(src.sic), e["sic"].as_u64().unwrap());
        assert_eq!(r.track_number.map(u64::from), e["track_number"].as_u64());
        close(e, "tod_s", r.tod_s, 1.0 / 128.0, at);
        let latlon = 180.0 / 33_554_432.0;
        close(e, "lat_deg", r.lat_lon_deg.map(|p| p.0), latlon, at);
        close(e, "lon_deg", r.lat_lon_deg.map(|p| p.1), latlon, at);
        close(e, "vx_mps", r.velocity_mps.map(|v| v.0), 0.25, at);
        close(e, "vy_mps", r.velocity_mps.map(|v| v.1), 0.25, at);
        close(e, "fl", r.fl, 0.25, at);
        assert_eq!(
            r.mode3a.map(|m| m.to_string()).as_deref(),
            e["mode3a"].as_str()
        );
        assert_eq!(r.icao24, icao(e), "icao24 at {at}");
    }
}

#[test]
fn cat021_matches_libasterix_expected_values() {
    let file = data("cat021_adsb.ast");
    let lines = expected("cat021_adsb.expected.jsonl");
    assert_eq!(lines.len(), 316);
    assert_eq!(decode_all(&file).len(), lines.len(), "whole file");
    for e in &lines {
        let (at, Record::Cat021(r)) = one_record(&file, e) else {
            panic!("not CAT021")
        };
        let src = r.source.expect("I021/010");
        assert_eq!(u64::from(src.sac), e["sac"].as_u64().unwrap());
        assert_eq!(u64::from(src.sic), e["sic"].as_u64().unwrap());
        assert_eq!(r.icao24, icao(e), "icao24 at {at}");
        close(e, "tod_s", r.tod_s(), 1.0 / 128.0, at);
        let latlon = 180.0 / 1_073_741_824.0;
        close(e, "lat_deg", r.lat_lon_deg.map(|p| p.0), latlon, at);
        close(e, "lon_deg", r.lat_lon_deg.map(|p| p.1), latlon, at);
        close(e, "fl", r.fl, 0.25, at);
        close(
            e,
            "gs_kt",
            r.ground_vector.map(|v| v.0),
            3600.0 / 16384.0,
            at,
        );
        close(
            e,
            "track_deg",
            r.ground_vector.map(|v| v.1),
            360.0 / 65536.0,
            at,
        );
        let callsign = r.callsign.map(|c| c.to_string());
        assert_eq!(
            callsign.as_deref(),
            e["callsign"].as_str(),
            "callsign at {at}"
        );
    }
}

/// One CAT048 row of the simulated radar's truth file.
struct TruthRow {
    tod_s: f64,
    icao24: Option<u32>,
    rho_nm: f64,
    theta_deg: f64,
}

/// Time of day in 1/128 s and the aircraft address (none for false alarms).
type TruthKey = (i64, Option<u32>);

fn truth_rows() -> Vec<TruthRow> {
    let text = String::from_utf8(data("radar_dev_cat048_truth.csv")).expect("utf-8");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (tod, icao, rho, theta, detected) = (
        col("tod_s"),
        col("icao24"),
        col("meas_rho_nm"),
        col("meas_theta_deg"),
        col("detected"),
    );
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[detected] == "1")
        .map(|f| TruthRow {
            tod_s: f[tod].parse().expect("tod"),
            icao24: (!f[icao].is_empty()).then(|| u32::from_str_radix(f[icao], 16).expect("hex")),
            rho_nm: f[rho].parse().expect("rho"),
            theta_deg: f[theta].parse().expect("theta"),
        })
        .collect()
}

#[test]
fn simulated_radar_cat048_matches_truth_csv() {
    let records = decode_all(&data("radar_dev_cat048.ast"));
    let truth = truth_rows();
    // Truth rows by (time in 1/128 s, address); false alarms have no address.
    let mut by_key: HashMap<TruthKey, Vec<(usize, &TruthRow)>> = HashMap::new();
    for (i, t) in truth.iter().enumerate() {
        let key = ((t.tod_s * 128.0).round() as i64, t.icao24);
        by_key.entry(key).or_default().push((i, t));
    }
    let mut matched = vec![false; truth.len()];
    let mut plots = 0;
    for d in &records {
        let Record::Cat048(r) = &d.record else {
            continue;
        };
        plots += 1;
        let src = r.source.expect("I048/010");
        assert_eq!((src.sac, src.sic), (25, 7));
        let tod = r.tod_s.expect("I048/140");
        let p = r.polar.expect("I048/040");
        let key = ((tod * 128.0).round() as i64, r.icao24);
        let candidates = by_key
            .get(&key)
            .unwrap_or_else(|| panic!("record at {} has no truth row for {key:?}", d.offset));
        let hit = candidates.iter().find(|(i, t)| {
            !matched[*i]
                && (t.rho_nm - p.rho_nm).abs() <= 1.0 / 256.0
                && (t.theta_deg - p.theta_deg).abs() <= 360.0 / 65536.0
        });
        let &(i, _) = hit.unwrap_or_else(|| {
            panic!(
                "record at {}: rho {} theta {} not in truth",
                d.offset, p.rho_nm, p.theta_deg
            )
        });
        matched[i] = true;
    }
    assert_eq!(
        plots,
        truth.len(),
        "one CAT048 record per detected truth row"
    );
    assert!(matched.iter().all(|&m| m));
}

#[test]
fn simulated_radar_cat034_gives_a_4_second_scan() {
    let records = decode_all(&data("radar_dev_cat048.ast"));
    let mut north = Vec::new();
    let mut sectors = 0;
    for d in &records {
        let Record::Cat034(r) = &d.record else {
            continue;
        };
        match r.message_type.expect("I034/000") {
            MessageType::NorthMarker => north.push(r.tod_s.expect("I034/030")),
            MessageType::SectorCrossing => {
                let s = r.sector_deg.expect("I034/020");
                assert!((0.0..360.0).contains(&s));
                sectors += 1;
            }
            other => panic!("unexpected message type {other:?}"),
        }
    }
    assert!(north.len() >= 70, "{} north markers", north.len());
    for w in north.windows(2) {
        let period = w[1] - w[0];
        assert!((period - 4.0).abs() <= 2.0 / 128.0, "scan period {period}");
    }
    assert!(sectors >= 7 * north.len() - 7, "{sectors} sector crossings");
}

/// The real captures are GPL: read in place when the shared folder is there.
fn shared(name: &str) -> Option<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/asterix")
        .join(name);
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(_) => {
            println!("skipped: {} not found", path.display());
            None
        }
    }
}

#[test]
fn real_capture_pcap_decodes_every_record() {
    let Some(pcap) = shared("cat_034_048.pcap") else {
        return;
    };
    let reader = PcapReader::new(&pcap).expect("classic pcap");
    let (mut c34, mut c48) = (0, 0);
    let mut radars = BTreeSet::new();
    for datagram in reader {
        let d = datagram.expect("every packet is IPv4/UDP");
        for r in Decoder::with_base_offset(d.payload, d.payload_offset) {
            let r = r.expect("every record decodes");
            match r.record {
                Record::Cat034(x) => {
                    c34 += 1;
                    radars.insert(x.source.map(|s| (s.sac, s.sic)));
                    assert!(x.tod_s.is_some_and(|t| (0.0..86400.0).contains(&t)));
                }
                Record::Cat048(x) => {
                    c48 += 1;
                    radars.insert(x.source.map(|s| (s.sac, s.sic)));
                    // TYP 0 ("no detection": a coasted track report) carries no plot position.
                    if x.descriptor.expect("I048/020").typ != 0 {
                        let p = x.polar.expect("I048/040");
                        assert!(p.rho_nm < 256.0 && (0.0..360.0).contains(&p.theta_deg));
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!((c34, c48), (34, 128));
    assert_eq!(radars.len(), 7, "{radars:?}");
    assert!(radars.iter().all(Option::is_some));
}

#[test]
fn real_capture_raw_records_decode() {
    let (Some(c48), Some(c34)) = (shared("cat048.raw"), shared("cat034.raw")) else {
        return;
    };
    let r48 = decode_all(&c48);
    assert_eq!(r48.len(), 1);
    let Record::Cat048(r) = &r48[0].record else {
        panic!("not CAT048")
    };
    assert_eq!(r.icao24, Some(0x3c660c));
    assert_eq!(r.callsign.map(|c| c.to_string()).as_deref(), Some("DLH65A"));
    assert_eq!(r.flight_level.map(|f| f.fl), Some(330.0));
    assert_eq!(r.mode3a.map(|m| m.to_string()).as_deref(), Some("1000"));
    let r34 = decode_all(&c34);
    let Record::Cat034(r) = &r34[0].record else {
        panic!("not CAT034")
    };
    assert_eq!(r.message_type, Some(MessageType::SectorCrossing));
    assert_eq!(r.sector_deg, Some(90.0));
}
