//! simgate side of the side-by-side MRZ benchmark (`bench/compare.sh`, `make bench-compare`).
//!
//! Runs [`check_document`] — what `POST /v1/documents/check` runs: decode, MRZ location and OCR,
//! ICAO 9303 validation, the default [`DocumentPolicy`], capture quality and the portrait search
//! with the YuNet face engine — on every *.jpg and *.png of the document folder (default
//! ../shared/data/mrz-dev, the specimens bench/reference_documents.py gives PassportEye),
//! `--repeats` times each in sorted file order, and writes the JSON shape of
//! reference_documents.py with the name `simgate-documents`:
//! - time per document: median and p99 over all checks (each includes reading the file, as the
//!   PassportEye side's reads do), percentiles by linear interpolation between closest ranks;
//! - read rate: the fraction of documents whose MRZ was read with every check digit valid
//!   (`mrz.checks.check_digits_valid`); `mrz_valid` per document is simgate's stricter
//!   `mrz.valid` (every field valid too);
//! - per document: the median time of its checks, validity, MRZ format, the corrected MRZ lines,
//!   OCR confidence, whether a portrait was found and the check's reason codes.
//!
//! The face engine is loaded once before timing, and one untimed check (`--warmup`) runs first
//! so ONNX Runtime's first-inference allocations are not charged to the first document.
//! Exits 0 without writing anything when the document folder does not exist.
//!
//! ```text
//! cargo run --release -p simgate-documents --example bench_documents -- \
//!     --json bench/results/simgate-documents.json
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

use serde_json::{Value, json};
use simgate_biometrics::{
    engine::{EngineConfig, FaceEngine, OrtFaceEngine},
    testing::workspace_root,
};
use simgate_documents::{DocumentCheck, DocumentInput, DocumentPolicy, check_document};
use time::Date;

const USAGE: &str = "\
usage: bench_documents [--documents DIR] [--repeats N] [--warmup N] [--threads N]
                       [--models DIR] [--ort-dylib FILE] [--today YYYY-MM-DD] [--json FILE]

  --documents DIR   folder with the document images (default ../shared/data/mrz-dev)
  --repeats N       checks of each document (default 1)
  --warmup N        untimed checks of the first document before timing (default 1)
  --threads N       ONNX Runtime intra-op threads per session (default 2, as the API)
  --models DIR      folder with yunet.onnx (default models/dist)
  --ort-dylib FILE  ONNX Runtime library (default models/dist/libonnxruntime.so.1.31.0)
  --today DATE      the date checks are made on (default today, UTC, as the API)
  --json FILE       write the result here instead of stdout";

struct Args {
    documents: PathBuf,
    repeats: usize,
    warmup: usize,
    threads: usize,
    models: PathBuf,
    ort_dylib: PathBuf,
    today: Date,
    json: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let root = workspace_root();
    let mut args = Args {
        documents: root.join("../shared/data/mrz-dev"),
        repeats: 1,
        warmup: 1,
        threads: EngineConfig::default().intra_threads,
        models: root.join("models/dist"),
        ort_dylib: root.join("models/dist/libonnxruntime.so.1.31.0"),
        today: time::OffsetDateTime::now_utc().date(),
        json: None,
    };
    let mut raw = std::env::args().skip(1);
    while let Some(flag) = raw.next() {
        let mut value = || raw.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--documents" => args.documents = PathBuf::from(value()?),
            "--repeats" => args.repeats = number(&flag, &value()?)?,
            "--warmup" => args.warmup = number(&flag, &value()?)?,
            "--threads" => args.threads = number(&flag, &value()?)?,
            "--models" => args.models = PathBuf::from(value()?),
            "--ort-dylib" => args.ort_dylib = PathBuf::from(value()?),
            "--today" => {
                let text = value()?;
                let format = time::macros::format_description!("[year]-[month]-[day]");
                args.today = Date::parse(&text, format)
                    .map_err(|e| format!("--today {text:?}: {e} (want YYYY-MM-DD)"))?;
            }
            "--json" => args.json = Some(PathBuf::from(value()?)),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.repeats == 0 {
        return Err("--repeats must be positive".to_owned());
    }
    Ok(args)
}

fn number(flag: &str, text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| format!("{flag}: {text:?} is not a non-negative integer"))
}

/// The q-th percentile (0..100) by linear interpolation between closest ranks (benchlib).
fn percentile(values: &[f64], q: f64) -> f64 {
    let mut ordered = values.to_vec();
    ordered.sort_by(f64::total_cmp);
    let rank = (ordered.len() - 1) as f64 * q / 100.0;
    let low = rank.floor() as usize;
    let high = (low + 1).min(ordered.len() - 1);
    ordered[low] + (ordered[high] - ordered[low]) * (rank - low as f64)
}

fn round(value: f64, decimals: i32) -> f64 {
    let factor = 10f64.powi(decimals);
    (value * factor).round() / factor
}

/// The three load averages of /proc/loadavg.
fn loadavg() -> Value {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let values: Vec<f64> = text
        .split_whitespace()
        .take(3)
        .filter_map(|v| v.parse().ok())
        .collect();
    json!(values)
}

/// Peak resident set size of this process (VmHWM), in MiB.
fn peak_rss_mib() -> Value {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(Value::Null, |kib| json!(round(kib / 1024.0, 1)))
}

/// Reads and checks one document; (seconds, the check or why it failed).
fn check_file(
    path: &Path,
    policy: &DocumentPolicy,
    faces: &dyn FaceEngine,
    today: Date,
) -> (f64, Result<DocumentCheck, String>) {
    let started = Instant::now();
    let result = std::fs::read(path)
        .map_err(|e| format!("cannot read: {e}"))
        .and_then(|bytes| {
            let input = DocumentInput {
                image: Some(&bytes),
                ..DocumentInput::default()
            };
            check_document(&input, policy, faces, today).map_err(|e| e.to_string())
        });
    (started.elapsed().as_secs_f64(), result)
}

/// The per_document entry of one check, without the time.
fn document_entry(result: &Result<DocumentCheck, String>) -> Value {
    let check = match result {
        Ok(check) => check,
        Err(error) => {
            return json!({"valid": false, "mrz_valid": false, "mrz_type": null, "error": error});
        }
    };
    let reasons = serde_json::to_value(&check.reasons).unwrap_or(Value::Null);
    let mrz_type = check
        .document
        .format
        .and_then(|format| serde_json::to_value(format).ok())
        .and_then(|value| value.as_str().map(str::to_uppercase));
    match &check.mrz {
        None => json!({
            "valid": false,
            "mrz_valid": false,
            "mrz_type": mrz_type,
            "mrz_lines": null,
            "ocr_confidence": null,
            "portrait_found": check.portrait.found,
            "accepted": check.accepted(),
            "reasons": reasons,
        }),
        Some(mrz) => json!({
            "valid": mrz.checks.check_digits_valid,
            "mrz_valid": mrz.valid,
            "mrz_type": mrz_type,
            "mrz_lines": mrz.lines,
            "ocr_confidence": mrz.ocr_confidence.map(|c| round(f64::from(c), 4)),
            "portrait_found": check.portrait.found,
            "accepted": check.accepted(),
            "reasons": reasons,
        }),
    }
}

/// `Ok(None)` when the document folder is absent (the benchmark skips).
fn run(args: &Args) -> Result<Option<Value>, String> {
    if !args.documents.is_dir() {
        return Ok(None);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.documents)
        .map_err(|e| format!("{}: {e}", args.documents.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "png"))
        })
        .collect();
    files.sort_by_key(|path| path.file_name().map(|name| name.to_os_string()));
    let Some(first) = files.first().cloned() else {
        return Err(format!(
            "no .jpg or .png files in {}",
            args.documents.display()
        ));
    };
    let cpu_count = std::thread::available_parallelism().map_or(0, usize::from);
    let loadavg_start = loadavg();
    let config = EngineConfig {
        models_dir: args.models.clone(),
        ort_dylib: args.ort_dylib.clone(),
        intra_threads: args.threads,
        ..EngineConfig::default()
    };
    let loading = Instant::now();
    let faces = OrtFaceEngine::load(&config)
        .map_err(|e| format!("{e} (models and ONNX Runtime come from `make setup`)"))?;
    let load_seconds = loading.elapsed().as_secs_f64();
    let policy = DocumentPolicy::default();

    for _ in 0..args.warmup {
        // A failure shows again (and is reported) when the document is timed below.
        let _warm_up = check_file(&first, &policy, &faces, args.today);
    }
    let mut all_checks = Vec::new();
    let mut per_document = Vec::new();
    let mut valid_count = 0usize;
    for path in &files {
        let checks: Vec<_> = (0..args.repeats)
            .map(|_| check_file(path, &policy, &faces, args.today))
            .collect();
        let seconds: Vec<f64> = checks.iter().map(|(s, _)| *s).collect();
        all_checks.extend_from_slice(&seconds);
        let mut entry = json!({
            "file": path.file_name().map(|n| n.to_string_lossy().into_owned()),
            "ms": round(percentile(&seconds, 50.0) * 1000.0, 3),
        });
        let last = checks.last().map(|(_, result)| document_entry(result));
        if let (Some(object), Some(Value::Object(details))) = (entry.as_object_mut(), last) {
            if details.get("valid") == Some(&Value::Bool(true)) {
                valid_count += 1;
            }
            object.extend(details);
        }
        per_document.push(entry);
    }

    Ok(Some(json!({
        "name": "simgate-documents",
        "documents": files.len(),
        "median_ms": round(percentile(&all_checks, 50.0) * 1000.0, 3),
        "p99_ms": round(percentile(&all_checks, 99.0) * 1000.0, 3),
        "read_rate": round(valid_count as f64 / files.len() as f64, 4),
        "per_document": per_document,
        "peak_rss_mib": peak_rss_mib(),
        "settings": {
            "cpu_count": cpu_count,
            "loadavg_start": loadavg_start,
            "loadavg_end": loadavg(),
            "build": if cfg!(debug_assertions) { "debug" } else { "release" },
            "entry_point": "simgate_documents::check_document (image only, DocumentPolicy::default(), YuNet portrait search)",
            "today": args.today.to_string(),
            "intra_threads": args.threads,
            "model_load_seconds": round(load_seconds, 3),
            "repeats": args.repeats,
            "warmup": args.warmup,
            "documents_folder": std::fs::canonicalize(&args.documents)
                .unwrap_or_else(|_| args.documents.clone())
                .display()
                .to_string(),
            "valid": "every check digit valid (mrz.checks.check_digits_valid)",
            "percentile": "linear interpolation between closest ranks",
        },
    })))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("bench_documents: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match run(&args) {
        Ok(Some(result)) => result,
        Ok(None) => {
            eprintln!(
                "bench_documents: skipped: document folder {} not found (the MRZ specimens live \
                 in ../shared/data/mrz-dev beside the workspace)",
                args.documents.display()
            );
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("bench_documents: {message}");
            return ExitCode::FAILURE;
        }
    };
    let text = match serde_json::to_string_pretty(&result) {
        Ok(text) => text + "\n",
        Err(error) => {
            eprintln!("bench_documents: cannot serialise the result: {error}");
            return ExitCode::FAILURE;
        }
    };
    match &args.json {
        None => print!("{text}"),
        Some(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
                && let Err(error) = std::fs::create_dir_all(parent)
            {
                eprintln!("bench_documents: {}: {error}", parent.display());
                return ExitCode::FAILURE;
            }
            if let Err(error) = std::fs::write(path, text) {
                eprintln!("bench_documents: {}: {error}", path.display());
                return ExitCode::FAILURE;
            }
            eprintln!("wrote {}", path.display());
        }
    }
    ExitCode::SUCCESS
}
