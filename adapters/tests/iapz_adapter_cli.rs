//! The `iapz-adapter decode` inspection tool, run as a process on real files: JSON lines on
//! stdout with the field names, bad records on stderr with offsets, decoding goes on.

use iapz_adapters::pcap::PcapWriter;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iapz-adapter"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn iapz-adapter");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(bytes) = stdin {
        input.write_all(bytes).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("wait")
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each stdout line is JSON"))
        .collect()
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("iapz-adapter-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write temp file");
    path
}

fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn decode_prints_cat048_and_cat034_fields() {
    let path = data("radar_dev_cat048.ast");
    let out = run(&["decode", arg(&path)], None);
    assert!(out.status.success());
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1864 + 675);
    let plot = lines
        .iter()
        .find(|l| l["cat"] == 48)
        .expect("a CAT048 line");
    for key in ["sac", "sic", "tod_s", "rho_nm", "theta_deg", "fl", "icao24"] {
        assert!(plot.get(key).is_some(), "{key} missing in {plot}");
    }
    let icao = plot["icao24"].as_str().unwrap();
    assert!(
        icao.len() == 6
            && icao
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert!(
        lines
            .iter()
            .any(|l| l["cat"] == 34 && l["message_type"] == 1)
    );
}

#[test]
fn decode_reads_stdin_and_reports_bad_records_with_offsets() {
    let mut bytes = std::fs::read(data("cat062_tracks.ast")).unwrap();
    // Corrupt the FSPEC of the second datablock's record (spare FRN 2), keep the rest.
    bytes[35 + 3] |= 0x40;
    let out = run(&["decode", "-"], Some(&bytes));
    assert!(out.status.success());
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 315, "all other records decode");
    let first = &lines[0];
    for key in [
        "cat",
        "sac",
        "sic",
        "tod_s",
        "track_number",
        "lat_deg",
        "lon_deg",
        "vx_mps",
        "vy_mps",
    ] {
        assert!(first.get(key).is_some(), "{key} missing in {first}");
    }
    assert_eq!(first["icao24"], "39d300");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("byte 38:"), "{stderr}");
    assert!(stderr.contains("315 records"), "{stderr}");
}

#[test]
fn decode_cat021_has_position_address_and_level() {
    let out = run(&["decode", arg(&data("cat021_adsb.ast"))], None);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 316);
    for key in ["icao24", "lat_deg", "lon_deg", "fl", "tod_s", "sac", "sic"] {
        assert!(lines[0].get(key).is_some(), "{key}");
    }
}

/// A classic pcap capture of these UDP payloads.
fn pcap_of(payloads: &[&[u8]]) -> Vec<u8> {
    let mut w = PcapWriter::new();
    let (src, dst) = (
        "10.0.0.1:8600".parse().unwrap(),
        "239.1.1.1:8600".parse().unwrap(),
    );
    for (i, p) in payloads.iter().enumerate() {
        assert!(w.push_udp((i as u32, 0), src, dst, p));
    }
    w.into_bytes()
}

#[test]
fn decode_pcap_reads_asterix_in_udp() {
    let bytes = std::fs::read(data("cat062_tracks.ast")).unwrap();
    let capture = pcap_of(&[&bytes[..350], &bytes[350..700]]);
    let path = temp_file("two.pcap", &capture);
    let out = run(&["decode", arg(&path), "--format", "pcap"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 20);
    // Offsets point into the pcap file: the first record is after the headers.
    let first = lines[0]["offset"].as_u64().unwrap() as usize;
    assert_eq!(first, 24 + 16 + 14 + 20 + 8 + 3);
    assert_eq!(capture[first - 3], 62);
    std::fs::remove_file(&path).ok();
}

#[test]
fn decode_real_capture_pcap() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/asterix/cat_034_048.pcap");
    if !path.exists() {
        println!("skipped: {} not found", path.display());
        return;
    }
    let out = run(&["decode", arg(&path), "--format", "pcap"], None);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 162);
    assert_eq!(lines.iter().filter(|l| l["cat"] == 34).count(), 34);
}

#[test]
fn decode_beast_recording() {
    let out = run(
        &[
            "decode",
            arg(&data("sample_dump1090_beast.bin")),
            "--format",
            "beast",
        ],
        None,
    );
    assert!(out.status.success());
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 239, "one object per frame");
    let first = &lines[0];
    assert_eq!(first["mlat_ticks"], 363_366_270u64);
    assert_eq!(first["hex"], "20000ca8f70aa7");
    assert!(
        lines
            .iter()
            .any(|l| l["icao24"].is_string() && l["fl"].is_number())
    );
    assert!(
        lines
            .iter()
            .filter(|l| l["lat_deg"].is_number())
            .all(|l| l["lon_deg"].is_number() && l["icao24"].is_string())
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("239 frames"), "{stderr}");
    // Garbage around frames is reported and skipped.
    let mut noisy = vec![0x42, 0x43];
    noisy.extend_from_slice(&std::fs::read(data("sample_dump1090_beast.bin")).expect("bin"));
    let out = run(&["decode", "-", "--format", "beast"], Some(&noisy));
    assert_eq!(json_lines(&out).len(), 239);
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad frame: byte 0"));
}
