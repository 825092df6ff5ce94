//! Test support (feature `testing`): the in-memory outbox, a way to render a known message text,
//! and a harness running a real Kannel (bearerbox, smsbox, fake SMSC) on loopback.

pub mod kannel;

pub use crate::outbox::testing::InMemoryOutbox;

use simgate_otp::{CarrierName, SmsCodeKey, SmsCodeSettings, SmsTemplate, SmsText, issue_sms_code};

/// Renders `template` (which must contain `{code}`; `{carrier}` is `Orange`, `{minutes}` 5) with a
/// fresh code, and returns the text with that code, so a test knows exactly what must arrive.
///
/// # Panics
/// If `template` is not a valid SMS template.
pub fn sms_text(template: &str) -> (SmsText, String) {
    let template = SmsTemplate::parse(template).unwrap_or_else(|e| panic!("bad template: {e}"));
    let key = SmsCodeKey::from_bytes(&[42; 32]).unwrap_or_else(|e| panic!("{e}"));
    let issued = issue_sms_code(
        &SmsCodeSettings::default(),
        &key,
        &simgate_core::SystemClock,
    );
    let carrier = CarrierName::parse("Orange").unwrap_or_else(|e| panic!("{e}"));
    let text = template.render(&carrier, &issued.plain_code, 5);
    (text, issued.plain_code.as_str().to_owned())
}
