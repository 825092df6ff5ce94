//! Evaluating the evidence of one step into a [`StepOutcome`](crate::StepOutcome): the document
//! (MRZ rules, validity, age, declared identity, portrait) and the selfie (face match against the
//! document portrait, presentation-attack signals).
//!
//! These functions are synchronous and CPU-bound (they run the face models); callers run them
//! off the async runtime. Inference failures are errors; bad evidence is an outcome with reasons.

pub mod document;
pub mod selfie;

/// Why a step could not be evaluated at all (as opposed to evaluated and failed).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The face models failed.
    #[error("face inference failed: {0}")]
    Inference(#[from] simgate_biometrics::BiometricsError),
    /// The submission carries fewer frames than the step needs (active liveness needs several);
    /// a request error, not an attempt.
    #[error("the selfie needs at least {min} frames, got {got}")]
    TooFewFrames {
        /// Frames submitted.
        got: usize,
        /// Frames needed.
        min: usize,
    },
    /// The policy requires active liveness but the session holds no challenge to answer.
    #[error("the session holds no active-liveness challenge to answer")]
    LivenessChallengeMissing,
}
