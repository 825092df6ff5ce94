//! Interoperability with an independent TOTP implementation: `oathtool` (Debian package
//! `oathtool`, installed by scripts/setup.sh) computes codes from the secret in the enrolled
//! otpauth URI, and simgate accepts them once and refuses the replay.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use simgate_core::ManualClock;
use simgate_otp::{
    CarrierName, Msisdn, OtpCode, OtpError, TotpAlgorithm, TotpEnrolmentState, TotpSettings,
    confirm_totp_enrolment, enrol_totp, verify_totp_code,
};
use time::{Duration, OffsetDateTime, macros::datetime};

const ENROLLED_AT: OffsetDateTime = datetime!(2026-11-25 12:00:00 UTC);

/// Runs oathtool like a subscriber's second device would compute the code.
fn oathtool_code(
    uri_secret: &str,
    algorithm: TotpAlgorithm,
    digits: u8,
    at: OffsetDateTime,
) -> String {
    let mode = match algorithm {
        TotpAlgorithm::Sha1 => "--totp",
        TotpAlgorithm::Sha256 => "--totp=sha256",
        TotpAlgorithm::Sha512 => "--totp=sha512",
    };
    let now = at
        .format(&time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
        ))
        .unwrap();
    let output = Command::new("oathtool")
        .args([
            mode,
            "-d",
            &digits.to_string(),
            "-b",
            uri_secret,
            "--now",
            &now,
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run oathtool ({e}): install the Debian package `oathtool` \
                 (scripts/setup.sh does; or: apt-get install -y oathtool)"
            )
        });
    assert!(
        output.status.success(),
        "oathtool failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn secret_from_uri(uri: &str) -> String {
    url::Url::parse(uri)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .map(|(_, v)| v.into_owned())
        .expect("otpauth URI has a secret parameter")
}

#[test]
fn oathtool_codes_from_the_enrolled_uri_are_accepted_once() {
    let clock = ManualClock::new(ENROLLED_AT);
    let msisdn = Msisdn::parse("+491701234567").unwrap();
    for (algorithm, digits) in [
        (TotpAlgorithm::Sha1, 6),
        (TotpAlgorithm::Sha256, 8),
        (TotpAlgorithm::Sha512, 8),
    ] {
        let settings = TotpSettings::new(CarrierName::parse("Deutsche Telekom").unwrap())
            .with_algorithm(algorithm)
            .with_digits(digits)
            .unwrap();
        let enrolment = enrol_totp(&msisdn, &settings, &clock).unwrap();
        let uri_secret = secret_from_uri(&enrolment.otpauth_uri);

        // First code confirms the enrolment.
        let first = OtpCode::parse(
            &oathtool_code(&uri_secret, algorithm, digits, ENROLLED_AT),
            digits,
        )
        .unwrap();
        let confirmed = confirm_totp_enrolment(
            TotpEnrolmentState::Pending,
            &enrolment.secret,
            &first,
            &settings,
            ENROLLED_AT,
            None,
        )
        .unwrap_or_else(|e| panic!("{algorithm}: oathtool code refused at enrolment: {e}"));
        assert_eq!(confirmed.state, TotpEnrolmentState::Active);
        let last_step = confirmed.accepted_step.0;
        assert_eq!(last_step, (ENROLLED_AT.unix_timestamp() / 30) as u64);

        // The same code presented again is a replay.
        assert_eq!(
            verify_totp_code(
                &enrolment.secret,
                &first,
                &settings,
                ENROLLED_AT,
                Some(last_step)
            ),
            Err(OtpError::Replayed),
            "{algorithm}"
        );

        // A code oathtool computes a step later is accepted then, and only once.
        let later = ENROLLED_AT + Duration::seconds(30);
        let second = OtpCode::parse(
            &oathtool_code(&uri_secret, algorithm, digits, later),
            digits,
        )
        .unwrap();
        let step = verify_totp_code(
            &enrolment.secret,
            &second,
            &settings,
            later,
            Some(last_step),
        )
        .unwrap_or_else(|e| panic!("{algorithm}: next oathtool code refused: {e}"));
        assert_eq!(step.0, last_step + 1);
        assert_eq!(
            verify_totp_code(&enrolment.secret, &second, &settings, later, Some(step.0)),
            Err(OtpError::Replayed)
        );
    }
}

#[test]
fn oathtool_codes_within_one_step_of_skew_are_accepted_two_steps_refused() {
    let clock = ManualClock::new(ENROLLED_AT);
    let msisdn = Msisdn::parse("+33612345678").unwrap();
    let settings = TotpSettings::new(CarrierName::parse("Orange").unwrap());
    let enrolment = enrol_totp(&msisdn, &settings, &clock).unwrap();
    let uri_secret = secret_from_uri(&enrolment.otpauth_uri);
    for (device_offset_secs, accepted) in [(-60, false), (-30, true), (30, true), (60, false)] {
        let device_time = ENROLLED_AT + Duration::seconds(device_offset_secs);
        let code = OtpCode::parse(
            &oathtool_code(&uri_secret, TotpAlgorithm::Sha1, 6, device_time),
            6,
        )
        .unwrap();
        let result = verify_totp_code(&enrolment.secret, &code, &settings, ENROLLED_AT, None);
        assert_eq!(
            result.is_ok(),
            accepted,
            "device clock off by {device_offset_secs} s: {result:?}"
        );
    }
}
