//! The `[sms]` configuration: the commented example in config/simgate.example.toml parses,
//! provider choice builds the right gateway, and bad values fail at start-up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use figment::Figment;
use figment::providers::{Format as _, Serialized, Toml};
use simgate_core::SystemClock;
use simgate_sms::{SmsProvider, SmsSettings};

#[derive(Debug, serde::Deserialize)]
struct Root {
    sms: SmsSettings,
}

/// The `[sms]` block of the example configuration, uncommented.
fn example_section() -> String {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/simgate.example.toml"
    ))
    .unwrap();
    let start = example
        .find("# [sms]")
        .expect("example has an [sms] section");
    example[start..]
        .lines()
        .take_while(|line| line.starts_with('#'))
        .map(|line| {
            line.strip_prefix("# ")
                .or_else(|| line.strip_prefix('#'))
                .unwrap_or(line)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn load(toml: &str) -> Result<SmsSettings, Box<figment::Error>> {
    Figment::from(Serialized::defaults(
        serde_json::json!({ "sms": SmsSettings::default() }),
    ))
    .merge(Toml::string(toml))
    .extract::<Root>()
    .map(|root| root.sms)
    .map_err(Box::new)
}

#[test]
fn the_documented_example_parses_and_builds() {
    let settings = load(&example_section()).unwrap();
    assert_eq!(settings.provider, SmsProvider::DevSink);
    assert_eq!(settings.kannel.dlr_mask, Some(3));
    assert_eq!(settings.outbox.lease_secs, 60);
    settings.validate().unwrap();
}

#[test]
fn kannel_and_webhook_need_their_secrets() {
    let mut kannel =
        load("[sms]\nprovider = \"kannel\"\n[sms.kannel]\nusername = \"simgate\"\n").unwrap();
    assert!(kannel.validate().is_err(), "no password");
    kannel.kannel.password.0 = "from-a-secret-file".into();
    kannel.validate().unwrap();
    assert_eq!(format!("{:?}", kannel.kannel.password), "[redacted]");
    let gateway = kannel.gateway(Arc::new(SystemClock)).unwrap();
    assert!(format!("{gateway:?}").contains("KannelGateway"));

    let mut webhook = load("[sms]\nprovider = \"webhook\"\n[sms.webhook]\nurl = \"https://relay.example/sms\"\nsecret = \"short\"\n").unwrap();
    assert!(webhook.validate().is_err(), "short secret");
    webhook.webhook.secret.0 = "x".repeat(32);
    webhook.validate().unwrap();
}

#[test]
fn unknown_keys_providers_and_unsafe_leases_are_errors() {
    assert!(load("[sms]\nprovider = \"carrier-pigeon\"\n").is_err());
    assert!(load("[sms.kannel]\npasword = \"typo\"\n").is_err());
    let short_lease = load("[sms.outbox]\nlease_secs = 5\n").unwrap();
    assert!(short_lease.validate().is_err());
    let bad_jitter = load("[sms.outbox]\njitter = 2.0\n").unwrap();
    assert!(bad_jitter.validate().is_err());
}
