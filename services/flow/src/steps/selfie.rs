//! The selfie step: every frame must hold exactly one face, every frame's face must match the
//! document portrait, and the selfie must not be the document portrait itself held up to the
//! camera. Depending on the channel policy the frames must also answer an active-liveness
//! challenge and pass passive presentation-attack detection (PAD).
//!
//! Taking the *lowest* similarity over the frames (not the best) means a sequence cannot pass by
//! showing the right face once and someone else in the other frames; PAD likewise keeps the
//! lowest P(real) over the frames.
//!
//! Active liveness (`active_liveness_required`): the session holds a server-issued
//! [`LivenessChallenge`] ([`renew_liveness_challenge`] issues it when the session opens and
//! again after every failed attempt, so a retry cannot reuse the clip recorded for the previous
//! challenge). A submission needs at least [`MIN_LIVENESS_FRAMES`] frames; fewer is a request
//! error ([`StepError::TooFewFrames`]), not an attempt. The frames are checked with
//! [`evaluate_liveness`] against the challenge and against the fingerprints of every frame
//! submitted earlier in this session (frames seen in *other* sessions are not checked here:
//! that needs a fingerprint index in the store).
//!
//! Passive PAD: when an engine is configured it runs on every frame. If the policy requires PAD
//! a low score is fatal; otherwise the score is recorded as the informational check
//! [`PAD_INFORMATIONAL_CHECK`], which never decides the step.
//!
//! Fatal reasons: `selfie_is_document_portrait`, `presentation_attack_suspected` (presentation
//! attacks). Retryable reasons (each counts against the step's attempts): `no_face`,
//! `multiple_faces` (a second person in frame is reported, and a retake alone may pass),
//! `face_mismatch`, `pad_not_configured` when the channel requires passive PAD and the
//! deployment has no PAD model, and the liveness codes `challenge_not_followed`,
//! `static_frames`, `duplicate_frames`, `replayed_frames`.

use simgate_biometrics::{
    align::warp_to_template,
    decode::DecodedImage,
    embed::FaceEmbedding,
    engine::FaceEngine,
    liveness::{
        FrameFingerprint, LivenessChallenge, LivenessCode, LivenessConfig, LivenessResult,
        evaluate_liveness,
    },
    pad::PadEngine,
};

use crate::{
    decision::{CheckResult, StepOutcome},
    policy::{ChannelPolicy, Step},
    session::{Verification, VerificationStatus},
    steps::StepError,
};

/// Normalised cross-correlation of aligned crops above which a selfie is taken to be a
/// reproduction of the document portrait: two live captures of one person never align this
/// closely pixel for pixel, while a photo of the portrait does.
pub const PORTRAIT_REPRODUCTION_NCC: f64 = 0.95;

/// Fewest frames a selfie answering an active-liveness challenge may carry: a start frame and
/// at least two showing the movement, so one lucky frame cannot carry the motion check.
pub const MIN_LIVENESS_FRAMES: usize = 3;

/// Name of the PAD check when the policy does not require PAD: recorded, never deciding.
pub const PAD_INFORMATIONAL_CHECK: &str = "pad_informational";

/// Reason code of a PAD score below the threshold when the policy requires PAD.
pub const PRESENTATION_ATTACK_SUSPECTED: &str = "presentation_attack_suspected";

/// What the selfie step found.
#[derive(Debug, Clone)]
pub struct SelfieStepResult {
    /// Pass/fail with reasons and checks.
    pub outcome: StepOutcome,
    /// Whether the failure is final for this verification.
    pub fatal: bool,
    /// Lowest similarity to the portrait over the frames, when every frame held one face.
    pub similarity: Option<f32>,
    /// Fingerprints of this submission's frames (active liveness only), to append to the
    /// session's evidence so a replay in a later attempt is caught.
    pub fingerprints: Vec<FrameFingerprint>,
}

/// The document evidence a selfie is held against.
#[derive(Debug, Clone, Copy)]
pub struct PortraitEvidence<'a> {
    /// The portrait's embedding.
    pub template: &'a [f32],
    /// The portrait aligned to the template (112x112 RGB), when still kept.
    pub aligned_rgb: Option<&'a [u8]>,
}

/// The active-liveness evidence a submission is held against.
#[derive(Debug, Clone, Copy)]
pub struct LivenessInput<'a> {
    /// The challenge the session issued for this attempt.
    pub challenge: &'a LivenessChallenge,
    /// Fingerprints of the frames submitted earlier in the session.
    pub previously_seen: &'a [FrameFingerprint],
}

/// A passive PAD engine and the P(real) threshold it is held to.
#[derive(Clone, Copy)]
pub struct PadInput<'a> {
    /// The loaded engine.
    pub engine: &'a dyn PadEngine,
    /// P(real) at or above which a face counts as live.
    pub threshold: f32,
}

impl std::fmt::Debug for PadInput<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PadInput")
            .field("models", &self.engine.model_ids())
            .field("threshold", &self.threshold)
            .finish()
    }
}

/// The presentation-attack evidence available to a selfie evaluation.
#[derive(Debug, Clone, Copy, Default)]
pub struct AttackChecks<'a> {
    /// The session's challenge; needed when the policy requires active liveness.
    pub liveness: Option<LivenessInput<'a>>,
    /// The PAD engine, when configured and loaded.
    pub pad: Option<PadInput<'a>>,
}

/// Fewest frames a selfie submission under `policy` may carry.
pub fn min_selfie_frames(policy: &ChannelPolicy) -> usize {
    if policy.active_liveness_required {
        MIN_LIVENESS_FRAMES
    } else {
        1
    }
}

/// The liveness tunables the selfie step uses: the biometrics defaults with this step's
/// minimum frame count.
pub fn liveness_config() -> LivenessConfig {
    LivenessConfig {
        min_frames: MIN_LIVENESS_FRAMES,
        ..LivenessConfig::default()
    }
}

/// Whether the session still waits for a selfie that must answer a liveness challenge.
fn awaits_liveness_selfie(verification: &Verification) -> bool {
    verification.status == VerificationStatus::InProgress
        && verification.policy.active_liveness_required
        && verification
            .steps
            .get(&Step::Selfie)
            .is_some_and(|state| !state.passed)
}

/// The challenge the next selfie submission must answer, when the session is waiting for one.
pub fn pending_liveness_challenge(verification: &Verification) -> Option<&LivenessChallenge> {
    let waiting = awaits_liveness_selfie(verification);
    verification
        .evidence
        .liveness_challenge
        .as_ref()
        .filter(|_| waiting)
}

/// Issues a fresh challenge when the session still waits for a selfie under active liveness
/// (on opening, and after a failed attempt). Returns whether one was issued.
pub fn renew_liveness_challenge(verification: &mut Verification) -> bool {
    let waiting = awaits_liveness_selfie(verification);
    if waiting {
        verification.evidence.liveness_challenge = Some(LivenessChallenge::issue_random());
    }
    waiting
}

/// Evaluates one selfie submission of `frames` against the portrait, and against the
/// active-liveness challenge and PAD as `policy` and `attacks` say.
pub fn evaluate_selfie(
    engine: &dyn FaceEngine,
    frames: &[DecodedImage],
    portrait: PortraitEvidence<'_>,
    threshold: f32,
    policy: &ChannelPolicy,
    attacks: AttackChecks<'_>,
) -> Result<SelfieStepResult, StepError> {
    let min_frames = min_selfie_frames(policy);
    if frames.len() < min_frames {
        return Err(StepError::TooFewFrames {
            got: frames.len(),
            min: min_frames,
        });
    }
    // Checked before any inference: without the challenge nothing can be evaluated.
    let liveness_input = match (policy.active_liveness_required, attacks.liveness) {
        (true, None) => return Err(StepError::LivenessChallengeMissing),
        (true, Some(input)) => Some(input),
        (false, _) => None,
    };
    let mut checks = Vec::new();
    let mut reasons = Vec::new();
    let mut fatal = false;
    let Some(portrait_embedding) = FaceEmbedding::from_values(portrait.template) else {
        return Err(StepError::Inference(
            simgate_biometrics::BiometricsError::Inference(
                "the stored portrait template is unusable".into(),
            ),
        ));
    };

    let mut lowest: Option<f32> = None;
    let mut lowest_pad: Option<f32> = None;
    let mut all_single = true;
    let mut reproduction = 0.0f64;
    for frame in frames {
        let faces = engine.detect_faces(frame)?;
        let face = match faces.as_slice() {
            [face] => face,
            [] => {
                push_once(&mut reasons, "no_face");
                all_single = false;
                continue;
            }
            _ => {
                push_once(&mut reasons, "multiple_faces");
                all_single = false;
                continue;
            }
        };
        let similarity = engine
            .embed_face(frame, face)?
            .cosine_similarity(&portrait_embedding);
        lowest = Some(lowest.map_or(similarity, |l| l.min(similarity)));
        if let (Some(portrait_rgb), Some(aligned)) = (
            portrait.aligned_rgb,
            warp_to_template(frame.as_rgb_image(), &face.landmarks),
        ) {
            reproduction =
                reproduction.max(normalised_cross_correlation(portrait_rgb, aligned.as_raw()));
        }
        if let Some(pad) = attacks.pad {
            let score = pad.engine.real_probability(frame.as_rgb_image(), face)?;
            lowest_pad = Some(lowest_pad.map_or(score, |l| l.min(score)));
        }
    }
    checks.push(CheckResult::flag("single_face_per_frame", all_single));
    if let Some(similarity) = lowest.filter(|_| all_single) {
        let matched = similarity >= threshold;
        checks.push(CheckResult::scored(
            "face_match",
            matched,
            f64::from(similarity),
            f64::from(threshold),
        ));
        if !matched {
            reasons.push("face_mismatch".to_owned());
        }
    }
    if portrait.aligned_rgb.is_some() {
        let is_reproduction = reproduction >= PORTRAIT_REPRODUCTION_NCC;
        checks.push(CheckResult::scored(
            "not_document_portrait",
            !is_reproduction,
            reproduction,
            PORTRAIT_REPRODUCTION_NCC,
        ));
        if is_reproduction {
            reasons.push("selfie_is_document_portrait".to_owned());
            fatal = true;
        }
    }

    let mut fingerprints = Vec::new();
    if let Some(input) = liveness_input {
        let result = evaluate_liveness(
            engine,
            input.challenge,
            frames,
            input.previously_seen,
            &liveness_config(),
        )?;
        liveness_checks(&result, input.previously_seen, &mut checks, &mut reasons);
        fingerprints = result.fingerprints();
    }

    match (attacks.pad, lowest_pad) {
        (Some(pad), Some(score)) => {
            let live = score >= pad.threshold;
            let name = if policy.pad_required {
                "pad"
            } else {
                PAD_INFORMATIONAL_CHECK
            };
            checks.push(CheckResult::scored(
                name,
                live,
                f64::from(score),
                f64::from(pad.threshold),
            ));
            if policy.pad_required && !live {
                reasons.push(PRESENTATION_ATTACK_SUSPECTED.to_owned());
                fatal = true;
            }
        }
        // No single-face frame to score: the face reasons above already fail the step.
        (Some(_), None) => {}
        (None, _) => {
            if policy.pad_required {
                checks.push(CheckResult::flag("pad", false));
                reasons.push("pad_not_configured".to_owned());
            }
        }
    }

    // Not `StepOutcome::from_checks`: the informational PAD check is reported but must not
    // decide the step.
    let passed = reasons.is_empty()
        && checks
            .iter()
            .filter(|check| check.name != PAD_INFORMATIONAL_CHECK)
            .all(|check| check.passed);
    Ok(SelfieStepResult {
        outcome: StepOutcome {
            passed,
            reasons,
            checks,
        },
        fatal,
        similarity: lowest.filter(|_| all_single),
        fingerprints,
    })
}

/// Turns an active-liveness result into checks (with their measurements) and reason codes.
fn liveness_checks(
    result: &LivenessResult,
    previously_seen: &[FrameFingerprint],
    checks: &mut Vec<CheckResult>,
    reasons: &mut Vec<String>,
) {
    let failed = |code: LivenessCode| result.reasons.contains(&code);
    let followed = !failed(LivenessCode::ChallengeNotFollowed);
    checks.push(match result.movement.filter(|value| value.is_finite()) {
        Some(movement) => CheckResult::scored(
            "liveness_challenge",
            followed,
            f64::from(movement),
            f64::from(result.movement_threshold),
        ),
        None => CheckResult::flag("liveness_challenge", followed),
    });
    checks.push(CheckResult::flag(
        "liveness_motion",
        !failed(LivenessCode::StaticFrames),
    ));
    checks.push(CheckResult::flag(
        "liveness_distinct_frames",
        !failed(LivenessCode::DuplicateFrames),
    ));
    // The measurement is the closest any frame came to an earlier one, in fingerprint bits.
    let closest = result
        .frames
        .iter()
        .flat_map(|frame| {
            previously_seen
                .iter()
                .map(move |seen| seen.distance(&frame.fingerprint))
        })
        .min();
    let not_replayed = !failed(LivenessCode::ReplayedFrames);
    checks.push(match closest {
        Some(distance) => CheckResult::scored(
            "liveness_not_replayed",
            not_replayed,
            f64::from(distance),
            f64::from(liveness_config().replay_max_distance),
        ),
        None => CheckResult::flag("liveness_not_replayed", not_replayed),
    });
    for code in &result.reasons {
        match code {
            // The face match above already reports these per frame as `no_face` and
            // `multiple_faces`; a second code for the same problem would only confuse clients.
            LivenessCode::NoFaceInFrame | LivenessCode::MultipleFaces => {}
            other => push_once(reasons, other.as_str()),
        }
    }
}

fn push_once(reasons: &mut Vec<String>, reason: &str) {
    if !reasons.iter().any(|r| r == reason) {
        reasons.push(reason.to_owned());
    }
}

/// Normalised cross-correlation of two equally sized byte images, in [-1, 1].
pub fn normalised_cross_correlation(a: &[u8], b: &[u8]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let n = a.len() as f64;
    let mean_a = a.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let mean_b = b.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (mut cross, mut var_a, mut var_b) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (f64::from(x) - mean_a, f64::from(y) - mean_b);
        cross += dx * dy;
        var_a += dx * dx;
        var_b += dy * dy;
    }
    if var_a == 0.0 || var_b == 0.0 {
        return 0.0;
    }
    cross / (var_a.sqrt() * var_b.sqrt())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failed set-up step should abort the test loudly

    use simgate_core::{Msisdn, TenantId};
    use simgate_tokens::Eid;
    use time::macros::datetime;

    use super::*;
    use crate::{Applicant, Channel, FlowPolicy};

    fn open(active_liveness: bool) -> Verification {
        let mut policy = FlowPolicy::default().mobile;
        policy.active_liveness_required = active_liveness;
        let applicant = Applicant {
            msisdn: Msisdn::parse("+23057001234").unwrap(),
            eid: Eid::parse("89049032123451234512345678901235").unwrap(),
            iccid: None,
            matching_id: None,
            smdp_address: None,
            store_id: None,
            declared_surname: None,
            declared_birth_date: None,
        };
        Verification::open(
            TenantId::parse("acme").unwrap(),
            Channel::Mobile,
            policy,
            applicant,
            datetime!(2026-11-26 10:00 UTC),
        )
    }

    #[test]
    fn challenges_are_issued_renewed_and_hidden_once_decided() {
        let mut plain = open(false);
        assert!(!renew_liveness_challenge(&mut plain));
        assert!(pending_liveness_challenge(&plain).is_none());
        assert_eq!(min_selfie_frames(&plain.policy), 1);

        let mut session = open(true);
        assert_eq!(min_selfie_frames(&session.policy), MIN_LIVENESS_FRAMES);
        assert!(renew_liveness_challenge(&mut session));
        let first = pending_liveness_challenge(&session).unwrap().clone();
        assert!(renew_liveness_challenge(&mut session));
        assert_ne!(
            pending_liveness_challenge(&session).unwrap().nonce,
            first.nonce
        );

        // Evidence survives the JSON round trip the store does, fingerprints as hex.
        session.evidence.frame_fingerprints.push(FrameFingerprint {
            face: 0x0123_4567_89ab_cdef,
            frame: 1,
        });
        let json = serde_json::to_value(&session).unwrap();
        assert_eq!(
            json["evidence"]["frame_fingerprints"][0],
            "0123456789abcdef0000000000000001"
        );
        let back: Verification = serde_json::from_value(json).unwrap();
        assert_eq!(back, session);

        // Once the selfie passed, nothing is pending and nothing is renewed.
        let now = session.created_at;
        for step in [Step::Document, Step::Selfie] {
            session
                .record_step(
                    step,
                    StepOutcome::from_checks(Vec::new(), Vec::new()),
                    false,
                    now,
                )
                .unwrap();
        }
        assert!(pending_liveness_challenge(&session).is_none());
        assert!(!renew_liveness_challenge(&mut session));
    }
}
