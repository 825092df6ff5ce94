//! SMS texts: the built-in English and French messages name the carrier, warn never to share
//! the code, and fit one GSM-7 SMS for every allowed carrier name, code length and lifetime.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use simgate_core::ManualClock;
use simgate_otp::{
    CarrierName, SmsCodeKey, SmsCodeSettings, SmsLocale, SmsTemplate, SmsTemplates, issue_sms_code,
};
use time::{Duration, macros::datetime};

fn render(locale: &str, carrier: &str, digits: u8, lifetime_minutes: i64) -> (String, String) {
    let clock = ManualClock::new(datetime!(2026-11-25 12:00:00 UTC));
    let settings = SmsCodeSettings::default()
        .with_digits(digits)
        .unwrap()
        .with_lifetime(Duration::minutes(lifetime_minutes))
        .unwrap();
    let issued = issue_sms_code(
        &settings,
        &SmsCodeKey::from_bytes(&[1; 32]).unwrap(),
        &clock,
    );
    let templates = SmsTemplates::builtin().unwrap();
    let locale = SmsLocale::parse(locale).unwrap();
    let text = templates.template_for(Some(&locale)).render(
        &CarrierName::parse(carrier).unwrap(),
        &issued.plain_code,
        settings.lifetime_minutes(),
    );
    assert!(text.fits_single_sms(), "{locale:?}: {}", text.as_str());
    let septets = text.gsm7_septets().expect("built-in texts are GSM-7");
    assert!(septets <= 160, "{locale:?}: {septets} septets");
    (
        text.as_str().to_owned(),
        issued.plain_code.as_str().to_owned(),
    )
}

#[test]
fn english_text_names_the_carrier_and_warns_never_to_share() {
    let (text, code) = render("en", "Vodafone", 6, 5);
    assert_eq!(
        text,
        format!(
            "{code} is your Vodafone verification code. It expires in 5 min. \
             Never share this code: Vodafone will never ask for it."
        )
    );
}

#[test]
fn french_text_names_the_carrier_and_warns_never_to_share() {
    let (text, code) = render("fr-FR", "Bouygues Telecom", 6, 5);
    assert_eq!(
        text,
        format!(
            "{code} est votre code de vérification Bouygues Telecom. Il expire dans 5 min. \
             Ne le partagez jamais : Bouygues Telecom ne vous le demandera jamais."
        )
    );
}

#[test]
fn built_in_texts_fit_one_sms_in_the_worst_case() {
    let longest_carrier = "W".repeat(CarrierName::MAX_LEN);
    for locale in ["en", "fr"] {
        // 10 digits, 10 minutes and a 20-character carrier named twice: the longest possible text.
        let (text, _) = render(locale, &longest_carrier, 10, 10);
        assert!(text.chars().count() <= 160, "{locale}: {text}");
    }
}

#[test]
fn configured_templates_are_checked_when_loaded() {
    assert!(SmsTemplate::parse("{carrier}: {code} ({minutes} min)").is_ok());
    let missing_code =
        SmsTemplate::parse("Your {carrier} code expires in {minutes} min.").unwrap_err();
    assert_eq!(missing_code.reason_code(), "invalid_input");
    assert!(missing_code.to_string().contains("{code}"));
    let unknown = SmsTemplate::parse("{code} for {msisdn}").unwrap_err();
    assert!(unknown.to_string().contains("{msisdn}"));
}

#[test]
fn rendered_text_is_redacted_in_debug_output() {
    let clock = ManualClock::new(datetime!(2026-11-25 12:00:00 UTC));
    let issued = issue_sms_code(
        &SmsCodeSettings::default(),
        &SmsCodeKey::from_bytes(&[1; 32]).unwrap(),
        &clock,
    );
    let text = SmsTemplates::builtin().unwrap().template_for(None).render(
        &CarrierName::parse("Orange").unwrap(),
        &issued.plain_code,
        5,
    );
    assert!(!format!("{text:?}").contains(issued.plain_code.as_str()));
}
