//! SMS send limits against pumping fraud: resend cooldown, per-MSISDN and per-client hourly
//! caps, each with the `retry_after` a client would be told.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use simgate_otp::{
    OtpError, SendHistory, SendLimit, SmsCodeSettings, decide_sms_send, retry_after_secs,
};
use time::{Duration, OffsetDateTime, macros::datetime};

const NOW: OffsetDateTime = datetime!(2026-11-25 12:00:00 UTC);

fn ago(secs: i64) -> OffsetDateTime {
    NOW - Duration::seconds(secs)
}

fn refused(result: Result<(), OtpError>) -> (SendLimit, Duration) {
    match result {
        Err(OtpError::RateLimited { limit, retry_after }) => (limit, retry_after),
        other => panic!("expected a rate limit, got {other:?}"),
    }
}

#[test]
fn the_first_send_is_allowed() {
    assert_eq!(
        decide_sms_send(&SendHistory::default(), &SmsCodeSettings::default(), NOW),
        Ok(())
    );
}

#[test]
fn a_resend_within_the_cooldown_is_refused_with_the_remaining_wait() {
    let settings = SmsCodeSettings::default();
    let history = SendHistory {
        msisdn_sends: vec![ago(45)],
        client_sends: vec![ago(45)],
    };
    let (limit, retry_after) = refused(decide_sms_send(&history, &settings, NOW));
    assert_eq!(limit, SendLimit::Cooldown);
    assert_eq!(retry_after, Duration::seconds(15));
    assert_eq!(retry_after_secs(retry_after), 15);

    // Exactly at the end of the cooldown the resend goes through.
    assert_eq!(
        decide_sms_send(&history, &settings, NOW + Duration::seconds(15)),
        Ok(())
    );
}

#[test]
fn the_sixth_send_to_one_msisdn_in_an_hour_waits_for_the_oldest_to_age_out() {
    let settings = SmsCodeSettings::default();
    // Five sends over the last 50 minutes, the oldest 50 minutes ago.
    let sends = vec![
        ago(50 * 60),
        ago(40 * 60),
        ago(30 * 60),
        ago(20 * 60),
        ago(10 * 60),
    ];
    let history = SendHistory {
        msisdn_sends: sends.clone(),
        client_sends: sends,
    };
    let (limit, retry_after) = refused(decide_sms_send(&history, &settings, NOW));
    assert_eq!(limit, SendLimit::MsisdnPerHour);
    assert_eq!(retry_after, Duration::minutes(10));
    let later = NOW + retry_after;
    assert_eq!(decide_sms_send(&history, &settings, later), Ok(()));
    assert!(decide_sms_send(&history, &settings, later - Duration::seconds(1)).is_err());
}

#[test]
fn sends_older_than_an_hour_do_not_count() {
    let settings = SmsCodeSettings::default();
    let history = SendHistory {
        msisdn_sends: vec![
            ago(3600),
            ago(3700),
            ago(4000),
            ago(5000),
            ago(7200),
            ago(10 * 60),
        ],
        client_sends: vec![],
    };
    assert_eq!(decide_sms_send(&history, &settings, NOW), Ok(()));
}

#[test]
fn a_client_pumping_many_numbers_hits_its_hourly_cap() {
    let settings = SmsCodeSettings::default();
    // 500 sends by one client to 500 different numbers, one every 7 seconds, the last 7 s ago.
    let client_sends: Vec<OffsetDateTime> = (1..=500).map(|i| ago(i * 7)).collect();
    let history = SendHistory {
        msisdn_sends: vec![],
        client_sends,
    };
    let (limit, retry_after) = refused(decide_sms_send(&history, &settings, NOW));
    assert_eq!(limit, SendLimit::ClientPerHour);
    // The oldest send (3500 s ago) leaves the window in 100 s.
    assert_eq!(retry_after, Duration::seconds(100));

    let relaxed = SmsCodeSettings::default()
        .with_max_sends_per_client_per_hour(501)
        .unwrap();
    assert_eq!(decide_sms_send(&history, &relaxed, NOW), Ok(()));
}

#[test]
fn when_several_limits_apply_the_longest_wait_is_reported() {
    let settings = SmsCodeSettings::default()
        .with_max_sends_per_msisdn_per_hour(2)
        .unwrap();
    let history = SendHistory {
        // Cooldown has 50 s left; the hourly cap of 2 frees up in 30 min.
        msisdn_sends: vec![ago(30 * 60), ago(10)],
        client_sends: vec![ago(10)],
    };
    let (limit, retry_after) = refused(decide_sms_send(&history, &settings, NOW));
    assert_eq!(limit, SendLimit::MsisdnPerHour);
    assert_eq!(retry_after, Duration::minutes(30));
    let error = decide_sms_send(&history, &settings, NOW).unwrap_err();
    assert_eq!(error.reason_code(), "rate_limited");
    assert_eq!(
        error.to_string(),
        "too many codes sent (msisdn_per_hour); retry in 1800 s"
    );
}

#[test]
fn a_send_stamped_in_the_future_by_a_skewed_replica_still_counts() {
    let settings = SmsCodeSettings::default();
    let history = SendHistory {
        msisdn_sends: vec![NOW + Duration::seconds(5)],
        client_sends: vec![],
    };
    let (limit, retry_after) = refused(decide_sms_send(&history, &settings, NOW));
    assert_eq!(limit, SendLimit::Cooldown);
    assert_eq!(retry_after, Duration::seconds(65));
}
