//! Batch re-verification: re-score many verification records with the current face models and
//! threshold, the way carriers re-check in bulk after a model or threshold change, for a
//! regulator, or as documents approach expiry.
//!
//! Layout, in the order a record travels:
//! - [`manifest`]: the input, streamed (JSONL or CSV, one record per line or row), parsed at the
//!   boundary into [`manifest::ManifestRecord`]; a bad line becomes an invalid entry, never an
//!   abort. Never loaded whole.
//! - [`source`]: where images come from, behind the [`source::ImageSource`] trait (local files
//!   relative to the manifest; other URI schemes plug in there).
//! - [`score`]: one record → one [`result::RecordResult`] (decode, detect + quality gate, embed,
//!   cosine, document-replay check), with reason codes for everything that is not a match.
//! - [`shard`]: which records a Kubernetes Indexed Job pod owns.
//! - [`pipeline`]: the run: a reader thread, worker threads sharing the model sessions, and an
//!   ordered, append-only writer that makes the results file its own checkpoint (resume after
//!   `kill -9` continues after the last complete line: no record lost, none written twice).
//! - [`summary`] and [`report`]: the machine-readable summary and the self-contained HTML report,
//!   both computed by streaming the results file.
//! - [`merge`]: combines the outputs of every shard into one results file, summary and report.
//! - [`progress`]: a progress bar on a terminal, periodic log lines otherwise.
//!
//! Results never hold images or MSISDNs: a record is named by its manifest id and position.

pub mod manifest;
pub mod merge;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod result;
pub mod score;
pub mod shard;
pub mod source;
pub mod summary;

use std::path::PathBuf;

/// Everything that stops a run (or a merge) as a whole. Problems with single records are not
/// errors: they become result lines with reason codes.
#[derive(Debug, thiserror::Error)]
pub enum ReverifyError {
    /// Reading or writing a file of the run failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The manifest cannot be used at all (unknown format, unreadable header).
    #[error("manifest {path}: {reason}")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The output directory holds a run that this one cannot continue.
    #[error("cannot resume in {path}: {reason}")]
    Resume {
        /// The output directory.
        path: PathBuf,
        /// What differs or is damaged.
        reason: String,
    },
    /// Shard outputs that cannot be merged.
    #[error("cannot merge: {0}")]
    Merge(String),
    /// A shard index outside the shard count, or a zero count.
    #[error("invalid shard: {0}")]
    Shard(String),
    /// A worker thread died (a bug: record-level panics are caught and reported per record).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ReverifyError {
    /// Builds an [`ReverifyError::Io`] for `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
