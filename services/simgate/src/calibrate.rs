//! `simgate calibrate-faces`: embeds every image of one or more labelled sets with the configured
//! models and prints the calibration report (score distributions, FNMR at FMR 1e-2 / 1e-3 /
//! 1e-4 and a chosen target, the configured threshold checked), as text and optionally JSON.
//!
//! A labelled set is a directory with a `labels.json` object mapping each image file name to a
//! subject id (the format set-up writes for the face fixtures). Samples are named `set/file`;
//! a subject id shared across sets is the same person. Images with no face or several faces are
//! listed as enrolment failures and left out. The maths is in `simgate_biometrics::calibration`.

use std::{collections::BTreeMap, path::PathBuf, process::ExitCode};

use anyhow::{Context as _, bail};
use simgate_api::Settings;
use simgate_biometrics::{
    calibration::{CalibrationReport, LabelledTemplate, STANDARD_TARGET_FMRS},
    decode::{DecodeLimits, decode_image},
    engine::{FaceEngine as _, OrtFaceEngine, extract_single_face},
};

/// Arguments of `calibrate-faces`.
#[derive(Debug, clap::Args)]
pub struct CalibrateArgs {
    /// Directories of labelled face images, each with a `labels.json` (file name -> subject id).
    #[arg(required = true)]
    sets: Vec<PathBuf>,
    /// An extra target FMR to report a threshold for (1e-2, 1e-3 and 1e-4 are always reported).
    #[arg(long)]
    target_fmr: Option<f64>,
    /// Threshold to check; defaults to the configured `faces.match_threshold`.
    #[arg(long)]
    threshold: Option<f32>,
    /// Also write the report as JSON to this file (`-` for standard output, replacing the text).
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Runs the calibration (blocking: model loading and inference).
#[allow(clippy::print_stdout)] // the report is the command's output
pub fn run(settings: &Settings, args: CalibrateArgs) -> anyhow::Result<ExitCode> {
    if let Some(target) = args.target_fmr
        && !(target > 0.0 && target < 1.0)
    {
        bail!("--target-fmr {target} must be a rate in (0, 1)");
    }
    let threshold = args.threshold.unwrap_or(settings.faces.match_threshold);
    let engine =
        OrtFaceEngine::load(&settings.models.engine_config()).context("loading the face models")?;
    let limits = DecodeLimits {
        max_bytes: settings.faces.max_image_bytes,
        max_pixels: settings.faces.max_image_pixels,
        max_dimension: settings.faces.max_image_dimension,
    };

    let mut templates = Vec::new();
    let mut failures = Vec::new();
    for set in &args.sets {
        let set_name = set
            .file_name()
            .map_or_else(|| set.display().to_string(), |n| n.to_string_lossy().into());
        for (file, subject) in read_labels(set)? {
            let sample = format!("{set_name}/{file}");
            let bytes = std::fs::read(set.join(&file))
                .with_context(|| format!("reading {}", set.join(&file).display()))?;
            let enrolled = decode_image(&bytes, &limits)
                .and_then(|image| extract_single_face(&engine, &image));
            match enrolled {
                Ok((_, embedding)) => templates.push(LabelledTemplate {
                    sample,
                    subject,
                    embedding,
                }),
                Err(error) => {
                    eprintln!("{sample}: left out: {error}");
                    failures
                        .push(serde_json::json!({ "sample": sample, "reason": error.to_string() }));
                }
            }
        }
    }
    if templates.len() < 2 {
        bail!("fewer than two images could be enrolled; nothing to compare");
    }

    let mut targets = STANDARD_TARGET_FMRS.to_vec();
    targets.extend(args.target_fmr);
    let report = CalibrationReport::compute(&templates, &targets, Some(threshold));
    let info = engine.model_info();
    let json = serde_json::json!({
        "models": info,
        "sets": args.sets.iter().map(|s| s.display().to_string()).collect::<Vec<_>>(),
        "configured_threshold": settings.faces.match_threshold,
        "configured_threshold_fmr": settings.faces.threshold_fmr,
        "enrolment_failures": failures,
        "report": report,
    });
    match args.json.as_deref() {
        Some(path) if path.as_os_str() == "-" => {
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Some(path) => {
            std::fs::write(path, serde_json::to_string_pretty(&json)? + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
            print_text(&report, &info, failures.len());
            eprintln!("JSON report written to {}", path.display());
        }
        None => print_text(&report, &info, failures.len()),
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::print_stdout)] // the report is the command's output
fn print_text(
    report: &CalibrationReport,
    info: &simgate_biometrics::engine::ModelInfo,
    failures: usize,
) {
    println!(
        "models: {} + {}; {failures} image(s) left out",
        info.detector, info.recogniser
    );
    print!("{report}");
}

/// Reads `labels.json` of one set: file name -> subject id, sorted by file name.
fn read_labels(set: &std::path::Path) -> anyhow::Result<BTreeMap<String, String>> {
    let path = set.join("labels.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let labels: BTreeMap<String, String> = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} must be a JSON object of file name -> subject id",
            path.display()
        )
    })?;
    for file in labels.keys() {
        let plain = std::path::Path::new(file)
            .file_name()
            .is_some_and(|name| name == file.as_str());
        if !plain {
            bail!(
                "{}: {file:?} is not a plain file name inside the set",
                path.display()
            );
        }
    }
    Ok(labels)
}
