//! `simgate reverify`: wires configuration, the face models, the image sources and (for
//! `verification_id` records) the database into `simgate_reverify`, and runs the job or merges
//! shard outputs. The work itself is in the `simgate-reverify` crate.
//!
//! Exit codes: 0 when every record of the shard has a result; 75 (EX_TEMPFAIL) when SIGTERM or
//! Ctrl-C stopped the run early (re-run the same command to resume); 1 on errors.

use std::{
    path::PathBuf,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::{Context as _, bail};
use simgate_api::Settings;
use simgate_biometrics::{
    decode::DecodeLimits,
    engine::{EngineConfig, FaceEngine as _, OrtFaceEngine},
};
use simgate_core::TenantId;
use simgate_reverify::{
    manifest::ManifestFormat,
    merge::{find_shard_dirs, merge_shards},
    pipeline::{RunConfig, run_manifest},
    progress::ProgressMode,
    result::ModelVersion,
    score::{Scorer, ScoringConfig, StoredTemplates},
    shard::Shard,
    source::SchemeRouter,
    summary::Summary,
};
use simgate_store::{SessionStore as _, SqlStore};

/// Exit code of a run stopped by a signal before it finished (BSD `EX_TEMPFAIL`).
const EXIT_INTERRUPTED: u8 = 75;

/// Arguments of `simgate reverify`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReverifyArgs {
    #[command(subcommand)]
    command: Option<ReverifyCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, clap::Subcommand)]
enum ReverifyCommand {
    /// Combine the outputs of every shard of a run into one results file, summary and report.
    Merge {
        /// Shard output directories, or directories holding `shard-*` outputs.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Where the merged output goes.
        #[arg(long)]
        output: PathBuf,
    },
}

/// Arguments of a run.
#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The manifest: JSONL or CSV records `{id, document_image | portrait_image |
    /// verification_id, selfie_image | selfie_images, msisdn?, label?}`.
    #[arg(long, env = "SIMGATE_REVERIFY_MANIFEST")]
    manifest: Option<PathBuf>,
    /// `jsonl` or `csv`, when the manifest's extension does not say.
    #[arg(long)]
    format: Option<String>,
    /// Output directory: results.jsonl, run.json, summary.json, report.html (in
    /// `shard-IIII-of-NNNN/` when there are several shards). Re-running resumes.
    #[arg(long, env = "SIMGATE_REVERIFY_OUTPUT")]
    output: Option<PathBuf>,
    /// This process's shard, 0-based (Kubernetes Indexed Jobs set JOB_COMPLETION_INDEX).
    #[arg(long, env = "JOB_COMPLETION_INDEX", default_value_t = 0)]
    shard_index: u32,
    /// How many shards the run is split into.
    #[arg(long, default_value_t = 1)]
    shard_count: u32,
    /// Worker threads (default: the CPUs available).
    #[arg(long)]
    threads: Option<usize>,
    /// ONNX Runtime threads per model session (default: `models.intra_threads`).
    #[arg(long)]
    intra_threads: Option<usize>,
    /// Tenant whose stored verifications `verification_id` records refer to.
    #[arg(long)]
    tenant: Option<String>,
    /// Seconds between progress log lines when standard error is not a terminal.
    #[arg(long, default_value_t = 10)]
    progress_interval_secs: u64,
}

/// Runs `simgate reverify`.
pub async fn run(settings: Settings, args: ReverifyArgs) -> anyhow::Result<ExitCode> {
    if let Some(ReverifyCommand::Merge { inputs, output }) = args.command {
        return merge(inputs, output);
    }
    let args = args.run;
    let manifest = args.manifest.context("--manifest is required")?;
    let output = args.output.context("--output is required")?;
    let format = args
        .format
        .as_deref()
        .map(|name| ManifestFormat::parse(name).context("--format must be jsonl or csv"))
        .transpose()?;
    let shard = Shard::new(args.shard_index, args.shard_count)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    if threads == 0 {
        bail!("--threads must be at least 1");
    }

    let templates: Option<Arc<dyn StoredTemplates>> = match args.tenant {
        Some(tenant) => Some(Arc::new(DatabaseTemplates {
            store: crate::cli::connect(&settings).await?,
            tenant: TenantId::parse(&tenant).context("--tenant")?,
            runtime: tokio::runtime::Handle::current(),
        })),
        None => None,
    };

    let stop = Arc::new(AtomicBool::new(false));
    let signal_stop = stop.clone();
    tokio::spawn(async move {
        crate::cli::shutdown_signal().await;
        tracing::warn!("stop requested: finishing the records in flight, then exiting");
        signal_stop.store(true, Ordering::SeqCst);
    });

    let config = RunConfig {
        manifest,
        format,
        output,
        shard,
        threads,
        progress: ProgressMode::for_stderr(Duration::from_secs(args.progress_interval_secs.max(1))),
    };
    let intra_threads = args.intra_threads.unwrap_or(settings.models.intra_threads);
    let outcome = tokio::task::spawn_blocking(move || {
        let engine = OrtFaceEngine::load(&EngineConfig {
            models_dir: settings.models.dir.clone(),
            ort_dylib: settings.models.ort_dylib.clone(),
            intra_threads,
            inter_threads: settings.models.inter_threads,
            detection_score_threshold: settings.models.detection_score_threshold,
        })
        .context("loading the face models")?;
        let info = engine.model_info();
        let faces = &settings.faces;
        let scoring = ScoringConfig {
            match_threshold: faces.match_threshold,
            threshold_fmr: faces.threshold_fmr,
            checks: faces.quality.face_check_config(),
            document_replay: faces.document_replay,
            limits: DecodeLimits {
                max_bytes: faces.max_image_bytes,
                max_pixels: faces.max_image_pixels,
                max_dimension: faces.max_image_dimension,
            },
        };
        let model = ModelVersion {
            detector: info.detector,
            recogniser: info.recogniser,
        };
        let images = SchemeRouter::local_only();
        let scorer = Scorer {
            engine: &engine,
            images: &images,
            templates: templates.as_deref(),
            config: &scoring,
            model: &model,
            shard_index: shard.index,
            run: 1,
        };
        run_manifest(&scorer, &config, &stop).map_err(anyhow::Error::from)
    })
    .await??;

    print_summary(&outcome.summary, &outcome.output.dir);
    if outcome.interrupted {
        eprintln!(
            "stopped after {} of {} records; run the same command again to resume",
            outcome.done, outcome.expected
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    Ok(ExitCode::SUCCESS)
}

fn merge(inputs: Vec<PathBuf>, output: PathBuf) -> anyhow::Result<ExitCode> {
    let dirs = find_shard_dirs(&inputs)?;
    let outcome = merge_shards(&dirs, &output)?;
    eprintln!("merged {} shards", outcome.shards);
    print_summary(&outcome.summary, &outcome.output.dir);
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::print_stdout)] // the summary is the command's output
fn print_summary(summary: &Summary, dir: &std::path::Path) {
    let decisions: Vec<String> = summary
        .decisions
        .iter()
        .map(|(decision, count)| format!("{decision} {count}"))
        .collect();
    println!(
        "{} of {} records; {}; {}; output in {}",
        summary.records,
        summary.expected_records,
        decisions.join(", "),
        summary
            .throughput
            .records_per_second_per_process
            .map_or("throughput not measured".to_owned(), |rate| format!(
                "{rate:.2} records/s per process"
            )),
        dir.display()
    );
}

/// Portrait templates of stored verifications, read through the store (which unseals them).
struct DatabaseTemplates {
    store: SqlStore,
    tenant: TenantId,
    runtime: tokio::runtime::Handle,
}

impl StoredTemplates for DatabaseTemplates {
    fn portrait_template(&self, verification_id: &str) -> Result<Option<Vec<f32>>, String> {
        if verification_id.len() > 64
            || !verification_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Ok(None);
        }
        // Called from a worker thread (not a runtime thread), so blocking on the runtime is safe.
        let row = self
            .runtime
            .block_on(self.store.find_verification(&self.tenant, verification_id))
            .map_err(|error| error.to_string())?;
        let Some(row) = row else {
            return Ok(None);
        };
        let verification: simgate_flow::session::Verification =
            serde_json::from_slice(&row.body).map_err(|error| error.to_string())?;
        Ok(verification.evidence.portrait_template)
    }
}
