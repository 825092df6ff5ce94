//! `reverify merge`: combines the outputs of every shard of a run into one output directory.
//!
//! The shards must come from the same run (same manifest SHA-256, shard count, threshold and
//! models), every index must be present once and complete. Each shard's results are already in
//! `seq` order, so a k-way merge by `seq` streams them into one file in manifest order (one
//! line per shard in memory), byte for byte as the shards wrote them; the summary and report
//! are then computed from the merged file. The merged directory's `run.json` describes the
//! whole manifest as one complete shard, so it is a valid output of an unsharded run.

use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    fs::File,
    io::{BufRead as _, BufReader, BufWriter, Lines, Write as _},
    path::{Path, PathBuf},
};

use crate::{
    ReverifyError,
    pipeline::{OutputFiles, RunState, to_json, write_atomically, write_summary_and_report},
    result::LinePosition,
    shard::Shard,
    summary::Summary,
};

/// What a merge produced.
#[derive(Debug, Clone)]
pub struct MergeOutcome {
    /// The merged output.
    pub output: OutputFiles,
    /// Shards merged.
    pub shards: u32,
    /// The merged summary.
    pub summary: Summary,
}

/// Finds shard directories: each input is a shard directory (holding `run.json`) or a directory
/// whose `shard-*` sub-directories are shards.
pub fn find_shard_dirs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, ReverifyError> {
    let mut dirs = Vec::new();
    for input in inputs {
        if input.join("run.json").is_file() {
            dirs.push(input.clone());
            continue;
        }
        let entries =
            std::fs::read_dir(input).map_err(|e| ReverifyError::io("listing", input, e))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                path.file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name.starts_with("shard-"))
                    && path.join("run.json").is_file()
            })
            .collect();
        if found.is_empty() {
            return Err(ReverifyError::Merge(format!(
                "{} is neither a shard output nor holds shard-* outputs",
                input.display()
            )));
        }
        found.sort();
        dirs.append(&mut found);
    }
    Ok(dirs)
}

/// Merges the shard outputs in `shard_dirs` into `output`.
pub fn merge_shards(shard_dirs: &[PathBuf], output: &Path) -> Result<MergeOutcome, ReverifyError> {
    let mut states = Vec::with_capacity(shard_dirs.len());
    for dir in shard_dirs {
        let path = dir.join("run.json");
        let bytes = std::fs::read(&path).map_err(|e| ReverifyError::io("reading", &path, e))?;
        let state: RunState = serde_json::from_slice(&bytes).map_err(|error| {
            ReverifyError::Merge(format!("{} is damaged: {error}", path.display()))
        })?;
        states.push((dir.clone(), state));
    }
    let Some((_, first)) = states.first() else {
        return Err(ReverifyError::Merge("no shard outputs given".into()));
    };
    let first = first.clone();
    let count = first.shard.count;
    let mut seen = vec![false; count as usize];
    for (dir, state) in &states {
        let name = dir.display();
        if state.manifest_sha256 != first.manifest_sha256 {
            return Err(ReverifyError::Merge(format!(
                "{name} ran on a different manifest"
            )));
        }
        if state.shard.count != count
            || state.threshold.to_bits() != first.threshold.to_bits()
            || state.model != first.model
        {
            return Err(ReverifyError::Merge(format!(
                "{name} used a different shard count, threshold or model"
            )));
        }
        if !state.complete {
            return Err(ReverifyError::Merge(format!(
                "{name} is incomplete; re-run that shard first"
            )));
        }
        let slot = &mut seen[state.shard.index as usize];
        if *slot {
            return Err(ReverifyError::Merge(format!(
                "shard {} is given twice",
                state.shard.index
            )));
        }
        *slot = true;
    }
    let missing: Vec<usize> = (0..seen.len()).filter(|&i| !seen[i]).collect();
    if !missing.is_empty() {
        return Err(ReverifyError::Merge(format!(
            "shards {missing:?} of {count} are missing"
        )));
    }

    let output = OutputFiles::in_dir(output);
    std::fs::create_dir_all(&output.dir)
        .map_err(|e| ReverifyError::io("creating", &output.dir, e))?;
    let records = merge_results(
        &states
            .iter()
            .map(|(dir, _)| dir.join("results.jsonl"))
            .collect::<Vec<_>>(),
        &output.results,
    )?;
    let expected: u64 = states.iter().map(|(_, s)| s.expected_records).sum();
    if records != expected {
        return Err(ReverifyError::Merge(format!(
            "the shards hold {records} results but their manifests expect {expected}"
        )));
    }
    let state = RunState {
        shard: Shard::WHOLE,
        expected_records: expected,
        runs: states.iter().map(|(_, s)| s.runs).max().unwrap_or(1),
        complete: true,
        ..first
    };
    write_atomically(&output.state, &to_json(&state)?)?;
    let summary = write_summary_and_report(&output, expected, true)?;
    Ok(MergeOutcome {
        output,
        shards: count,
        summary,
    })
}

/// K-way merge of `seq`-ordered results files; returns the number of lines written.
fn merge_results(inputs: &[PathBuf], merged: &Path) -> Result<u64, ReverifyError> {
    let mut readers: Vec<(PathBuf, Lines<BufReader<File>>)> = Vec::with_capacity(inputs.len());
    for path in inputs {
        let file = File::open(path).map_err(|e| ReverifyError::io("opening", path, e))?;
        readers.push((path.clone(), BufReader::new(file).lines()));
    }
    let mut heap: BinaryHeap<Reverse<(u64, usize, String)>> = BinaryHeap::new();
    for (index, reader) in readers.iter_mut().enumerate() {
        if let Some((seq, line)) = next_line(reader)? {
            heap.push(Reverse((seq, index, line)));
        }
    }
    let temporary = merged.with_extension("jsonl.tmp");
    let file =
        File::create(&temporary).map_err(|e| ReverifyError::io("creating", &temporary, e))?;
    let mut writer = BufWriter::new(file);
    let mut written = 0u64;
    let mut last_seq: Option<u64> = None;
    while let Some(Reverse((seq, index, line))) = heap.pop() {
        if last_seq == Some(seq) {
            return Err(ReverifyError::Merge(format!(
                "seq {seq} has results in two shards"
            )));
        }
        last_seq = Some(seq);
        writer
            .write_all(line.as_bytes())
            .and_then(|()| writer.write_all(b"\n"))
            .map_err(|e| ReverifyError::io("writing", &temporary, e))?;
        written += 1;
        if let Some(item) = next_line(&mut readers[index])? {
            heap.push(Reverse((item.0, index, item.1)));
        }
    }
    let file = writer
        .into_inner()
        .map_err(|e| ReverifyError::io("writing", &temporary, e.into_error()))?;
    file.sync_all()
        .map_err(|e| ReverifyError::io("syncing", &temporary, e))?;
    std::fs::rename(&temporary, merged).map_err(|e| ReverifyError::io("renaming", merged, e))?;
    Ok(written)
}

fn next_line(
    (path, lines): &mut (PathBuf, Lines<BufReader<File>>),
) -> Result<Option<(u64, String)>, ReverifyError> {
    let Some(line) = lines.next() else {
        return Ok(None);
    };
    let line = line.map_err(|e| ReverifyError::io("reading", path.as_path(), e))?;
    let position: LinePosition = serde_json::from_str(&line).map_err(|error| {
        ReverifyError::Merge(format!("{} holds a damaged line: {error}", path.display()))
    })?;
    Ok(Some((position.seq, line)))
}
