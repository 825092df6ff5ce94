//! Per-channel policy: which steps a verification needs and the limits that apply to it.
//!
//! A kiosk is supervised (a clerk sees the subscriber and the document), a mobile app is not
//! (liveness matters most), a batch job re-scores stored evidence (no second factor). The defaults
//! below encode that; deployments override them in configuration.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::error::FlowError;

/// Where a verification comes from.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A carrier storefront kiosk, supervised by staff.
    Kiosk,
    /// A mobile onboarding app, unsupervised.
    Mobile,
    /// A batch re-verification job.
    Batch,
}

impl Channel {
    /// The channel's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Kiosk => "kiosk",
            Channel::Mobile => "mobile",
            Channel::Batch => "batch",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = FlowError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "kiosk" => Ok(Channel::Kiosk),
            "mobile" => Ok(Channel::Mobile),
            "batch" => Ok(Channel::Batch),
            other => Err(FlowError::Unknown {
                what: "channel",
                value: other.chars().take(32).collect(),
            }),
        }
    }
}

/// One check a verification can require. The order of the variants is the order they run in.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// An identity document: quality, MRZ, policy, portrait.
    Document,
    /// A live selfie matched against the document portrait, with liveness checks.
    Selfie,
    /// A second factor: an SMS code or a TOTP code.
    Otp,
}

impl Step {
    /// The step's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Document => "document",
            Step::Selfie => "selfie",
            Step::Otp => "otp",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the second factor may be given.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OtpMethod {
    /// A code sent by SMS to the verification's MSISDN.
    Sms,
    /// A code from an authenticator app enrolled for the MSISDN.
    Totp,
}

/// The rules for verifications of one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelPolicy {
    /// Steps that must pass for approval, in any order the prerequisites allow.
    pub required_steps: Vec<Step>,
    /// Submissions allowed per step before the verification is rejected.
    pub max_attempts_per_step: u32,
    /// How long a session may stay open, in seconds.
    pub session_lifetime_secs: u64,
    /// Face-match threshold for this channel; `None` uses the service-wide calibrated threshold.
    pub face_match_threshold: Option<f32>,
    /// Whether a passive presentation-attack check must have run and passed. When the PAD model
    /// is not configured a channel that requires it rejects selfies with `pad_not_configured`.
    pub pad_required: bool,
    /// Whether the selfie step needs an active-liveness challenge answered with several frames.
    pub active_liveness_required: bool,
    /// Second-factor methods this channel accepts.
    pub otp_methods: Vec<OtpMethod>,
    /// Whether the document's name and birth date must agree with what the client declared,
    /// when the client declared them.
    pub declared_identity_must_match: bool,
    /// Whether a session opens only with the subscriber's consent (`consent` on the request),
    /// covering identity verification and, when the selfie step runs, biometric matching.
    pub consent_required: bool,
}

impl ChannelPolicy {
    /// The default policy of a supervised kiosk: document, single-frame selfie and a second
    /// factor (SMS code or TOTP), the three layers every eSIM activation goes through.
    pub fn kiosk_default() -> Self {
        Self {
            required_steps: vec![Step::Document, Step::Selfie, Step::Otp],
            max_attempts_per_step: 3,
            session_lifetime_secs: 30 * 60,
            face_match_threshold: None,
            pad_required: false,
            active_liveness_required: false,
            otp_methods: vec![OtpMethod::Sms, OtpMethod::Totp],
            declared_identity_must_match: true,
            consent_required: true,
        }
    }

    /// The default policy of an unsupervised mobile app: the kiosk's steps, and the selfie must
    /// answer an active-liveness challenge because no member of staff watches the capture.
    pub fn mobile_default() -> Self {
        Self {
            active_liveness_required: true,
            ..Self::kiosk_default()
        }
    }

    /// The default policy of a batch re-verification: document and face, no second factor. No
    /// subscriber is present to consent: the job re-scores evidence collected, with consent,
    /// when the subscription was opened, under the carrier's contract with the subscriber.
    pub fn batch_default() -> Self {
        Self {
            required_steps: vec![Step::Document, Step::Selfie],
            otp_methods: Vec::new(),
            consent_required: false,
            ..Self::kiosk_default()
        }
    }

    /// Whether `step` must pass for approval.
    pub fn requires(&self, step: Step) -> bool {
        self.required_steps.contains(&step)
    }

    /// Checks that the policy can ever approve a verification.
    pub fn validate(&self, channel: Channel) -> Result<(), FlowError> {
        let invalid = |reason: &str| FlowError::InvalidPolicy {
            channel: channel.to_string(),
            reason: reason.to_owned(),
        };
        if self.required_steps.is_empty() {
            return Err(invalid(
                "required_steps is empty; nothing would be verified",
            ));
        }
        if self.max_attempts_per_step == 0 {
            return Err(invalid("max_attempts_per_step must be at least 1"));
        }
        if self.session_lifetime_secs < 60 || self.session_lifetime_secs > 24 * 3600 {
            return Err(invalid("session_lifetime_secs must be 60 s to 24 h"));
        }
        if self.requires(Step::Otp) && self.otp_methods.is_empty() {
            return Err(invalid("the otp step is required but otp_methods is empty"));
        }
        if let Some(threshold) = self.face_match_threshold
            && !(-1.0..=1.0).contains(&threshold)
        {
            return Err(invalid(
                "face_match_threshold must be a cosine similarity in [-1, 1]",
            ));
        }
        Ok(())
    }
}

impl Default for ChannelPolicy {
    fn default() -> Self {
        Self::kiosk_default()
    }
}

/// The policies of every channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowPolicy {
    /// Storefront kiosks.
    #[serde(default = "ChannelPolicy::kiosk_default")]
    pub kiosk: ChannelPolicy,
    /// Mobile onboarding apps.
    #[serde(default = "ChannelPolicy::mobile_default")]
    pub mobile: ChannelPolicy,
    /// Batch re-verification.
    #[serde(default = "ChannelPolicy::batch_default")]
    pub batch: ChannelPolicy,
}

impl Default for FlowPolicy {
    fn default() -> Self {
        Self {
            kiosk: ChannelPolicy::kiosk_default(),
            mobile: ChannelPolicy::mobile_default(),
            batch: ChannelPolicy::batch_default(),
        }
    }
}

impl FlowPolicy {
    /// The policy of one channel.
    pub fn for_channel(&self, channel: Channel) -> &ChannelPolicy {
        match channel {
            Channel::Kiosk => &self.kiosk,
            Channel::Mobile => &self.mobile,
            Channel::Batch => &self.batch,
        }
    }

    /// Validates every channel's policy.
    pub fn validate(&self) -> Result<(), FlowError> {
        for channel in [Channel::Kiosk, Channel::Mobile, Channel::Batch] {
            self.for_channel(channel).validate(channel)?;
        }
        Ok(())
    }
}
