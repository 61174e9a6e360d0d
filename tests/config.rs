//! The shipped configurations load, and `iapzd check-config` accepts them or names the error.

use std::process::Command;

fn iapzd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_iapzd"))
}

#[test]
fn default_config_checks_out() {
    let out = iapzd()
        .args(["check-config", "--config"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/configs/default.toml"))
        .output()
        .expect("run iapzd");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("sensor R1"), "{stdout}");
    assert!(stdout.contains("sensor ADSB"), "{stdout}");
    assert!(stdout.trim_end().ends_with("ok"));
}

#[test]
fn a_bad_config_is_named_not_panicked() {
    let dir = std::env::temp_dir().join(format!("iapzd-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join("bad.toml");
    std::fs::write(
        &path,
        "[picture]\nid = \"x\"\norigin = { lat = 50.0, lon = 24.0, alt_m = 0.0 }\n[tracker]\ngate_probability = 2.0\n",
    )
    .expect("write");
    let out = iapzd()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .expect("run iapzd");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("gate_probability"), "{stderr}");
    std::fs::write(
        &path,
        "[picture]\nid = \"x\"\norigin = { lat = 50.0, lon = 24.0, alt_m = 0.0 }\n[[sensors]]\nid = \"R\"\nkind = \"radar\"\nlat = 50.0\nlon = 24.0\n",
    )
    .expect("write");
    let out = iapzd()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .expect("run iapzd");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("sigma_range_m"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
