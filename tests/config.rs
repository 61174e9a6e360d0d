//! The shipped configurations load, and `iapzd check-config` accepts them or names the error.

use std::process::Command;

fn iapzd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_iapzd"))
}

/// Runs `check-config` on a shipped file and returns its stdout, asserting that it passed.
fn checks_out(file: &str) -> String {
    let out = iapzd()
        .args(["check-config", "--config"])
        .arg(format!("{}/configs/{file}", env!("CARGO_MANIFEST_DIR")))
        .output()
        .expect("run iapzd");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.trim_end().ends_with("ok"));
    stdout
}

#[test]
fn default_config_checks_out() {
    let stdout = checks_out("default.toml");
    assert!(stdout.contains("sensor R1"), "{stdout}");
    assert!(stdout.contains("sensor ADSB"), "{stdout}");
}

#[test]
fn client_config_checks_out() {
    let stdout = checks_out("client.toml");
    assert!(stdout.contains("picture \"east\""), "{stdout}");
}

/// Runs `check-config` on `text` and returns its stderr, asserting that it failed.
fn refused(text: &str, name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("iapzd-config-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join("bad.toml");
    std::fs::write(&path, text).expect("write");
    let out = iapzd()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .expect("run iapzd");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success(), "accepted:\n{text}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const PICTURE: &str = "[picture]\nid = \"x\"\norigin = { lat = 50.0, lon = 24.0, alt_m = 0.0 }\n";

#[test]
fn a_bad_config_is_named_not_panicked() {
    let err = refused(
        &format!("{PICTURE}[tracker]\ngate_probability = 2.0\n"),
        "gate",
    );
    assert!(err.contains("gate_probability"), "{err}");
    let err = refused(
        &format!("{PICTURE}[[sensors]]\nid = \"R\"\nkind = \"radar\"\nlat = 50.0\nlon = 24.0\n"),
        "sigma",
    );
    assert!(err.contains("sigma_range_m"), "{err}");
    let err = refused(
        &format!("{PICTURE}[[sensors]]\nid = \"R\"\nkind = \"radar\"\nlat = 50.0\n"),
        "lon",
    );
    assert!(err.contains("both lat and lon"), "{err}");
    let err = refused(
        &format!("{PICTURE}[[sensors]]\nid = \"R\"\nkind = \"radar\"\nsigma_rnage_m = 5.0\n"),
        "typo",
    );
    assert!(err.contains("sigma_rnage_m"), "typos are named: {err}");
}

#[test]
fn zenoh_settings_and_key_names_are_checked() {
    let err = refused(
        &format!(
            "{PICTURE}[zenoh]\nmode = \"peer\"\nscoutnig = {{ multicast = {{ enabled = false }} }}\n"
        ),
        "zenoh-typo",
    );
    assert!(err.contains("[zenoh]") && err.contains("scoutnig"), "{err}");
    let err = refused(
        &format!("{PICTURE}[zenoh]\nmode = \"boss\"\n"),
        "zenoh-mode",
    );
    assert!(err.contains("[zenoh]"), "{err}");
    let err = refused(
        "[picture]\nid = \"a/b\"\norigin = { lat = 50.0, lon = 24.0, alt_m = 0.0 }\n",
        "picture-id",
    );
    assert!(err.contains("key expression"), "{err}");
    let err = refused(&format!("{PICTURE}[daemon]\nqueue_bound = 0\n"), "bound");
    assert!(err.contains("queue_bound"), "{err}");
    let err = refused(
        &format!("{PICTURE}[daemon]\nqueue_bound_plots = 0\n"),
        "bound-plots",
    );
    assert!(err.contains("queue_bound_plots"), "{err}");
    let err = refused(
        &format!("{PICTURE}[daemon]\nmetrics_addr = \"localhost\"\n"),
        "metrics-addr",
    );
    assert!(err.contains("metrics_addr"), "{err}");
}
