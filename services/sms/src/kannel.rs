//! Kannel's HTTP `sendsms` interface (smsbox) as an [`SmsGateway`].
//!
//! One `GET {url}?username=&password=&to=&text=&charset=UTF-8&coding=N[&from=][&smsc=]
//! [&dlr-mask=&dlr-url=]` per message. Kannel's POST form takes its parameters in `X-Kannel-*`
//! headers and refuses `application/x-www-form-urlencoded` bodies, so the query form is the
//! portable one; the URL holds the password, so it is never logged. Text goes as UTF-8 with
//! `coding=0` (GSM-7) when every character is in the GSM 03.38 alphabet, else `coding=2`
//! (UCS-2, which Kannel converts to from the given charset), so French accents stay GSM-7 and
//! anything else still arrives intact.
//!
//! Answers (Kannel 1.4):
//! - `202 0: Accepted for delivery` → accepted;
//! - `202 3: Queued for later delivery` → accepted: Kannel has taken custody and delivers when an
//!   SMSC is up (submitting again would send the code twice; configure a bearerbox store);
//! - `4xx` (`403 Authorization failed`, `400 Missing receiver number`, denied number) →
//!   rejected for good, except 408/429 → retry later;
//! - `5xx` and connection refused / unreachable → retry later (Kannel did not take it);
//! - a timeout or broken connection after the request was sent, or an answer that is not
//!   Kannel's → outcome unknown (Kannel may have taken it; never resent since Kannel cannot
//!   deduplicate).
//!
//! `dlr-url` may contain `{message_id}`, replaced by the outbox id, so a delivery-report
//! endpoint can match reports to messages.

use std::time::Duration;

use async_trait::async_trait;
use simgate_core::Msisdn;
use simgate_otp::{GatewayReceipt, OtpError, SmsGateway, SmsText};
use url::Url;

use crate::error::SmsError;
use crate::http::{classify_send_error, client, excerpt};

/// The `gateway` name in receipts.
pub const KANNEL_GATEWAY: &str = "kannel";

/// Where and how to reach a Kannel smsbox.
#[derive(Clone)]
pub struct KannelConfig {
    /// The `sendsms` URL, e.g. `http://127.0.0.1:13013/cgi-bin/sendsms`.
    pub sendsms_url: Url,
    /// A `sendsms-user` username.
    pub username: String,
    /// Its password.
    pub password: String,
    /// Sender id (`from`), if the SMSC needs one.
    pub from: Option<String>,
    /// Route to this `smsc-id`, if set.
    pub smsc: Option<String>,
    /// Delivery reports wanted (`dlr-mask`, 1..=31), if any.
    pub dlr_mask: Option<u8>,
    /// Where Kannel reports delivery (`dlr-url`); `{message_id}` is replaced by the outbox id.
    pub dlr_url: Option<String>,
    /// Whole-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for KannelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KannelConfig")
            .field("sendsms_url", &self.sendsms_url.as_str())
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("from", &self.from)
            .field("smsc", &self.smsc)
            .field("dlr_mask", &self.dlr_mask)
            .field("dlr_url", &self.dlr_url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Sends through Kannel's smsbox.
#[derive(Debug, Clone)]
pub struct KannelGateway {
    config: KannelConfig,
    http: reqwest::Client,
}

impl KannelGateway {
    /// A gateway for `config`; refuses non-HTTP URLs, empty credentials and bad DLR masks.
    pub fn new(config: KannelConfig) -> Result<Self, SmsError> {
        if !matches!(config.sendsms_url.scheme(), "http" | "https") {
            return Err(SmsError::invalid("sms.kannel.url", "must be http or https"));
        }
        if config.username.is_empty() || config.password.is_empty() {
            return Err(SmsError::invalid(
                "sms.kannel credentials",
                "username and password are required",
            ));
        }
        if config
            .dlr_mask
            .is_some_and(|mask| !(1..=31).contains(&mask))
        {
            return Err(SmsError::invalid("sms.kannel.dlr_mask", "must be 1 to 31"));
        }
        if config.dlr_url.is_some() != config.dlr_mask.is_some() {
            return Err(SmsError::invalid(
                "sms.kannel.dlr_url",
                "dlr_url and dlr_mask go together",
            ));
        }
        let http = client(config.timeout)?;
        Ok(Self { config, http })
    }

    /// The request URL for one message (it contains the password: never log it).
    fn request_url(&self, message_id: &str, msisdn: &Msisdn, text: &SmsText) -> Url {
        let coding = if text.gsm7_septets().is_some() {
            "0"
        } else {
            "2"
        };
        let mut url = self.config.sendsms_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("username", &self.config.username)
                .append_pair("password", &self.config.password)
                .append_pair("to", msisdn.as_e164())
                .append_pair("text", text.as_str())
                .append_pair("charset", "UTF-8")
                .append_pair("coding", coding);
            if let Some(from) = &self.config.from {
                query.append_pair("from", from);
            }
            if let Some(smsc) = &self.config.smsc {
                query.append_pair("smsc", smsc);
            }
            if let (Some(mask), Some(dlr_url)) = (self.config.dlr_mask, &self.config.dlr_url) {
                query
                    .append_pair("dlr-mask", &mask.to_string())
                    .append_pair("dlr-url", &dlr_url.replace("{message_id}", message_id));
            }
        }
        url
    }
}

/// What Kannel's answer means for the message.
fn interpret_answer(status: u16, body: &str) -> Result<Option<String>, OtpError> {
    let body = body.trim();
    match status {
        200..=299 => {
            if let Some(rest) = body.strip_prefix("0:").or_else(|| body.strip_prefix("3:")) {
                // Some Kannel builds append the message id: "0: Accepted for delivery: <id>".
                let id = rest
                    .split_once(": ")
                    .map(|(_, id)| id.trim().to_owned())
                    .filter(|id| !id.is_empty());
                Ok(id)
            } else {
                Err(OtpError::GatewayOutcomeUnknown(format!(
                    "kannel: unexpected answer {status} {:?}",
                    excerpt(body)
                )))
            }
        }
        408 | 429 | 500..=599 => Err(OtpError::GatewayUnavailable(format!(
            "kannel: {status} {:?}",
            excerpt(body)
        ))),
        _ => Err(OtpError::GatewayRejected(format!(
            "kannel: {status} {:?}",
            excerpt(body)
        ))),
    }
}

#[async_trait]
impl SmsGateway for KannelGateway {
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
        let url = self.request_url(message_id, msisdn, text);
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| classify_send_error("kannel", e))?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| {
            OtpError::GatewayOutcomeUnknown(format!("kannel: answer {status} unreadable: {e}"))
        })?;
        let message_id = interpret_answer(status, &body)?;
        Ok(GatewayReceipt {
            gateway: KANNEL_GATEWAY.into(),
            message_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kannel_answers_map_to_accepted_retry_or_rejected() {
        assert_eq!(interpret_answer(202, "0: Accepted for delivery"), Ok(None));
        assert_eq!(
            interpret_answer(202, "3: Queued for later delivery"),
            Ok(None)
        );
        assert_eq!(
            interpret_answer(202, "0: Accepted for delivery: 1f0c-77"),
            Ok(Some("1f0c-77".into()))
        );
        assert!(matches!(
            interpret_answer(403, "Authorization failed for sendsms"),
            Err(OtpError::GatewayRejected(_))
        ));
        assert!(matches!(
            interpret_answer(400, "Missing receiver number, rejected"),
            Err(OtpError::GatewayRejected(_))
        ));
        assert!(matches!(
            interpret_answer(503, "Sending failed."),
            Err(OtpError::GatewayUnavailable(_))
        ));
        assert!(matches!(
            interpret_answer(200, "<html>not kannel</html>"),
            Err(OtpError::GatewayOutcomeUnknown(_))
        ));
    }

    fn config() -> KannelConfig {
        KannelConfig {
            sendsms_url: Url::parse("http://127.0.0.1:13013/cgi-bin/sendsms").unwrap(),
            username: "simgate".into(),
            password: "p&ss word".into(),
            from: Some("Orange".into()),
            smsc: None,
            dlr_mask: Some(3),
            dlr_url: Some("http://127.0.0.1:8080/dlr/{message_id}?type=%d".into()),
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn request_carries_utf8_text_with_the_coding_kannel_needs() {
        let gateway = KannelGateway::new(config()).unwrap();
        let msisdn = Msisdn::parse("+33612345678").unwrap();
        let (text, code) = crate::testing::sms_text("{code} est votre code de vérification");
        let url = gateway.request_url("m-1", &msisdn, &text);
        let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs["to"], "+33612345678");
        assert_eq!(
            pairs["text"],
            format!("{code} est votre code de vérification")
        );
        assert_eq!(pairs["coding"], "0");
        assert_eq!(pairs["charset"], "UTF-8");
        assert_eq!(pairs["password"], "p&ss word");
        assert_eq!(pairs["from"], "Orange");
        assert_eq!(pairs["dlr-mask"], "3");
        assert_eq!(pairs["dlr-url"], "http://127.0.0.1:8080/dlr/m-1?type=%d");
        let (cyrillic, _) = crate::testing::sms_text("код {code}");
        let url = gateway.request_url("m-2", &msisdn, &cyrillic);
        assert!(url.query_pairs().any(|(k, v)| k == "coding" && v == "2"));
        assert!(!format!("{gateway:?}").contains("p&ss"));
    }

    #[test]
    fn bad_configuration_is_refused() {
        let mut bad = config();
        bad.password = String::new();
        assert!(KannelGateway::new(bad).is_err());
        let mut bad = config();
        bad.dlr_mask = Some(0);
        assert!(KannelGateway::new(bad).is_err());
        let mut bad = config();
        bad.sendsms_url = Url::parse("ftp://127.0.0.1/").unwrap();
        assert!(KannelGateway::new(bad).is_err());
    }
}
