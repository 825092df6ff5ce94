//! `simgate reverify`: wires configuration, the face models, the image sources and (for
//! `verification_id` records and `--from-db`) the database into `simgate_reverify`, and runs the
//! job or merges shard outputs. The work itself is in the `simgate-reverify` crate.
//!
//! `--from-db` first exports the tenant's verifications created in `[--since, --until)` whose
//! selfie was scored (optionally only those scored by `--model`) into `from-db-manifest.jsonl`
//! in the output directory, one `{"id","verification_id"}` record each, then runs that manifest:
//! each stored score is held against the current threshold. The export is kept, so a resumed
//! run continues the same selection; sharded runs need a fixed `--until` so every shard exports
//! the same one.
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
    result::{ModelVersion, StoredScore},
    score::{Scorer, ScoringConfig, StoredVerifications},
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
    /// ONNX Runtime threads per model session (default: the CPUs divided among the workers).
    #[arg(long)]
    intra_threads: Option<usize>,
    /// Tenant whose stored verifications `verification_id` records (and `--from-db`) refer to.
    #[arg(long)]
    tenant: Option<String>,
    /// Re-score the tenant's stored verifications instead of a manifest (see --since, --until,
    /// --model).
    #[arg(long, conflicts_with = "manifest")]
    from_db: bool,
    /// `--from-db`: verifications created at or after this date (`YYYY-MM-DD`, UTC).
    #[arg(long, requires = "from_db")]
    since: Option<String>,
    /// `--from-db`: verifications created before this date (`YYYY-MM-DD`, UTC; default: now).
    #[arg(long, requires = "from_db")]
    until: Option<String>,
    /// `--from-db`: only verifications whose selfie this recogniser scored
    /// (e.g. `sface-2021dec-fp32`).
    #[arg(long, requires = "from_db")]
    model: Option<String>,
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
    let output = args.output.context("--output is required")?;
    if args.from_db && args.tenant.is_none() {
        bail!("--from-db needs --tenant");
    }
    let format = args
        .format
        .as_deref()
        .map(|name| ManifestFormat::parse(name).context("--format must be jsonl or csv"))
        .transpose()?;
    let shard = Shard::new(args.shard_index, args.shard_count)?;
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let threads = args.threads.unwrap_or(cores);
    if threads == 0 {
        bail!("--threads must be at least 1");
    }

    let database = match &args.tenant {
        Some(tenant) => Some(Arc::new(DatabaseVerifications {
            store: crate::cli::connect(&settings).await?,
            tenant: TenantId::parse(tenant).context("--tenant")?,
            runtime: tokio::runtime::Handle::current(),
        })),
        None => None,
    };
    let manifest = match (&database, args.from_db) {
        (Some(database), true) => {
            if shard.count > 1 && args.until.is_none() {
                bail!("sharded --from-db runs need a fixed --until, so every shard selects alike");
            }
            let selection = Selection {
                since: parse_day(args.since.as_deref(), "--since")?
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
                until: parse_day(args.until.as_deref(), "--until")?
                    .unwrap_or_else(time::OffsetDateTime::now_utc),
                model: args.model.clone(),
            };
            let dir = simgate_reverify::pipeline::OutputFiles::for_shard(&output, shard).dir;
            database.export_manifest(&selection, &dir).await?
        }
        _ => args
            .manifest
            .context("--manifest (or --from-db --tenant T) is required")?,
    };
    let templates: Option<Arc<dyn StoredVerifications>> =
        database.map(|database| database as Arc<dyn StoredVerifications>);

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
    // Workers x ONNX Runtime threads = cores: measured 1.8x the throughput of 2 x 2 on 2 cores
    // (BENCHMARKS.md), as oversubscribed threads only wait for each other.
    let intra_threads = args
        .intra_threads
        .unwrap_or_else(|| (cores / threads).max(1));
    let outcome = tokio::task::spawn_blocking(move || {
        let engine = OrtFaceEngine::load(&EngineConfig {
            intra_threads,
            ..settings.models.engine_config()
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

/// Which stored verifications `--from-db` re-scores.
struct Selection {
    since: time::OffsetDateTime,
    until: time::OffsetDateTime,
    model: Option<String>,
}

/// `YYYY-MM-DD` as midnight UTC.
fn parse_day(value: Option<&str>, flag: &str) -> anyhow::Result<Option<time::OffsetDateTime>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let date = time::Date::parse(
        value,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .with_context(|| format!("{flag} must be a date, YYYY-MM-DD"))?;
    Ok(Some(date.midnight().assume_utc()))
}

/// Stored verifications, read through the store (which unseals them).
struct DatabaseVerifications {
    store: SqlStore,
    tenant: TenantId,
    runtime: tokio::runtime::Handle,
}

impl DatabaseVerifications {
    /// The verification `id`, parsed; `None` when unknown (or not an id of ours).
    fn load(
        &self,
        verification_id: &str,
    ) -> Result<Option<simgate_flow::session::Verification>, String> {
        if !simgate_flow::session::could_be_verification_id(verification_id) {
            return Ok(None);
        }
        // Called from a worker thread (not a runtime thread), so blocking on the runtime is safe.
        let row = self
            .runtime
            .block_on(self.store.find_verification(&self.tenant, verification_id))
            .map_err(|error| error.to_string())?;
        row.map(|row| serde_json::from_slice(&row.body).map_err(|error| error.to_string()))
            .transpose()
    }

    /// Writes the selection as a manifest in `dir` (kept across resumes) and returns its path.
    async fn export_manifest(
        &self,
        selection: &Selection,
        dir: &std::path::Path,
    ) -> anyhow::Result<PathBuf> {
        use std::io::Write as _;
        let path = dir.join("from-db-manifest.jsonl");
        if path.exists() {
            eprintln!(
                "using the selection exported earlier: {} (delete the output directory to select anew)",
                path.display()
            );
            return Ok(path);
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let temporary = dir.join("from-db-manifest.jsonl.tmp");
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(&temporary)
                .with_context(|| format!("creating {}", temporary.display()))?,
        );
        let (mut exported, mut seen) = (0u64, 0u64);
        let mut after = None;
        loop {
            let page = self
                .store
                .verifications_created_between(
                    &self.tenant,
                    selection.since,
                    selection.until,
                    after.clone(),
                    500,
                )
                .await
                .context("reading stored verifications")?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some((last.created_at, last.id.clone()));
            for row in &page {
                seen += 1;
                let verification: simgate_flow::session::Verification =
                    serde_json::from_slice(&row.body).with_context(|| {
                        format!("stored verification {} does not parse", row.id)
                    })?;
                if stored_selfie_score(&verification).is_none() {
                    continue;
                }
                if let Some(model) = &selection.model
                    && verification.evidence.face_model.as_ref() != Some(model)
                {
                    continue;
                }
                let record = serde_json::json!({"id": row.id, "verification_id": row.id});
                writeln!(file, "{record}").context("writing the exported manifest")?;
                exported += 1;
            }
        }
        file.into_inner()
            .map_err(|error| error.into_error())
            .and_then(|file| file.sync_all())
            .context("writing the exported manifest")?;
        std::fs::rename(&temporary, &path).context("writing the exported manifest")?;
        eprintln!(
            "selected {exported} scored verifications of {seen} created in the date range into {}",
            path.display()
        );
        Ok(path)
    }
}

/// The face-match score the verification's selfie step stored.
fn stored_selfie_score(verification: &simgate_flow::session::Verification) -> Option<StoredScore> {
    let outcome = verification
        .steps
        .get(&simgate_flow::Step::Selfie)?
        .last_outcome
        .as_ref()?;
    let check = outcome
        .checks
        .iter()
        .find(|check| check.name == "face_match")?;
    Some(StoredScore {
        similarity: check.score? as f32,
        threshold: check.threshold? as f32,
        matched: check.passed,
        model: verification.evidence.face_model.clone(),
    })
}

impl StoredVerifications for DatabaseVerifications {
    fn portrait_template(&self, verification_id: &str) -> Result<Option<Vec<f32>>, String> {
        Ok(self
            .load(verification_id)?
            .and_then(|verification| verification.evidence.portrait_template))
    }

    fn stored_selfie_score(&self, verification_id: &str) -> Result<Option<StoredScore>, String> {
        Ok(self
            .load(verification_id)?
            .as_ref()
            .and_then(stored_selfie_score))
    }
}
