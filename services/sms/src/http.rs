//! What the HTTP gateways share: the client and how transport errors map to gateway errors.
//!
//! A failure to connect means the gateway never saw the request: retry later. Any failure after
//! the request may have left (timeout waiting for the answer, connection reset) leaves the
//! outcome unknown. Error texts drop the URL, which can carry credentials (Kannel's query).

use std::time::Duration;

use simgate_otp::OtpError;

use crate::error::SmsError;

/// Longest excerpt of a gateway's answer kept in errors.
const EXCERPT_CHARS: usize = 120;

/// An HTTP client with a whole-request timeout and no redirects (a redirect is a misconfiguration
/// and would replay credentials elsewhere).
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, SmsError> {
    if timeout.is_zero() {
        return Err(SmsError::invalid("SMS gateway timeout", "must be positive"));
    }
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| SmsError::invalid("SMS gateway HTTP client", error_chain(&e)))
}

/// Maps a failed `send()` to retry-later, rejected or outcome-unknown.
pub(crate) fn classify_send_error(gateway: &str, error: reqwest::Error) -> OtpError {
    let error = error.without_url();
    let detail = error_chain(&error);
    if error.is_connect() {
        OtpError::GatewayUnavailable(format!("{gateway}: cannot connect: {detail}"))
    } else if error.is_builder() {
        OtpError::GatewayRejected(format!("{gateway}: cannot build the request: {detail}"))
    } else if error.is_timeout() {
        OtpError::GatewayOutcomeUnknown(format!("{gateway}: no answer in time: {detail}"))
    } else {
        OtpError::GatewayOutcomeUnknown(format!("{gateway}: request interrupted: {detail}"))
    }
}

/// The error and its sources, joined.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The start of a gateway's answer, for error messages.
pub(crate) fn excerpt(body: &str) -> String {
    body.chars().take(EXCERPT_CHARS).collect()
}
