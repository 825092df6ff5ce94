//! The batch re-verification manifest reader on untrusted files (JSONL and CSV).
//!
//! Writes the input (after a format byte) to a per-process temporary file, because
//! `simgate_reverify::manifest::ManifestReader::open` takes a path like the `reverify` command,
//! and streams every entry. Invariants the job relies on for sharding, resuming and results:
//! - entries are numbered 0, 1, 2, ... with no gaps, and there are never more entries than
//!   lines in the file (plus one for a CSV header-only file);
//! - a valid record has an id of 1..=200 characters without control characters, the id the
//!   entry reports, 1..=MAX_SELFIES selfies (none only for a stored verification), and every
//!   local path is absolute (resolved against the manifest's folder).

#![no_main]

use std::{path::PathBuf, sync::OnceLock};

use libfuzzer_sys::fuzz_target;
use simgate_reverify::manifest::{
    ImageLocation, MAX_SELFIES, ManifestFormat, ManifestReader, ReferenceSource, manifest_sha256,
};

/// A directory of this process's own, so parallel fuzzing jobs do not share the file.
fn work_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("simgate-fuzz-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let [selector, contents @ ..] = data else {
        return;
    };
    // Bit 0: the format; bit 1: named by extension (as `reverify` infers it) or passed.
    let (extension, format) = if selector % 2 == 0 {
        ("jsonl", ManifestFormat::Jsonl)
    } else {
        ("csv", ManifestFormat::Csv)
    };
    let path = work_dir().join(format!("manifest.{extension}"));
    std::fs::write(&path, contents).expect("writing the manifest");
    manifest_sha256(&path).expect("hashing a readable file");

    let explicit = (selector / 2) % 2 == 1;
    let Ok(reader) = ManifestReader::open(&path, explicit.then_some(format)) else {
        return;
    };
    // The CSV reader ends a record at CR, LF or CRLF, so a lone CR starts a new line too.
    let lines = contents.split(|&b| b == b'\n' || b == b'\r').count() as u64;
    let mut expected_seq = 0u64;
    for entry in reader {
        let entry = entry.expect("reading a regular file does not fail");
        assert_eq!(entry.seq, expected_seq);
        assert!(entry.seq < lines + 1, "more entries than lines");
        expected_seq += 1;
        let Ok(record) = &entry.record else {
            continue;
        };
        assert_eq!(entry.id.as_deref(), Some(record.id.as_str()));
        assert!(!record.id.trim().is_empty() && record.id.chars().count() <= 200);
        assert!(!record.id.chars().any(char::is_control));
        let stored = matches!(record.reference, ReferenceSource::StoredVerification(_));
        assert!(record.selfies.len() <= MAX_SELFIES);
        assert!(stored || !record.selfies.is_empty());
        let reference = match &record.reference {
            ReferenceSource::DocumentImage(location) | ReferenceSource::PortraitImage(location) => {
                Some(location)
            }
            ReferenceSource::StoredVerification(_) => None,
        };
        for location in reference.into_iter().chain(&record.selfies) {
            if let ImageLocation::File(file) = location {
                assert!(file.is_absolute(), "{file:?}");
            }
        }
    }
});
