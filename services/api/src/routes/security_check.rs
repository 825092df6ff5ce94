//! The subscriber's security check: `GET /v1/verifications/{id}/security-check` (scope `verify`).
//!
//! After a subscriber has proved who they are (document, live face and second factor, in this
//! very verification), the kiosk or app shows them what the carrier knows about their number:
//! their recent verifications, the eSIM activations still live, alerts raised on their number,
//! whether it is frozen, and plain-language advice. The advice is a list of stable codes with a
//! severity; the page words them in the subscriber's language (`services/api/web/kiosk/i18n.js`).
//!
//! The subscriber is authenticated by the verification itself, so the view is only available
//! while it means something: the verification must be approved (or activated) and decided at
//! most [`SECURITY_CHECK_WINDOW`] ago; before that, or later, the answer is 409
//! `security-check-unavailable`. Nothing in the answer identifies anyone but the subscriber:
//! verification ids and token ids of other sessions are left out, the number is masked, and
//! the view is audited (`security_check.viewed`).

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use serde::Serialize;
use serde_json::json;
use simgate_flow::VerificationStatus;
use time::{Duration, OffsetDateTime};

use crate::{
    auth::Principal,
    error::{ApiError, store_error},
    incident::{audit, subscriber_subject},
    sessions::{self, load_verification_for},
    state::AppState,
};

/// How long after its approval a verification authenticates the subscriber for this view.
pub const SECURITY_CHECK_WINDOW: Duration = Duration::minutes(30);
/// How far back "recent" verifications and alerts reach.
const LOOKBACK: Duration = Duration::days(90);
/// Entries listed per kind.
const LIST_LIMIT: u32 = 10;

/// One verification of the subscriber's number.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecurityVerificationView {
    /// `kiosk`, `mobile` or `batch`.
    pub channel: String,
    /// Its status (`approved`, `rejected`, `expired`...).
    pub status: String,
    /// When it was opened.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// True for the verification this check was opened from.
    pub this_verification: bool,
}

/// One live eSIM activation (an unrevoked, unexpired activation token).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecurityActivationView {
    /// When the token was issued.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub issued_at: OffsetDateTime,
    /// When it stops being valid.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    /// Whether a device has already used it.
    pub redeemed: bool,
    /// True when it was issued by the verification this check was opened from.
    pub this_verification: bool,
}

/// One alert raised on the subscriber's number.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecurityAlertView {
    /// The rule that raised it, e.g. `unusual_region`.
    pub rule: String,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// When it was raised.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub raised_at: OffsetDateTime,
    /// Whether the carrier's team has handled it.
    pub acknowledged: bool,
}

/// One piece of advice: a stable code the page words in the subscriber's language.
#[derive(Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SecurityAdvice {
    /// `account_frozen`, `other_activations_live`, `verified_elsewhere_recently`,
    /// `failed_attempts_recently`, `open_alerts`, `all_clear` or `never_share_codes`.
    pub code: &'static str,
    /// `urgent`, `warning` or `info`.
    pub severity: &'static str,
}

/// The security check of the subscriber a verification authenticated.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecurityCheckResponse {
    /// The number, all but its last two digits masked.
    pub msisdn_masked: String,
    /// Whether the number is frozen (no verification or activation until the carrier lifts it).
    pub frozen: bool,
    /// Verifications of the number in the last 90 days, newest first (at most 10).
    pub recent_verifications: Vec<SecurityVerificationView>,
    /// Live eSIM activations, newest first (at most 10).
    pub active_activations: Vec<SecurityActivationView>,
    /// Alerts on the number in the last 90 days, newest first (at most 10).
    pub alerts: Vec<SecurityAlertView>,
    /// What the subscriber should know or do, most urgent first.
    pub advice: Vec<SecurityAdvice>,
    /// Until when this verification authenticates the subscriber for the check.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub available_until: OffsetDateTime,
}

/// Shows the authenticated subscriber their security check.
#[utoipa::path(
    get, path = "/v1/verifications/{id}/security-check", tag = "verifications",
    params(("id" = String, Path, description = "An approved verification, decided less than 30 minutes ago")),
    responses(
        (status = 200, description = "The subscriber's security check", body = SecurityCheckResponse),
        (status = 404, description = "No such verification for this tenant", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The verification is not approved, or was approved more than 30 minutes ago (`security-check-unavailable`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["verify"]), ("api_key" = ["kiosk"]))
)]
pub async fn security_check(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<SecurityCheckResponse>, ApiError> {
    principal.session_access()?;
    let now = state.clock.now();
    let verification = load_verification_for(&state, &principal, &id)
        .await?
        .verification;
    let decided_at = match (&verification.status, &verification.decision) {
        (VerificationStatus::Approved | VerificationStatus::Activated, Some(decision)) => {
            decision.decided_at
        }
        _ => return Err(unavailable("the verification has not been approved")),
    };
    let available_until = decided_at + SECURITY_CHECK_WINDOW;
    if now > available_until {
        return Err(unavailable(
            "the verification was approved more than 30 minutes ago; verify again",
        ));
    }
    let subscriber = sessions::subscriber_id(&state, &verification.applicant.msisdn).await?;
    let (tenant, subscriber_id) = (&principal.tenant, subscriber.as_str());
    let store = &state.store;
    let since = now - LOOKBACK;
    let frozen = store
        .subscriber_freeze(tenant, subscriber_id)
        .await
        .map_err(store_error)?
        .is_some();
    let recent_verifications: Vec<SecurityVerificationView> = store
        .subscriber_verifications(tenant, subscriber_id, LIST_LIMIT)
        .await
        .map_err(store_error)?
        .into_iter()
        .filter(|row| row.created_at >= since)
        .map(|row| SecurityVerificationView {
            this_verification: row.id == verification.id,
            channel: row.channel,
            status: row.status,
            created_at: row.created_at,
        })
        .collect();
    let active_activations: Vec<SecurityActivationView> = store
        .subscriber_tokens(tenant, subscriber_id, LIST_LIMIT)
        .await
        .map_err(store_error)?
        .into_iter()
        .filter(|token| token.revoked_at.is_none() && token.expires_at > now)
        .map(|token| SecurityActivationView {
            this_verification: token.verification_id == verification.id,
            issued_at: token.issued_at,
            expires_at: token.expires_at,
            redeemed: token.redeemed_at.is_some(),
        })
        .collect();
    let alerts: Vec<SecurityAlertView> = store
        .subscriber_alerts(tenant, subscriber_id, LIST_LIMIT)
        .await
        .map_err(store_error)?
        .into_iter()
        .filter(|alert| alert.raised_at >= since)
        .map(|alert| SecurityAlertView {
            rule: alert.rule,
            severity: alert.severity.as_str().to_owned(),
            raised_at: alert.raised_at,
            acknowledged: alert.acked_at.is_some(),
        })
        .collect();
    let advice = advise(
        frozen,
        &recent_verifications,
        &active_activations,
        &alerts,
        now,
    );
    audit(
        &state,
        tenant,
        &principal.key_id,
        "security_check.viewed",
        subscriber_subject(&subscriber),
        json!({ "verification": verification.id }),
    )
    .await?;
    Ok(Json(SecurityCheckResponse {
        msisdn_masked: mask_msisdn(verification.applicant.msisdn.as_e164()),
        frozen,
        recent_verifications,
        active_activations,
        alerts,
        advice,
        available_until,
    }))
}

/// The advice for what the check found, most urgent first; `never_share_codes` always ends it.
fn advise(
    frozen: bool,
    verifications: &[SecurityVerificationView],
    activations: &[SecurityActivationView],
    alerts: &[SecurityAlertView],
    now: OffsetDateTime,
) -> Vec<SecurityAdvice> {
    let month_ago = now - Duration::days(30);
    let other_recent = |statuses: &[&str]| {
        verifications.iter().any(|v| {
            !v.this_verification
                && v.created_at >= month_ago
                && statuses.contains(&v.status.as_str())
        })
    };
    let findings = [
        (frozen, "account_frozen", "urgent"),
        (
            activations.iter().any(|a| !a.this_verification),
            "other_activations_live",
            "urgent",
        ),
        (
            alerts.iter().any(|a| !a.acknowledged),
            "open_alerts",
            "warning",
        ),
        (
            other_recent(&["approved", "activated", "needs_review"]),
            "verified_elsewhere_recently",
            "warning",
        ),
        (
            other_recent(&["rejected", "expired"]),
            "failed_attempts_recently",
            "warning",
        ),
    ];
    let mut advice: Vec<SecurityAdvice> = findings
        .into_iter()
        .filter(|(found, _, _)| *found)
        .map(|(_, code, severity)| SecurityAdvice { code, severity })
        .collect();
    if advice.is_empty() {
        advice.push(SecurityAdvice {
            code: "all_clear",
            severity: "info",
        });
    }
    advice.push(SecurityAdvice {
        code: "never_share_codes",
        severity: "info",
    });
    advice
}

/// `+23057001234` -> `+*********34`: enough for the subscriber to recognise their number.
fn mask_msisdn(e164: &str) -> String {
    let keep = 2;
    let digits = e164.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    e164.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen > digits.saturating_sub(keep) {
                    c
                } else {
                    '*'
                }
            } else {
                c
            }
        })
        .collect()
}

fn unavailable(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "security-check-unavailable",
        "Security check unavailable",
        detail.to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verification(
        status: &str,
        days_ago: i64,
        this: bool,
        now: OffsetDateTime,
    ) -> SecurityVerificationView {
        SecurityVerificationView {
            channel: "kiosk".to_owned(),
            status: status.to_owned(),
            created_at: now - Duration::days(days_ago),
            this_verification: this,
        }
    }

    #[test]
    fn masks_all_but_the_last_two_digits() {
        assert_eq!(mask_msisdn("+23057001234"), "+*********34");
    }

    #[test]
    fn advice_follows_what_was_found() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(1000);
        let this = verification("approved", 0, true, now);
        let codes = |advice: Vec<SecurityAdvice>| -> Vec<&'static str> {
            advice.into_iter().map(|a| a.code).collect()
        };
        assert_eq!(
            codes(advise(false, std::slice::from_ref(&this), &[], &[], now)),
            ["all_clear", "never_share_codes"]
        );
        let elsewhere = [
            this,
            verification("approved", 3, false, now),
            verification("rejected", 5, false, now),
            verification("approved", 60, false, now),
        ];
        let other_activation = SecurityActivationView {
            issued_at: now - Duration::days(3),
            expires_at: now + Duration::days(1),
            redeemed: false,
            this_verification: false,
        };
        let alert = SecurityAlertView {
            rule: "unusual_region".to_owned(),
            severity: "low".to_owned(),
            raised_at: now - Duration::days(3),
            acknowledged: false,
        };
        assert_eq!(
            codes(advise(true, &elsewhere, &[other_activation], &[alert], now)),
            [
                "account_frozen",
                "other_activations_live",
                "open_alerts",
                "verified_elsewhere_recently",
                "failed_attempts_recently",
                "never_share_codes"
            ]
        );
    }
}
