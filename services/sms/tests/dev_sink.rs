//! The development sink writes one JSON line per message, marked as development-only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;

use simgate_core::{ManualClock, Msisdn};
use simgate_otp::SmsGateway;
use simgate_sms::dev_sink::DEV_SINK_NOTICE;
use simgate_sms::testing::sms_text;
use simgate_sms::{DevSinkGateway, SmsProvider, SmsSettings};
use time::macros::datetime;

#[tokio::test]
async fn each_message_is_one_development_json_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("var/sms-dev-sink.jsonl");
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-26 09:00:00 UTC)));
    let sink = DevSinkGateway::new(&path, clock);
    let (text, code) = sms_text(simgate_otp::template::BUILTIN_FR);
    let msisdn = Msisdn::parse("+33612345678").unwrap();
    let receipt = sink
        .send_message("0b5c9e52-5d8e-4c43-9d1f-2b4f3c8b9a10", &msisdn, &text)
        .await
        .unwrap();
    assert_eq!(receipt.gateway, "dev-sink");
    sink.send(&msisdn, &text).await.unwrap();

    let content = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = content
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let first = &lines[0];
    assert_eq!(first["development_only"], true);
    assert_eq!(first["notice"], DEV_SINK_NOTICE);
    assert_eq!(first["to"], "+33612345678");
    assert_eq!(first["text"], text.as_str());
    assert!(first["text"].as_str().unwrap().starts_with(&code));
    assert_eq!(first["message_id"], "0b5c9e52-5d8e-4c43-9d1f-2b4f3c8b9a10");
    assert_eq!(first["at"], "2026-11-26T09:00:00Z");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o077,
        0,
        "live codes: only the owner may read the file"
    );
}

#[tokio::test]
async fn the_default_configuration_is_the_dev_sink_under_var() {
    let settings = SmsSettings::default();
    assert_eq!(settings.provider, SmsProvider::DevSink);
    assert!(settings.dev_sink.path.starts_with("var"));
    settings.validate().unwrap();
}
