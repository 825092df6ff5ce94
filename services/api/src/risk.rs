//! The risk engine as the handlers use it: [`observe`] records one event under its keys, totals
//! every rule watching that signal over the rule's window (in the store, so replicas agree),
//! and for each rule that fires raises an alert (stored, counted in Prometheus, pushed as an
//! `alert.raised` webhook, audited) and applies the rule's action: a freeze, a freeze with every
//! live token revoked, or a review the caller applies to the verification at hand.
//!
//! Every observation is recorded under the subscriber's key (for their timeline) and under the
//! other keys some rule of its signal groups by.
//!
//! Keys are HMAC-SHA256 of `kind:value` under a service secret generated on first use, so the
//! risk tables hold no MSISDN, EID or document number and cannot be reversed without the key.
//! An alert already open for the same rule and key is not raised again; its action still
//! applies.
//!
//! [`observe_sighting`] adds geography: a subscriber seen in a region (a network event's
//! `region`, or the region of the store a verification comes from) is checked against where
//! they were seen before (unusual region, impossible travel; see `simgate_risk::geography`) and
//! feeds those signals to the rules. [`ClientAddress`] is the `client_ip` key; [`ClientRegion`]
//! is the region an ingress geolocated the client to, a sighting too.
//! [`check_document_issuer`] compares a passed document's issuing state with the subscriber's
//! earlier documents.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use hmac::{Hmac, Mac as _};
use serde_json::json;
use sha2::Sha256;
use simgate_core::TenantId;
use simgate_risk::{KeyKind, RiskRule, RuleAction, Signal};
use simgate_store::risk::{AlertRow, FaceTemplateRow, RiskEvent};
use simgate_tokens::SubscriberId;
use time::Duration;

use crate::{
    error::{ApiError, store_error},
    incident::{audit, freeze, revoke_all_tokens, subscriber_subject},
    sessions,
    state::AppState,
    webhooks,
};

/// A rule that fired on an observed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredRule {
    /// The rule's name (also the reason code given to a reviewed verification).
    pub rule: String,
    /// What it asks for.
    pub action: RuleAction,
}

/// The reason codes of fired rules that ask for a review (`risk:<rule>`), empty when none do.
pub fn review_reasons(fired: &[FiredRule]) -> Vec<String> {
    fired
        .iter()
        .filter(|rule| rule.action == RuleAction::Review)
        .map(|rule| format!("risk:{}", rule.rule))
        .collect()
}

/// The client's address as the `client_ip` risk key sees it: the first address of the
/// configured proxy header when set and valid, else the TCP peer; empty when neither is known
/// (the key is then not recorded).
#[derive(Debug, Clone, Default)]
pub struct ClientAddress(pub String);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = &state.settings.risk.client_ip_header;
        if !header.is_empty()
            && let Some(address) = parts
                .headers
                .get(header.as_str())
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.split(',').next())
                .and_then(|first| first.trim().parse::<IpAddr>().ok())
        {
            return Ok(Self(address.to_string()));
        }
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(String::new, |info| info.0.ip().to_string()),
        ))
    }
}

/// The region of the client's address, from `risk.client_region_header` when configured and
/// the header holds a plausible region code (2 to 8 letters, digits or `-`).
#[derive(Debug, Clone, Default)]
pub struct ClientRegion(pub Option<String>);

impl FromRequestParts<AppState> for ClientRegion {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = &state.settings.risk.client_region_header;
        if header.is_empty() {
            return Ok(Self(None));
        }
        Ok(Self(
            parts
                .headers
                .get(header.as_str())
                .and_then(|value| value.to_str().ok())
                .map(str::trim)
                .filter(|region| {
                    (2..=8).contains(&region.len())
                        && region
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
                .map(str::to_ascii_uppercase),
        ))
    }
}

/// A subscriber seen in a region.
#[derive(Debug)]
pub struct Sighting<'a> {
    /// The subscriber.
    pub subscriber: &'a SubscriberId,
    /// Their number (E.164), the key the geography rules group by.
    pub msisdn: &'a str,
    /// The region code (compared case-insensitively).
    pub region: &'a str,
    /// When.
    pub at: time::OffsetDateTime,
    /// Bytes, when the sighting is a data-usage report.
    pub data_bytes: Option<u64>,
}

/// Records a sighting and feeds `unusual_region`, `data_usage_unusual_region` and
/// `impossible_travel` to the rules; returns the rules fired.
pub async fn observe_sighting(
    state: &AppState,
    tenant: &TenantId,
    sighting: Sighting<'_>,
) -> Result<Vec<FiredRule>, ApiError> {
    let geography = &state.settings.risk.geography;
    let region = sighting.region.to_ascii_uppercase();
    let subscriber = sighting.subscriber.as_str();
    let at = sighting.at;
    let lookback = Duration::days(i64::from(geography.usual_region_days));
    let settle = Duration::minutes(i64::from(geography.settle_minutes));
    let unusual = !geography.is_home(&region)
        && !state
            .store
            .region_seen_between(tenant, subscriber, &region, at - lookback, at - settle)
            .await
            .map_err(store_error)?;
    let previous = state
        .store
        .last_location(tenant, subscriber, at - Duration::days(1), at)
        .await
        .map_err(store_error)?;
    state
        .store
        .record_location(tenant, subscriber, &region, at)
        .await
        .map_err(store_error)?;

    let observation = |signal, amount| Observation {
        signal,
        subscriber: sighting.subscriber,
        keys: vec![(KeyKind::Msisdn, sighting.msisdn.to_owned())],
        amount,
        at: Some(at),
    };
    let mut fired = Vec::new();
    if unusual {
        fired.extend(observe(state, tenant, observation(Signal::UnusualRegion, 1)).await?);
        if let Some(bytes) = sighting.data_bytes {
            fired.extend(
                observe(
                    state,
                    tenant,
                    observation(Signal::DataUsageUnusualRegion, bytes),
                )
                .await?,
            );
        }
    }
    if let Some((from, when)) = previous
        && let Some(travel) =
            geography.impossible_travel(&from, &region, (at - when).as_seconds_f64())
    {
        tracing::warn!(
            tenant = %tenant,
            from = %from,
            to = %region,
            distance_km = travel.distance_km.round(),
            hours = travel.hours,
            "impossible travel between two sightings of one subscriber"
        );
        fired.extend(observe(state, tenant, observation(Signal::ImpossibleTravel, 1)).await?);
    }
    Ok(fired)
}

/// Compares a passed document's issuing state with the documents that passed in the
/// subscriber's earlier verifications (the latest 20): a number verified before only with other
/// states' documents feeds `document_issuer_changed`. A first verification, or the same state
/// again, feeds nothing. Does nothing when no rule watches the signal.
pub async fn check_document_issuer(
    state: &AppState,
    tenant: &TenantId,
    (msisdn, subscriber): (&simgate_core::Msisdn, &SubscriberId),
    verification_id: &str,
    issuer: &str,
) -> Result<Vec<FiredRule>, ApiError> {
    if state
        .settings
        .risk
        .rules
        .for_signal(Signal::DocumentIssuerChanged)
        .next()
        .is_none()
    {
        return Ok(Vec::new());
    }
    let earlier = state
        .store
        .subscriber_verifications(tenant, subscriber.as_str(), 20)
        .await
        .map_err(store_error)?;
    let mut issuers = std::collections::BTreeSet::new();
    for listed in earlier.iter().filter(|listed| listed.id != verification_id) {
        let Some(row) = state
            .store
            .find_verification(tenant, &listed.id)
            .await
            .map_err(store_error)?
        else {
            continue;
        };
        let Ok(earlier) = serde_json::from_slice::<simgate_flow::Verification>(&row.body) else {
            continue;
        };
        let passed = earlier
            .steps
            .get(&simgate_flow::Step::Document)
            .is_some_and(|step| step.passed);
        if passed && let Some(document) = earlier.evidence.document {
            issuers.insert(document.issuer);
        }
    }
    if issuers.is_empty() || issuers.contains(issuer) {
        return Ok(Vec::new());
    }
    observe(
        state,
        tenant,
        Observation {
            signal: Signal::DocumentIssuerChanged,
            subscriber,
            keys: vec![(KeyKind::Msisdn, msisdn.as_e164().to_owned())],
            amount: 1,
            at: None,
        },
    )
    .await
}

/// What happened and what it is grouped by (raw values; hashed here).
pub struct Observation<'a> {
    /// The signal.
    pub signal: Signal,
    /// The subscriber concerned.
    pub subscriber: &'a SubscriberId,
    /// Raw key values by kind; kinds no rule of the signal uses are not stored.
    pub keys: Vec<(KeyKind, String)>,
    /// Bytes for data usage; 1 otherwise.
    pub amount: u64,
    /// When it happened (the network's timestamp for usage events); `None` is now. Windows
    /// always end now.
    pub at: Option<time::OffsetDateTime>,
}

async fn hash_key(state: &AppState, kind: KeyKind, value: &str) -> Result<String, ApiError> {
    let secret = sessions::service_secret(state, &state.risk_key, "risk_key").await?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|e| ApiError::internal(&e))?;
    mac.update(kind.as_str().as_bytes());
    mac.update(b":");
    mac.update(value.as_bytes());
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// Records `observation` and applies every rule it fires; returns the fired rules.
pub async fn observe(
    state: &AppState,
    tenant: &TenantId,
    observation: Observation<'_>,
) -> Result<Vec<FiredRule>, ApiError> {
    let rules: Vec<&RiskRule> = state
        .settings
        .risk
        .rules
        .for_signal(observation.signal)
        .collect();
    let now = state.clock.now();
    let mut keys = Vec::new();
    for (kind, value) in &observation.keys {
        // The subscriber key is always kept: it is what a subscriber's timeline lists.
        let used = *kind == KeyKind::Msisdn || rules.iter().any(|rule| rule.key == *kind);
        if !value.is_empty() && used {
            keys.push((*kind, hash_key(state, *kind, value).await?));
        }
    }
    state
        .store
        .record_risk_event(&RiskEvent {
            tenant: tenant.clone(),
            signal: observation.signal,
            keys: keys.clone(),
            subscriber_id: observation.subscriber.as_str().to_owned(),
            amount: observation.amount,
            at: observation.at.unwrap_or(now),
        })
        .await
        .map_err(store_error)?;

    let mut fired = Vec::new();
    for rule in rules {
        let Some((_, key_hash)) = keys.iter().find(|(kind, _)| *kind == rule.key) else {
            continue;
        };
        let window = Duration::seconds(i64::try_from(rule.window_secs).unwrap_or(i64::MAX));
        let total = state
            .store
            .risk_total(
                tenant,
                rule.signal,
                (rule.key, key_hash),
                rule.aggregate,
                now - window,
            )
            .await
            .map_err(store_error)?;
        if !rule.fires(total) {
            continue;
        }
        raise_alert(state, tenant, rule, key_hash, observation.subscriber, total).await?;
        apply_action(state, tenant, rule, observation.subscriber).await?;
        fired.push(FiredRule {
            rule: rule.name.clone(),
            action: rule.action,
        });
    }
    Ok(fired)
}

/// The 1:N search: compares a document's portrait template with the recent portraits of other
/// documents (within the longest window of the rules watching `face_other_identity`) at the
/// calibrated match threshold, stores it for later searches, and feeds a match to the rules.
/// Does nothing when no rule watches the signal.
pub async fn search_face_under_other_identity(
    state: &AppState,
    tenant: &TenantId,
    (msisdn, subscriber): (&simgate_core::Msisdn, &SubscriberId),
    document_key: &str,
    template: &[f32],
) -> Result<Vec<FiredRule>, ApiError> {
    let window_secs = state
        .settings
        .risk
        .rules
        .for_signal(Signal::FaceOtherIdentity)
        .map(|rule| rule.window_secs)
        .max();
    let Some(window_secs) = window_secs else {
        return Ok(Vec::new());
    };
    let now = state.clock.now();
    // The document key is hashed like every risk key: no document number is stored.
    let document_hash = hash_key(state, KeyKind::Document, document_key).await?;
    let since = now - Duration::seconds(i64::try_from(window_secs).unwrap_or(i64::MAX));
    let recent = state
        .store
        .recent_face_templates(tenant, since, MAX_TEMPLATES_SEARCHED)
        .await
        .map_err(store_error)?;
    let threshold = state.settings.faces.match_threshold;
    let matched = recent.iter().any(|other| {
        other.document_hash != document_hash && cosine(&other.template, template) >= threshold
    });
    state
        .store
        .insert_face_template(
            tenant,
            &FaceTemplateRow {
                subscriber_id: subscriber.as_str().to_owned(),
                document_hash,
                template: template.to_vec(),
                created_at: now,
            },
        )
        .await
        .map_err(store_error)?;
    if !matched {
        return Ok(Vec::new());
    }
    observe(
        state,
        tenant,
        Observation {
            signal: Signal::FaceOtherIdentity,
            subscriber,
            keys: vec![(KeyKind::Msisdn, msisdn.as_e164().to_owned())],
            amount: 1,
            at: None,
        },
    )
    .await
}

/// The most recent templates one search compares against (bounds the cost per document).
const MAX_TEMPLATES_SEARCHED: u32 = 20_000;

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return -1.0;
    }
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let denominator = norm(a) * norm(b);
    if denominator > 0.0 {
        dot / denominator
    } else {
        -1.0
    }
}

async fn raise_alert(
    state: &AppState,
    tenant: &TenantId,
    rule: &RiskRule,
    key_hash: &str,
    subscriber: &SubscriberId,
    total: u64,
) -> Result<(), ApiError> {
    if state
        .store
        .open_alert_exists(tenant, &rule.name, key_hash)
        .await
        .map_err(store_error)?
    {
        return Ok(());
    }
    let alert = AlertRow {
        id: format!("alr_{}", uuid::Uuid::new_v4().simple()),
        tenant: tenant.clone(),
        rule: rule.name.clone(),
        severity: rule.severity,
        action: rule.action,
        signal: rule.signal,
        key_kind: rule.key,
        key_hash: key_hash.to_owned(),
        subscriber_id: subscriber.as_str().to_owned(),
        total,
        threshold: rule.threshold,
        raised_at: state.clock.now(),
        acked_at: None,
        acked_by: None,
    };
    state
        .store
        .insert_alert(&alert)
        .await
        .map_err(store_error)?;
    state
        .metrics
        .risk_alerts
        .with_label_values(&[rule.name.as_str(), rule.severity.as_str()])
        .inc();
    webhooks::queue_alert(state, &alert).await?;
    audit(
        state,
        tenant,
        &format!("rule:{}", rule.name),
        "alert.raised",
        format!("alert:{}", alert.id),
        json!({
            "severity": rule.severity.as_str(),
            "action": rule.action.as_str(),
            "subscriber": subscriber_subject(subscriber),
            "total": total,
            "threshold": rule.threshold,
        }),
    )
    .await?;
    tracing::warn!(tenant = %tenant, rule = %rule.name, severity = %rule.severity, total, "risk alert raised");
    Ok(())
}

async fn apply_action(
    state: &AppState,
    tenant: &TenantId,
    rule: &RiskRule,
    subscriber: &SubscriberId,
) -> Result<(), ApiError> {
    let actor = format!("rule:{}", rule.name);
    if rule.action.freezes() {
        freeze(state, tenant, subscriber, &actor, &rule.name).await?;
    }
    if rule.action == RuleAction::FreezeAndRevoke {
        let jtis = revoke_all_tokens(state, tenant, subscriber, &rule.name).await?;
        if !jtis.is_empty() {
            audit(
                state,
                tenant,
                &actor,
                "subscriber.tokens_revoked",
                subscriber_subject(subscriber),
                json!({ "reason": rule.name, "jtis": jtis }),
            )
            .await?;
        }
    }
    Ok(())
}
