//! The `iapz-bench` commands of the scenario-format document, run as a user would.

use std::path::Path;
use std::process::Command;

fn bench(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_iapz-bench"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run iapz-bench")
}

#[test]
fn simulate_track_score_through_files() {
    let dir = std::env::temp_dir().join(format!("iapz-bench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/cruise.toml");
    let out = bench(
        &[
            "simulate",
            "--scenario",
            scenario,
            "--seed",
            "2",
            "--out-plots",
            "p.jsonl",
            "--out-truth",
            "t.jsonl",
        ],
        &dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = bench(
        &[
            "track",
            "--plots",
            "p.jsonl",
            "--out",
            "pic.jsonl",
            "--picture-every",
            "1",
            "--threads",
            "2",
        ],
        &dir,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("plots/s"), "{stderr}");
    let out = bench(
        &[
            "score",
            "--truth",
            "t.jsonl",
            "--picture",
            "pic.jsonl",
            "--c",
            "300",
        ],
        &dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for key in [
        "gospa",
        "gospa_localisation",
        "gospa_missed",
        "gospa_false",
        "ospa",
        "track_number_changes",
    ] {
        assert!(report[key].is_number(), "{key} missing in {report}");
    }
    assert!(
        report["plots_per_s"].as_f64().is_some_and(|v| v > 0.0),
        "{report}"
    );
    // Every picture line sits on the 1 s grid.
    let picture = std::fs::read_to_string(dir.join("pic.jsonl")).expect("picture");
    for line in picture.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let t = v["t"].as_f64().expect("t");
        assert_eq!(t, t.round(), "picture time {t} not on the grid");
    }
    // A file that is not a scenario is refused with its name, not a panic.
    let out = bench(&["track", "--plots", "t.jsonl", "--out", "x.jsonl"], &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("t.jsonl") && stderr.contains("iapz.scenario.v1"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
