//! The development gateway: appends each message as one JSON line to a file instead of sending it.
//!
//! Used by `make run` so a developer can read codes without a mobile network. Every line says
//! `"development_only": true` with a notice, so nobody mistakes the file for a delivery log. The
//! file holds live codes: it is created `0600`, and the gateway reports itself as `dev-sink` in
//! receipts and logs so a production deployment configured with it is easy to spot. Lines are
//! written whole under a lock, so concurrent sends never interleave.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use simgate_core::{Clock, Msisdn};
use simgate_otp::{GatewayReceipt, OtpError, SmsGateway, SmsText};
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::Mutex;

/// The `gateway` name in receipts.
pub const DEV_SINK_GATEWAY: &str = "dev-sink";

/// The notice written into every line.
pub const DEV_SINK_NOTICE: &str =
    "DEVELOPMENT ONLY: this SMS was written to a file by simgate's dev sink and sent to no phone";

/// One line of the sink file.
#[derive(Debug, Serialize)]
struct SinkLine<'a> {
    development_only: bool,
    notice: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    message_id: &'a str,
    to: &'a str,
    text: &'a str,
}

/// Appends messages to a JSON-lines file.
#[derive(Debug)]
pub struct DevSinkGateway {
    path: PathBuf,
    clock: Arc<dyn Clock>,
    // Serialises appends so lines never interleave.
    write_lock: Mutex<()>,
}

impl DevSinkGateway {
    /// A sink writing to `path` (its directory is created on first send).
    pub fn new(path: impl Into<PathBuf>, clock: Arc<dyn Clock>) -> Self {
        Self {
            path: path.into(),
            clock,
            write_lock: Mutex::new(()),
        }
    }

    /// The file messages are appended to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn append(&self, line: &[u8]) -> std::io::Result<()> {
        let _guard = self.write_lock.lock().await;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await?;
        }
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)
            .await?;
        file.write_all(line).await?;
        file.flush().await
    }
}

#[async_trait]
impl SmsGateway for DevSinkGateway {
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
        let line = SinkLine {
            development_only: true,
            notice: DEV_SINK_NOTICE,
            at: self.clock.now(),
            message_id,
            to: msisdn.as_e164(),
            text: text.as_str(),
        };
        let mut bytes = serde_json::to_vec(&line)
            .map_err(|e| OtpError::GatewayRejected(format!("dev sink: cannot encode: {e}")))?;
        bytes.push(b'\n');
        self.append(&bytes).await.map_err(|e| {
            OtpError::GatewayUnavailable(format!(
                "dev sink: cannot append to {}: {e}",
                self.path.display()
            ))
        })?;
        Ok(GatewayReceipt {
            gateway: DEV_SINK_GATEWAY.into(),
            message_id: Some(message_id.to_owned()),
        })
    }
}
