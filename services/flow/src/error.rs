//! The flow crate's single error type. Each variant is a transition the state machine refuses;
//! the API turns them into 409 problems (or 404 for an unknown id, which the store reports).

use crate::{consent::ConsentPurpose, policy::Step, session::VerificationStatus};

/// Why a verification cannot do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// The session is not in a state that allows the action.
    #[error("a verification that is {status} cannot {action}")]
    IllegalTransition {
        /// The state the session is in.
        status: VerificationStatus,
        /// What was attempted, e.g. `submit a document`.
        action: &'static str,
    },
    /// The session's lifetime ran out.
    #[error("the verification expired")]
    Expired,
    /// The channel's policy does not require this step.
    #[error("the {0} step is not required for this verification")]
    StepNotRequired(Step),
    /// The step already passed; it cannot be submitted again.
    #[error("the {0} step has already passed")]
    StepAlreadyPassed(Step),
    /// A step that must come first has not passed yet.
    #[error("the {step} step needs the {prerequisite} step to pass first")]
    StepOutOfOrder {
        /// The step submitted.
        step: Step,
        /// The step that must pass before it.
        prerequisite: Step,
    },
    /// A channel or step name from a caller or a configuration file is not known.
    #[error("unknown {what}: {value:?}")]
    Unknown {
        /// What kind of name it was.
        what: &'static str,
        /// The name given.
        value: String,
    },
    /// The channel requires the subscriber's consent and it is missing or does not cover every
    /// purpose the channel's steps need.
    #[error("the subscriber's consent is required for: {}", missing.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", "))]
    ConsentRequired {
        /// The purposes consent is still needed for.
        missing: Vec<ConsentPurpose>,
    },
    /// A configured policy is unusable (e.g. no attempts allowed).
    #[error("invalid policy for channel {channel}: {reason}")]
    InvalidPolicy {
        /// The channel whose policy is wrong.
        channel: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl FlowError {
    /// A stable machine-readable code for this error.
    pub fn reason_code(&self) -> &'static str {
        match self {
            FlowError::IllegalTransition { .. } => "illegal_transition",
            FlowError::Expired => "verification_expired",
            FlowError::StepNotRequired(_) => "step_not_required",
            FlowError::StepAlreadyPassed(_) => "step_already_passed",
            FlowError::StepOutOfOrder { .. } => "step_out_of_order",
            FlowError::Unknown { .. } => "unknown_name",
            FlowError::ConsentRequired { .. } => "consent_required",
            FlowError::InvalidPolicy { .. } => "invalid_policy",
        }
    }
}
