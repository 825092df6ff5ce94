//! One run of the job over a manifest (or one shard of it).
//!
//! Threads:
//! - a reader streams the manifest, keeps the records this shard owns and has not finished yet,
//!   and hands them out in order, never more than a fixed window ahead of the writer;
//! - `threads` workers score records with the shared model sessions (detection and embedding
//!   have separate sessions, so one worker detects while another embeds);
//! - the calling thread writes results in manifest order, one line per `write` call.
//!
//! The results file is the checkpoint. Lines are appended in `seq` order, so on start the run
//! reads the file, cuts off a line a `kill -9` left half-written, and continues after the last
//! complete line's `seq`: no record is lost and none is written twice. `run.json` pins the run
//! to its manifest (SHA-256), shard, threshold and models, so a re-run with different inputs
//! refuses to mix its results into the old file.
//!
//! Stopping: when `stop` is set (SIGTERM, Ctrl-C), the reader stops handing out records, the
//! records already handed out are finished and written, and the run returns `interrupted`.
//!
//! Output directory (`shard-IIII-of-NNNN/` under `--output` when there are several shards):
//! `results.jsonl`, `run.json`, `summary.json`, `report.html`.

use std::{
    collections::BTreeMap,
    fs::{File, OpenOptions},
    io::{BufRead as _, BufReader, Seek as _, SeekFrom, Write as _},
    panic::AssertUnwindSafe,
    path::{Path, PathBuf},
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
        mpsc::{Receiver, sync_channel},
    },
};

use serde::{Deserialize, Serialize};

use crate::{
    ReverifyError,
    manifest::{ManifestEntry, ManifestFormat, ManifestReader, manifest_sha256},
    progress::{Progress, ProgressMode},
    report::render_report,
    result::{Decision, LinePosition, ModelVersion, RecordResult},
    score::Scorer,
    shard::Shard,
    summary::{Summary, summarize_results},
};

/// What to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The manifest file.
    pub manifest: PathBuf,
    /// Its format, when its extension does not say.
    pub format: Option<ManifestFormat>,
    /// The output directory (a shard's sub-directory is made under it).
    pub output: PathBuf,
    /// Which records this process owns.
    pub shard: Shard,
    /// Worker threads.
    pub threads: usize,
    /// How progress is shown.
    pub progress: ProgressMode,
}

/// The files of one run's output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFiles {
    /// The directory.
    pub dir: PathBuf,
    /// One line per record.
    pub results: PathBuf,
    /// The run's identity and state.
    pub state: PathBuf,
    /// The machine-readable summary.
    pub summary: PathBuf,
    /// The HTML report.
    pub report: PathBuf,
}

impl OutputFiles {
    /// The files under `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            results: dir.join("results.jsonl"),
            state: dir.join("run.json"),
            summary: dir.join("summary.json"),
            report: dir.join("report.html"),
        }
    }

    /// Where `shard` of a run writes under `output`.
    pub fn for_shard(output: &Path, shard: Shard) -> Self {
        if shard.count > 1 {
            Self::in_dir(&output.join(shard.directory_name()))
        } else {
            Self::in_dir(output)
        }
    }
}

/// `run.json`: what a run is, so a resume continues the same run and merge can check shards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// The manifest's path as given.
    pub manifest: String,
    /// Its SHA-256.
    pub manifest_sha256: String,
    /// This output's shard.
    pub shard: Shard,
    /// Records this shard owns.
    pub expected_records: u64,
    /// The threshold applied.
    pub threshold: f32,
    /// The models used.
    pub model: ModelVersion,
    /// Invocations so far, this one included.
    pub runs: u32,
    /// Whether every owned record has a result.
    pub complete: bool,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Where everything was written.
    pub output: OutputFiles,
    /// Records written by this invocation.
    pub written_now: u64,
    /// Records with a result, over every invocation.
    pub done: u64,
    /// Records the shard owns.
    pub expected: u64,
    /// Whether `stop` cut the run short.
    pub interrupted: bool,
    /// The summary as written.
    pub summary: Summary,
}

/// Runs (or resumes) the job described by `config`, scoring with `scorer` (whose `run` field is
/// replaced by this invocation's number).
pub fn run_manifest(
    scorer: &Scorer<'_>,
    config: &RunConfig,
    stop: &AtomicBool,
) -> Result<RunOutcome, ReverifyError> {
    let output = OutputFiles::for_shard(&config.output, config.shard);
    std::fs::create_dir_all(&output.dir)
        .map_err(|e| ReverifyError::io("creating", &output.dir, e))?;
    let manifest_hash = manifest_sha256(&config.manifest)?;
    let expected = count_owned(&config.manifest, config.format, config.shard)?;

    let previous = read_state(&output.state)?;
    let runs = match &previous {
        Some(state) => {
            check_same_run(state, &manifest_hash, config.shard, scorer, &output.dir)?;
            state.runs + 1
        }
        None if output.results.exists() => {
            return Err(ReverifyError::Resume {
                path: output.dir.clone(),
                reason: "results.jsonl exists without run.json; use an empty output directory"
                    .into(),
            });
        }
        None => 1,
    };
    let (done_before, last_seq) = recover_results(&output.results, config.shard)?;
    let mut state = RunState {
        manifest: config.manifest.display().to_string(),
        manifest_sha256: manifest_hash,
        shard: config.shard,
        expected_records: expected,
        threshold: scorer.config.match_threshold,
        model: scorer.model.clone(),
        runs,
        complete: false,
    };
    write_atomically(&output.state, &to_json(&state)?)?;
    tracing::info!(
        manifest = %config.manifest.display(),
        shard = config.shard.index,
        shards = config.shard.count,
        expected,
        already_done = done_before,
        run = runs,
        threads = config.threads,
        "re-verification starting"
    );

    let scorer = Scorer {
        run: runs,
        ..*scorer
    };
    let mut results = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&output.results)
        .map_err(|e| ReverifyError::io("opening", &output.results, e))?;
    let mut progress = Progress::new(config.progress, expected, done_before);
    let written_now = process(
        &scorer,
        config,
        last_seq,
        &mut results,
        &output.results,
        &mut progress,
        stop,
    )?;
    results
        .sync_all()
        .map_err(|e| ReverifyError::io("syncing", &output.results, e))?;
    progress.finish();

    let done = done_before + written_now;
    state.complete = done == expected;
    let interrupted = !state.complete;
    write_atomically(&output.state, &to_json(&state)?)?;
    let summary = write_summary_and_report(&output, expected, state.complete)?;
    Ok(RunOutcome {
        output,
        written_now,
        done,
        expected,
        interrupted,
        summary,
    })
}

/// Summarises `output.results` into `summary.json` and `report.html`.
pub fn write_summary_and_report(
    output: &OutputFiles,
    expected: u64,
    complete: bool,
) -> Result<Summary, ReverifyError> {
    let summary = summarize_results(&output.results, expected, complete)?;
    write_atomically(&output.summary, &to_json(&summary)?)?;
    write_atomically(&output.report, render_report(&summary).as_bytes())?;
    Ok(summary)
}

/// The reader, workers and ordered writer; returns how many lines this invocation wrote.
fn process(
    scorer: &Scorer<'_>,
    config: &RunConfig,
    last_seq: Option<u64>,
    results: &mut File,
    results_path: &Path,
    progress: &mut Progress,
    stop: &AtomicBool,
) -> Result<u64, ReverifyError> {
    let threads = config.threads.max(1);
    let window = threads * 4;
    let (work_tx, work_rx) = sync_channel::<(u64, ManifestEntry)>(threads);
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = sync_channel::<(u64, RecordResult)>(window);
    let (token_tx, token_rx) = sync_channel::<()>(window);
    for _ in 0..window {
        // Cannot fail: the channel has room for exactly `window` tokens and its receiver lives.
        let _ = token_tx.send(());
    }
    let abort_flag = AtomicBool::new(false);
    let abort = &abort_flag;
    let reader_error_slot: Mutex<Option<ReverifyError>> = Mutex::new(None);
    let reader_error = &reader_error_slot;

    let written = std::thread::scope(|scope| {
        scope.spawn(move || {
            let outcome = feed(config, last_seq, &work_tx, &token_rx, stop, abort);
            drop(work_tx);
            if let Err(error) = outcome {
                abort.store(true, Ordering::SeqCst);
                if let Ok(mut slot) = reader_error.lock() {
                    *slot = Some(error);
                }
            }
        });
        for _ in 0..threads {
            let done_tx = done_tx.clone();
            let work_rx = &work_rx;
            scope.spawn(move || work(scorer, work_rx, &done_tx));
        }
        drop(done_tx);
        write_in_order(done_rx, results, results_path, progress, &token_tx, abort)
    })?;

    let reader_error = reader_error_slot
        .into_inner()
        .map_err(|_| ReverifyError::Internal("the reader's error slot is poisoned".into()))?;
    match reader_error {
        Some(error) => Err(error),
        None => Ok(written),
    }
}

/// Reader: streams the manifest and hands out owned, unfinished records.
fn feed(
    config: &RunConfig,
    last_seq: Option<u64>,
    work: &std::sync::mpsc::SyncSender<(u64, ManifestEntry)>,
    tokens: &Receiver<()>,
    stop: &AtomicBool,
    abort: &AtomicBool,
) -> Result<(), ReverifyError> {
    let mut reader = ManifestReader::open(&config.manifest, config.format)?;
    let mut ordinal = 0u64;
    while let Some(entry) = reader
        .next_entry()
        .map_err(|e| ReverifyError::io("reading", &config.manifest, e))?
    {
        if !config.shard.owns(entry.seq) || last_seq.is_some_and(|last| entry.seq <= last) {
            continue;
        }
        if tokens.recv().is_err() || stop.load(Ordering::SeqCst) || abort.load(Ordering::SeqCst) {
            break;
        }
        if work.send((ordinal, entry)).is_err() {
            break;
        }
        ordinal += 1;
    }
    Ok(())
}

/// Worker: scores records until the reader is done. A panic while scoring one record becomes
/// that record's `internal_error` result rather than a lost record.
fn work(
    scorer: &Scorer<'_>,
    jobs: &Mutex<Receiver<(u64, ManifestEntry)>>,
    done: &std::sync::mpsc::SyncSender<(u64, RecordResult)>,
) {
    loop {
        let job = match jobs.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok((ordinal, entry)) = job else {
            return;
        };
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| scorer.score(&entry)))
            .unwrap_or_else(|_| {
                let mut result = scorer.score(&ManifestEntry {
                    record: Err("scoring panicked".into()),
                    ..entry
                });
                result.decision = Decision::Unusable;
                result.reasons = vec!["internal_error".into()];
                result
            });
        if done.send((ordinal, result)).is_err() {
            return;
        }
    }
}

/// Writer: appends results in hand-out order, each line in one `write` call.
fn write_in_order(
    done: Receiver<(u64, RecordResult)>,
    results: &mut File,
    results_path: &Path,
    progress: &mut Progress,
    tokens: &std::sync::mpsc::SyncSender<()>,
    abort: &AtomicBool,
) -> Result<u64, ReverifyError> {
    let mut pending: BTreeMap<u64, RecordResult> = BTreeMap::new();
    let mut next = 0u64;
    let mut failure = None;
    for (ordinal, result) in done {
        pending.insert(ordinal, result);
        while let Some(result) = pending.remove(&next) {
            next += 1;
            // Released even after a failure, so the reader is never left waiting.
            let _ = tokens.try_send(());
            if failure.is_some() {
                continue;
            }
            let written = serde_json::to_vec(&result)
                .map_err(|e| ReverifyError::Internal(format!("serialising a result: {e}")))
                .and_then(|mut line| {
                    line.push(b'\n');
                    results
                        .write_all(&line)
                        .map_err(|e| ReverifyError::io("writing", results_path, e))
                });
            match written {
                Ok(()) => progress.record_written(),
                Err(error) => {
                    abort.store(true, Ordering::SeqCst);
                    failure = Some(error);
                }
            }
        }
    }
    match failure {
        Some(error) => Err(error),
        None if !pending.is_empty() => Err(ReverifyError::Internal(format!(
            "{} results were never written in order (a worker died)",
            pending.len()
        ))),
        None => Ok(next),
    }
}

/// Records of the manifest `shard` owns.
fn count_owned(
    manifest: &Path,
    format: Option<ManifestFormat>,
    shard: Shard,
) -> Result<u64, ReverifyError> {
    let mut reader = ManifestReader::open(manifest, format)?;
    let mut owned = 0;
    while let Some(entry) = reader
        .next_entry()
        .map_err(|e| ReverifyError::io("reading", manifest, e))?
    {
        owned += u64::from(shard.owns(entry.seq));
    }
    Ok(owned)
}

/// Reads the results file: cuts off a half-written last line, checks that lines are in `seq`
/// order and owned by `shard`, and returns (complete lines, last `seq`).
pub fn recover_results(path: &Path, shard: Shard) -> Result<(u64, Option<u64>), ReverifyError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok((0, None)),
        Err(error) => return Err(ReverifyError::io("opening", path, error)),
    };
    let damaged = |reason: String| ReverifyError::Resume {
        path: path.to_path_buf(),
        reason,
    };
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut complete_bytes = 0u64;
    let mut lines = 0u64;
    let mut last_seq: Option<u64> = None;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| ReverifyError::io("reading", path, e))?;
        if read == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            tracing::warn!(
                bytes = read,
                "cutting off a half-written last result line (the previous run was killed)"
            );
            break;
        }
        let position: LinePosition = serde_json::from_slice(&line)
            .map_err(|e| damaged(format!("line {} is not a result: {e}", lines + 1)))?;
        if last_seq.is_some_and(|last| position.seq <= last) || !shard.owns(position.seq) {
            return Err(damaged(format!(
                "line {} (seq {}) is out of order or not owned by this shard",
                lines + 1,
                position.seq
            )));
        }
        last_seq = Some(position.seq);
        lines += 1;
        complete_bytes += read as u64;
    }
    let length = std::fs::metadata(path)
        .map_err(|e| ReverifyError::io("reading", path, e))?
        .len();
    if length > complete_bytes {
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| ReverifyError::io("opening", path, e))?;
        file.set_len(complete_bytes)
            .map_err(|e| ReverifyError::io("truncating", path, e))?;
        let mut file = file;
        file.seek(SeekFrom::End(0))
            .map_err(|e| ReverifyError::io("truncating", path, e))?;
        file.sync_all()
            .map_err(|e| ReverifyError::io("syncing", path, e))?;
    }
    Ok((lines, last_seq))
}

fn read_state(path: &Path) -> Result<Option<RunState>, ReverifyError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|error| ReverifyError::Resume {
                    path: path.to_path_buf(),
                    reason: format!("run.json is damaged: {error}"),
                })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(ReverifyError::io("reading", path, error)),
    }
}

fn check_same_run(
    state: &RunState,
    manifest_hash: &str,
    shard: Shard,
    scorer: &Scorer<'_>,
    dir: &Path,
) -> Result<(), ReverifyError> {
    let differs = |what: &str| ReverifyError::Resume {
        path: dir.to_path_buf(),
        reason: format!(
            "the earlier run used a different {what}; use a new --output directory to start over"
        ),
    };
    if state.manifest_sha256 != manifest_hash {
        return Err(differs("manifest (its SHA-256 changed)"));
    }
    if state.shard != shard {
        return Err(differs("shard"));
    }
    if state.threshold.to_bits() != scorer.config.match_threshold.to_bits() {
        return Err(differs("threshold"));
    }
    if &state.model != scorer.model {
        return Err(differs("model"));
    }
    Ok(())
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, ReverifyError> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| ReverifyError::Internal(format!("serialising: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it into place, so a
/// reader never sees half a file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ReverifyError> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file =
        File::create(&temporary).map_err(|e| ReverifyError::io("creating", &temporary, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| ReverifyError::io("writing", &temporary, e))?;
    std::fs::rename(&temporary, path).map_err(|e| ReverifyError::io("renaming", path, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn recovery_cuts_a_half_written_line_and_finds_the_last_seq() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        std::fs::write(&path, "{\"seq\":1}\n{\"seq\":3}\n{\"seq\":5,\"id\":\"ha").unwrap();
        let shard = Shard::new(1, 2).unwrap();
        assert_eq!(recover_results(&path, shard).unwrap(), (2, Some(3)));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"seq\":1}\n{\"seq\":3}\n"
        );
        std::fs::write(&path, "{\"seq\":3}\n{\"seq\":1}\n").unwrap();
        assert!(recover_results(&path, shard).is_err(), "out of order");
        std::fs::write(&path, "{\"seq\":2}\n").unwrap();
        assert!(recover_results(&path, shard).is_err(), "not this shard's");
    }
}
