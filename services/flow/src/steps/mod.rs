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
}
