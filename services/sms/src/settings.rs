//! Configuration of SMS delivery, as the `[sms]` section of the service configuration.
//!
//! [`SmsSettings`] deserialises (serde, `deny_unknown_fields`, every key defaulted) and
//! serialises back, so the api crate can nest it in its settings and figment's
//! `SIMGATE__SMS__<SUB>__<KEY>` overrides and `*_FILE` secrets apply, e.g.
//! `SIMGATE__SMS__PROVIDER=kannel`, `SIMGATE__SMS__KANNEL__PASSWORD_FILE=/run/secrets/kannel`.
//! `provider` picks one of the sub-sections; the others are ignored. [`SmsSettings::gateway`] and
//! [`SmsSettings::worker_settings`] validate and build what the wiring needs, so a bad value
//! fails at start-up.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use serde::{Deserialize, Serialize};
use simgate_core::Clock;
use simgate_otp::SmsGateway;
use time::Duration;
use url::Url;

use crate::dev_sink::DevSinkGateway;
use crate::error::SmsError;
use crate::kannel::{KannelConfig, KannelGateway};
use crate::retry::RetryPolicy;
use crate::webhook::{WebhookConfig, WebhookGateway};
use crate::worker::WorkerSettings;

/// A secret setting (password, signing key): never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "[empty]"
        } else {
            "[redacted]"
        })
    }
}

/// Which gateway delivers SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SmsProvider {
    /// Append to a local file (development; the default).
    #[default]
    DevSink,
    /// Kannel's smsbox `sendsms` HTTP interface.
    Kannel,
    /// A signed JSON webhook.
    Webhook,
}

/// The `[sms]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SmsSettings {
    /// Which gateway delivers.
    pub provider: SmsProvider,
    /// `[sms.dev_sink]`: used when `provider = "dev_sink"`.
    pub dev_sink: DevSinkSettings,
    /// `[sms.kannel]`: used when `provider = "kannel"`.
    pub kannel: KannelSettings,
    /// `[sms.webhook]`: used when `provider = "webhook"`.
    pub webhook: WebhookSettings,
    /// `[sms.outbox]`: delivery worker pacing and retries.
    pub outbox: OutboxSettings,
}

/// `[sms.dev_sink]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevSinkSettings {
    /// The JSON-lines file messages are appended to.
    pub path: PathBuf,
}

impl Default for DevSinkSettings {
    fn default() -> Self {
        Self {
            path: PathBuf::from("var/sms-dev-sink.jsonl"),
        }
    }
}

/// `[sms.kannel]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KannelSettings {
    /// smsbox `sendsms` URL.
    pub url: String,
    /// `sendsms-user` username.
    pub username: String,
    /// `sendsms-user` password (give it as `SIMGATE__SMS__KANNEL__PASSWORD_FILE`).
    pub password: Secret,
    /// Sender id (`from`), if the SMSC needs one.
    pub from: Option<String>,
    /// Force routing to this `smsc-id`.
    pub smsc: Option<String>,
    /// Delivery-report mask (`dlr-mask`, 1..=31); needs `dlr_url`.
    pub dlr_mask: Option<u8>,
    /// Delivery-report URL (`dlr-url`); `{message_id}` is replaced by the outbox id.
    pub dlr_url: Option<String>,
    /// Whole-request timeout in seconds.
    pub timeout_secs: u64,
}

impl Default for KannelSettings {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:13013/cgi-bin/sendsms".into(),
            username: String::new(),
            password: Secret::default(),
            from: None,
            smsc: None,
            dlr_mask: None,
            dlr_url: None,
            timeout_secs: 10,
        }
    }
}

/// `[sms.webhook]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// The endpoint receiving `POST`s.
    pub url: String,
    /// HMAC-SHA256 signing secret, at least 32 bytes (give it as `..._SECRET_FILE`).
    pub secret: Secret,
    /// Sender id passed as `from`.
    pub from: Option<String>,
    /// Whole-request timeout in seconds.
    pub timeout_secs: u64,
    /// The receiver deduplicates on `Idempotency-Key`, so unknown outcomes may be retried.
    pub deduplicates: bool,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            secret: Secret::default(),
            from: None,
            timeout_secs: 10,
            deduplicates: false,
        }
    }
}

/// `[sms.outbox]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxSettings {
    /// How often an idle worker looks for due messages, in milliseconds.
    pub poll_interval_ms: u64,
    /// How long a claim holds a message, in seconds; must exceed the gateway timeout by 5 s.
    pub lease_secs: u64,
    /// Wait after the first failed attempt, in seconds; doubles per attempt.
    pub initial_backoff_secs: u64,
    /// Longest wait between attempts, in seconds.
    pub max_backoff_secs: u64,
    /// Random fraction of each wait (0 = none, 0.5 = between half and all of it).
    pub jitter: f64,
    /// Attempts before giving up; unset = until the code is about to expire.
    pub max_attempts: Option<u32>,
    /// A code with less validity left than this many seconds is not sent any more.
    pub min_remaining_validity_secs: u64,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            poll_interval_ms: 1000,
            lease_secs: 60,
            initial_backoff_secs: 2,
            max_backoff_secs: 60,
            jitter: 0.5,
            max_attempts: None,
            min_remaining_validity_secs: 30,
        }
    }
}

fn parse_url(what: &'static str, value: &str) -> Result<Url, SmsError> {
    Url::parse(value).map_err(|e| SmsError::invalid(what, format!("not a URL: {e}")))
}

fn secs(value: u64) -> Duration {
    Duration::seconds(i64::try_from(value).unwrap_or(i64::MAX))
}

impl SmsSettings {
    /// The configured gateway's request timeout (the dev sink's file write is bounded by 1 s).
    pub fn gateway_timeout(&self) -> StdDuration {
        match self.provider {
            SmsProvider::DevSink => StdDuration::from_secs(1),
            SmsProvider::Kannel => StdDuration::from_secs(self.kannel.timeout_secs),
            SmsProvider::Webhook => StdDuration::from_secs(self.webhook.timeout_secs),
        }
    }

    /// Builds the configured gateway; invalid or missing values are errors.
    pub fn gateway(&self, clock: Arc<dyn Clock>) -> Result<Arc<dyn SmsGateway>, SmsError> {
        Ok(match self.provider {
            SmsProvider::DevSink => Arc::new(DevSinkGateway::new(&self.dev_sink.path, clock)),
            SmsProvider::Kannel => {
                let k = &self.kannel;
                Arc::new(KannelGateway::new(KannelConfig {
                    sendsms_url: parse_url("sms.kannel.url", &k.url)?,
                    username: k.username.clone(),
                    password: k.password.0.clone(),
                    from: k.from.clone(),
                    smsc: k.smsc.clone(),
                    dlr_mask: k.dlr_mask,
                    dlr_url: k.dlr_url.clone(),
                    timeout: StdDuration::from_secs(k.timeout_secs),
                })?)
            }
            SmsProvider::Webhook => {
                let w = &self.webhook;
                Arc::new(WebhookGateway::new(
                    WebhookConfig {
                        url: parse_url("sms.webhook.url", &w.url)?,
                        secret: w.secret.0.clone(),
                        from: w.from.clone(),
                        timeout: StdDuration::from_secs(w.timeout_secs),
                        deduplicates: w.deduplicates,
                    },
                    clock,
                )?)
            }
        })
    }

    /// Builds the worker settings; checks them against the configured gateway's timeout.
    pub fn worker_settings(&self) -> Result<WorkerSettings, SmsError> {
        let o = &self.outbox;
        let retry = RetryPolicy::new(
            secs(o.initial_backoff_secs),
            secs(o.max_backoff_secs),
            o.jitter,
        )?;
        WorkerSettings::new(
            secs(o.lease_secs),
            self.gateway_timeout(),
            StdDuration::from_millis(o.poll_interval_ms),
            retry,
            o.max_attempts,
            secs(o.min_remaining_validity_secs),
        )
    }

    /// Checks everything [`Self::gateway`] and [`Self::worker_settings`] would build.
    pub fn validate(&self) -> Result<(), SmsError> {
        self.gateway(Arc::new(simgate_core::SystemClock))?;
        self.worker_settings().map(|_| ())
    }
}
