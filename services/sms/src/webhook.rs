//! A generic JSON webhook provider as an [`SmsGateway`]: one signed POST per message.
//!
//! Request: `POST {url}` with `Content-Type: application/json` and the body
//! `{"message_id": "...", "to": "+33612345678", "text": "...", "from": "Orange"}` (`from` only
//! when configured). Headers:
//! - `X-Simgate-Timestamp`: Unix seconds when the request was signed;
//! - `X-Simgate-Signature`: `v1=` + hex HMAC-SHA256(secret, timestamp + "." + body), so a
//!   receiver can check origin and integrity and refuse replays older than a few minutes
//!   ([`verify_webhook_signature`] is the reference check);
//! - `Idempotency-Key`: the outbox message id, the same on every attempt.
//!
//! Answers: 2xx → accepted (a JSON `message_id` or `id` string in the answer is kept);
//! 408/425/429/5xx and connection failures → retry later; other 3xx/4xx → rejected for good; a
//! timeout after sending → outcome unknown. If the receiver deduplicates on `Idempotency-Key`
//! (configured with `deduplicates = true`), the worker may retry an unknown outcome safely.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac as _};
use serde::Serialize;
use sha2::Sha256;
use simgate_core::{Clock, Msisdn};
use simgate_otp::{GatewayReceipt, OtpError, SmsGateway, SmsText};
use time::OffsetDateTime;
use url::Url;

use crate::error::SmsError;
use crate::http::{classify_send_error, client, excerpt};

/// The `gateway` name in receipts.
pub const WEBHOOK_GATEWAY: &str = "webhook";
/// Header carrying the signing time.
pub const TIMESTAMP_HEADER: &str = "x-simgate-timestamp";
/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-simgate-signature";
/// Header carrying the message id for deduplication.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// Shortest accepted signing secret, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// The signing secret; kept out of `Debug`.
#[derive(Clone)]
struct SecretBytes(Vec<u8>);

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where and how to call the webhook.
#[derive(Clone)]
pub struct WebhookConfig {
    /// The endpoint.
    pub url: Url,
    /// The shared HMAC secret (at least 32 bytes).
    pub secret: String,
    /// Sender id passed as `from`, if any.
    pub from: Option<String>,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Whether the receiver deduplicates on `Idempotency-Key` (then unknown outcomes are retried).
    pub deduplicates: bool,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url.as_str())
            .field("secret", &"[redacted]")
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .field("deduplicates", &self.deduplicates)
            .finish()
    }
}

/// Sends through a JSON webhook.
#[derive(Debug, Clone)]
pub struct WebhookGateway {
    url: Url,
    secret: SecretBytes,
    from: Option<String>,
    deduplicates: bool,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
}

#[derive(Serialize)]
struct WebhookBody<'a> {
    message_id: &'a str,
    to: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
}

impl WebhookGateway {
    /// A gateway for `config`, signing with `clock`'s time; refuses short secrets and non-HTTP URLs.
    pub fn new(config: WebhookConfig, clock: Arc<dyn Clock>) -> Result<Self, SmsError> {
        if !matches!(config.url.scheme(), "http" | "https") {
            return Err(SmsError::invalid(
                "sms.webhook.url",
                "must be http or https",
            ));
        }
        if config.secret.len() < MIN_SECRET_LEN {
            return Err(SmsError::invalid(
                "sms.webhook.secret",
                format!("must be at least {MIN_SECRET_LEN} bytes"),
            ));
        }
        Ok(Self {
            http: client(config.timeout)?,
            url: config.url,
            secret: SecretBytes(config.secret.into_bytes()),
            from: config.from,
            deduplicates: config.deduplicates,
            clock,
        })
    }
}

/// `v1=` + hex HMAC-SHA256(secret, timestamp + "." + body).
pub fn webhook_signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = signing_mac(secret, timestamp);
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn signing_mac(secret: &[u8], timestamp: i64) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac
}

/// Checks a received webhook the way a receiver should: signature in constant time, and a
/// timestamp no further than `tolerance` from `now` (refuses replays of old requests).
pub fn verify_webhook_signature(
    secret: &[u8],
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now: OffsetDateTime,
    tolerance: time::Duration,
) -> Result<(), SmsError> {
    let invalid = |reason: &str| SmsError::invalid("webhook signature", reason);
    let timestamp: i64 = timestamp_header
        .trim()
        .parse()
        .map_err(|_| invalid("timestamp is not Unix seconds"))?;
    if (now.unix_timestamp() - timestamp).abs() > tolerance.whole_seconds() {
        return Err(invalid("timestamp outside the accepted window"));
    }
    let signature = signature_header
        .trim()
        .strip_prefix("v1=")
        .and_then(|hex_sig| hex::decode(hex_sig).ok())
        .ok_or_else(|| invalid("not a v1 signature"))?;
    let mut mac = signing_mac(secret, timestamp);
    mac.update(body);
    mac.verify_slice(&signature)
        .map_err(|_| invalid("signature does not match"))
}

/// What the receiver's answer means for the message.
fn interpret_answer(status: u16, body: &str) -> Result<Option<String>, OtpError> {
    match status {
        200..=299 => Ok(serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|answer| {
                ["message_id", "id"]
                    .iter()
                    .find_map(|key| answer.get(key)?.as_str().map(str::to_owned))
            })),
        408 | 425 | 429 | 500..=599 => Err(OtpError::GatewayUnavailable(format!(
            "webhook: {status} {:?}",
            excerpt(body)
        ))),
        _ => Err(OtpError::GatewayRejected(format!(
            "webhook: {status} {:?}",
            excerpt(body)
        ))),
    }
}

#[async_trait]
impl SmsGateway for WebhookGateway {
    async fn send(&self, msisdn: &Msisdn, text: &SmsText) -> Result<GatewayReceipt, OtpError> {
        let id = crate::message::SmsMessageId::generate();
        self.send_message(id.as_str(), msisdn, text).await
    }

    async fn send_message(
        &self,
        message_id: &str,
        msisdn: &Msisdn,
        text: &SmsText,
    ) -> Result<GatewayReceipt, OtpError> {
        let body = serde_json::to_vec(&WebhookBody {
            message_id,
            to: msisdn.as_e164(),
            text: text.as_str(),
            from: self.from.as_deref(),
        })
        .map_err(|e| OtpError::GatewayRejected(format!("webhook: cannot encode: {e}")))?;
        let timestamp = self.clock.now().unix_timestamp();
        let signature = webhook_signature(&self.secret.0, timestamp, &body);
        let response = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .header(IDEMPOTENCY_HEADER, message_id)
            .body(body)
            .send()
            .await
            .map_err(|e| classify_send_error("webhook", e))?;
        let status = response.status().as_u16();
        let answer = response.text().await.map_err(|e| {
            OtpError::GatewayOutcomeUnknown(format!("webhook: answer {status} unreadable: {e}"))
        })?;
        let provider_id = interpret_answer(status, &answer)?;
        Ok(GatewayReceipt {
            gateway: WEBHOOK_GATEWAY.into(),
            message_id: provider_id.or_else(|| Some(message_id.to_owned())),
        })
    }

    fn deduplicates_message_ids(&self) -> bool {
        self.deduplicates
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn signatures_verify_only_with_the_same_secret_body_and_a_fresh_timestamp() {
        let secret = [7u8; 32];
        let now = datetime!(2026-11-26 10:00:00 UTC);
        let ts = now.unix_timestamp();
        let signature = webhook_signature(&secret, ts, b"{\"a\":1}");
        let window = time::Duration::minutes(5);
        let check = |secret: &[u8], ts: &str, body: &[u8], at| {
            verify_webhook_signature(secret, ts, &signature, body, at, window)
        };
        assert!(check(&secret, &ts.to_string(), b"{\"a\":1}", now).is_ok());
        assert!(check(&[8u8; 32], &ts.to_string(), b"{\"a\":1}", now).is_err());
        assert!(check(&secret, &ts.to_string(), b"{\"a\":2}", now).is_err());
        assert!(check(&secret, &(ts + 1).to_string(), b"{\"a\":1}", now).is_err());
        let later = now + time::Duration::minutes(6);
        assert!(check(&secret, &ts.to_string(), b"{\"a\":1}", later).is_err());
    }

    #[test]
    fn receiver_answers_map_to_accepted_retry_or_rejected() {
        assert_eq!(
            interpret_answer(202, r#"{"id":"p-1"}"#),
            Ok(Some("p-1".into()))
        );
        assert_eq!(interpret_answer(200, "ok"), Ok(None));
        assert!(matches!(
            interpret_answer(429, ""),
            Err(OtpError::GatewayUnavailable(_))
        ));
        assert!(matches!(
            interpret_answer(502, ""),
            Err(OtpError::GatewayUnavailable(_))
        ));
        assert!(matches!(
            interpret_answer(400, "bad"),
            Err(OtpError::GatewayRejected(_))
        ));
        assert!(matches!(
            interpret_answer(301, ""),
            Err(OtpError::GatewayRejected(_))
        ));
    }
}
