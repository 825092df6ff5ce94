//! SMS delivery as a trait, so the domain logic never knows which gateway is configured.
//!
//! [`SmsGateway`] is object-safe (`async-trait`), so the wiring can hold an
//! `Arc<dyn SmsGateway>` chosen from configuration: a development file sink, Kannel's HTTP
//! `sendsms`, or a JSON webhook, all implemented elsewhere. A gateway reports failures as
//! [`OtpError::GatewayUnavailable`] (retry later: the outbox keeps the message) or
//! [`OtpError::GatewayRejected`] (never retry), or [`OtpError::GatewayOutcomeUnknown`] (the
//! request went out but no answer came back: the message may or may not have been taken).
//! [`SmsGateway::send_message`] carries the outbox's stable message id so that a gateway able to
//! recognise a resubmission ([`SmsGateway::deduplicates_message_ids`]) can be retried after an
//! unknown outcome without a second SMS reaching the handset. With the `testing` feature,
//! [`testing::RecordingSmsGateway`] keeps messages in memory and can be told to fail.

use std::fmt;

use async_trait::async_trait;

use crate::error::OtpError;
use crate::template::SmsText;
use simgate_core::Msisdn;

/// What a gateway returns when it has taken a message for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayReceipt {
    /// Which gateway took the message (e.g. `kannel`, `webhook`, `dev-sink`).
    pub gateway: String,
    /// The gateway's id for the message, for matching delivery reports, if it gives one.
    pub message_id: Option<String>,
}

/// Something that can hand an SMS to a mobile network.
#[async_trait]
pub trait SmsGateway: Send + Sync + fmt::Debug {
    /// Submits one message; `Ok` means accepted for delivery, not yet delivered to the handset.
    async fn send(&self, msisdn: &Msisdn, text: &SmsText) -> Result<GatewayReceipt, OtpError>;

    /// Submits one message under the caller's stable id for it (the same id on every retry).
    ///
    /// The default ignores the id; gateways that can pass it on or deduplicate on it override this.
    async fn send_message(
        &self,
        message_id: &str,
        msisdn: &Msisdn,
        text: &SmsText,
    ) -> Result<GatewayReceipt, OtpError> {
        let _ = message_id;
        self.send(msisdn, text).await
    }

    /// Whether a second `send_message` with an id already accepted never reaches the handset again.
    ///
    /// Only then may an attempt with an unknown outcome be retried without risking a second SMS.
    fn deduplicates_message_ids(&self) -> bool {
        false
    }
}

/// In-memory implementations for tests.
#[cfg(feature = "testing")]
pub mod testing {
    use std::sync::{Mutex, PoisonError};

    use super::*;

    /// A message a [`RecordingSmsGateway`] accepted.
    #[derive(Debug, Clone)]
    pub struct RecordedSms {
        /// Destination.
        pub msisdn: Msisdn,
        /// Message text.
        pub text: SmsText,
    }

    /// Keeps every accepted message in memory; can be switched to fail like an outage.
    #[derive(Debug, Default)]
    pub struct RecordingSmsGateway {
        sent: Mutex<Vec<RecordedSms>>,
        failure: Mutex<Option<OtpError>>,
    }

    impl RecordingSmsGateway {
        /// An empty gateway that accepts everything.
        pub fn new() -> Self {
            Self::default()
        }

        /// Makes every following send fail with `failure`, or succeed again with `None`.
        pub fn fail_with(&self, failure: Option<OtpError>) {
            *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = failure;
        }

        /// The messages accepted so far, oldest first.
        pub fn sent(&self) -> Vec<RecordedSms> {
            self.sent
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        }
    }

    #[async_trait]
    impl SmsGateway for RecordingSmsGateway {
        async fn send(&self, msisdn: &Msisdn, text: &SmsText) -> Result<GatewayReceipt, OtpError> {
            if let Some(failure) = self
                .failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
            {
                return Err(failure);
            }
            let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
            sent.push(RecordedSms {
                msisdn: msisdn.clone(),
                text: text.clone(),
            });
            Ok(GatewayReceipt {
                gateway: "recording".into(),
                message_id: Some(format!("recorded-{}", sent.len())),
            })
        }
    }
}
