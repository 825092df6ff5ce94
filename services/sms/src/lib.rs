//! SMS delivery for simgate: gateways, the persistent outbox as a trait, and the delivery worker.
//!
//! A request that sends a code enqueues an [`OutboundSms`] in an [`SmsOutbox`] and returns; the
//! [`OutboxWorker`] claims due messages, hands each to the configured `simgate_otp::SmsGateway`,
//! and records delivered / retrying (capped exponential backoff with jitter) / failed. The
//! worker's module documentation states the delivery guarantee (a code reaches the gateway at
//! most once; an outage loses nothing; an expired code is never sent). No SQL here: the store
//! implements [`SmsOutbox`]. Outbound HTTP to gateways is here; inbound HTTP stays in the api.
//!
//! - [`message`]: ids, the message, claims, delivery states and the readable status.
//! - [`outbox`]: the [`SmsOutbox`] trait and its contract.
//! - [`retry`]: [`RetryPolicy`], backoff with jitter.
//! - [`worker`]: [`OutboxWorker`] and [`WorkerSettings`].
//! - [`dev_sink`], [`kannel`], [`webhook`]: the three gateways; `http` is their shared client.
//! - [`settings`]: [`SmsSettings`], the `[sms]` configuration section, which builds both.
//! - [`error`]: [`SmsError`], the crate's single error type.
//! - `testing` (feature `testing`): in-memory outbox and a real-Kannel test harness.

pub mod dev_sink;
pub mod error;
mod http;
pub mod kannel;
pub mod message;
pub mod outbox;
pub mod retry;
pub mod settings;
#[cfg(feature = "testing")]
pub mod testing;
pub mod webhook;
pub mod worker;

pub use dev_sink::DevSinkGateway;
pub use error::SmsError;
pub use kannel::{KannelConfig, KannelGateway};
pub use message::{
    Claim, ClaimedSms, DeliveryState, FailureReason, LeaseToken, OutboundSms, SmsDeliveryStatus,
    SmsMessageId,
};
pub use outbox::SmsOutbox;
pub use retry::RetryPolicy;
pub use settings::{
    DevSinkSettings, KannelSettings, OutboxSettings, Secret, SmsProvider, SmsSettings,
    WebhookSettings,
};
pub use webhook::{WebhookConfig, WebhookGateway, verify_webhook_signature, webhook_signature};
pub use worker::{DeliveryRound, OutboxWorker, WorkerSettings};
