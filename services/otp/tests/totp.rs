//! TOTP behaviour: RFC 6238 test vectors, skew window, replay refusal, enrolment state machine,
//! and the otpauth URI / QR code an authenticator app scans.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use simgate_core::{Clock as _, ManualClock};
use simgate_otp::{
    AcceptedStep, CarrierName, Msisdn, OtpCode, OtpError, TotpAlgorithm, TotpEnrolmentState,
    TotpSecret, TotpSettings, confirm_totp_enrolment, enrol_totp, generate_totp_code,
    verify_totp_code,
};
use time::{Duration, OffsetDateTime, macros::datetime};

fn carrier() -> CarrierName {
    CarrierName::parse("Vodafone").unwrap()
}

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap()
}

/// RFC 6238 Appendix B: the ASCII seeds of 20, 32 and 64 bytes, 8 digits, 30 s steps, T0 = 0.
const RFC6238_VECTORS: [(i64, &str, &str, &str); 6] = [
    // (time, SHA-1, SHA-256, SHA-512)
    (59, "94287082", "46119246", "90693936"),
    (1_111_111_109, "07081804", "68084774", "25091201"),
    (1_111_111_111, "14050471", "67062674", "99943326"),
    (1_234_567_890, "89005924", "91819424", "93441116"),
    (2_000_000_000, "69279037", "90698825", "38618901"),
    (20_000_000_000, "65353130", "77737706", "47863826"),
];

fn rfc_seed(algorithm: TotpAlgorithm) -> TotpSecret {
    let seed: &[u8] = match algorithm {
        TotpAlgorithm::Sha1 => b"12345678901234567890",
        TotpAlgorithm::Sha256 => b"12345678901234567890123456789012",
        TotpAlgorithm::Sha512 => {
            b"1234567890123456789012345678901234567890123456789012345678901234"
        }
    };
    TotpSecret::from_bytes(seed).unwrap()
}

#[test]
fn rfc6238_appendix_b_vectors_are_accepted_at_their_exact_step() {
    for (time, sha1, sha256, sha512) in RFC6238_VECTORS {
        for (algorithm, expected) in [
            (TotpAlgorithm::Sha1, sha1),
            (TotpAlgorithm::Sha256, sha256),
            (TotpAlgorithm::Sha512, sha512),
        ] {
            // No skew: the vector must match its own step, not a neighbour.
            let settings = TotpSettings::new(carrier())
                .with_algorithm(algorithm)
                .with_digits(8)
                .unwrap()
                .with_skew_steps(0)
                .unwrap();
            let secret = rfc_seed(algorithm);
            let code = OtpCode::parse(expected, 8).unwrap();
            let step = verify_totp_code(&secret, &code, &settings, at(time), None)
                .unwrap_or_else(|e| panic!("{algorithm} at {time}: {expected} refused: {e}"));
            assert_eq!(
                step,
                AcceptedStep((time / 30) as u64),
                "{algorithm} at {time}"
            );
            assert_eq!(
                generate_totp_code(&secret, &settings, at(time))
                    .unwrap()
                    .as_str(),
                expected,
                "{algorithm} at {time}"
            );
        }
    }
}

#[test]
fn codes_from_one_step_either_side_are_accepted_two_steps_away_refused() {
    let settings = TotpSettings::new(carrier());
    let secret = TotpSecret::generate();
    let now = datetime!(2026-11-25 12:00:10 UTC);
    let current = AcceptedStep((now.unix_timestamp() / 30) as u64);
    for (offset_steps, expected) in [
        (-2, Err(OtpError::WrongCode)),
        (-1, Ok(AcceptedStep(current.0 - 1))),
        (0, Ok(current)),
        (1, Ok(AcceptedStep(current.0 + 1))),
        (2, Err(OtpError::WrongCode)),
    ] {
        let code = generate_totp_code(
            &secret,
            &settings,
            now + Duration::seconds(30 * offset_steps),
        )
        .unwrap();
        // A generated code could by chance equal one of the window's codes (1 in 10^6); the
        // fixed secret of a failing run would show it.
        assert_eq!(
            verify_totp_code(&secret, &code, &settings, now, None),
            expected,
            "offset {offset_steps} steps"
        );
    }
}

#[test]
fn an_accepted_step_is_never_accepted_again_nor_any_earlier_one() {
    let settings = TotpSettings::new(carrier());
    let secret = TotpSecret::generate();
    let now = datetime!(2026-11-25 12:00:00 UTC);
    let code = generate_totp_code(&secret, &settings, now).unwrap();
    let step = verify_totp_code(&secret, &code, &settings, now, None).unwrap();

    // Same code, same time, another replica: refused because the stored step is passed in.
    assert_eq!(
        verify_totp_code(&secret, &code, &settings, now, Some(step.0)),
        Err(OtpError::Replayed)
    );
    // Still inside the skew window one step later: still a replay.
    assert_eq!(
        verify_totp_code(
            &secret,
            &code,
            &settings,
            now + Duration::seconds(30),
            Some(step.0)
        ),
        Err(OtpError::Replayed)
    );
    // The previous step's code is older than the accepted one: refused too.
    let previous = generate_totp_code(&secret, &settings, now - Duration::seconds(30)).unwrap();
    assert_eq!(
        verify_totp_code(&secret, &previous, &settings, now, Some(step.0)),
        Err(OtpError::Replayed)
    );
    // The next step's code is new: accepted.
    let next = generate_totp_code(&secret, &settings, now + Duration::seconds(30)).unwrap();
    assert_eq!(
        verify_totp_code(
            &secret,
            &next,
            &settings,
            now + Duration::seconds(30),
            Some(step.0)
        ),
        Ok(AcceptedStep(step.0 + 1))
    );
}

#[test]
fn a_wrong_code_is_refused_as_wrong() {
    let settings = TotpSettings::new(carrier());
    let secret = TotpSecret::generate();
    let now = datetime!(2026-11-25 12:00:00 UTC);
    let right = generate_totp_code(&secret, &settings, now).unwrap();
    let wrong_digits = format!(
        "{:06}",
        (right.as_str().parse::<u32>().unwrap() + 500_000) % 1_000_000
    );
    let wrong = OtpCode::parse(&wrong_digits, 6).unwrap();
    assert_eq!(
        verify_totp_code(&secret, &wrong, &settings, now, None),
        Err(OtpError::WrongCode)
    );
}

#[test]
fn enrolment_becomes_active_only_with_a_first_valid_code() {
    let clock = ManualClock::new(datetime!(2026-11-25 12:00:00 UTC));
    let settings = TotpSettings::new(carrier());
    let msisdn = Msisdn::parse("+491701234567").unwrap();
    let enrolment = enrol_totp(&msisdn, &settings, &clock).unwrap();
    assert_eq!(enrolment.state, TotpEnrolmentState::Pending);
    assert_eq!(enrolment.enrolled_at, datetime!(2026-11-25 12:00:00 UTC));
    assert_eq!(
        enrolment.state.ensure_active(),
        Err(OtpError::TotpNotActive)
    );

    let now = clock.now();
    let wrong = OtpCode::parse("000000", 6).unwrap();
    let right = generate_totp_code(&enrolment.secret, &settings, now).unwrap();
    if wrong != right {
        assert_eq!(
            confirm_totp_enrolment(
                enrolment.state,
                &enrolment.secret,
                &wrong,
                &settings,
                now,
                None
            ),
            Err(OtpError::WrongCode)
        );
    }
    let confirmed = confirm_totp_enrolment(
        enrolment.state,
        &enrolment.secret,
        &right,
        &settings,
        now,
        None,
    )
    .unwrap();
    assert_eq!(confirmed.state, TotpEnrolmentState::Active);
    assert!(confirmed.state.ensure_active().is_ok());

    // The confirming code cannot be used again as the second factor right afterwards.
    assert_eq!(
        verify_totp_code(
            &enrolment.secret,
            &right,
            &settings,
            now,
            Some(confirmed.accepted_step.0)
        ),
        Err(OtpError::Replayed)
    );
    // Confirming an active enrolment again is refused.
    assert_eq!(
        confirm_totp_enrolment(
            confirmed.state,
            &enrolment.secret,
            &right,
            &settings,
            now,
            None
        ),
        Err(OtpError::TotpAlreadyActive)
    );
}

#[test]
fn otpauth_uri_parses_back_to_the_enrolled_parameters() {
    let clock = ManualClock::new(datetime!(2026-11-25 12:00:00 UTC));
    let msisdn = Msisdn::parse("+44 7700 900123").unwrap();
    for (algorithm, digits, step) in [
        (TotpAlgorithm::Sha1, 6, 30),
        (TotpAlgorithm::Sha256, 8, 60),
        (TotpAlgorithm::Sha512, 7, 30),
    ] {
        let settings = TotpSettings::new(CarrierName::parse("AT&T Mobility").unwrap())
            .with_algorithm(algorithm)
            .with_digits(digits)
            .unwrap()
            .with_step_secs(step)
            .unwrap();
        let enrolment = enrol_totp(&msisdn, &settings, &clock).unwrap();
        let uri = url::Url::parse(&enrolment.otpauth_uri).unwrap();
        assert_eq!(uri.scheme(), "otpauth");
        assert_eq!(uri.host_str(), Some("totp"));
        let label = percent_decode(uri.path().trim_start_matches('/'));
        assert_eq!(label, "AT&T Mobility:+447700900123");
        let query: std::collections::HashMap<String, String> =
            uri.query_pairs().into_owned().collect();
        assert_eq!(query["issuer"], "AT&T Mobility");
        assert_eq!(query["secret"], *enrolment.secret.to_base32());
        // Parameters equal to the Key URI defaults may be left out; apps then assume them.
        assert_eq!(
            query.get("algorithm").map_or("SHA1", String::as_str),
            algorithm.as_str()
        );
        assert_eq!(
            query.get("digits").map_or("6", String::as_str),
            digits.to_string()
        );
        assert_eq!(
            query.get("period").map_or("30", String::as_str),
            step.to_string()
        );
        // An independent base32 decode of the secret gives the secret bytes back.
        assert_eq!(base32_decode(&query["secret"]), enrolment.secret.as_bytes());
        assert_eq!(enrolment.secret.as_bytes().len(), 20);
    }
}

#[test]
fn qr_png_decodes_to_the_otpauth_uri() {
    let clock = ManualClock::new(datetime!(2026-11-25 12:00:00 UTC));
    let msisdn = Msisdn::parse("+491701234567").unwrap();
    let enrolment = enrol_totp(&msisdn, &TotpSettings::new(carrier()), &clock).unwrap();
    assert!(enrolment.qr_png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let image = image::load_from_memory_with_format(&enrolment.qr_png, image::ImageFormat::Png)
        .unwrap()
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        image.width() as usize,
        image.height() as usize,
        |x, y| image.get_pixel(x as u32, y as u32).0[0],
    );
    let decoded: Vec<String> = prepared
        .detect_grids()
        .into_iter()
        .map(|grid| grid.decode().unwrap().1)
        .collect();
    assert_eq!(decoded, [enrolment.otpauth_uri.as_str()]);
}

#[test]
fn enrolment_debug_output_leaks_no_secret() {
    let clock = ManualClock::new(datetime!(2026-11-25 12:00:00 UTC));
    let msisdn = Msisdn::parse("+491701234567").unwrap();
    let enrolment = enrol_totp(&msisdn, &TotpSettings::new(carrier()), &clock).unwrap();
    let debug = format!("{enrolment:?}");
    assert!(!debug.contains(enrolment.secret.to_base32().as_str()));
    assert!(!debug.contains("otpauth://"));
    assert!(!debug.contains("1234567"));
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// RFC 4648 base32 without padding, written out here so the check does not reuse the encoder.
fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}
