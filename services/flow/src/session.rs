//! The verification session aggregate and its state machine.
//!
//! ```text
//!                 every required step passed            activation issued
//!  in_progress ───────────────────────────────▶ approved ─────────────────▶ activated
//!      │  │  └── a step failed fatally, or used up its attempts ──▶ rejected
//!      │  └──── a risk rule flagged it ──▶ needs_review
//!      └─────── its lifetime ran out ──▶ expired
//! ```
//!
//! Only `in_progress` accepts step submissions; every other state is final for steps. Each
//! transition is a method that either applies completely or returns a [`FlowError`] and changes
//! nothing, so a handler can persist the aggregate exactly when a method returned `Ok`.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};
use simgate_biometrics::liveness::{FrameFingerprint, LivenessChallenge};
use simgate_core::{Msisdn, TenantId};
use simgate_tokens::{Eid, Iccid, MatchingId, SmdpAddress};
use time::OffsetDateTime;

use crate::{
    decision::{DecidedStep, Decision, StepOutcome},
    error::FlowError,
    policy::{Channel, ChannelPolicy, OtpMethod, Step},
};

/// Where a verification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    /// Steps are still being submitted.
    InProgress,
    /// Every required step passed; an activation token may be issued.
    Approved,
    /// A step failed for good; the subscriber must start a new verification.
    Rejected,
    /// A risk rule asked for a human to look before anything is issued.
    NeedsReview,
    /// The session's lifetime ran out before it was decided.
    Expired,
    /// Approved, and the activation token was issued.
    Activated,
}

impl VerificationStatus {
    /// The status's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            VerificationStatus::InProgress => "in_progress",
            VerificationStatus::Approved => "approved",
            VerificationStatus::Rejected => "rejected",
            VerificationStatus::NeedsReview => "needs_review",
            VerificationStatus::Expired => "expired",
            VerificationStatus::Activated => "activated",
        }
    }

    /// Parses a wire name (as stored in the database's status column).
    pub fn parse(value: &str) -> Result<Self, FlowError> {
        [
            VerificationStatus::InProgress,
            VerificationStatus::Approved,
            VerificationStatus::Rejected,
            VerificationStatus::NeedsReview,
            VerificationStatus::Expired,
            VerificationStatus::Activated,
        ]
        .into_iter()
        .find(|status| status.as_str() == value)
        .ok_or_else(|| FlowError::Unknown {
            what: "verification status",
            value: value.chars().take(32).collect(),
        })
    }
}

impl fmt::Display for VerificationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is being verified and for which eSIM, as the client declared it (validated at the edge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applicant {
    /// The number the eSIM will carry.
    pub msisdn: Msisdn,
    /// The device's eUICC.
    pub eid: Eid,
    /// The profile's ICCID, when known.
    #[serde(default)]
    pub iccid: Option<Iccid>,
    /// The SGP.22 matching id, when known.
    #[serde(default)]
    pub matching_id: Option<MatchingId>,
    /// The SM-DP+ that holds the profile, when known.
    #[serde(default)]
    pub smdp_address: Option<SmdpAddress>,
    /// The store or kiosk the request came from, for risk rules.
    #[serde(default)]
    pub store_id: Option<String>,
    /// The holder's surname as the client declared it, compared with the document.
    #[serde(default)]
    pub declared_surname: Option<String>,
    /// The holder's birth date as the client declared it (`YYYY-MM-DD`), compared with the document.
    #[serde(default)]
    pub declared_birth_date: Option<String>,
}

/// Progress of one step.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StepState {
    /// Submissions so far.
    pub attempts: u32,
    /// Whether it has passed.
    pub passed: bool,
    /// The outcome of the last submission.
    pub last_outcome: Option<StepOutcome>,
}

/// Evidence one step leaves for a later one. Templates, never images.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Evidence {
    /// The face embedding of the document portrait, for matching the selfie against.
    #[serde(default)]
    pub portrait_template: Option<Vec<f32>>,
    /// The document's aligned portrait crop (112x112 RGB), kept only until the session is
    /// decided, to recognise the document being held up to the selfie camera.
    #[serde(default)]
    pub portrait_aligned_rgb: Option<Vec<u8>>,
    /// The document's type, issuer and number hash, for risk rules and the audit trail.
    #[serde(default)]
    pub document: Option<DocumentSummary>,
    /// The active-liveness challenge the next selfie submission must answer (replaced after a
    /// failed attempt, so a retry cannot reuse a recording made for the previous one).
    #[serde(default)]
    pub liveness_challenge: Option<LivenessChallenge>,
    /// The perceptual fingerprints (32 hex digits each) of every selfie frame already submitted
    /// in this session, so a frame replayed in a retry is caught.
    #[serde(default)]
    pub frame_fingerprints: Vec<FrameFingerprint>,
    /// The second-factor method selected.
    #[serde(default)]
    pub otp_method: Option<OtpMethod>,
    /// The SMS outbox message carrying the current code, for delivery status.
    #[serde(default)]
    pub sms_message_id: Option<String>,
    /// The methods that proved the subscriber, in order, for the token's `amr`.
    #[serde(default)]
    pub proven_by: Vec<String>,
    /// The face recogniser that scored the selfie (`sface-2021dec-fp32`), so a batch
    /// re-verification can select verifications by model version.
    #[serde(default)]
    pub face_model: Option<String>,
}

/// What a verification learned about the document, without personal data in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocumentSummary {
    /// `passport`, `id_card`, `visa`, ...
    pub document_type: String,
    /// Issuing state code.
    pub issuer: String,
    /// Keyed hash of issuer + document number, to spot one document used for many numbers.
    pub number_hash: String,
}

/// The activation token issued for a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationRecord {
    /// The token's `jti`.
    pub jti: String,
    /// When it was issued.
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// A verification session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Public id, `ver_` + 32 hex digits.
    pub id: String,
    /// The tenant that opened it; no other tenant can see it.
    pub tenant: TenantId,
    /// Where it comes from.
    pub channel: Channel,
    /// The channel policy as it was when the session opened; later configuration changes do not
    /// move the goalposts of an open session.
    pub policy: ChannelPolicy,
    /// Who and what is being verified.
    pub applicant: Applicant,
    /// Where it stands.
    pub status: VerificationStatus,
    /// Progress of every required step.
    pub steps: BTreeMap<Step, StepState>,
    /// What earlier steps left for later ones.
    #[serde(default)]
    pub evidence: Evidence,
    /// The final decision, once taken.
    pub decision: Option<Decision>,
    /// The activation token, once issued.
    pub activation: Option<ActivationRecord>,
    /// Id of the API key that opened it (a `kiosk` key runs only the sessions it opened); none
    /// for sessions stored before it was recorded.
    #[serde(default)]
    pub opened_by: Option<String>,
    /// The subscriber's consent as captured when it opened (none before consent was recorded,
    /// or on a channel that does not require it and got none).
    #[serde(default)]
    pub consent: Option<crate::Consent>,
    /// When it opened.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it expires if not decided.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Whether `id` has the shape of a verification id (`ver_` + hex, as [`Verification::open`]
/// makes them, within a generous bound): anything else cannot exist and need not reach the
/// database.
pub fn could_be_verification_id(id: &str) -> bool {
    id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Verification {
    /// Opens a session for `applicant` under `policy`.
    pub fn open(
        tenant: TenantId,
        channel: Channel,
        policy: ChannelPolicy,
        applicant: Applicant,
        now: OffsetDateTime,
    ) -> Self {
        let lifetime = time::Duration::seconds(
            i64::try_from(policy.session_lifetime_secs).unwrap_or(i64::MAX / 2),
        );
        let steps = policy
            .required_steps
            .iter()
            .map(|step| (*step, StepState::default()))
            .collect();
        Self {
            id: format!("ver_{}", uuid::Uuid::new_v4().simple()),
            tenant,
            channel,
            policy,
            applicant,
            status: VerificationStatus::InProgress,
            steps,
            evidence: Evidence::default(),
            decision: None,
            activation: None,
            opened_by: None,
            consent: None,
            created_at: now,
            expires_at: now + lifetime,
            updated_at: now,
        }
    }

    /// The required steps, in the order they run.
    pub fn required_steps(&self) -> Vec<Step> {
        self.steps.keys().copied().collect()
    }

    /// The required steps that have not passed yet.
    pub fn pending_steps(&self) -> Vec<Step> {
        self.steps
            .iter()
            .filter(|(_, state)| !state.passed)
            .map(|(step, _)| *step)
            .collect()
    }

    /// Moves an undecided session past its lifetime to `expired`. Returns whether it changed, so
    /// the caller knows to persist it.
    pub fn expire_if_due(&mut self, now: OffsetDateTime) -> bool {
        if self.status != VerificationStatus::InProgress || now < self.expires_at {
            return false;
        }
        self.decide(
            VerificationStatus::Expired,
            vec!["session_expired".into()],
            now,
        );
        true
    }

    /// Checks that `step` may be submitted now, without changing anything.
    pub fn ensure_step_accepted(&self, step: Step, now: OffsetDateTime) -> Result<(), FlowError> {
        if self.status != VerificationStatus::InProgress {
            return Err(FlowError::IllegalTransition {
                status: self.status,
                action: step_action(step),
            });
        }
        if now >= self.expires_at {
            return Err(FlowError::Expired);
        }
        let state = self
            .steps
            .get(&step)
            .ok_or(FlowError::StepNotRequired(step))?;
        if state.passed {
            return Err(FlowError::StepAlreadyPassed(step));
        }
        // The selfie is matched against the document's portrait, so the document must come
        // first. The code is sent last: no SMS goes to a number whose claimant has not yet shown
        // the document and the face (SMS pumping, and codes pushed at the victim's phone).
        let prerequisites: &[Step] = match step {
            Step::Document => &[],
            Step::Selfie => &[Step::Document],
            Step::Otp => &[Step::Document, Step::Selfie],
        };
        if let Some(prerequisite) = prerequisites
            .iter()
            .find(|p| self.steps.get(p).is_some_and(|state| !state.passed))
        {
            return Err(FlowError::StepOutOfOrder {
                step,
                prerequisite: *prerequisite,
            });
        }
        Ok(())
    }

    /// Records one submission of `step`. A pass may approve the session; a fatal failure, or a
    /// failure that uses up the step's attempts, rejects it.
    pub fn record_step(
        &mut self,
        step: Step,
        outcome: StepOutcome,
        fatal: bool,
        now: OffsetDateTime,
    ) -> Result<(), FlowError> {
        self.ensure_step_accepted(step, now)?;
        let max_attempts = self.policy.max_attempts_per_step;
        let Some(state) = self.steps.get_mut(&step) else {
            return Err(FlowError::StepNotRequired(step));
        };
        state.attempts += 1;
        state.passed = outcome.passed;
        let exhausted = !outcome.passed && state.attempts >= max_attempts;
        let mut reasons = outcome.reasons.clone();
        state.last_outcome = Some(outcome);
        self.updated_at = now;
        if self.steps.values().all(|state| state.passed) {
            self.decide(VerificationStatus::Approved, Vec::new(), now);
        } else if fatal || exhausted {
            if exhausted && !fatal {
                reasons.push(format!("{step}_attempts_exhausted"));
            }
            self.decide(VerificationStatus::Rejected, reasons, now);
        }
        Ok(())
    }

    /// Puts an in-progress or approved session on hold for a human (risk rules).
    pub fn flag_for_review(
        &mut self,
        reasons: Vec<String>,
        now: OffsetDateTime,
    ) -> Result<(), FlowError> {
        match self.status {
            VerificationStatus::InProgress | VerificationStatus::Approved => {
                self.decide(VerificationStatus::NeedsReview, reasons, now);
                Ok(())
            }
            status => Err(FlowError::IllegalTransition {
                status,
                action: "be flagged for review",
            }),
        }
    }

    /// Checks that an activation token may be issued now.
    pub fn ensure_activation_allowed(&self) -> Result<(), FlowError> {
        if self.status == VerificationStatus::Approved {
            Ok(())
        } else {
            Err(FlowError::IllegalTransition {
                status: self.status,
                action: "issue an activation token",
            })
        }
    }

    /// Records the issued activation token: `approved` → `activated`.
    pub fn record_activation(
        &mut self,
        activation: ActivationRecord,
        now: OffsetDateTime,
    ) -> Result<(), FlowError> {
        self.ensure_activation_allowed()?;
        self.activation = Some(activation);
        self.status = VerificationStatus::Activated;
        self.updated_at = now;
        Ok(())
    }

    fn decide(&mut self, status: VerificationStatus, reasons: Vec<String>, now: OffsetDateTime) {
        let steps = self
            .steps
            .iter()
            .filter_map(|(step, state)| {
                state.last_outcome.clone().map(|outcome| DecidedStep {
                    step: *step,
                    attempts: state.attempts,
                    outcome,
                })
            })
            .collect();
        self.status = status;
        self.decision = Some(Decision {
            status,
            reasons,
            steps,
            decided_at: now,
        });
        self.updated_at = now;
        // The portrait crop exists only to catch the document held up to the camera.
        self.evidence.portrait_aligned_rgb = None;
    }
}

fn step_action(step: Step) -> &'static str {
    match step {
        Step::Document => "accept a document",
        Step::Selfie => "accept a selfie",
        Step::Otp => "accept a one-time code",
    }
}
