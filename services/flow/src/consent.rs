//! The subscriber's consent to what a verification does with their document and face.
//!
//! A face template is biometric data: processing it for identification needs the subscriber's
//! explicit consent in most carriers' jurisdictions (GDPR art. 9(2)(a) and its equivalents), and
//! a carrier must be able to show, per verification, which notice the subscriber agreed to, to
//! what, how and when. So:
//!
//! - [`ConsentNoticeVersion`], [`ConsentPurpose`], [`ConsentMethod`]: the validated parts a
//!   client sends (the version of the notice it showed, the purposes agreed, how agreement was
//!   given).
//! - [`Consent`]: those parts with the server's time of capture (a client's clock is not
//!   evidence); stored sealed with the session, erased with it.
//! - [`ChannelPolicy::consent_required`](crate::ChannelPolicy) and [`check_consent`]: a channel
//!   that requires consent refuses to open a session without it, and the purposes must cover
//!   what the channel's steps do (identity verification always; biometric matching when the
//!   selfie step runs).

use std::{collections::BTreeSet, fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{ChannelPolicy, FlowError, Step};

/// The version label of the consent notice the client showed, e.g. `kiosk-2026-11-en`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConsentNoticeVersion(String);

impl ConsentNoticeVersion {
    /// Accepts 1 to 64 ASCII letters, digits and `. _ -`.
    pub fn parse(value: &str) -> Result<Self, FlowError> {
        let valid = (1..=64).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(FlowError::Unknown {
                what: "consent notice version (1 to 64 letters, digits or . _ -)",
                value: value.chars().take(80).collect(),
            })
        }
    }

    /// The label.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ConsentNoticeVersion {
    type Error = FlowError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ConsentNoticeVersion> for String {
    fn from(value: ConsentNoticeVersion) -> Self {
        value.0
    }
}

/// What the subscriber agreed their data may be used for.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ConsentPurpose {
    /// Checking the identity document and the applicant's details.
    IdentityVerification,
    /// Making a face template from the document portrait and the selfie and comparing them.
    BiometricMatching,
    /// Using the verification's signals in fraud monitoring of the subscription.
    FraudMonitoring,
}

impl ConsentPurpose {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdentityVerification => "identity_verification",
            Self::BiometricMatching => "biometric_matching",
            Self::FraudMonitoring => "fraud_monitoring",
        }
    }
}

impl FromStr for ConsentPurpose {
    type Err = FlowError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        [
            Self::IdentityVerification,
            Self::BiometricMatching,
            Self::FraudMonitoring,
        ]
        .into_iter()
        .find(|purpose| purpose.as_str() == value)
        .ok_or_else(|| FlowError::Unknown {
            what: "consent purpose",
            value: value.chars().take(80).collect(),
        })
    }
}

impl fmt::Display for ConsentPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the subscriber gave consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMethod {
    /// Ticked or tapped on a screen the subscriber operated (kiosk, app).
    OnScreen,
    /// Signed a paper or electronic form in the shop.
    SignedForm,
}

impl ConsentMethod {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnScreen => "on_screen",
            Self::SignedForm => "signed_form",
        }
    }
}

impl FromStr for ConsentMethod {
    type Err = FlowError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        [Self::OnScreen, Self::SignedForm]
            .into_iter()
            .find(|method| method.as_str() == value)
            .ok_or_else(|| FlowError::Unknown {
                what: "consent method",
                value: value.chars().take(80).collect(),
            })
    }
}

/// Consent as captured for one verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// The notice the subscriber was shown.
    pub notice_version: ConsentNoticeVersion,
    /// What they agreed to.
    pub purposes: BTreeSet<ConsentPurpose>,
    /// How they agreed.
    pub method: ConsentMethod,
    /// When the server received it.
    #[serde(with = "time::serde::rfc3339")]
    pub captured_at: OffsetDateTime,
}

/// The purposes a verification under `policy` needs consent for.
pub fn purposes_needed(policy: &ChannelPolicy) -> BTreeSet<ConsentPurpose> {
    let mut needed = BTreeSet::from([ConsentPurpose::IdentityVerification]);
    if policy.requires(Step::Selfie) {
        needed.insert(ConsentPurpose::BiometricMatching);
    }
    needed
}

/// Refuses to open a session under `policy` when consent is required and missing, or does not
/// cover every purpose the channel's steps need. Consent given where none is required is kept.
pub fn check_consent(policy: &ChannelPolicy, consent: Option<&Consent>) -> Result<(), FlowError> {
    if !policy.consent_required {
        return Ok(());
    }
    let needed = purposes_needed(policy);
    let missing: Vec<ConsentPurpose> = match consent {
        None => needed.into_iter().collect(),
        Some(consent) => needed.difference(&consent.purposes).copied().collect(),
    };
    if missing.is_empty() {
        Ok(())
    } else {
        Err(FlowError::ConsentRequired { missing })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consent(purposes: &[ConsentPurpose]) -> Consent {
        Consent {
            notice_version: ConsentNoticeVersion::parse("kiosk-2026-11-en").unwrap(),
            purposes: purposes.iter().copied().collect(),
            method: ConsentMethod::OnScreen,
            captured_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_channel_with_a_selfie_needs_consent_to_biometric_matching() {
        use ConsentPurpose::*;
        let kiosk = ChannelPolicy::kiosk_default();
        assert!(kiosk.consent_required);
        assert_eq!(
            check_consent(&kiosk, None),
            Err(FlowError::ConsentRequired {
                missing: vec![IdentityVerification, BiometricMatching]
            })
        );
        assert_eq!(
            check_consent(&kiosk, Some(&consent(&[IdentityVerification]))),
            Err(FlowError::ConsentRequired {
                missing: vec![BiometricMatching]
            })
        );
        assert_eq!(
            check_consent(
                &kiosk,
                Some(&consent(&[IdentityVerification, BiometricMatching]))
            ),
            Ok(())
        );
    }

    #[test]
    fn a_channel_that_does_not_require_consent_opens_without_it() {
        let batch = ChannelPolicy::batch_default();
        assert!(!batch.consent_required);
        assert_eq!(check_consent(&batch, None), Ok(()));
        let document_only = ChannelPolicy {
            required_steps: vec![Step::Document],
            consent_required: true,
            ..ChannelPolicy::kiosk_default()
        };
        assert_eq!(
            check_consent(
                &document_only,
                Some(&consent(&[ConsentPurpose::IdentityVerification]))
            ),
            Ok(())
        );
    }

    #[test]
    fn names_parse_back_and_bad_ones_are_refused() {
        for purpose in [
            ConsentPurpose::IdentityVerification,
            ConsentPurpose::BiometricMatching,
            ConsentPurpose::FraudMonitoring,
        ] {
            assert_eq!(purpose.as_str().parse::<ConsentPurpose>(), Ok(purpose));
        }
        assert!("marketing".parse::<ConsentPurpose>().is_err());
        assert_eq!("on_screen".parse(), Ok(ConsentMethod::OnScreen));
        assert!("assumed".parse::<ConsentMethod>().is_err());
        assert!(ConsentNoticeVersion::parse("").is_err());
        assert!(ConsentNoticeVersion::parse("v1 <script>").is_err());
        assert!(ConsentNoticeVersion::parse(&"a".repeat(65)).is_err());
        assert_eq!(
            ConsentNoticeVersion::parse("kiosk-2026.11_fr")
                .unwrap()
                .as_str(),
            "kiosk-2026.11_fr"
        );
    }
}
