//! TOTP (RFC 6238) for authenticator apps: settings, secrets, enrolment and verification.
//!
//! - [`TotpSettings`]: issuer (carrier), algorithm, digits, step and allowed skew, validated.
//! - [`TotpSecret`]: the 160-bit shared secret from a CSPRNG; redacted in `Debug`, zeroized on
//!   drop, and exportable as bytes so the store can seal it (AES-GCM) before writing it.
//! - [`enrol_totp`]: a new secret plus the `otpauth://` URI and its QR code PNG; the enrolment
//!   starts [`TotpEnrolmentState::Pending`] and becomes active through
//!   [`confirm_totp_enrolment`] once the subscriber shows a first valid code.
//! - [`verify_totp_code`]: accepts a code from the current step or `skew_steps` either side and
//!   returns the [`AcceptedStep`]. RFC 6238 §5.2 says a code must be accepted only once, so
//!   any step at or below the last accepted one is refused as a replay; the caller persists the
//!   returned step atomically (compare-and-set in the store), which is what makes replay
//!   protection hold across replicas.
//!
//! Code generation (HMAC + dynamic truncation) and the URI come from `totp-rs`; the window
//! search is done here so every candidate step is compared in constant time and the replay
//! rule can look at each step, not only the first match.

use std::fmt;

use simgate_core::Clock;
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;
use totp_rs::{Algorithm, Builder, Totp};
use zeroize::Zeroizing;

use crate::carrier::CarrierName;
use crate::code::OtpCode;
use crate::error::OtpError;
use simgate_core::Msisdn;
use simgate_core::qr::render_qr_png;

/// The HMAC hash function of a TOTP enrolment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TotpAlgorithm {
    /// HMAC-SHA-1, the only one every authenticator app supports.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl TotpAlgorithm {
    /// The name used in otpauth URIs and stored with the enrolment (`SHA1`, `SHA256`, `SHA512`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    /// Reads a stored or configured algorithm name.
    pub fn parse(value: &str) -> Result<Self, OtpError> {
        match value.to_ascii_uppercase().replace('-', "").as_str() {
            "SHA1" => Ok(Self::Sha1),
            "SHA256" => Ok(Self::Sha256),
            "SHA512" => Ok(Self::Sha512),
            _ => Err(OtpError::invalid(
                "TOTP algorithm",
                "must be SHA1, SHA256 or SHA512",
            )),
        }
    }

    fn to_totp_rs(self) -> Algorithm {
        match self {
            Self::Sha1 => Algorithm::SHA1,
            Self::Sha256 => Algorithm::SHA256,
            Self::Sha512 => Algorithm::SHA512,
        }
    }
}

impl fmt::Display for TotpAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How TOTP codes are computed and how much clock skew is forgiven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpSettings {
    issuer: CarrierName,
    algorithm: TotpAlgorithm,
    digits: u8,
    step_secs: u64,
    skew_steps: u8,
}

impl TotpSettings {
    /// Digits allowed by RFC 4226 §5.3 and by authenticator apps.
    pub const DIGITS: std::ops::RangeInclusive<u8> = 6..=8;
    /// Step lengths accepted, in seconds; RFC 6238 recommends 30.
    pub const STEP_SECS: std::ops::RangeInclusive<u64> = 10..=120;
    /// Skew accepted either side, in steps; RFC 6238 §5.2 recommends at most one.
    pub const SKEW_STEPS: std::ops::RangeInclusive<u8> = 0..=2;

    /// The defaults (SHA-1, 6 digits, 30 s steps, one step of skew) for this issuer.
    pub fn new(issuer: CarrierName) -> Self {
        Self {
            issuer,
            algorithm: TotpAlgorithm::Sha1,
            digits: 6,
            step_secs: 30,
            skew_steps: 1,
        }
    }

    /// Uses another HMAC algorithm.
    pub fn with_algorithm(mut self, algorithm: TotpAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Uses 6 to 8 digits.
    pub fn with_digits(mut self, digits: u8) -> Result<Self, OtpError> {
        if !Self::DIGITS.contains(&digits) {
            return Err(OtpError::invalid("TOTP digits", "must be 6 to 8"));
        }
        self.digits = digits;
        Ok(self)
    }

    /// Uses another step length, 10 to 120 seconds.
    pub fn with_step_secs(mut self, step_secs: u64) -> Result<Self, OtpError> {
        if !Self::STEP_SECS.contains(&step_secs) {
            return Err(OtpError::invalid("TOTP step", "must be 10 to 120 seconds"));
        }
        self.step_secs = step_secs;
        Ok(self)
    }

    /// Forgives 0 to 2 steps of clock skew either side.
    pub fn with_skew_steps(mut self, skew_steps: u8) -> Result<Self, OtpError> {
        if !Self::SKEW_STEPS.contains(&skew_steps) {
            return Err(OtpError::invalid("TOTP skew", "must be 0 to 2 steps"));
        }
        self.skew_steps = skew_steps;
        Ok(self)
    }

    /// The issuer shown in authenticator apps.
    pub fn issuer(&self) -> &CarrierName {
        &self.issuer
    }

    /// The HMAC algorithm.
    pub fn algorithm(&self) -> TotpAlgorithm {
        self.algorithm
    }

    /// Digits per code.
    pub fn digits(&self) -> u8 {
        self.digits
    }

    /// Step length in seconds.
    pub fn step_secs(&self) -> u64 {
        self.step_secs
    }

    /// Steps of skew forgiven either side of the current step.
    pub fn skew_steps(&self) -> u8 {
        self.skew_steps
    }
}

/// A TOTP shared secret; whoever holds it can compute every code.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    /// Length of generated secrets: 160 bits, as RFC 4226 §4 recommends.
    pub const GENERATED_LEN: usize = 20;
    /// Shortest secret accepted back from storage: RFC 4226's 128-bit minimum.
    pub const MIN_LEN: usize = 16;
    /// Longest secret accepted: the SHA-512 block-sized seed of RFC 6238 Appendix B.
    pub const MAX_LEN: usize = 64;

    /// Generates a fresh 160-bit secret from a CSPRNG (the thread-local ChaCha12, OS-seeded).
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; Self::GENERATED_LEN]);
        rand::fill(bytes.as_mut_slice());
        Self(bytes)
    }

    /// Wraps secret bytes unsealed from storage (16 to 64 bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, OtpError> {
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&bytes.len()) {
            return Err(OtpError::invalid(
                "TOTP secret",
                format!("must be {} to {} bytes", Self::MIN_LEN, Self::MAX_LEN),
            ));
        }
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    /// The raw bytes, to be sealed by the store before they are written anywhere.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Unpadded RFC 4648 base32, the form authenticator apps and `oathtool -b` take.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(totp_rs::Secret::from(self.0.as_slice()).to_base32())
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

/// Whether a TOTP enrolment may be used as a second factor yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TotpEnrolmentState {
    /// Secret issued, but the subscriber has not yet shown a code computed from it.
    Pending,
    /// Confirmed with a first valid code; usable as a second factor.
    Active,
}

impl TotpEnrolmentState {
    /// The stored form: `pending` or `active`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
        }
    }

    /// Reads the stored form.
    pub fn parse(value: &str) -> Result<Self, OtpError> {
        match value {
            "pending" => Ok(Self::Pending),
            "active" => Ok(Self::Active),
            _ => Err(OtpError::invalid(
                "TOTP enrolment state",
                "must be pending or active",
            )),
        }
    }

    /// Refuses to verify second-factor codes against an enrolment nobody has confirmed.
    pub fn ensure_active(self) -> Result<(), OtpError> {
        match self {
            Self::Active => Ok(()),
            Self::Pending => Err(OtpError::TotpNotActive),
        }
    }
}

/// A new TOTP enrolment: what the subscriber scans and what the store keeps.
pub struct TotpEnrolment {
    /// The shared secret; seal it before storing.
    pub secret: TotpSecret,
    /// The `otpauth://totp/<issuer>:<msisdn>?secret=...&issuer=...` URI (contains the secret).
    pub otpauth_uri: Zeroizing<String>,
    /// The URI as a PNG QR code (contains the secret too).
    pub qr_png: Zeroizing<Vec<u8>>,
    /// Always [`TotpEnrolmentState::Pending`] until confirmed.
    pub state: TotpEnrolmentState,
    /// When the secret was issued.
    pub enrolled_at: OffsetDateTime,
}

impl fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpEnrolment")
            .field("secret", &self.secret)
            .field("otpauth_uri", &"[redacted]")
            .field("qr_png", &format_args!("[{} bytes]", self.qr_png.len()))
            .field("state", &self.state)
            .field("enrolled_at", &self.enrolled_at)
            .finish()
    }
}

/// The TOTP time step a code was accepted for; persist it so it is never accepted again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AcceptedStep(pub u64);

/// The result of confirming an enrolment: the new state and the step to persist with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfirmedTotpEnrolment {
    /// Always [`TotpEnrolmentState::Active`].
    pub state: TotpEnrolmentState,
    /// The step the confirming code was accepted for.
    pub accepted_step: AcceptedStep,
}

/// Issues a new secret for `msisdn` with its otpauth URI and QR code, in state pending.
pub fn enrol_totp(
    msisdn: &Msisdn,
    settings: &TotpSettings,
    clock: &dyn Clock,
) -> Result<TotpEnrolment, OtpError> {
    let secret = TotpSecret::generate();
    let otpauth_uri = totp_otpauth_uri(&secret, msisdn, settings)?;
    let qr_png =
        Zeroizing::new(render_qr_png(&otpauth_uri).map_err(|e| OtpError::QrCode(e.to_string()))?);
    Ok(TotpEnrolment {
        secret,
        otpauth_uri,
        qr_png,
        state: TotpEnrolmentState::Pending,
        enrolled_at: clock.now(),
    })
}

/// The otpauth URI of an existing secret, labelled `issuer:msisdn` with the issuer parameter set.
pub fn totp_otpauth_uri(
    secret: &TotpSecret,
    msisdn: &Msisdn,
    settings: &TotpSettings,
) -> Result<Zeroizing<String>, OtpError> {
    let totp = build_totp(secret, settings, Some(msisdn))?;
    totp.to_url()
        .map(Zeroizing::new)
        .map_err(|e| OtpError::Totp(e.to_string()))
}

/// Activates a pending enrolment when `code` is valid now; an active one is refused.
pub fn confirm_totp_enrolment(
    state: TotpEnrolmentState,
    secret: &TotpSecret,
    code: &OtpCode,
    settings: &TotpSettings,
    now: OffsetDateTime,
    last_accepted_step: Option<u64>,
) -> Result<ConfirmedTotpEnrolment, OtpError> {
    if state == TotpEnrolmentState::Active {
        return Err(OtpError::TotpAlreadyActive);
    }
    let accepted_step = verify_totp_code(secret, code, settings, now, last_accepted_step)?;
    Ok(ConfirmedTotpEnrolment {
        state: TotpEnrolmentState::Active,
        accepted_step,
    })
}

/// Checks `code` against the steps around `now`; refuses steps at or below `last_accepted_step`.
pub fn verify_totp_code(
    secret: &TotpSecret,
    code: &OtpCode,
    settings: &TotpSettings,
    now: OffsetDateTime,
    last_accepted_step: Option<u64>,
) -> Result<AcceptedStep, OtpError> {
    if code.digits() != usize::from(settings.digits) {
        return Err(OtpError::invalid(
            "code",
            format!("must have exactly {} digits", settings.digits),
        ));
    }
    let totp = build_totp(secret, settings, None)?;
    let current_step = unix_secs(now)? / settings.step_secs;
    let skew = u64::from(settings.skew_steps);

    let mut matched_any = false;
    let mut newest_fresh_match = None;
    // Every step of the window is computed and compared, whatever matched earlier, so the time
    // taken says nothing about which digits or which step were right. The newest matching step
    // is the one accepted: when two steps of the window show the same digits (1 in 10^digits),
    // accepting the older one would leave the newer fresh, and the same code would pass twice.
    for step in current_step.saturating_sub(skew)..=current_step.saturating_add(skew) {
        let expected = Zeroizing::new(
            totp.generate(step.saturating_mul(settings.step_secs))
                .to_string(),
        );
        let matches = bool::from(expected.as_bytes().ct_eq(code.as_str().as_bytes()));
        let fresh = last_accepted_step.is_none_or(|last| step > last);
        matched_any |= matches;
        if matches && fresh {
            newest_fresh_match = Some(step);
        }
    }
    match (newest_fresh_match, matched_any) {
        (Some(step), _) => Ok(AcceptedStep(step)),
        (None, true) => Err(OtpError::Replayed),
        (None, false) => Err(OtpError::WrongCode),
    }
}

/// The code an authenticator app shows at `at`; for tests, demos and support tooling.
pub fn generate_totp_code(
    secret: &TotpSecret,
    settings: &TotpSettings,
    at: OffsetDateTime,
) -> Result<OtpCode, OtpError> {
    let totp = build_totp(secret, settings, None)?;
    let text = Zeroizing::new(totp.generate(unix_secs(at)?).to_string());
    OtpCode::parse(&text, settings.digits)
}

fn unix_secs(at: OffsetDateTime) -> Result<u64, OtpError> {
    u64::try_from(at.unix_timestamp())
        .map_err(|_| OtpError::invalid("time", "TOTP is undefined before 1970-01-01"))
}

fn build_totp(
    secret: &TotpSecret,
    settings: &TotpSettings,
    account: Option<&Msisdn>,
) -> Result<Totp, OtpError> {
    let mut builder = Builder::new()
        .with_algorithm(settings.algorithm.to_totp_rs())
        .with_digits(settings.digits)
        .with_step_duration(settings.step_secs)
        .with_skew(u16::from(settings.skew_steps))
        .with_secret(secret.as_bytes());
    if let Some(msisdn) = account {
        builder = builder
            .with_account_name(msisdn.as_e164())
            .with_issuer(Some(settings.issuer.as_str()));
    }
    builder.build().map_err(|e| OtpError::Totp(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TotpSettings {
        TotpSettings::new(CarrierName::parse("Vodafone").unwrap())
    }

    #[test]
    fn settings_reject_out_of_range_values() {
        assert!(settings().with_digits(5).is_err());
        assert!(settings().with_digits(9).is_err());
        assert!(settings().with_digits(8).is_ok());
        assert!(settings().with_step_secs(0).is_err());
        assert!(settings().with_step_secs(121).is_err());
        assert!(settings().with_skew_steps(3).is_err());
        let defaults = settings();
        assert_eq!(
            (
                defaults.algorithm(),
                defaults.digits(),
                defaults.step_secs(),
                defaults.skew_steps()
            ),
            (TotpAlgorithm::Sha1, 6, 30, 1)
        );
    }

    #[test]
    fn generated_secrets_are_160_bit_random_and_redacted() {
        let a = TotpSecret::generate();
        let b = TotpSecret::generate();
        assert_eq!(a.as_bytes().len(), 20);
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "TotpSecret([redacted])");
        assert!(TotpSecret::from_bytes(&[1; 15]).is_err());
        assert!(TotpSecret::from_bytes(&[1; 65]).is_err());
        assert_eq!(TotpSecret::from_bytes(a.as_bytes()).unwrap(), a);
    }

    #[test]
    fn algorithm_and_state_round_trip_their_stored_forms() {
        for algorithm in [
            TotpAlgorithm::Sha1,
            TotpAlgorithm::Sha256,
            TotpAlgorithm::Sha512,
        ] {
            assert_eq!(TotpAlgorithm::parse(algorithm.as_str()).unwrap(), algorithm);
        }
        assert_eq!(
            TotpAlgorithm::parse("sha-256").unwrap(),
            TotpAlgorithm::Sha256
        );
        assert!(TotpAlgorithm::parse("MD5").is_err());
        for state in [TotpEnrolmentState::Pending, TotpEnrolmentState::Active] {
            assert_eq!(TotpEnrolmentState::parse(state.as_str()).unwrap(), state);
        }
    }

    #[test]
    fn time_before_the_epoch_is_refused_not_wrapped() {
        let secret = TotpSecret::generate();
        let code = OtpCode::parse("123456", 6).unwrap();
        let before_epoch = OffsetDateTime::UNIX_EPOCH - time::Duration::seconds(1);
        assert!(matches!(
            verify_totp_code(&secret, &code, &settings(), before_epoch, None),
            Err(OtpError::InvalidInput { .. })
        ));
    }

    #[test]
    fn a_code_of_the_wrong_length_is_invalid_input() {
        let secret = TotpSecret::generate();
        let code = OtpCode::parse("12345678", 8).unwrap();
        assert!(matches!(
            verify_totp_code(
                &secret,
                &code,
                &settings(),
                OffsetDateTime::UNIX_EPOCH,
                None
            ),
            Err(OtpError::InvalidInput { .. })
        ));
    }

    #[test]
    fn a_code_shown_by_two_steps_of_the_window_is_accepted_only_once() {
        // This secret shows the same six digits at two consecutive 30 s steps (found by a search
        // over steps; 1 in 10^6 adjacent pairs do), both inside the one-step skew window of `now`.
        let secret = TotpSecret::from_bytes(b"simgate-totp-repeat!").unwrap();
        let older = OffsetDateTime::from_unix_timestamp(59_140_462 * 30).unwrap();
        let newer = older + time::Duration::seconds(30);
        let code = generate_totp_code(&secret, &settings(), older).unwrap();
        assert_eq!(
            code.as_str(),
            generate_totp_code(&secret, &settings(), newer)
                .unwrap()
                .as_str(),
            "the fixture needs two adjacent steps with the same digits"
        );
        let now = newer + time::Duration::seconds(5);
        let accepted = verify_totp_code(&secret, &code, &settings(), now, None).unwrap();
        assert_eq!(
            accepted.0, 59_140_463,
            "the newest matching step is the one used up"
        );
        assert!(matches!(
            verify_totp_code(&secret, &code, &settings(), now, Some(accepted.0)),
            Err(OtpError::Replayed)
        ));
    }
}
