//! The verification state machine as a client sees it: which submissions are accepted, when a
//! session is approved, rejected or expired, and that a refused transition changes nothing.

#![allow(clippy::unwrap_used)] // a failed set-up step should abort the test loudly

use simgate_core::{Msisdn, TenantId};
use simgate_flow::{
    Applicant, Channel, ChannelPolicy, CheckResult, FlowError, FlowPolicy, Step, StepOutcome,
    Verification, VerificationStatus, session::ActivationRecord,
};
use simgate_tokens::Eid;
use time::{Duration, OffsetDateTime, macros::datetime};

const NOW: OffsetDateTime = datetime!(2026-11-26 10:00 UTC);

fn applicant() -> Applicant {
    Applicant {
        msisdn: Msisdn::parse("+23057001234").unwrap(),
        eid: Eid::parse("89049032123451234512345678901235").unwrap(),
        iccid: None,
        matching_id: None,
        smdp_address: None,
        store_id: Some("port-louis-1".into()),
        declared_surname: None,
        declared_birth_date: None,
    }
}

fn open(channel: Channel) -> Verification {
    let policy = FlowPolicy::default().for_channel(channel).clone();
    Verification::open(
        TenantId::parse("acme").unwrap(),
        channel,
        policy,
        applicant(),
        NOW,
    )
}

fn pass() -> StepOutcome {
    StepOutcome::from_checks(vec![CheckResult::flag("ok", true)], Vec::new())
}

fn fail(reason: &str) -> StepOutcome {
    StepOutcome::from_checks(vec![CheckResult::flag(reason, false)], vec![reason.into()])
}

#[test]
fn kiosk_session_is_approved_once_every_required_step_passed() {
    let mut session = open(Channel::Kiosk);
    assert_eq!(
        session.required_steps(),
        vec![Step::Document, Step::Selfie, Step::Otp]
    );
    session
        .record_step(Step::Document, pass(), false, NOW)
        .unwrap();
    // The code comes last: no SMS before the document and the face have passed.
    assert_eq!(
        session
            .record_step(Step::Otp, pass(), false, NOW)
            .unwrap_err(),
        FlowError::StepOutOfOrder {
            step: Step::Otp,
            prerequisite: Step::Selfie
        }
    );
    session
        .record_step(Step::Selfie, pass(), false, NOW)
        .unwrap();
    assert_eq!(session.status, VerificationStatus::InProgress);
    assert_eq!(session.pending_steps(), vec![Step::Otp]);
    session.record_step(Step::Otp, pass(), false, NOW).unwrap();
    assert_eq!(session.status, VerificationStatus::Approved);
    let decision = session.decision.as_ref().unwrap();
    assert_eq!(decision.status, VerificationStatus::Approved);
    assert_eq!(
        decision.steps.len(),
        3,
        "every step's checks are in the decision"
    );
}

#[test]
fn selfie_before_the_document_is_out_of_order_and_changes_nothing() {
    let mut session = open(Channel::Mobile);
    let before = session.clone();
    let error = session
        .record_step(Step::Selfie, pass(), false, NOW)
        .unwrap_err();
    assert_eq!(
        error,
        FlowError::StepOutOfOrder {
            step: Step::Selfie,
            prerequisite: Step::Document
        }
    );
    assert_eq!(session, before);
}

#[test]
fn failures_are_retried_until_the_attempts_run_out_then_rejected_with_reasons() {
    let mut session = open(Channel::Kiosk);
    for attempt in 1..=2 {
        session
            .record_step(Step::Document, fail("blurry"), false, NOW)
            .unwrap();
        assert_eq!(
            session.status,
            VerificationStatus::InProgress,
            "attempt {attempt}"
        );
    }
    session
        .record_step(Step::Document, fail("glare"), false, NOW)
        .unwrap();
    assert_eq!(session.status, VerificationStatus::Rejected);
    let reasons = &session.decision.as_ref().unwrap().reasons;
    assert_eq!(
        reasons,
        &vec!["glare".to_owned(), "document_attempts_exhausted".to_owned()]
    );
    let error = session
        .record_step(Step::Document, pass(), false, NOW)
        .unwrap_err();
    assert!(matches!(
        error,
        FlowError::IllegalTransition {
            status: VerificationStatus::Rejected,
            ..
        }
    ));
}

#[test]
fn a_fatal_failure_rejects_at_once() {
    let mut session = open(Channel::Kiosk);
    session
        .record_step(Step::Document, fail("document_expired"), true, NOW)
        .unwrap();
    assert_eq!(session.status, VerificationStatus::Rejected);
    assert_eq!(
        session.decision.unwrap().reasons,
        vec!["document_expired".to_owned()]
    );
}

#[test]
fn a_passed_step_cannot_be_submitted_again_and_unrequired_steps_are_refused() {
    let mut session = open(Channel::Batch);
    session
        .record_step(Step::Document, pass(), false, NOW)
        .unwrap();
    assert_eq!(
        session
            .record_step(Step::Document, pass(), false, NOW)
            .unwrap_err(),
        FlowError::StepAlreadyPassed(Step::Document)
    );
    assert_eq!(
        session
            .record_step(Step::Otp, pass(), false, NOW)
            .unwrap_err(),
        FlowError::StepNotRequired(Step::Otp)
    );
}

#[test]
fn sessions_expire_after_their_lifetime_and_refuse_steps() {
    let mut session = open(Channel::Kiosk);
    let later = NOW + Duration::minutes(31);
    assert_eq!(
        session
            .ensure_step_accepted(Step::Document, later)
            .unwrap_err(),
        FlowError::Expired
    );
    assert!(!session.expire_if_due(NOW + Duration::minutes(29)));
    assert!(session.expire_if_due(later));
    assert_eq!(session.status, VerificationStatus::Expired);
    assert_eq!(
        session.decision.unwrap().reasons,
        vec!["session_expired".to_owned()]
    );
}

#[test]
fn activation_only_from_approved_and_only_once() {
    let mut session = open(Channel::Batch);
    assert!(session.ensure_activation_allowed().is_err());
    session
        .record_step(Step::Document, pass(), false, NOW)
        .unwrap();
    session
        .record_step(Step::Selfie, pass(), false, NOW)
        .unwrap();
    let record = ActivationRecord {
        jti: "abc".into(),
        issued_at: NOW,
        expires_at: NOW + Duration::minutes(10),
    };
    session.record_activation(record.clone(), NOW).unwrap();
    assert_eq!(session.status, VerificationStatus::Activated);
    assert!(matches!(
        session.record_activation(record, NOW).unwrap_err(),
        FlowError::IllegalTransition {
            status: VerificationStatus::Activated,
            ..
        }
    ));
}

#[test]
fn review_flag_blocks_activation() {
    let mut session = open(Channel::Batch);
    session
        .record_step(Step::Document, pass(), false, NOW)
        .unwrap();
    session
        .record_step(Step::Selfie, pass(), false, NOW)
        .unwrap();
    session
        .flag_for_review(vec!["document_reused".into()], NOW)
        .unwrap();
    assert_eq!(session.status, VerificationStatus::NeedsReview);
    assert!(session.ensure_activation_allowed().is_err());
}

#[test]
fn aggregate_round_trips_through_json_and_the_portrait_crop_is_dropped_on_decision() {
    let mut session = open(Channel::Batch);
    session.evidence.portrait_aligned_rgb = Some(vec![1, 2, 3]);
    session
        .record_step(Step::Document, pass(), false, NOW)
        .unwrap();
    let json = serde_json::to_string(&session).unwrap();
    let back: Verification = serde_json::from_str(&json).unwrap();
    assert_eq!(back, session);
    session
        .record_step(Step::Selfie, pass(), false, NOW)
        .unwrap();
    assert_eq!(session.evidence.portrait_aligned_rgb, None);
}

#[test]
fn policies_that_can_never_approve_are_refused() {
    let mut policy = ChannelPolicy::kiosk_default();
    policy.max_attempts_per_step = 0;
    assert!(policy.validate(Channel::Kiosk).is_err());
    let mut policy = ChannelPolicy::kiosk_default();
    policy.otp_methods.clear();
    assert!(policy.validate(Channel::Kiosk).is_err());
    FlowPolicy::default().validate().unwrap();
    assert!("shop".parse::<Channel>().is_err());
}
