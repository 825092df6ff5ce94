//! The machine-readable summary of a results file, computed by streaming it once: decision,
//! reason and reference counts; error rates and score histograms when labels were given;
//! latency percentiles; throughput per process invocation and over time.
//!
//! Memory is bounded whatever the run's size: histograms have fixed bins (scores: 0.05 wide over
//! -1..1; latencies: 1 ms up to 60 s), and the timeline keeps one counter per second of wall
//! time, folded into at most [`TIMELINE_POINTS`] points at the end.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs::File,
    io::{BufRead as _, BufReader},
    path::Path,
};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{
    ReverifyError,
    manifest::Label,
    result::{Decision, ModelVersion, RecordResult},
};

/// Score histogram bin width.
pub const SCORE_BIN_WIDTH: f32 = 0.05;
/// Score histogram bins, covering cosine similarity -1..=1.
pub const SCORE_BINS: usize = 40;
/// Most points of the throughput timeline.
pub const TIMELINE_POINTS: i64 = 60;
const LATENCY_BINS: usize = 60_000;

/// Error rates at the run's threshold, from records with a label and a score.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelledStats {
    /// Records labelled genuine.
    pub genuine: u64,
    /// Records labelled impostor.
    pub impostor: u64,
    /// Genuine records that got a score.
    pub genuine_scored: u64,
    /// Impostor records that got a score.
    pub impostor_scored: u64,
    /// Scored genuine records decided `no_match`.
    pub false_non_matches: u64,
    /// Scored impostor records decided `match`.
    pub false_matches: u64,
    /// False non-match rate among scored genuine records.
    pub fnmr: Option<f64>,
    /// False match rate among scored impostor records.
    pub fmr: Option<f64>,
}

/// Score counts per bin; bin `i` covers `[-1 + i * width, -1 + (i + 1) * width)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreHistogram {
    /// Bin width.
    pub bin_width: f32,
    /// Lower edge of the first bin.
    pub start: f32,
    /// Records labelled genuine.
    pub genuine: Vec<u64>,
    /// Records labelled impostor.
    pub impostor: Vec<u64>,
    /// Records without a label.
    pub unlabelled: Vec<u64>,
}

impl Default for ScoreHistogram {
    fn default() -> Self {
        Self {
            bin_width: SCORE_BIN_WIDTH,
            start: -1.0,
            genuine: vec![0; SCORE_BINS],
            impostor: vec![0; SCORE_BINS],
            unlabelled: vec![0; SCORE_BINS],
        }
    }
}

/// Per-record latency, milliseconds (1 ms resolution).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    /// Median record time.
    pub median: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Slowest record.
    pub max: f64,
    /// Mean time per stage: read, decode, detect, embed.
    pub mean_by_stage: BTreeMap<String, f64>,
}

/// One invocation of one shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// The shard.
    pub shard_index: u32,
    /// The invocation (1, then 2 after a resume, ...).
    pub run: u32,
    /// Records it wrote.
    pub records: u64,
    /// First completion.
    #[serde(with = "time::serde::rfc3339")]
    pub first_completed_at: OffsetDateTime,
    /// Last completion.
    #[serde(with = "time::serde::rfc3339")]
    pub last_completed_at: OffsetDateTime,
    /// Records per second between the first and the last completion.
    pub records_per_second: Option<f64>,
}

/// Records completed per time bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Seconds since the first completion (bucket start).
    pub offset_seconds: i64,
    /// Records completed in the bucket.
    pub records: u64,
}

/// How fast the run went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Records per second of one process: records over the time each invocation spent between
    /// its first and last completion (gaps between a kill and the resume do not count).
    pub records_per_second_per_process: Option<f64>,
    /// Each invocation of each shard.
    pub segments: Vec<Segment>,
    /// Width of a timeline bucket.
    pub bucket_seconds: i64,
    /// Completions over wall time.
    pub timeline: Vec<TimelinePoint>,
}

/// The summary written to `summary.json` and rendered into `report.html`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Whether every record of the manifest (or shard) has a result.
    pub complete: bool,
    /// Records the manifest (or shard) holds.
    pub expected_records: u64,
    /// Result lines.
    pub records: u64,
    /// Count per decision.
    pub decisions: BTreeMap<String, u64>,
    /// Count per reason code.
    pub reasons: BTreeMap<String, u64>,
    /// Count per reference kind.
    pub references: BTreeMap<String, u64>,
    /// The threshold applied (the last one seen; a run never changes it).
    pub threshold: Option<f32>,
    /// The false-match rate it stands for.
    pub threshold_fmr: Option<f64>,
    /// Every model version that produced a line.
    pub models: Vec<ModelVersion>,
    /// Error rates, when labels were given.
    pub labelled: LabelledStats,
    /// Score histograms.
    pub histogram: ScoreHistogram,
    /// Per-record latency.
    pub latency_ms: LatencyStats,
    /// Speed.
    pub throughput: Throughput,
}

/// Accumulates result lines into a [`Summary`].
#[derive(Debug)]
pub struct SummaryBuilder {
    summary: Summary,
    models: BTreeSet<(String, String)>,
    latency: Vec<u64>,
    stage_sums: [f64; 4],
    per_second: BTreeMap<i64, u64>,
    segments: BTreeMap<(u32, u32), Segment>,
}

impl SummaryBuilder {
    /// An empty summary for a run expecting `expected_records`.
    pub fn new(expected_records: u64) -> Self {
        Self {
            summary: Summary {
                expected_records,
                ..Summary::default()
            },
            models: BTreeSet::new(),
            latency: vec![0; LATENCY_BINS + 1],
            stage_sums: [0.0; 4],
            per_second: BTreeMap::new(),
            segments: BTreeMap::new(),
        }
    }

    /// Adds one result.
    pub fn add(&mut self, result: &RecordResult) {
        let summary = &mut self.summary;
        summary.records += 1;
        *summary
            .decisions
            .entry(result.decision.as_str().to_owned())
            .or_default() += 1;
        for reason in &result.reasons {
            *summary.reasons.entry(reason.clone()).or_default() += 1;
        }
        if let Some(reference) = &result.reference {
            *summary.references.entry(reference.clone()).or_default() += 1;
        }
        summary.threshold = Some(result.threshold);
        summary.threshold_fmr = Some(result.threshold_fmr);
        self.models.insert((
            result.model.detector.clone(),
            result.model.recogniser.clone(),
        ));

        let scored = result.similarity.is_some();
        let labelled = &mut summary.labelled;
        match result.label {
            Some(Label::Genuine) => {
                labelled.genuine += 1;
                if scored {
                    labelled.genuine_scored += 1;
                    labelled.false_non_matches += u64::from(result.decision == Decision::NoMatch);
                }
            }
            Some(Label::Impostor) => {
                labelled.impostor += 1;
                if scored {
                    labelled.impostor_scored += 1;
                    labelled.false_matches += u64::from(result.decision == Decision::Match);
                }
            }
            None => {}
        }
        if let Some(similarity) = result.similarity {
            let bin = score_bin(similarity);
            let histogram = &mut summary.histogram;
            match result.label {
                Some(Label::Genuine) => histogram.genuine[bin] += 1,
                Some(Label::Impostor) => histogram.impostor[bin] += 1,
                None => histogram.unlabelled[bin] += 1,
            }
        }

        let timings = result.timings_ms;
        // Whole milliseconds; anything past the last bin counts as the last bin.
        let bin = (timings.total.max(0.0).round() as usize).min(LATENCY_BINS);
        self.latency[bin] += 1;
        for (sum, value) in self.stage_sums.iter_mut().zip([
            timings.read,
            timings.decode,
            timings.detect,
            timings.embed,
        ]) {
            *sum += value;
        }

        let at = result.completed_at;
        *self.per_second.entry(at.unix_timestamp()).or_default() += 1;
        self.segments
            .entry((result.shard_index, result.run))
            .and_modify(|segment| {
                segment.records += 1;
                segment.first_completed_at = segment.first_completed_at.min(at);
                segment.last_completed_at = segment.last_completed_at.max(at);
            })
            .or_insert(Segment {
                shard_index: result.shard_index,
                run: result.run,
                records: 1,
                first_completed_at: at,
                last_completed_at: at,
                records_per_second: None,
            });
    }

    /// The summary; `complete` says whether every expected record has a result.
    pub fn finish(mut self, complete: bool) -> Summary {
        let summary = &mut self.summary;
        summary.complete = complete;
        summary.models = self
            .models
            .into_iter()
            .map(|(detector, recogniser)| ModelVersion {
                detector,
                recogniser,
            })
            .collect();
        let labelled = &mut summary.labelled;
        labelled.fnmr = rate(labelled.false_non_matches, labelled.genuine_scored);
        labelled.fmr = rate(labelled.false_matches, labelled.impostor_scored);

        let records = summary.records;
        if records > 0 {
            summary.latency_ms.median = percentile(&self.latency, records, 0.5);
            summary.latency_ms.p95 = percentile(&self.latency, records, 0.95);
            summary.latency_ms.max = self
                .latency
                .iter()
                .rposition(|&count| count > 0)
                .unwrap_or(0) as f64;
            for (name, sum) in ["read", "decode", "detect", "embed"]
                .into_iter()
                .zip(self.stage_sums)
            {
                summary
                    .latency_ms
                    .mean_by_stage
                    .insert(name.to_owned(), sum / records as f64);
            }
        }

        let mut busy_seconds = 0.0;
        let mut busy_records = 0u64;
        let mut segments: Vec<Segment> = self.segments.into_values().collect();
        for segment in &mut segments {
            let span = (segment.last_completed_at - segment.first_completed_at).as_seconds_f64();
            if segment.records > 1 && span > 0.0 {
                segment.records_per_second = Some((segment.records - 1) as f64 / span);
                busy_seconds += span;
                busy_records += segment.records - 1;
            }
        }
        let throughput = &mut summary.throughput;
        throughput.records_per_second_per_process =
            (busy_seconds > 0.0).then(|| busy_records as f64 / busy_seconds);
        throughput.segments = segments;
        if let (Some((&first, _)), Some((&last, _))) = (
            self.per_second.first_key_value(),
            self.per_second.last_key_value(),
        ) {
            let bucket = ((last - first + 1) + TIMELINE_POINTS - 1) / TIMELINE_POINTS;
            let bucket = bucket.max(1);
            throughput.bucket_seconds = bucket;
            let mut points: BTreeMap<i64, u64> = BTreeMap::new();
            for (second, count) in self.per_second {
                *points
                    .entry((second - first) / bucket * bucket)
                    .or_default() += count;
            }
            throughput.timeline = points
                .into_iter()
                .map(|(offset_seconds, records)| TimelinePoint {
                    offset_seconds,
                    records,
                })
                .collect();
        }
        self.summary
    }
}

/// Streams a results file into a summary.
pub fn summarize_results(
    results: &Path,
    expected_records: u64,
    complete: bool,
) -> Result<Summary, ReverifyError> {
    let mut builder = SummaryBuilder::new(expected_records);
    if results.exists() {
        let file = File::open(results).map_err(|e| ReverifyError::io("opening", results, e))?;
        for (number, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| ReverifyError::io("reading", results, e))?;
            let result: RecordResult =
                serde_json::from_str(&line).map_err(|error| ReverifyError::Resume {
                    path: results.to_path_buf(),
                    reason: format!("line {} is not a result: {error}", number + 1),
                })?;
            builder.add(&result);
        }
    }
    Ok(builder.finish(complete))
}

fn score_bin(similarity: f32) -> usize {
    let index = ((similarity + 1.0) / SCORE_BIN_WIDTH).floor();
    (index.max(0.0) as usize).min(SCORE_BINS - 1)
}

fn rate(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

fn percentile(bins: &[u64], total: u64, quantile: f64) -> f64 {
    let rank = ((total as f64) * quantile).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (value, count) in bins.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return value as f64;
        }
    }
    (bins.len() - 1) as f64
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::result::Timings;

    fn result(
        seq: u64,
        decision: Decision,
        similarity: Option<f32>,
        label: Option<Label>,
    ) -> RecordResult {
        RecordResult {
            seq,
            id: Some(format!("r{seq}")),
            decision,
            reasons: if decision == Decision::Match {
                vec![]
            } else {
                vec!["similarity_below_threshold".into()]
            },
            similarity,
            similarities: similarity.into_iter().collect(),
            threshold: 0.4,
            threshold_fmr: 1e-3,
            reference: Some("portrait_image".into()),
            label,
            stored: None,
            model: ModelVersion {
                detector: "d".into(),
                recogniser: "r".into(),
            },
            timings_ms: Timings {
                total: 100.0 + seq as f64,
                ..Timings::default()
            },
            shard_index: 0,
            run: 1,
            completed_at: OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(seq as i64),
        }
    }

    #[test]
    fn labelled_error_rates_histograms_and_throughput() {
        let mut builder = SummaryBuilder::new(5);
        builder.add(&result(0, Decision::Match, Some(0.7), Some(Label::Genuine)));
        builder.add(&result(
            1,
            Decision::NoMatch,
            Some(0.3),
            Some(Label::Genuine),
        ));
        builder.add(&result(
            2,
            Decision::Match,
            Some(0.45),
            Some(Label::Impostor),
        ));
        builder.add(&result(
            3,
            Decision::NoMatch,
            Some(0.1),
            Some(Label::Impostor),
        ));
        builder.add(&result(4, Decision::Unusable, None, Some(Label::Impostor)));
        let summary = builder.finish(true);
        assert_eq!(summary.records, 5);
        assert_eq!(summary.decisions["match"], 2);
        assert_eq!(summary.labelled.fnmr, Some(0.5));
        assert_eq!(summary.labelled.impostor, 3);
        assert_eq!(summary.labelled.impostor_scored, 2);
        assert_eq!(summary.labelled.fmr, Some(0.5));
        assert_eq!(summary.histogram.genuine.iter().sum::<u64>(), 2);
        assert_eq!(summary.histogram.genuine[score_bin(0.7)], 1);
        assert_eq!(summary.latency_ms.median, 102.0);
        // 5 records 1 s apart: 4 intervals in 4 s.
        assert_eq!(summary.throughput.records_per_second_per_process, Some(1.0));
        assert_eq!(summary.throughput.timeline.len(), 5);
    }

    #[test]
    fn score_bins_clamp_to_the_range() {
        assert_eq!(score_bin(-1.0), 0);
        assert_eq!(score_bin(1.0), SCORE_BINS - 1);
        assert_eq!(score_bin(0.0), 20);
    }
}
