//! Verification sessions: the part of simgate that ties the document, face and second-factor
//! checks into one decision a carrier can act on.
//!
//! Domain logic only: no HTTP, no SQL, no clock reads (every transition takes `now`).
//!
//! - [`policy`]: channels (`kiosk`, `mobile`, `batch`), the steps a channel requires and its limits
//!   ([`ChannelPolicy`]), loaded from configuration.
//! - [`session`]: the [`Verification`] aggregate and its state machine; each transition either
//!   succeeds or returns a [`FlowError`] naming why it is illegal.
//! - [`decision`]: what a finished session decided ([`Decision`]), with reason codes and every
//!   check that ran ([`CheckResult`]).
//! - [`steps`]: evaluating the evidence of the document and selfie steps with the documents and
//!   biometrics crates into step outcomes.
//! - [`consent`]: the subscriber's consent to the verification's processing ([`Consent`]) and
//!   the check that a channel requiring it gets it, covering what its steps do.
//! - [`error`]: [`FlowError`], the crate's single error type.

pub mod consent;
pub mod decision;
pub mod error;
pub mod policy;
pub mod session;
pub mod steps;

pub use consent::{
    Consent, ConsentMethod, ConsentNoticeVersion, ConsentPurpose, check_consent, purposes_needed,
};
pub use decision::{CheckResult, Decision, StepOutcome};
pub use error::FlowError;
pub use policy::{Channel, ChannelPolicy, FlowPolicy, OtpMethod, Step};
pub use session::{Applicant, StepState, Verification, VerificationStatus};
