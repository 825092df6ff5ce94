//! Second-factor input: TOTP settings, secrets, otpauth URIs, presented TOTP and SMS codes.
//!
//! From one structured input it runs what the OTP endpoints and the enrolment code do with
//! untrusted or configured values in `simgate_otp`: `TotpAlgorithm::parse`, `CarrierName::parse`,
//! the `TotpSettings` builders, `TotpSecret::from_bytes`, `Msisdn::parse`, `totp_otpauth_uri`,
//! `OtpCode::parse`, `verify_totp_code` / `generate_totp_code` at fuzzed times and replay
//! marks, and `issue_sms_code` / `verify_sms_code`. Invariants:
//! - a parsed algorithm prints back to itself; a parsed code is exactly the expected digits;
//! - a code generated for a time verifies at that time, at a step inside the skew window, and
//!   never at or below the last accepted step;
//! - the otpauth URI an authenticator app scans (parsed back with totp-rs, as apps do) yields
//!   the same codes the server accepts;
//! - an SMS code is accepted only when it is the issued one, and the issued one is accepted.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use simgate_core::clock::ManualClock;
use simgate_otp::{
    CarrierName, Msisdn, OtpCode, OtpError, SmsCodeKey, SmsCodeSettings, TotpAlgorithm, TotpSecret,
    TotpSettings, generate_totp_code, issue_sms_code, totp_otpauth_uri, verify_sms_code,
    verify_totp_code,
};
use time::OffsetDateTime;

#[derive(Debug, Arbitrary)]
struct OtpInput {
    algorithm: String,
    carrier: String,
    digits: u8,
    step_secs: u64,
    skew_steps: u8,
    secret: Vec<u8>,
    msisdn: String,
    code: String,
    code_digits: u8,
    unix_secs: i64,
    last_accepted_step: Option<u64>,
    sms_key: Vec<u8>,
    sms_digits: u8,
}

fuzz_target!(|input: OtpInput| {
    let algorithm = match TotpAlgorithm::parse(&input.algorithm) {
        Ok(algorithm) => {
            assert_eq!(
                TotpAlgorithm::parse(algorithm.as_str()).ok(),
                Some(algorithm)
            );
            algorithm
        }
        Err(_) => TotpAlgorithm::default(),
    };
    let issuer = CarrierName::parse(&input.carrier)
        .unwrap_or_else(|_| CarrierName::parse("Fuzz Mobile").expect("a valid carrier name"));
    // Each builder refuses out-of-range values; keep the previous settings when it does.
    let mut settings = TotpSettings::new(issuer).with_algorithm(algorithm);
    settings = settings
        .clone()
        .with_digits(input.digits)
        .unwrap_or(settings);
    settings = settings
        .clone()
        .with_step_secs(input.step_secs)
        .unwrap_or(settings);
    settings = settings
        .clone()
        .with_skew_steps(input.skew_steps)
        .unwrap_or(settings);

    if let Ok(code) = OtpCode::parse(&input.code, input.code_digits) {
        assert_eq!(code.digits(), usize::from(input.code_digits));
        assert!(code.as_str().bytes().all(|b| b.is_ascii_digit()));
    }

    // Times outside OffsetDateTime's range are not a time anyone can send.
    let Ok(now) = OffsetDateTime::from_unix_timestamp(input.unix_secs % 100_000_000_000) else {
        return;
    };
    let secret = TotpSecret::from_bytes(&input.secret).ok();
    if let Some(secret) = &secret {
        check_totp(secret, &settings, &input, now);
        if let Ok(msisdn) = Msisdn::parse(&input.msisdn) {
            check_otpauth_uri(secret, &msisdn, &settings, now);
        }
    }
    check_sms_code(&input, now);
});

fn check_totp(secret: &TotpSecret, settings: &TotpSettings, input: &OtpInput, now: OffsetDateTime) {
    let step_secs = settings.step_secs();
    let skew = u64::from(settings.skew_steps());
    if let Ok(code) = OtpCode::parse(&input.code, settings.digits())
        && let Ok(step) = verify_totp_code(secret, &code, settings, now, input.last_accepted_step)
    {
        let current = u64::try_from(now.unix_timestamp()).expect("verified after 1970") / step_secs;
        assert!(
            step.0 + skew >= current && step.0 <= current + skew,
            "{step:?} vs {current}"
        );
        assert!(input.last_accepted_step.is_none_or(|last| step.0 > last));
    }
    match generate_totp_code(secret, settings, now) {
        Ok(code) => {
            let current = u64::try_from(now.unix_timestamp()).expect("generated after 1970");
            let step = verify_totp_code(secret, &code, settings, now, None)
                .expect("a code generated for now verifies now");
            // Usually the current step; the newest step of the window showing the same digits
            // is the one accepted (a later step does by chance 1 in 10^digits: found by this
            // target, when the earliest match was taken and the code could pass twice).
            let now_step = current / step_secs;
            assert!(
                step.0 >= now_step && step.0 <= now_step + skew,
                "{step:?} vs {now_step}"
            );
            // Replay protection: once accepted, the same code is refused at that time, always.
            match verify_totp_code(secret, &code, settings, now, Some(step.0)) {
                Err(OtpError::Replayed) => {}
                other => panic!("replayed code answered {other:?}"),
            }
        }
        Err(_) => assert!(now.unix_timestamp() < 0, "generation failed at {now}"),
    }
}

fn check_otpauth_uri(
    secret: &TotpSecret,
    msisdn: &Msisdn,
    settings: &TotpSettings,
    now: OffsetDateTime,
) {
    let Ok(uri) = totp_otpauth_uri(secret, msisdn, settings) else {
        return;
    };
    let app = totp_rs::Totp::from_url(uri.as_str())
        .unwrap_or_else(|error| panic!("an app cannot read our otpauth URI {:?}: {error}", *uri));
    if let (Ok(at), Ok(server)) = (
        u64::try_from(now.unix_timestamp()),
        generate_totp_code(secret, settings, now),
    ) {
        assert_eq!(
            app.generate(at).to_string(),
            server.as_str(),
            "the app would show other codes than the server accepts: {:?}",
            *uri
        );
    }
}

fn check_sms_code(input: &OtpInput, now: OffsetDateTime) {
    let Ok(key) = SmsCodeKey::from_bytes(&input.sms_key) else {
        return;
    };
    let settings = SmsCodeSettings::default()
        .with_digits(input.sms_digits)
        .unwrap_or_default();
    let clock = ManualClock::new(now);
    let issued = issue_sms_code(&settings, &key, &clock);
    if let Ok(presented) = OtpCode::parse(&input.code, settings.digits()) {
        let verdict = verify_sms_code(&issued.stored, &presented, &key, now);
        assert_eq!(
            verdict.is_accepted(),
            presented.as_str() == issued.plain_code.as_str()
        );
    }
    let own = OtpCode::parse(issued.plain_code.as_str(), settings.digits())
        .expect("an issued code parses");
    let verdict = verify_sms_code(&issued.stored, &own, &key, now);
    assert!(verdict.is_accepted(), "{:?}", verdict.result);
    // Single use: the consumed row refuses the same code.
    let again = verify_sms_code(&verdict.updated, &own, &key, now);
    assert!(matches!(again.result, Err(OtpError::Replayed)));
}
