//! What a step found and what a verification decided, in machine-readable form.
//!
//! Every outcome lists the checks that ran with their scores and thresholds, so a reviewer (or a
//! regulator) can see why a subscriber was approved or turned away.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{policy::Step, session::VerificationStatus};

/// One check that ran, e.g. `mrz_check_digits`, `face_match`, `pad`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckResult {
    /// Stable name of the check.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// The measured value, when the check is a score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The threshold the score was held against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

impl CheckResult {
    /// A pass/fail check with no score.
    pub fn flag(name: &str, passed: bool) -> Self {
        Self {
            name: name.to_owned(),
            passed,
            score: None,
            threshold: None,
        }
    }

    /// A scored check.
    pub fn scored(name: &str, passed: bool, score: f64, threshold: f64) -> Self {
        Self {
            name: name.to_owned(),
            passed,
            score: Some(score),
            threshold: Some(threshold),
        }
    }
}

/// The result of one submission of one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepOutcome {
    /// Whether the step passed.
    pub passed: bool,
    /// Reason codes when it did not (and warnings when it did).
    pub reasons: Vec<String>,
    /// The checks that ran.
    pub checks: Vec<CheckResult>,
}

impl StepOutcome {
    /// An outcome that passed when every check passed and no reason was given.
    pub fn from_checks(checks: Vec<CheckResult>, reasons: Vec<String>) -> Self {
        let passed = reasons.is_empty() && checks.iter().all(|check| check.passed);
        Self {
            passed,
            reasons,
            checks,
        }
    }
}

/// The final word on a verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    /// `approved`, `rejected`, `needs_review` or `expired`.
    pub status: VerificationStatus,
    /// Reason codes behind the decision (empty for a clean approval).
    pub reasons: Vec<String>,
    /// The last outcome of every step that ran, with its checks.
    pub steps: Vec<DecidedStep>,
    /// When the decision was taken.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub decided_at: OffsetDateTime,
}

/// One step as it stood when the decision was taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DecidedStep {
    /// Which step.
    pub step: Step,
    /// How many times it was submitted.
    pub attempts: u32,
    /// Its last outcome.
    pub outcome: StepOutcome,
}
