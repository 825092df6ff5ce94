//! The selfie step: every frame must hold exactly one face, every frame's face must match the
//! document portrait, and the selfie must not be the document portrait itself held up to the
//! camera.
//!
//! Taking the *lowest* similarity over the frames (not the best) means a sequence cannot pass by
//! showing the right face once and someone else in the other frames.
//!
//! Fatal reasons: `selfie_is_document_portrait` (a presentation attack). Retryable reasons:
//! `no_face`, `multiple_faces` (a second person in frame is reported, and a retake alone may
//! pass), `face_mismatch` (counts against the step's attempts), `pad_not_configured` when the
//! channel requires passive PAD and the deployment has no PAD model.

use simgate_biometrics::{
    align::warp_to_template, decode::DecodedImage, embed::FaceEmbedding, engine::FaceEngine,
};

use crate::{
    decision::{CheckResult, StepOutcome},
    policy::ChannelPolicy,
    steps::StepError,
};

/// Normalised cross-correlation of aligned crops above which a selfie is taken to be a
/// reproduction of the document portrait: two live captures of one person never align this
/// closely pixel for pixel, while a photo of the portrait does.
pub const PORTRAIT_REPRODUCTION_NCC: f64 = 0.95;

/// What the selfie step found.
#[derive(Debug, Clone)]
pub struct SelfieStepResult {
    /// Pass/fail with reasons and checks.
    pub outcome: StepOutcome,
    /// Whether the failure is final for this verification.
    pub fatal: bool,
    /// Lowest similarity to the portrait over the frames, when every frame held one face.
    pub similarity: Option<f32>,
}

/// The document evidence a selfie is held against.
#[derive(Debug, Clone, Copy)]
pub struct PortraitEvidence<'a> {
    /// The portrait's embedding.
    pub template: &'a [f32],
    /// The portrait aligned to the template (112x112 RGB), when still kept.
    pub aligned_rgb: Option<&'a [u8]>,
}

/// Evaluates one selfie submission of `frames` against the portrait.
pub fn evaluate_selfie(
    engine: &dyn FaceEngine,
    frames: &[DecodedImage],
    portrait: PortraitEvidence<'_>,
    threshold: f32,
    policy: &ChannelPolicy,
    pad_configured: bool,
) -> Result<SelfieStepResult, StepError> {
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
    if policy.pad_required && !pad_configured {
        checks.push(CheckResult::flag("pad", false));
        reasons.push("pad_not_configured".to_owned());
    }
    Ok(SelfieStepResult {
        outcome: StepOutcome::from_checks(checks, reasons),
        fatal,
        similarity: lowest.filter(|_| all_single),
    })
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
