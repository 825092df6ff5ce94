//! The second factor over HTTP: TOTP enrolment per subscriber, and the `otp` step of a
//! verification (send or select, then verify a code).
//!
//! - `POST /v1/subscribers/{msisdn}/totp` issues a secret (pending); `.../totp/confirm` activates
//!   it with a first valid code; `DELETE .../totp` (admin) removes it after a lost phone;
//!   `.../otp/unlock` (admin) lifts the consecutive-failure lock.
//! - `POST /v1/verifications/{id}/otp` with `{"method":"sms"}` queues a code in the SMS outbox
//!   (answering once it is queued, not sent); `{"method":"totp"}` selects the authenticator app.
//! - `POST /v1/verifications/{id}/otp/verify` with `{"code":"123456"}` checks it. A refusal is a
//!   problem with `reason` `wrong`, `expired`, `locked` or `replayed`; a locked subscriber is 423;
//!   too many sends is 429 with `Retry-After`.
//!
//! Every refused guess counts toward the subscriber's lock in the store (one SQL increment), TOTP
//! steps are consumed by compare-and-set and SMS-code attempts likewise, so the limits hold
//! across replicas. Wrong codes do not use up the verification's step attempts: the code's own
//! attempt limit, the send limits and the subscriber lock bound guessing instead.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use simgate_core::{Msisdn, Scope, TenantId};
use simgate_flow::{CheckResult, OtpMethod, Step, StepOutcome, Verification};
use simgate_otp::{
    OtpCode, OtpError, SmsLocale, TotpEnrolmentState, TotpSecret, decide_sms_send, issue_sms_code,
    verify_sms_code, verify_totp_code,
};
use simgate_sms::{OutboundSms, SmsDeliveryStatus, SmsMessageId};
use simgate_store::SmsCodeRow;
use time::OffsetDateTime;

use crate::{
    auth::Principal,
    error::{ApiError, flow_error, invalid_field, otp_error, sms_error, store_error},
    routes::api_keys::json_rejection,
    routes::verifications::{VerificationView, view},
    second_factor::sms_code_key,
    sessions::{self, load_verification_for, save_verification},
    state::AppState,
};

/// Starting the second factor of a verification.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartOtpRequest {
    /// `sms` (a code is sent to the verification's number) or `totp` (authenticator app).
    pub method: String,
    /// Language of the SMS text (`en`, `fr`, `fr-CA`, ...); the configured default otherwise.
    #[serde(default)]
    pub locale: Option<String>,
}

/// A code presented by the subscriber.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The digits, as typed.
    pub code: String,
}

/// The second factor of a verification as the client sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OtpView {
    /// The method selected.
    pub method: OtpMethod,
    /// When the current SMS code stops being accepted (`sms` only).
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub code_expires_at: Option<OffsetDateTime>,
    /// Verification attempts left for the current SMS code (`sms` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<u32>,
    /// Where the SMS carrying the code is (`queued`, `sending`, `retrying`, `delivered`,
    /// `failed`), with attempts and the last gateway error.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub delivery: Option<SmsDeliveryStatus>,
}

/// The answer to starting the second factor.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StartOtpResponse {
    /// The second factor's state.
    pub otp: OtpView,
    /// Earliest time another SMS code may be requested for this number (`sms` only).
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resend_after: Option<OffsetDateTime>,
}

/// The answer to an accepted code.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VerifyOtpResponse {
    /// Always `accepted` (refusals are problems with a `reason`).
    pub result: String,
    /// The method the code was checked with.
    pub method: OtpMethod,
    /// The verification after the code was accepted.
    pub verification: VerificationView,
}

/// A new TOTP enrolment: what the subscriber scans.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TotpEnrolmentResponse {
    /// `pending` until a first valid code confirms it.
    pub state: String,
    /// `otpauth://totp/...` with the secret; show it once, never log it.
    pub otpauth_uri: String,
    /// The URI as a QR-code PNG, base64.
    pub qr_png: String,
    /// The issuer (carrier) in the URI.
    pub issuer: String,
    /// HMAC algorithm.
    pub algorithm: String,
    /// Code length.
    pub digits: u8,
    /// Time step in seconds.
    pub period: u64,
}

/// The state of a TOTP enrolment after confirmation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TotpStateResponse {
    /// `active`.
    pub state: String,
}

/// Parses the `{msisdn}` path segment (422 `field: msisdn` when it is not E.164).
pub(crate) fn parse_msisdn(value: &str) -> Result<Msisdn, ApiError> {
    Msisdn::parse(value).map_err(|e| invalid_field("msisdn", e))
}

/// 409 for a code presented before a second factor was started for the verification.
fn otp_not_started(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "otp-not-started",
        "Second factor not started",
        detail,
    )
}

/// Counts a refused guess toward the lock when the refusal is one, then returns the refusal.
async fn refuse(
    state: &AppState,
    tenant: &TenantId,
    subscriber: &str,
    error: OtpError,
) -> Result<ApiError, ApiError> {
    if error.counts_as_failed_attempt() {
        let max = state
            .second_factor
            .policy
            .sms_codes
            .max_consecutive_failures();
        let after = state
            .store
            .record_otp_failure(tenant, subscriber, max, state.clock.now())
            .await
            .map_err(store_error)?;
        if after.is_locked() {
            tracing::warn!(
                reason = error.reason_code(),
                "second factor locked after repeated refusals"
            );
        }
    }
    state
        .metrics
        .otp_verifications
        .with_label_values(&[error.reason_code()])
        .inc();
    Ok(otp_error(error))
}

/// Refuses before any code is compared while the subscriber is locked.
async fn ensure_unlocked(
    state: &AppState,
    tenant: &TenantId,
    subscriber: &str,
) -> Result<simgate_otp::SubscriberOtpState, ApiError> {
    let otp_state = state
        .store
        .otp_state(tenant, subscriber)
        .await
        .map_err(store_error)?;
    otp_state.ensure_unlocked().map_err(otp_error)?;
    Ok(otp_state)
}

/// The second factor of `verification` with the SMS delivery status, for responses.
pub async fn otp_view(
    state: &AppState,
    verification: &Verification,
) -> Result<Option<OtpView>, ApiError> {
    let Some(method) = verification.evidence.otp_method else {
        return Ok(None);
    };
    let mut view = OtpView {
        method,
        code_expires_at: None,
        attempts_left: None,
        delivery: None,
    };
    if method != OtpMethod::Sms {
        return Ok(Some(view));
    }
    let row = state
        .store
        .find_sms_code(&verification.tenant, &verification.id)
        .await
        .map_err(store_error)?;
    if let Some(row) = row {
        view.code_expires_at = Some(row.code.expires_at);
        view.attempts_left = Some(row.code.max_attempts.saturating_sub(row.code.attempts));
        if let Ok(id) = SmsMessageId::parse(&row.message_id) {
            view.delivery = state.store.status(&id).await.map_err(sms_error)?;
        }
    }
    Ok(Some(view))
}

/// Sends an SMS code for the verification, or selects TOTP.
#[utoipa::path(
    post, path = "/v1/verifications/{id}/otp", tag = "second factor",
    request_body = StartOtpRequest,
    params(("id" = String, Path, description = "Verification id")),
    responses(
        (status = 202, description = "SMS code queued for delivery", body = StartOtpResponse),
        (status = 404, description = "No such verification for this key", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 200, description = "TOTP selected", body = StartOtpResponse),
        (status = 409, description = "The verification does not accept a second factor now, or TOTP is not active", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 423, description = "The subscriber's second factor is locked", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Send limit reached (`limit`, `Retry-After`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["verify"]), ("api_key" = ["kiosk"]))
)]
pub async fn start_otp(
    State(state): State<AppState>,
    principal: Principal,
    client: crate::risk::ClientAddress,
    Path(id): Path<String>,
    body: Result<Json<StartOtpRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<StartOtpResponse>), ApiError> {
    principal.session_access()?;
    let Json(request) = body.map_err(json_rejection)?;
    let method = match request.method.as_str() {
        "sms" => OtpMethod::Sms,
        "totp" => OtpMethod::Totp,
        _ => return Err(invalid_field("method", "must be sms or totp")),
    };
    let locale = request
        .locale
        .as_deref()
        .map(SmsLocale::parse)
        .transpose()
        .map_err(|e| invalid_field("locale", e))?;
    let mut loaded = load_verification_for(&state, &principal, &id).await?;
    let now = state.clock.now();
    loaded
        .verification
        .ensure_step_accepted(Step::Otp, now)
        .map_err(flow_error)?;
    if !loaded.verification.policy.otp_methods.contains(&method) {
        return Err(invalid_field(
            "method",
            format!(
                "the {} channel does not accept this method",
                loaded.verification.channel
            ),
        ));
    }
    let tenant = principal.tenant.clone();
    let subscriber_id =
        sessions::subscriber_id(&state, &loaded.verification.applicant.msisdn).await?;
    let subscriber = subscriber_id.as_str();
    let mut otp_state = state
        .store
        .otp_state(&tenant, subscriber)
        .await
        .map_err(store_error)?;
    lift_lock_if_reproven(&state, &loaded.verification, subscriber, &mut otp_state).await?;
    otp_state.ensure_unlocked().map_err(otp_error)?;

    let policy = &state.second_factor.policy;
    let (status, resend_after) = match method {
        OtpMethod::Totp => {
            let enrolment = state
                .store
                .find_totp_enrolment(&tenant, subscriber)
                .await
                .map_err(store_error)?
                .ok_or_else(|| otp_error(OtpError::TotpNotActive))?;
            enrolment.state.ensure_active().map_err(otp_error)?;
            (StatusCode::OK, None)
        }
        OtpMethod::Sms => {
            let history = state
                .store
                .sms_send_history(
                    subscriber,
                    &principal.key_id,
                    now - time::Duration::hours(1),
                )
                .await
                .map_err(store_error)?;
            if let Err(error) = decide_sms_send(&history, &policy.sms_codes, now) {
                state
                    .metrics
                    .otp_sends
                    .with_label_values(&[error.reason_code()])
                    .inc();
                return Err(otp_error(error));
            }
            let key = sms_code_key(&state).await?;
            let issued = issue_sms_code(&policy.sms_codes, &key, state.clock.as_ref());
            let text = policy.templates.template_for(locale.as_ref()).render(
                &policy.carrier,
                &issued.plain_code,
                policy.sms_codes.lifetime_minutes(),
            );
            let message = OutboundSms::new(
                loaded.verification.applicant.msisdn.clone(),
                text,
                issued.stored.expires_at,
                state.clock.as_ref(),
            );
            let message_id = message.id.clone();
            // The code row goes in first: a message that leaves always has a code to check.
            state
                .store
                .put_sms_code(
                    &tenant,
                    &loaded.verification.id,
                    &SmsCodeRow {
                        code: issued.stored,
                        message_id: message_id.as_str().to_owned(),
                    },
                )
                .await
                .map_err(store_error)?;
            state
                .store
                .record_sms_send(subscriber, &principal.key_id, now)
                .await
                .map_err(store_error)?;
            state.store.enqueue(message).await.map_err(sms_error)?;
            state.second_factor.sms_worker.wake();
            state.metrics.otp_sends.with_label_values(&["queued"]).inc();
            loaded.verification.evidence.sms_message_id = Some(message_id.as_str().to_owned());
            // SMS pumping shows per store and per API key, beyond one number's own limits.
            let fired = crate::risk::observe(
                &state,
                &tenant,
                crate::risk::Observation {
                    signal: simgate_risk::Signal::OtpSend,
                    subscriber: &subscriber_id,
                    keys: vec![
                        (
                            simgate_risk::KeyKind::Msisdn,
                            loaded.verification.applicant.msisdn.as_e164().to_owned(),
                        ),
                        (
                            simgate_risk::KeyKind::Store,
                            loaded
                                .verification
                                .applicant
                                .store_id
                                .clone()
                                .unwrap_or_default(),
                        ),
                        (simgate_risk::KeyKind::ApiKey, principal.key_id.clone()),
                        (simgate_risk::KeyKind::ClientIp, client.0.clone()),
                    ],
                    amount: 1,
                    at: None,
                },
            )
            .await?;
            let review = crate::risk::review_reasons(&fired);
            if !review.is_empty() {
                loaded
                    .verification
                    .flag_for_review(review, now)
                    .map_err(flow_error)?;
            }
            (
                StatusCode::ACCEPTED,
                Some(now + policy.sms_codes.resend_cooldown()),
            )
        }
    };
    loaded.verification.evidence.otp_method = Some(method);
    loaded.verification.updated_at = now;
    save_verification(&state, &mut loaded).await?;
    let otp = otp_view(&state, &loaded.verification)
        .await?
        .ok_or_else(|| ApiError::internal(&"otp method not recorded"))?;
    Ok((status, Json(StartOtpResponse { otp, resend_after })))
}

/// A subscriber locked before this verification opened, who has since passed its document and
/// selfie, has proven who they are again: the lock is lifted (the replay marker stays).
async fn lift_lock_if_reproven(
    state: &AppState,
    verification: &Verification,
    subscriber: &str,
    otp_state: &mut simgate_otp::SubscriberOtpState,
) -> Result<(), ApiError> {
    let reproven = [Step::Document, Step::Selfie]
        .iter()
        .all(|step| verification.steps.get(step).is_some_and(|s| s.passed));
    let locked_before_this_verification = otp_state
        .locked_at
        .is_some_and(|since| since < verification.created_at);
    if reproven && locked_before_this_verification {
        state
            .store
            .unlock_otp(&verification.tenant, subscriber)
            .await
            .map_err(store_error)?;
        otp_state.reset_for_new_verification();
        tracing::info!("second-factor lock lifted by a new verification");
    }
    Ok(())
}

/// Checks a code for the verification's second factor.
#[utoipa::path(
    post, path = "/v1/verifications/{id}/otp/verify", tag = "second factor",
    request_body = CodeRequest,
    params(("id" = String, Path, description = "Verification id")),
    responses(
        (status = 200, description = "Code accepted; the otp step passed", body = VerifyOtpResponse),
        (status = 404, description = "No such verification for this key", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No second factor started, or the verification does not accept one now", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Code refused: `reason` is wrong, expired, locked (this code) or replayed", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 423, description = "The subscriber's second factor is locked", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["verify"]), ("api_key" = ["kiosk"]))
)]
pub async fn verify_otp(
    State(state): State<AppState>,
    principal: Principal,
    held_key: Option<axum::Extension<crate::idempotency::HeldIdempotencyKey>>,
    Path(id): Path<String>,
    body: Result<Json<CodeRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<VerifyOtpResponse>, ApiError> {
    principal.session_access()?;
    let Json(request) = body.map_err(json_rejection)?;
    let mut loaded = load_verification_for(&state, &principal, &id).await?;
    let now = state.clock.now();
    loaded
        .verification
        .ensure_step_accepted(Step::Otp, now)
        .map_err(flow_error)?;
    let method =
        loaded.verification.evidence.otp_method.ok_or_else(|| {
            otp_not_started("choose a method first: POST /v1/verifications/{id}/otp")
        })?;
    let tenant = principal.tenant.clone();
    let subscriber = sessions::subscriber_id(&state, &loaded.verification.applicant.msisdn).await?;
    let subscriber = subscriber.as_str();
    let otp_state = ensure_unlocked(&state, &tenant, subscriber).await?;
    let policy = &state.second_factor.policy;

    let result = match method {
        OtpMethod::Sms => {
            let code = OtpCode::parse(&request.code, policy.sms_codes.digits());
            let row = state
                .store
                .find_sms_code(&tenant, &loaded.verification.id)
                .await
                .map_err(store_error)?
                .ok_or_else(|| otp_not_started("no SMS code was sent for this verification"))?;
            match code {
                Err(error) => Err(error),
                Ok(code) => {
                    let key = sms_code_key(&state).await?;
                    let checked = verify_sms_code(&row.code, &code, &key, now);
                    if checked.updated != row.code {
                        let stored = state
                            .store
                            .update_sms_code_attempt(
                                &tenant,
                                &loaded.verification.id,
                                row.code.attempts,
                                &checked.updated,
                            )
                            .await
                            .map_err(store_error)?;
                        if !stored {
                            // Another attempt on this code was counted meanwhile; neither may
                            // be judged on stale counters.
                            return Err(ApiError::concurrent_update(
                                "another code was checked for this verification at the same time; retry",
                            ));
                        }
                    }
                    checked.result
                }
            }
        }
        OtpMethod::Totp => {
            let enrolment = state
                .store
                .find_totp_enrolment(&tenant, subscriber)
                .await
                .map_err(store_error)?
                .ok_or_else(|| otp_error(OtpError::TotpNotActive))?;
            enrolment.state.ensure_active().map_err(otp_error)?;
            let secret =
                TotpSecret::from_bytes(&enrolment.secret).map_err(|e| ApiError::internal(&e))?;
            match OtpCode::parse(&request.code, policy.totp.digits()) {
                Err(error) => Err(error),
                Ok(code) => {
                    match verify_totp_code(
                        &secret,
                        &code,
                        &policy.totp,
                        now,
                        otp_state.last_totp_step,
                    ) {
                        Ok(step) => {
                            // The step is consumed in the store, so a racing replica's use of the
                            // same code loses and is told it replayed.
                            if state
                                .store
                                .advance_totp_step(&tenant, subscriber, step.0)
                                .await
                                .map_err(store_error)?
                            {
                                Ok(())
                            } else {
                                Err(OtpError::Replayed)
                            }
                        }
                        Err(error) => Err(error),
                    }
                }
            }
        }
    };
    if let Err(error) = result {
        return Err(refuse(&state, &tenant, subscriber, error).await?);
    }
    state
        .store
        .record_otp_success(&tenant, subscriber)
        .await
        .map_err(store_error)?;
    state
        .metrics
        .otp_verifications
        .with_label_values(&["accepted"])
        .inc();
    let method_name = match method {
        OtpMethod::Sms => "sms",
        OtpMethod::Totp => "totp",
    };
    let outcome = StepOutcome::from_checks(vec![CheckResult::flag(method_name, true)], Vec::new());
    loaded
        .verification
        .record_step(Step::Otp, outcome, false, now)
        .map_err(flow_error)?;
    // RFC 8176: `sms` for a code sent by SMS, `otp` for an authenticator app's code.
    let amr = match method {
        OtpMethod::Sms => "sms",
        OtpMethod::Totp => "otp",
    };
    loaded.verification.evidence.proven_by.push(amr.into());
    // Built before the save so that, with an Idempotency-Key, the answer is stored with the
    // session's change (the code is spent: a retry after a lost answer must not be refused).
    let mut verification = view(&loaded.verification);
    verification.otp = otp_view(&state, &loaded.verification).await?;
    let response = VerifyOtpResponse {
        result: "accepted".into(),
        method,
        verification,
    };
    let answer =
        crate::routes::verifications::idempotent_answer(held_key, StatusCode::OK, &response)?;
    crate::sessions::save_verification_answering(&state, &mut loaded, answer.as_ref()).await?;
    Ok(Json(response))
}

/// Issues a TOTP secret for the subscriber (pending until confirmed).
#[utoipa::path(
    post, path = "/v1/subscribers/{msisdn}/totp", tag = "second factor",
    params(("msisdn" = String, Path, description = "The subscriber's number, E.164 (`+` may be percent-encoded)")),
    responses(
        (status = 201, description = "Secret issued; pending until confirmed", body = TotpEnrolmentResponse),
        (status = 409, description = "An active enrolment exists (`totp-already-active`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["otp"]))
)]
pub async fn enrol_totp(
    State(state): State<AppState>,
    principal: Principal,
    Path(msisdn): Path<String>,
) -> Result<(StatusCode, Json<TotpEnrolmentResponse>), ApiError> {
    principal.require(Scope::Otp)?;
    let msisdn = parse_msisdn(&msisdn)?;
    let subscriber = sessions::subscriber_id(&state, &msisdn).await?;
    let policy = &state.second_factor.policy;
    let enrolment =
        simgate_otp::enrol_totp(&msisdn, &policy.totp, state.clock.as_ref()).map_err(otp_error)?;
    let stored = state
        .store
        .put_pending_totp_enrolment(
            &principal.tenant,
            subscriber.as_str(),
            enrolment.secret.as_bytes(),
            enrolment.enrolled_at,
        )
        .await
        .map_err(store_error)?;
    if !stored {
        return Err(otp_error(OtpError::TotpAlreadyActive));
    }
    Ok((
        StatusCode::CREATED,
        Json(TotpEnrolmentResponse {
            state: TotpEnrolmentState::Pending.as_str().into(),
            otpauth_uri: enrolment.otpauth_uri.to_string(),
            qr_png: base64::engine::general_purpose::STANDARD.encode(enrolment.qr_png.as_slice()),
            issuer: policy.carrier.as_str().into(),
            algorithm: policy.totp.algorithm().as_str().into(),
            digits: policy.totp.digits(),
            period: policy.totp.step_secs(),
        }),
    ))
}

/// Activates a pending TOTP enrolment with a first valid code.
#[utoipa::path(
    post, path = "/v1/subscribers/{msisdn}/totp/confirm", tag = "second factor",
    request_body = CodeRequest,
    params(("msisdn" = String, Path, description = "The subscriber's number, E.164")),
    responses(
        (status = 200, description = "Enrolment active", body = TotpStateResponse),
        (status = 404, description = "No enrolment for this subscriber", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already active", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Code refused (`reason`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 423, description = "Second factor locked", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["otp"]))
)]
pub async fn confirm_totp(
    State(state): State<AppState>,
    principal: Principal,
    Path(msisdn): Path<String>,
    body: Result<Json<CodeRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<TotpStateResponse>, ApiError> {
    principal.require(Scope::Otp)?;
    let msisdn = parse_msisdn(&msisdn)?;
    let Json(request) = body.map_err(json_rejection)?;
    let tenant = &principal.tenant;
    let subscriber = sessions::subscriber_id(&state, &msisdn).await?;
    let subscriber = subscriber.as_str();
    let otp_state = ensure_unlocked(&state, tenant, subscriber).await?;
    let enrolment = state
        .store
        .find_totp_enrolment(tenant, subscriber)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found("TOTP enrolment"))?;
    let policy = &state.second_factor.policy;
    let secret = TotpSecret::from_bytes(&enrolment.secret).map_err(|e| ApiError::internal(&e))?;
    let now = state.clock.now();
    let confirmed = OtpCode::parse(&request.code, policy.totp.digits()).and_then(|code| {
        simgate_otp::confirm_totp_enrolment(
            enrolment.state,
            &secret,
            &code,
            &policy.totp,
            now,
            otp_state.last_totp_step,
        )
    });
    let confirmed = match confirmed {
        Ok(confirmed) => confirmed,
        Err(OtpError::TotpAlreadyActive) => return Err(otp_error(OtpError::TotpAlreadyActive)),
        Err(error) => return Err(refuse(&state, tenant, subscriber, error).await?),
    };
    let step_is_fresh = state
        .store
        .advance_totp_step(tenant, subscriber, confirmed.accepted_step.0)
        .await
        .map_err(store_error)?;
    if !step_is_fresh {
        return Err(refuse(&state, tenant, subscriber, OtpError::Replayed).await?);
    }
    let activated = state
        .store
        .activate_totp_enrolment(tenant, subscriber, enrolment.enrolled_at, now)
        .await
        .map_err(store_error)?;
    if !activated {
        return Err(ApiError::concurrent_update(
            "the enrolment was replaced or confirmed by another request; enrol again",
        ));
    }
    state
        .store
        .record_otp_success(tenant, subscriber)
        .await
        .map_err(store_error)?;
    Ok(Json(TotpStateResponse {
        state: TotpEnrolmentState::Active.as_str().into(),
    }))
}

/// Removes a subscriber's TOTP enrolment (lost or replaced phone), so they can enrol again.
#[utoipa::path(
    delete, path = "/v1/subscribers/{msisdn}/totp", tag = "second factor",
    params(("msisdn" = String, Path, description = "The subscriber's number, E.164")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No enrolment", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn delete_totp_enrolment(
    State(state): State<AppState>,
    principal: Principal,
    Path(msisdn): Path<String>,
) -> Result<StatusCode, ApiError> {
    principal.require(Scope::Admin)?;
    let msisdn = parse_msisdn(&msisdn)?;
    let subscriber = sessions::subscriber_id(&state, &msisdn).await?;
    let deleted = state
        .store
        .delete_totp_enrolment(&principal.tenant, subscriber.as_str())
        .await
        .map_err(store_error)?;
    if deleted {
        tracing::info!(key_id = %principal.key_id, "TOTP enrolment deleted by an administrator");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("TOTP enrolment"))
    }
}

/// Lifts the consecutive-failure lock of a subscriber's second factor.
#[utoipa::path(
    post, path = "/v1/subscribers/{msisdn}/otp/unlock", tag = "second factor",
    params(("msisdn" = String, Path, description = "The subscriber's number, E.164")),
    responses((status = 204, description = "Unlocked (or was not locked)")),
    security(("api_key" = ["admin"]))
)]
pub async fn unlock_second_factor(
    State(state): State<AppState>,
    principal: Principal,
    Path(msisdn): Path<String>,
) -> Result<StatusCode, ApiError> {
    principal.require(Scope::Admin)?;
    let msisdn = parse_msisdn(&msisdn)?;
    let subscriber = sessions::subscriber_id(&state, &msisdn).await?;
    state
        .store
        .unlock_otp(&principal.tenant, subscriber.as_str())
        .await
        .map_err(store_error)?;
    tracing::info!(key_id = %principal.key_id, "second-factor lock lifted by an administrator");
    Ok(StatusCode::NO_CONTENT)
}
