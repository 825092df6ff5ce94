//! Verification sessions: `POST /v1/verifications` opens one; `.../document`, `.../selfie` submit
//! steps; `GET` shows it; `.../activation` issues the signed eSIM activation token.
//!
//! Every handler loads the session (expiring it if due), asks the flow state machine whether the
//! action is allowed *before* doing expensive work, evaluates the evidence off the async runtime,
//! applies the transition and saves with a compare-and-set. Refused transitions are 409.

use axum::{
    Json,
    extract::{Multipart, Path, State, multipart::MultipartRejection},
    http::StatusCode,
};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use simgate_biometrics::{
    decode::{DecodedImage, decode_image},
    liveness::LivenessChallenge,
};
use simgate_core::Msisdn;
use simgate_flow::{
    Applicant, Channel, ChannelPolicy, Decision, Step, StepOutcome, Verification,
    VerificationStatus,
    session::{ActivationRecord, DocumentSummary},
    steps::{
        StepError,
        document::{DocumentRules, evaluate_document},
        selfie::{
            AttackChecks, LivenessInput, PadInput, PortraitEvidence, evaluate_selfie,
            min_selfie_frames, pending_liveness_challenge, renew_liveness_challenge,
        },
    },
};
use simgate_risk::{KeyKind, Signal};
use simgate_store::ActivationTokenRow;
use simgate_tokens::{
    Acr, ActivationCode, ActivationRequest, Audience, AuthMethod, Eid, Iccid, Issuer, MatchingId,
    SmdpAddress, TokenLifetime, VerificationId, issue_activation_token,
};
use time::OffsetDateTime;

use crate::{
    auth::Principal,
    error::{ApiError, flow_error, image_error, invalid_field, store_error},
    routes::multipart::{FieldKind, FieldSpec, multipart_rejection, read_form},
    sessions::{self, LoadedVerification, load_verification_for, save_verification},
    signing_keys::load_key_ring,
    state::{AppState, ModelStatus, PadStatus},
};

/// Most frames one selfie submission may carry.
pub const MAX_SELFIE_FRAMES: usize = 8;

/// Longest accepted MRZ text (three TD1 lines plus separators, with room for stray spaces).
const MAX_MRZ_TEXT_BYTES: usize = 512;

/// Opening a verification.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVerificationRequest {
    /// `kiosk`, `mobile` or `batch`.
    pub channel: String,
    /// The number the eSIM will carry (E.164).
    pub msisdn: String,
    /// The device's EID (32 digits).
    pub eid: String,
    /// The profile's ICCID.
    #[serde(default)]
    pub iccid: Option<String>,
    /// The SGP.22 matching id.
    #[serde(default)]
    pub matching_id: Option<String>,
    /// The SM-DP+ address holding the profile.
    #[serde(default)]
    pub smdp_address: Option<String>,
    /// The store or kiosk the request comes from.
    #[serde(default)]
    pub store_id: Option<String>,
    /// The holder's surname as entered by the clerk or subscriber; checked against the document.
    #[serde(default)]
    pub declared_surname: Option<String>,
    /// The holder's birth date (`YYYY-MM-DD`) as entered; checked against the document.
    #[serde(default)]
    pub declared_birth_date: Option<String>,
    /// The subscriber's consent, as the client captured it. Required where the channel's policy
    /// says so (`consent_required`, by default kiosk and mobile): without it, or without every
    /// purpose the channel's steps need, the answer is 422 `consent-required`.
    #[serde(default)]
    pub consent: Option<ConsentRequest>,
}

/// The subscriber's consent as the client captured it; the server records when it arrived.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    /// The version label of the notice shown (1 to 64 letters, digits or `. _ -`), so the
    /// carrier can show which text the subscriber agreed to.
    pub notice_version: String,
    /// What the subscriber agreed to: `identity_verification`, `biometric_matching` (needed
    /// when the selfie step runs), `fraud_monitoring`.
    pub purposes: Vec<String>,
    /// How: `on_screen` (ticked on a kiosk or app screen) or `signed_form`.
    pub method: String,
}

/// The consent recorded with a verification.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentView {
    /// The notice version the subscriber agreed to.
    pub notice_version: String,
    /// The purposes agreed to.
    pub purposes: Vec<simgate_flow::ConsentPurpose>,
    /// How consent was given.
    pub method: simgate_flow::ConsentMethod,
    /// When the server received it.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub captured_at: OffsetDateTime,
}

/// A verification as the client sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VerificationView {
    /// Verification id.
    pub id: String,
    /// Where it stands.
    pub status: VerificationStatus,
    /// Its channel.
    pub channel: Channel,
    /// Steps that must pass, in order.
    pub required_steps: Vec<Step>,
    /// Steps that have not passed yet.
    pub pending_steps: Vec<Step>,
    /// Progress of each step.
    pub steps: Vec<StepView>,
    /// The decision, once taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// The document's type and issuer, once read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<DocumentView>,
    /// The activation token issued, once issued (its id and expiry, not the token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation: Option<ActivationView>,
    /// The second factor: method, current code's expiry and attempts, SMS delivery status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otp: Option<crate::routes::otp::OtpView>,
    /// The active-liveness challenge the next selfie submission must answer, while one is
    /// pending (channels with `active_liveness_required`; renewed after a failed attempt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_challenge: Option<LivenessChallengeView>,
    /// The consent recorded when it opened, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentView>,
    /// When it was opened.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When it expires if undecided.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

/// Progress of one step.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StepView {
    /// Which step.
    pub step: Step,
    /// Whether it passed.
    pub passed: bool,
    /// Submissions so far.
    pub attempts: u32,
    /// Submissions left before the verification is rejected.
    pub attempts_left: u32,
    /// The last submission's outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<StepOutcome>,
}

/// The document's public facts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DocumentView {
    /// `passport`, `id_card`, `visa` or `other`.
    #[serde(rename = "type")]
    pub document_type: String,
    /// Issuing state code.
    pub issuer: String,
}

/// An active-liveness challenge: capture the selfie frames while the person follows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LivenessChallengeView {
    /// 32 hex digits identifying this challenge.
    pub nonce: String,
    /// `turn_head_left`, `turn_head_right` or `move_closer` (the subject's own left and right,
    /// in unmirrored frames).
    pub action: String,
    /// The instruction to show the person.
    pub instruction: String,
}

impl From<&LivenessChallenge> for LivenessChallengeView {
    fn from(challenge: &LivenessChallenge) -> Self {
        // The action's wire name is its serde name; serialising a unit variant cannot fail.
        let action = serde_json::to_value(challenge.action)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default();
        Self {
            nonce: challenge.nonce.clone(),
            action,
            instruction: challenge.action.instruction().to_owned(),
        }
    }
}

/// The issued token's id and expiry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActivationView {
    /// The token's `jti`.
    pub jti: String,
    /// When the token expires.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

/// The answer to a step submission: the step's outcome and the whole verification.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StepResponse {
    /// The step submitted.
    pub step: Step,
    /// Its outcome (reasons say what to fix on a retake).
    pub outcome: StepOutcome,
    /// The verification after the submission.
    pub verification: VerificationView,
}

/// The issued activation token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActivationResponse {
    /// The signed JWT (`typ: esim-activation+jwt`) for the provisioning system.
    pub token: String,
    /// Always `esim-activation+jwt`.
    pub token_type: String,
    /// The token's `jti`.
    pub jti: String,
    /// Key id that signed it (published in the JWKS).
    pub kid: String,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    /// The SGP.22 activation code `LPA:1$<SM-DP+>$<matching id>`, when both were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation_code: Option<String>,
    /// The activation code as a QR-code PNG, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation_code_qr_png: Option<String>,
}

/// Multipart form of a document submission (documentation only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DocumentForm {
    /// The document's data page (JPEG, PNG or WebP).
    #[schema(value_type = String, format = Binary)]
    image: Vec<u8>,
    /// The back of an ID card.
    #[schema(value_type = Option<String>, format = Binary)]
    back: Option<Vec<u8>>,
    /// The MRZ as read by a kiosk's document reader, lines separated by newlines.
    mrz_text: Option<String>,
}

/// Multipart form of a selfie submission (documentation only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SelfieForm {
    /// 1 to 8 frames (JPEG, PNG or WebP), each with exactly one face; at least 3 captured
    /// while following the `liveness_challenge` when the channel requires active liveness.
    #[schema(value_type = Vec<String>, format = Binary)]
    frames: Vec<Vec<u8>>,
}

/// Builds the client's view of a verification.
pub fn view(verification: &Verification) -> VerificationView {
    let max = verification.policy.max_attempts_per_step;
    VerificationView {
        id: verification.id.clone(),
        status: verification.status,
        channel: verification.channel,
        required_steps: verification.required_steps(),
        pending_steps: verification.pending_steps(),
        steps: verification
            .steps
            .iter()
            .map(|(step, state)| StepView {
                step: *step,
                passed: state.passed,
                attempts: state.attempts,
                attempts_left: max.saturating_sub(state.attempts),
                last_outcome: state.last_outcome.clone(),
            })
            .collect(),
        decision: verification.decision.clone(),
        document: verification
            .evidence
            .document
            .as_ref()
            .map(|d: &DocumentSummary| DocumentView {
                document_type: d.document_type.clone(),
                issuer: d.issuer.clone(),
            }),
        activation: verification.activation.as_ref().map(|a| ActivationView {
            jti: a.jti.clone(),
            expires_at: a.expires_at,
        }),
        // Needs the store (delivery status); handlers that show it fill it in.
        otp: None,
        liveness_challenge: pending_liveness_challenge(verification).map(Into::into),
        consent: verification.consent.as_ref().map(|c| ConsentView {
            notice_version: c.notice_version.as_str().to_owned(),
            purposes: c.purposes.iter().copied().collect(),
            method: c.method,
            captured_at: c.captured_at,
        }),
        created_at: verification.created_at,
        expires_at: verification.expires_at,
    }
}

/// Validates the request's consent; `now` is the capture time recorded.
fn parse_consent(
    request: Option<&ConsentRequest>,
    now: OffsetDateTime,
) -> Result<Option<simgate_flow::Consent>, ApiError> {
    let Some(request) = request else {
        return Ok(None);
    };
    let notice_version = simgate_flow::ConsentNoticeVersion::parse(&request.notice_version)
        .map_err(|e| invalid_field("consent.notice_version", e))?;
    if request.purposes.is_empty() || request.purposes.len() > 8 {
        return Err(invalid_field(
            "consent.purposes",
            "must list 1 to 8 purposes",
        ));
    }
    let purposes = request
        .purposes
        .iter()
        .map(|p| p.parse::<simgate_flow::ConsentPurpose>())
        .collect::<Result<_, _>>()
        .map_err(|e| invalid_field("consent.purposes", e))?;
    let method = request
        .method
        .parse()
        .map_err(|e| invalid_field("consent.method", e))?;
    Ok(Some(simgate_flow::Consent {
        notice_version,
        purposes,
        method,
        captured_at: now,
    }))
}

fn parse_applicant(request: &CreateVerificationRequest) -> Result<Applicant, ApiError> {
    fn optional<T, E: std::fmt::Display>(
        field: &'static str,
        value: &Option<String>,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Result<Option<T>, ApiError> {
        value
            .as_deref()
            .map(|v| parse(v).map_err(|e| invalid_field(field, e)))
            .transpose()
    }
    let store_id = optional("store_id", &request.store_id, |v| {
        if (1..=64).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        {
            Ok(v.to_owned())
        } else {
            Err("must be 1 to 64 letters, digits or - _ . :")
        }
    })?;
    let declared_surname = optional("declared_surname", &request.declared_surname, |v| {
        if (1..=100).contains(&v.chars().count()) && !v.chars().any(char::is_control) {
            Ok(v.to_owned())
        } else {
            Err("must be 1 to 100 printable characters")
        }
    })?;
    let declared_birth_date = optional("declared_birth_date", &request.declared_birth_date, |v| {
        time::Date::parse(v, time::macros::format_description!("[year]-[month]-[day]"))
            .map(|date| date.to_string())
            .map_err(|_| "must be YYYY-MM-DD")
    })?;
    let smdp_address = optional("smdp_address", &request.smdp_address, SmdpAddress::parse)?;
    let matching_id = optional("matching_id", &request.matching_id, MatchingId::parse)?;
    Ok(Applicant {
        msisdn: Msisdn::parse(&request.msisdn).map_err(|e| invalid_field("msisdn", e))?,
        eid: Eid::parse(&request.eid).map_err(|e| invalid_field("eid", e))?,
        iccid: optional("iccid", &request.iccid, Iccid::parse)?,
        matching_id,
        smdp_address,
        store_id,
        declared_surname,
        declared_birth_date,
    })
}

/// Opens a verification session.
#[utoipa::path(
    post, path = "/v1/verifications", tag = "verifications",
    request_body = CreateVerificationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for a repeated key")),
    responses(
        (status = 201, description = "Session opened", body = VerificationView),
        (status = 401, description = "No or unknown API key", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Key lacks the verify scope, or the subscriber is frozen (`subscriber-frozen`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field does not validate (the `field` member names it), or the channel requires the subscriber's consent and `consent` is missing or lacks a purpose its steps need (`consent-required`, `missing_purposes` lists them)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["verify"]), ("api_key" = ["kiosk"]))
)]
pub async fn create_verification(
    State(state): State<AppState>,
    principal: Principal,
    client: crate::risk::ClientAddress,
    client_region: crate::risk::ClientRegion,
    held_key: Option<axum::Extension<crate::idempotency::HeldIdempotencyKey>>,
    request: Result<Json<CreateVerificationRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<VerificationView>), ApiError> {
    principal.session_access()?;
    let Json(request) = request.map_err(|e| {
        ApiError::new(
            e.status(),
            "invalid-json",
            "Invalid JSON body",
            e.body_text(),
        )
    })?;
    let channel: Channel = request
        .channel
        .parse()
        .map_err(|e| invalid_field("channel", e))?;
    let applicant = parse_applicant(&request)?;
    if channel != Channel::Batch && applicant.iccid.is_none() && applicant.matching_id.is_none() {
        // The activation token must be bound to one profile, or it could release any profile.
        return Err(invalid_field(
            "iccid",
            "an iccid or a matching_id is required to bind the activation to one eSIM profile",
        ));
    }
    let policy: ChannelPolicy = state.settings.flow.for_channel(channel).clone();
    let consent = parse_consent(request.consent.as_ref(), state.clock.now())?;
    simgate_flow::check_consent(&policy, consent.as_ref()).map_err(flow_error)?;
    let subscriber = sessions::subscriber_id(&state, &applicant.msisdn).await?;
    crate::incident::ensure_not_frozen(&state, &principal.tenant, &subscriber).await?;
    let mut verification = Verification::open(
        principal.tenant.clone(),
        channel,
        policy,
        applicant,
        state.clock.now(),
    );
    verification.opened_by = Some(principal.key_id.clone());
    verification.consent = consent;
    let applicant = &verification.applicant;
    let fired = crate::risk::observe(
        &state,
        &principal.tenant,
        crate::risk::Observation {
            signal: Signal::VerificationOpened,
            subscriber: &subscriber,
            keys: vec![
                (KeyKind::Msisdn, applicant.msisdn.as_e164().to_owned()),
                (KeyKind::Eid, applicant.eid.as_str().to_owned()),
                (
                    KeyKind::Store,
                    applicant.store_id.clone().unwrap_or_default(),
                ),
                (KeyKind::ApiKey, principal.key_id.clone()),
                (KeyKind::ClientIp, client.0.clone()),
            ],
            amount: 1,
            at: None,
        },
    )
    .await?;
    // A store with a known location, and the region the ingress geolocated the client's
    // address to, are sightings of the subscriber there.
    let mut fired = fired;
    let store_region = applicant
        .store_id
        .as_deref()
        .and_then(|store| state.settings.risk.geography.store_region(store));
    for region in store_region.into_iter().chain(client_region.0) {
        fired.extend(
            crate::risk::observe_sighting(
                &state,
                &principal.tenant,
                crate::risk::Sighting {
                    subscriber: &subscriber,
                    msisdn: applicant.msisdn.as_e164(),
                    region: &region,
                    at: state.clock.now(),
                    data_bytes: None,
                },
            )
            .await?,
        );
    }
    // A rule may have frozen the subscriber just now.
    crate::incident::ensure_not_frozen(&state, &principal.tenant, &subscriber).await?;
    let review = crate::risk::review_reasons(&fired);
    if !review.is_empty() {
        verification
            .flag_for_review(review, state.clock.now())
            .map_err(flow_error)?;
    }
    // Issued up front so the client can show the instruction before it starts capturing.
    renew_liveness_challenge(&mut verification);
    let opened = view(&verification);
    // With an Idempotency-Key the 201 is stored in the session's own transaction: the
    // middleware stores it again afterwards, but if the process dies or the database goes away
    // in between, a retry must still find this answer, not open a second session.
    let answer = idempotent_answer(held_key, StatusCode::CREATED, &opened)?;
    sessions::insert_verification(&state, &verification, &subscriber, answer.as_ref()).await?;
    tracing::info!(tenant = %principal.tenant, verification_id = %verification.id, %channel, "verification opened");
    Ok((StatusCode::CREATED, Json(opened)))
}

/// Shows a verification.
#[utoipa::path(
    get, path = "/v1/verifications/{id}", tag = "verifications",
    params(("id" = String, Path, description = "Verification id")),
    responses(
        (status = 200, description = "The verification", body = VerificationView),
        (status = 404, description = "No such verification for this tenant", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["verify"]), ("api_key" = ["kiosk"]))
)]
pub async fn get_verification(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<VerificationView>, ApiError> {
    principal.session_access()?;
    let loaded = load_verification_for(&state, &principal, &id).await?;
    let mut verification = view(&loaded.verification);
    verification.otp = crate::routes::otp::otp_view(&state, &loaded.verification).await?;
    Ok(Json(verification))
}

/// Submits the identity document.
#[utoipa::path(
    post, path = "/v1/verifications/{id}/document", tag = "verifications",
    params(
        ("id" = String, Path, description = "Verification id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for a repeated key"),
    ),
    request_body(content = DocumentForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Document evaluated (passed or not: see `outcome`)", body = StepResponse),
        (status = 404, description = "No such verification for this tenant", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The verification does not accept a document now", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Image too large", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JPEG, PNG or WebP", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Undecodable image", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Models still loading", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["verify"]), ("api_key" = ["kiosk"]))
)]
pub async fn submit_document(
    State(state): State<AppState>,
    principal: Principal,
    held_key: Option<axum::Extension<crate::idempotency::HeldIdempotencyKey>>,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<StepResponse>, ApiError> {
    principal.session_access()?;
    let mut loaded = load_verification_for(&state, &principal, &id).await?;
    let now = state.clock.now();
    let limits = state.face_decode_limits();
    let form = read_form(
        multipart.map_err(multipart_rejection)?,
        &[
            FieldSpec {
                name: "image",
                kind: FieldKind::Image,
                min: 1,
                max: 1,
            },
            FieldSpec {
                name: "back",
                kind: FieldKind::Image,
                min: 0,
                max: 1,
            },
            FieldSpec {
                name: "mrz_text",
                kind: FieldKind::Text(MAX_MRZ_TEXT_BYTES),
                min: 0,
                max: 1,
            },
        ],
        limits.max_bytes,
    )
    .await?;
    // Checked after the body is read: answering before it would make clients see a reset
    // connection instead of the 409; the expensive part (inference) still comes after.
    loaded
        .verification
        .ensure_step_accepted(Step::Document, now)
        .map_err(flow_error)?;
    let engine = face_engine(&state)?;
    let image_bytes = form.image("image").unwrap_or_default();
    let mrz_text = form.text("mrz_text").map(str::to_owned);
    let applicant = loaded.verification.applicant.clone();
    let number_key = sessions::subscriber_key(&state).await?;
    let rules = DocumentRules::default();
    let today = now.date();
    let back_bytes = form.image("back");
    let result = tokio::task::spawn_blocking(move || {
        let image = decode_image(&image_bytes, &limits).map_err(|e| image_error("image", e))?;
        // Without a reader's text, the MRZ is read from the photo (front, else the back of an
        // ID card) by the documents crate's locator and OCR-B classifier.
        let mrz_text = match mrz_text {
            Some(text) => Some(text),
            None => read_mrz_from_photos(&image, back_bytes.as_deref(), &limits, today)?,
        };
        evaluate_document(
            engine.as_ref(),
            &image,
            mrz_text.as_deref(),
            &applicant,
            &rules,
            today,
            number_key.as_bytes(),
        )
        .map_err(|e| ApiError::internal(&e))
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;

    let verification = &mut loaded.verification;
    if result.outcome.passed {
        verification.evidence.portrait_template = result.portrait_template;
        verification.evidence.portrait_aligned_rgb = result.portrait_aligned_rgb;
        verification.evidence.proven_by.push("doc".into());
    }
    if result.summary.is_some() {
        verification.evidence.document = result.summary;
    }
    let outcome = result.outcome.clone();
    verification
        .record_step(Step::Document, result.outcome, result.fatal, now)
        .map_err(flow_error)?;
    if outcome.passed
        && let Some(document) = &verification.evidence.document
    {
        let subscriber = sessions::subscriber_id(&state, &verification.applicant.msisdn).await?;
        let document_key = format!("{}:{}", document.issuer, document.number_hash);
        let mut fired = crate::risk::observe(
            &state,
            &principal.tenant,
            crate::risk::Observation {
                signal: Signal::DocumentVerified,
                subscriber: &subscriber,
                keys: vec![(KeyKind::Document, document_key.clone())],
                amount: 1,
                at: None,
            },
        )
        .await?;
        fired.extend(
            crate::risk::check_document_issuer(
                &state,
                &principal.tenant,
                (&verification.applicant.msisdn, &subscriber),
                &verification.id,
                &document.issuer,
            )
            .await?,
        );
        if let Some(template) = &verification.evidence.portrait_template {
            fired.extend(
                crate::risk::search_face_under_other_identity(
                    &state,
                    &principal.tenant,
                    (&verification.applicant.msisdn, &subscriber),
                    &document_key,
                    template,
                )
                .await?,
            );
        }
        let review = crate::risk::review_reasons(&fired);
        if !review.is_empty() {
            verification
                .flag_for_review(review, now)
                .map_err(flow_error)?;
        }
    }
    finish_step(
        &state,
        &principal,
        loaded,
        Step::Document,
        outcome,
        held_key,
    )
    .await
}

/// Submits the selfie frames.
#[utoipa::path(
    post, path = "/v1/verifications/{id}/selfie", tag = "verifications",
    params(
        ("id" = String, Path, description = "Verification id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for a repeated key"),
    ),
    request_body(content = SelfieForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Selfie evaluated (passed or not: see `outcome`)", body = StepResponse),
        (status = 404, description = "No such verification for this tenant", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The verification does not accept a selfie now (e.g. no document yet), or `liveness-challenge-required` (a challenge was just issued: capture for it)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Image too large", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JPEG, PNG or WebP", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Undecodable image, or fewer frames than the channel needs (`invalid-field`, `field: frames`; no attempt used)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Models (or PAD models the channel requires) still loading or failed", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["verify"]), ("api_key" = ["kiosk"]))
)]
pub async fn submit_selfie(
    State(state): State<AppState>,
    principal: Principal,
    held_key: Option<axum::Extension<crate::idempotency::HeldIdempotencyKey>>,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<StepResponse>, ApiError> {
    principal.session_access()?;
    let mut loaded = load_verification_for(&state, &principal, &id).await?;
    let now = state.clock.now();
    let limits = state.face_decode_limits();
    let form = read_form(
        multipart.map_err(multipart_rejection)?,
        &[FieldSpec {
            name: "frames",
            kind: FieldKind::Image,
            min: 1,
            max: MAX_SELFIE_FRAMES,
        }],
        limits.max_bytes,
    )
    .await?;
    loaded
        .verification
        .ensure_step_accepted(Step::Selfie, now)
        .map_err(flow_error)?;
    let frames = form.images_named("frames");
    let policy = loaded.verification.policy.clone();
    // Refused before inference and without counting an attempt: a client that sends too few
    // frames has a bug, not a failed liveness check.
    let min_frames = min_selfie_frames(&policy);
    if frames.len() < min_frames {
        return Err(step_error(StepError::TooFewFrames {
            got: frames.len(),
            min: min_frames,
        }));
    }
    if policy.active_liveness_required && loaded.verification.evidence.liveness_challenge.is_none()
    {
        // A session opened without a challenge (e.g. stored before challenges were issued)
        // gets one now; the client must capture frames for it, so this submission is refused.
        renew_liveness_challenge(&mut loaded.verification);
        save_verification(&state, &mut loaded).await?;
        return Err(step_error(StepError::LivenessChallengeMissing));
    }
    let engine = face_engine(&state)?;
    let face_model = engine.model_info().recogniser;
    let pad_engine = selfie_pad_engine(&state, &policy)?;
    let pad_threshold = state.settings.faces.pad.threshold;
    let verification = &loaded.verification;
    let template = verification
        .evidence
        .portrait_template
        .clone()
        .ok_or_else(|| ApiError::internal(&"document passed without a portrait template"))?;
    let aligned = verification.evidence.portrait_aligned_rgb.clone();
    let challenge = verification.evidence.liveness_challenge.clone();
    let previously_seen = verification.evidence.frame_fingerprints.clone();
    let threshold = policy
        .face_match_threshold
        .unwrap_or(state.settings.faces.match_threshold);
    let result = tokio::task::spawn_blocking(move || {
        let decoded = frames
            .iter()
            .map(|bytes| decode_image(bytes, &limits).map_err(|e| image_error("frames", e)))
            .collect::<Result<Vec<DecodedImage>, ApiError>>()?;
        let attacks = AttackChecks {
            liveness: challenge.as_ref().map(|challenge| LivenessInput {
                challenge,
                previously_seen: &previously_seen,
            }),
            pad: pad_engine.as_deref().map(|engine| PadInput {
                engine,
                threshold: pad_threshold,
            }),
        };
        evaluate_selfie(
            engine.as_ref(),
            &decoded,
            PortraitEvidence {
                template: &template,
                aligned_rgb: aligned.as_deref(),
            },
            threshold,
            &policy,
            attacks,
        )
        .map_err(step_error)
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;

    let verification = &mut loaded.verification;
    verification.evidence.face_model = Some(face_model);
    if result.outcome.passed {
        verification.evidence.proven_by.push("face".into());
    }
    // Kept whatever the outcome, so a frame of this submission replayed in a retry is caught.
    verification
        .evidence
        .frame_fingerprints
        .extend(result.fingerprints);
    let outcome = result.outcome.clone();
    verification
        .record_step(Step::Selfie, result.outcome, result.fatal, now)
        .map_err(flow_error)?;
    if !outcome.passed {
        // A retry must answer a new challenge, so the clip recorded for this one is useless.
        renew_liveness_challenge(verification);
    }
    finish_step(&state, &principal, loaded, Step::Selfie, outcome, held_key).await
}

/// Saves a session after a step and answers with the outcome; with an Idempotency-Key the
/// answer is stored with the session's change, so a retry after a lost answer gets it again
/// rather than a refusal from the session's new state.
pub async fn finish_step(
    state: &AppState,
    principal: &Principal,
    mut loaded: LoadedVerification,
    step: Step,
    outcome: StepOutcome,
    held_key: Option<axum::Extension<crate::idempotency::HeldIdempotencyKey>>,
) -> Result<Json<StepResponse>, ApiError> {
    let before = loaded.loaded_status;
    let response = StepResponse {
        step,
        outcome,
        verification: view(&loaded.verification),
    };
    let answer = idempotent_answer(held_key, StatusCode::OK, &response)?;
    sessions::save_verification_answering(state, &mut loaded, answer.as_ref()).await?;
    let verification = &loaded.verification;
    if before != verification.status {
        state
            .metrics
            .verification_decisions_total
            .with_label_values(&[verification.channel.as_str(), verification.status.as_str()])
            .inc();
    }
    tracing::info!(
        tenant = %principal.tenant,
        verification_id = %verification.id,
        %step,
        passed = response.outcome.passed,
        reasons = ?response.outcome.reasons,
        status = %verification.status,
        "verification step recorded"
    );
    Ok(Json(response))
}

/// Issues the activation token of an approved verification.
#[utoipa::path(
    post, path = "/v1/verifications/{id}/activation", tag = "verifications",
    params(
        ("id" = String, Path, description = "Verification id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for a repeated key"),
    ),
    responses(
        (status = 201, description = "Token issued", body = ActivationResponse),
        (status = 403, description = "The subscriber is frozen (`subscriber-frozen`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such verification for this tenant", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The verification is not approved (or already activated)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "No signing key yet", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["verify"]), ("api_key" = ["kiosk"]))
)]
pub async fn issue_activation(
    State(state): State<AppState>,
    principal: Principal,
    held_key: Option<axum::Extension<crate::idempotency::HeldIdempotencyKey>>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<ActivationResponse>), ApiError> {
    principal.session_access()?;
    let mut loaded = load_verification_for(&state, &principal, &id).await?;
    loaded
        .verification
        .ensure_activation_allowed()
        .map_err(flow_error)?;
    let now = state.clock.now();
    let ring = load_key_ring(state.store.as_ref(), now)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no-signing-key",
                "No signing key",
                "no activation-token signing key exists yet; run `simgate signing-key rotate`",
            )
        })?;
    let verification = &loaded.verification;
    let applicant = &verification.applicant;
    let subject = sessions::subscriber_id(&state, &applicant.msisdn).await?;
    // A subscriber frozen after approving still gets no token.
    crate::incident::ensure_not_frozen(&state, &principal.tenant, &subject).await?;
    let tokens = &state.settings.tokens;
    let request = ActivationRequest {
        issuer: Issuer::parse(&tokens.issuer).map_err(|e| ApiError::internal(&e))?,
        audience: Audience::parse(&tokens.audience).map_err(|e| ApiError::internal(&e))?,
        lifetime: TokenLifetime::new(std::time::Duration::from_secs(tokens.lifetime_secs))
            .map_err(|e| ApiError::internal(&e))?,
        subject: subject.clone(),
        eid: applicant.eid.clone(),
        iccid: applicant.iccid.clone(),
        matching_id: applicant.matching_id.clone(),
        acr: Acr::parse(&format!("urn:simgate:acr:{}", verification.channel))
            .map_err(|e| ApiError::internal(&e))?,
        amr: auth_methods(verification),
        verification_id: VerificationId::parse(&verification.id)
            .map_err(|e| ApiError::internal(&e))?,
    };
    let issued =
        issue_activation_token(&ring, &request, now).map_err(|e| ApiError::internal(&e))?;
    let claims = &issued.claims;
    let expires_at = issued.expires_at;
    state
        .store
        .insert_activation_token(&ActivationTokenRow {
            jti: claims.jti.as_str().to_owned(),
            tenant: principal.tenant.clone(),
            verification_id: verification.id.clone(),
            subscriber_id: claims.sub.as_str().to_owned(),
            kid: ring.current().kid().as_str().to_owned(),
            issued_at: now,
            expires_at,
            revoked_at: None,
            revoked_reason: None,
            redeemed_at: None,
        })
        .await
        .map_err(store_error)?;
    let code = match (&applicant.smdp_address, &applicant.matching_id) {
        (Some(smdp), Some(matching)) => Some(
            ActivationCode::new(smdp.as_str(), matching.as_str())
                .map_err(|e| ApiError::internal(&e))?,
        ),
        _ => None,
    };
    let jti = claims.jti.as_str().to_owned();
    loaded
        .verification
        .record_activation(
            ActivationRecord {
                jti: jti.clone(),
                issued_at: now,
                expires_at,
            },
            now,
        )
        .map_err(flow_error)?;
    let qr = code
        .as_ref()
        .map(|c| {
            c.qr_png()
                .map(|png| base64::engine::general_purpose::STANDARD.encode(png))
        })
        .transpose()
        .map_err(|e| ApiError::internal(&e))?;
    let response = ActivationResponse {
        token: issued.token,
        token_type: "esim-activation+jwt".into(),
        jti: jti.clone(),
        kid: ring.current().kid().as_str().to_owned(),
        expires_at,
        activation_code: code.map(|c| c.to_lpa_string()),
        activation_code_qr_png: qr,
    };
    // The token exists only in this answer: with an Idempotency-Key it is stored with the
    // session's change, so a client whose answer was lost gets the same token on retry instead
    // of 409 on a session already activated.
    let answer = idempotent_answer(held_key, StatusCode::CREATED, &response)?;
    if let Err(error) =
        sessions::save_verification_answering(&state, &mut loaded, answer.as_ref()).await
    {
        // The session moved on under us: the token must not outlive the failed activation.
        state
            .store
            .revoke_activation_token(&principal.tenant, &jti, now, "activation_not_recorded")
            .await
            .ok();
        return Err(error);
    }
    crate::incident::audit(
        &state,
        &principal.tenant,
        &principal.key_id,
        "token.issued",
        crate::incident::subscriber_subject(&subject),
        serde_json::json!({ "jti": jti, "verification_id": id }),
    )
    .await?;
    tracing::info!(tenant = %principal.tenant, verification_id = %id, jti = %jti, "activation token issued");
    Ok((StatusCode::CREATED, Json(response)))
}

/// The answer to store on the request's Idempotency-Key, if it carries one: `body` serialised
/// exactly as `Json` sends it.
pub(crate) fn idempotent_answer(
    held_key: Option<axum::Extension<crate::idempotency::HeldIdempotencyKey>>,
    status: StatusCode,
    body: &impl Serialize,
) -> Result<Option<simgate_store::IdempotentAnswer>, ApiError> {
    let Some(axum::Extension(key)) = held_key else {
        return Ok(None);
    };
    Ok(Some(simgate_store::IdempotentAnswer {
        key: key.0,
        status_code: status.as_u16(),
        body: zeroize::Zeroizing::new(
            serde_json::to_vec(body).map_err(|e| ApiError::internal(&e))?,
        ),
    }))
}

/// The `amr` of a verification: the methods that proved the subscriber, in the order they did.
fn auth_methods(verification: &Verification) -> Vec<AuthMethod> {
    verification
        .evidence
        .proven_by
        .iter()
        .filter_map(|method| match method.as_str() {
            "doc" => Some(AuthMethod::Doc),
            "face" => Some(AuthMethod::Face),
            "otp" => Some(AuthMethod::Otp),
            "sms" => Some(AuthMethod::Sms),
            _ => None,
        })
        .collect()
}

/// The problem for a selfie that could not be evaluated.
fn step_error(error: StepError) -> ApiError {
    match error {
        StepError::TooFewFrames { .. } => invalid_field("frames", error),
        StepError::LivenessChallengeMissing => ApiError::new(
            StatusCode::CONFLICT,
            "liveness-challenge-required",
            "Liveness challenge required",
            "this verification needs frames captured while following its liveness_challenge; \
             GET the verification for the challenge and capture again",
        ),
        StepError::Inference(_) => ApiError::internal(&error),
    }
}

/// The PAD engine a selfie runs with: `None` when PAD is not configured. While the configured
/// models load, or when they failed to load, a channel that requires PAD gets a 503 (a retry
/// later can pass, and no attempt is used up); other channels go on without the
/// informational check.
fn selfie_pad_engine(
    state: &AppState,
    policy: &ChannelPolicy,
) -> Result<Option<std::sync::Arc<dyn simgate_biometrics::pad::PadEngine>>, ApiError> {
    match state.faces.pad_status() {
        PadStatus::NotConfigured => Ok(None),
        PadStatus::Ready(_) => Ok(state.faces.pad_engine()),
        PadStatus::Loading | PadStatus::Failed(_) if !policy.pad_required => Ok(None),
        PadStatus::Loading => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "models-unavailable",
            "Models unavailable",
            "PAD models are still loading; retry shortly",
        )),
        PadStatus::Failed(reason) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "models-unavailable",
            "Models unavailable",
            format!("PAD models failed to load: {reason}"),
        )),
    }
}

/// The MRZ lines the documents crate's locator and OCR read in the front photo, else in the
/// back's (TD1 cards carry it there), after check-digit-guarded correction. Only the MRZ reader
/// runs: the portrait is found once, by the document step itself.
fn read_mrz_from_photos(
    front: &simgate_biometrics::decode::DecodedImage,
    back: Option<&[u8]>,
    limits: &simgate_biometrics::decode::DecodeLimits,
    today: time::Date,
) -> Result<Option<String>, ApiError> {
    let read = |image: &simgate_biometrics::decode::DecodedImage| {
        let gray = simgate_documents::raster::to_gray(image.as_rgb_image());
        simgate_documents::reader::read_mrz_in_image(&gray, today)
            .and_then(|found| found.reading.ok())
            .map(|reading| reading.corrected_lines.join("\n"))
    };
    if let Some(lines) = read(front) {
        return Ok(Some(lines));
    }
    match back {
        None => Ok(None),
        Some(bytes) => {
            let back = decode_image(bytes, limits).map_err(|e| image_error("back", e))?;
            Ok(read(&back))
        }
    }
}

pub(crate) fn face_engine(
    state: &AppState,
) -> Result<std::sync::Arc<dyn simgate_biometrics::engine::FaceEngine>, ApiError> {
    state.faces.engine().ok_or_else(|| {
        let detail = match state.faces.status() {
            ModelStatus::Failed(reason) => format!("face models failed to load: {reason}"),
            _ => "face models are still loading; retry shortly".to_owned(),
        };
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "models-unavailable",
            "Models unavailable",
            detail,
        )
    })
}
