//! `simgate calibrate-faces` run as a user would: on the labelled fixture sets with the real
//! models, it reports both score distributions, says which FMRs the set is too small to measure,
//! and checks the configured threshold; bad label files are refused with a clear error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::Value;
use simgate_biometrics::{calibration, testing};

const BIN: &str = env!("CARGO_BIN_EXE_simgate");

fn calibrate(args: &[&str]) -> std::process::Output {
    let models = testing::engine_config();
    Command::new(BIN)
        .arg("calibrate-faces")
        .args(args)
        .env("SIMGATE__MODELS__DIR", &models.models_dir)
        .env("SIMGATE__MODELS__ORT_DYLIB", &models.ort_dylib)
        .output()
        .expect("run simgate")
}

#[test]
fn reports_distributions_unmeasurable_fmrs_and_the_configured_threshold() {
    let sets: Vec<String> = testing::calibration_sets()
        .iter()
        .map(|set| set.display().to_string())
        .collect();
    let mut args: Vec<&str> = sets.iter().map(String::as_str).collect();
    args.extend(["--target-fmr", "0.1", "--json", "-"]);
    let output = calibrate(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    let report = &json["report"];
    assert_eq!(report["templates"], 10);
    assert_eq!(report["genuine"]["count"], 8);
    assert_eq!(report["impostor"]["count"], 37);
    assert_eq!(report["pairs"].as_array().unwrap().len(), 45);
    assert_eq!(json["enrolment_failures"].as_array().unwrap().len(), 0);

    let points = report["operating_points"].as_array().unwrap();
    for point in &points[..3] {
        assert_eq!(point["measurable"], false, "{point}");
        assert!(point["threshold"].is_null());
    }
    // 37 impostor pairs are enough for FMR 0.1 (needs 30): a real threshold comes back.
    let coarse = &points[3];
    assert_eq!(coarse["measurable"], true);
    assert!(coarse["observed_fmr"].as_f64().unwrap() <= 0.1);

    let check = &report["threshold_check"];
    assert_eq!(
        check["threshold"].as_f64().unwrap() as f32,
        calibration::SHIPPED_MATCH_THRESHOLD
    );
    assert_eq!(check["false_matches"], 0);
    assert_eq!(
        check["fmr_upper_bound_95"].as_f64().unwrap(),
        calibration::SHIPPED_THRESHOLD_FMR
    );
    assert_eq!(
        json["configured_threshold_fmr"].as_f64().unwrap(),
        calibration::SHIPPED_THRESHOLD_FMR
    );
}

#[test]
fn text_report_says_when_an_fmr_cannot_be_measured() {
    let set = testing::calibration_sets()[0].display().to_string();
    let output = calibrate(&[set.as_str()]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("FMR 1e-4: not measurable: needs >= 30000 impostor pairs, the set has 13"),
        "{text}"
    );
    assert!(text.contains("genuine pairs: 2"), "{text}");
}

#[test]
fn a_label_naming_a_path_outside_the_set_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("labels.json"),
        r#"{"../../etc/passwd": "someone"}"#,
    )
    .unwrap();
    let output = calibrate(&[dir.path().to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a plain file name"), "{stderr}");
}
