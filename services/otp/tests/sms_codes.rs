//! SMS one-time codes as a subscriber and an attacker would meet them: single use, attempt
//! limit, exact expiry, the subscriber-wide lock, code uniformity and keyed hashing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use simgate_core::{Clock as _, ManualClock};
use simgate_otp::{
    OtpCode, OtpError, SmsCodeKey, SmsCodeSettings, StoredSmsCode, SubscriberOtpState,
    issue_sms_code, verify_sms_code,
};
use time::{Duration, macros::datetime};

fn key(byte: u8) -> SmsCodeKey {
    SmsCodeKey::from_bytes(&[byte; 32]).unwrap()
}

fn clock() -> ManualClock {
    ManualClock::new(datetime!(2026-11-25 12:00:00 UTC))
}

/// A code of the right shape that is not `right`.
fn wrong_code_for(right: &str) -> OtpCode {
    let digits = right.len();
    let value: u64 = right.parse().unwrap();
    let modulus = 10u64.pow(digits as u32);
    OtpCode::parse(&format!("{:0digits$}", (value + 1) % modulus), digits as u8).unwrap()
}

#[test]
fn the_right_code_is_accepted_once_then_replayed() {
    let clock = clock();
    let settings = SmsCodeSettings::default();
    let issued = issue_sms_code(&settings, &key(1), &clock);
    let presented = OtpCode::parse(issued.plain_code.as_str(), 6).unwrap();

    let first = verify_sms_code(&issued.stored, &presented, &key(1), clock.now());
    assert_eq!(first.result, Ok(()));
    assert!(first.is_accepted());
    assert_eq!(first.updated.consumed_at, Some(clock.now()));
    assert_eq!(first.updated.attempts, 1);

    clock.advance(Duration::seconds(5));
    let second = verify_sms_code(&first.updated, &presented, &key(1), clock.now());
    assert_eq!(second.result, Err(OtpError::Replayed));
    assert_eq!(second.result.unwrap_err().reason_code(), "replayed");
    assert_eq!(second.updated, first.updated);
}

#[test]
fn five_wrong_codes_lock_the_code_even_for_the_right_one() {
    let clock = clock();
    let settings = SmsCodeSettings::default();
    let issued = issue_sms_code(&settings, &key(1), &clock);
    let wrong = wrong_code_for(issued.plain_code.as_str());
    let right = OtpCode::parse(issued.plain_code.as_str(), 6).unwrap();

    let mut stored = issued.stored;
    for attempt in 1..=5 {
        let check = verify_sms_code(&stored, &wrong, &key(1), clock.now());
        assert_eq!(check.result, Err(OtpError::WrongCode), "attempt {attempt}");
        assert_eq!(check.updated.attempts, attempt);
        stored = check.updated;
    }
    let after = verify_sms_code(&stored, &right, &key(1), clock.now());
    assert_eq!(after.result, Err(OtpError::CodeLocked));
    assert_eq!(after.result.unwrap_err().reason_code(), "locked");
    assert_eq!(
        after.updated.attempts, 5,
        "a locked code counts no more attempts"
    );
}

#[test]
fn four_wrong_codes_still_leave_the_fifth_attempt_for_the_right_code() {
    let clock = clock();
    let issued = issue_sms_code(&SmsCodeSettings::default(), &key(1), &clock);
    let wrong = wrong_code_for(issued.plain_code.as_str());
    let mut stored = issued.stored;
    for _ in 0..4 {
        stored = verify_sms_code(&stored, &wrong, &key(1), clock.now()).updated;
    }
    let right = OtpCode::parse(issued.plain_code.as_str(), 6).unwrap();
    assert_eq!(
        verify_sms_code(&stored, &right, &key(1), clock.now()).result,
        Ok(())
    );
}

#[test]
fn a_code_expires_exactly_at_the_end_of_its_lifetime() {
    let clock = clock();
    let settings = SmsCodeSettings::default();
    let issued = issue_sms_code(&settings, &key(1), &clock);
    assert_eq!(issued.stored.expires_at, datetime!(2026-11-25 12:05:00 UTC));
    let right = OtpCode::parse(issued.plain_code.as_str(), 6).unwrap();

    clock.advance(Duration::minutes(5) - Duration::nanoseconds(1));
    assert_eq!(
        verify_sms_code(&issued.stored, &right, &key(1), clock.now()).result,
        Ok(()),
        "one nanosecond before expiry"
    );
    clock.advance(Duration::nanoseconds(1));
    let at_expiry = verify_sms_code(&issued.stored, &right, &key(1), clock.now());
    assert_eq!(at_expiry.result, Err(OtpError::Expired));
    assert_eq!(
        at_expiry.updated.attempts, 0,
        "expired codes are not compared"
    );
}

#[test]
fn a_hundred_consecutive_failures_lock_the_subscriber_until_unlocked() {
    let clock = clock();
    let settings = SmsCodeSettings::default();
    let mut subscriber = SubscriberOtpState::default();
    let mut failures = 0;
    // An attacker requests fresh codes and guesses each up to the per-code limit.
    while failures < 100 {
        subscriber.ensure_unlocked().unwrap();
        let issued = issue_sms_code(&settings, &key(1), &clock);
        let wrong = wrong_code_for(issued.plain_code.as_str());
        let mut stored = issued.stored;
        for _ in 0..settings.max_attempts_per_code() {
            let check = verify_sms_code(&stored, &wrong, &key(1), clock.now());
            subscriber.record_sms_attempt(
                &check.result,
                settings.max_consecutive_failures(),
                clock.now(),
            );
            stored = check.updated;
            failures += 1;
            assert_eq!(subscriber.is_locked(), failures >= 100, "after {failures}");
        }
        clock.advance(Duration::minutes(1));
    }
    let locked_since = subscriber.locked_at.unwrap();
    assert_eq!(
        subscriber.ensure_unlocked(),
        Err(OtpError::SubscriberLocked {
            since: locked_since
        })
    );

    // Even the right code of a new SMS is not compared while locked: the caller checks first.
    let issued = issue_sms_code(&settings, &key(1), &clock);
    assert!(subscriber.ensure_unlocked().is_err());

    // A new verification lifts the lock; then the right code works and resets the count.
    subscriber.reset_for_new_verification();
    subscriber.ensure_unlocked().unwrap();
    let right = OtpCode::parse(issued.plain_code.as_str(), 6).unwrap();
    let check = verify_sms_code(&issued.stored, &right, &key(1), clock.now());
    subscriber.record_sms_attempt(&check.result, 100, clock.now());
    assert_eq!(check.result, Ok(()));
    assert_eq!(subscriber.consecutive_failures, 0);
}

#[test]
fn a_success_in_between_resets_the_consecutive_count() {
    let now = datetime!(2026-11-25 12:00:00 UTC);
    let mut subscriber = SubscriberOtpState::default();
    for _ in 0..99 {
        subscriber.record_sms_attempt(&Err(OtpError::WrongCode), 100, now);
    }
    subscriber.record_sms_attempt(&Ok(()), 100, now);
    for _ in 0..99 {
        subscriber.record_sms_attempt(&Err(OtpError::WrongCode), 100, now);
    }
    assert!(!subscriber.is_locked());
    subscriber.record_sms_attempt(&Err(OtpError::WrongCode), 100, now);
    assert!(subscriber.is_locked());
    subscriber.unlock_by_admin();
    assert!(subscriber.ensure_unlocked().is_ok());
}

#[test]
fn ten_thousand_codes_are_all_digits_of_the_right_length_and_spread_evenly() {
    let clock = clock();
    for digits in [6u8, 8, 10] {
        let settings = SmsCodeSettings::default().with_digits(digits).unwrap();
        let mut leading_zeros = 0;
        let mut first_digit_counts = [0u32; 10];
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let code = issue_sms_code(&settings, &key(1), &clock).plain_code;
            let text = code.as_str();
            assert_eq!(text.len(), usize::from(digits), "{text}");
            assert!(text.bytes().all(|b| b.is_ascii_digit()), "{text}");
            let first = usize::from(text.as_bytes()[0] - b'0');
            first_digit_counts[first] += 1;
            if first == 0 {
                leading_zeros += 1;
            }
            distinct.insert(text.to_owned());
        }
        // Expected 1000 per leading digit; 800..1200 is beyond 6 standard deviations.
        assert!(leading_zeros > 0, "leading zeros must be possible");
        for (digit, count) in first_digit_counts.iter().enumerate() {
            assert!(
                (800..=1200).contains(count),
                "{digits} digits: leading {digit} seen {count} times"
            );
        }
        // With 10^6 possible codes, ~50 birthday collisions are expected in 10 000 draws.
        assert!(distinct.len() > 9_800, "{} distinct", distinct.len());
    }
}

#[test]
fn the_stored_hash_depends_on_the_server_key_and_never_contains_the_code() {
    let clock = clock();
    let settings = SmsCodeSettings::default();
    let issued = issue_sms_code(&settings, &key(1), &clock);
    let stored: &StoredSmsCode = &issued.stored;
    assert_eq!(stored.code_hash.as_str().len(), 64);
    assert!(
        !stored
            .code_hash
            .as_str()
            .contains(issued.plain_code.as_str())
    );

    // The same code verified under another key does not match: the key is part of the hash.
    let right = OtpCode::parse(issued.plain_code.as_str(), 6).unwrap();
    assert_eq!(
        verify_sms_code(stored, &right, &key(2), clock.now()).result,
        Err(OtpError::WrongCode)
    );
    assert_eq!(
        verify_sms_code(stored, &right, &key(1), clock.now()).result,
        Ok(())
    );

    // Not a plain hash either: SHA-256 of the code alone does not match.
    use sha2::Digest as _;
    let plain = hex::encode(sha2::Sha256::digest(issued.plain_code.as_str().as_bytes()));
    assert_ne!(stored.code_hash.as_str(), plain);
}

#[test]
fn the_stored_row_fixes_the_attempt_limit_at_issue_time() {
    let clock = clock();
    let strict = SmsCodeSettings::default()
        .with_max_attempts_per_code(2)
        .unwrap();
    let issued = issue_sms_code(&strict, &key(1), &clock);
    assert_eq!(issued.stored.max_attempts, 2);
    assert_eq!(issued.stored.attempts, 0);
    assert_eq!(issued.stored.consumed_at, None);
    assert_eq!(issued.stored.issued_at, clock.now());
    let wrong = wrong_code_for(issued.plain_code.as_str());
    let once = verify_sms_code(&issued.stored, &wrong, &key(1), clock.now()).updated;
    let twice = verify_sms_code(&once, &wrong, &key(1), clock.now()).updated;
    assert_eq!(
        verify_sms_code(&twice, &wrong, &key(1), clock.now()).result,
        Err(OtpError::CodeLocked)
    );
}
