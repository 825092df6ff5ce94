//! SMS message texts: localisable templates with `{carrier}`, `{code}` and `{minutes}`.
//!
//! - [`SmsTemplate`]: one text, parsed once into literal and placeholder pieces. Unknown
//!   placeholders, stray braces and a missing `{code}` are refused at construction, so a bad
//!   configured template fails at start-up instead of sending broken messages.
//! - [`SmsLocale`]: a language tag (`en`, `fr`, `fr-CA`), normalised.
//! - [`SmsTemplates`]: templates keyed by locale with English and French built in; lookup
//!   falls back from `fr-CA` to `fr` to the default locale.
//! - [`SmsText`]: the rendered message; it carries the code, so `Debug` redacts it and it is
//!   zeroized on drop. [`gsm7_septets`] counts its length the way an SMSC does.
//!
//! The built-in texts name the carrier twice and warn never to share the code (social
//! engineering of codes is the common attack on SMS second factors). With any valid
//! [`CarrierName`], up to 10 digits and up to 10 minutes they fit one 160-septet GSM-7 SMS.

use std::collections::BTreeMap;
use std::fmt;

use zeroize::Zeroizing;

use crate::carrier::CarrierName;
use crate::error::OtpError;
use crate::sms_code::PlainSmsCode;

/// The built-in English text.
pub const BUILTIN_EN: &str = "{code} is your {carrier} verification code. It expires in {minutes} min. Never share this code: {carrier} will never ask for it.";

/// The built-in French text.
pub const BUILTIN_FR: &str = "{code} est votre code de vérification {carrier}. Il expire dans {minutes} min. Ne le partagez jamais : {carrier} ne vous le demandera jamais.";

/// Longest template accepted, in characters; a few SMS segments at most.
const MAX_TEMPLATE_CHARS: usize = 480;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Carrier,
    Code,
    Minutes,
}

/// One message text with placeholders, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsTemplate {
    source: String,
    pieces: Vec<Piece>,
}

impl SmsTemplate {
    /// Parses a template; refuses unknown placeholders, stray braces and a missing `{code}`.
    pub fn parse(source: &str) -> Result<Self, OtpError> {
        let invalid = |reason: String| OtpError::invalid("SMS template", reason);
        if source.trim().is_empty() || source.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(invalid(format!(
                "must be 1 to {MAX_TEMPLATE_CHARS} characters"
            )));
        }
        if source.chars().any(|c| c.is_control() && c != '\n') {
            return Err(invalid("must not contain control characters".into()));
        }
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = source;
        while let Some(brace) = rest.find(['{', '}']) {
            let (before, from_brace) = rest.split_at(brace);
            literal.push_str(before);
            if from_brace.starts_with('}') {
                return Err(invalid("has a '}' without a matching '{'".into()));
            }
            let close = from_brace
                .find('}')
                .ok_or_else(|| invalid("has a '{' without a matching '}'".into()))?;
            let name = from_brace.get(1..close).unwrap_or_default();
            let piece = match name {
                "carrier" => Piece::Carrier,
                "code" => Piece::Code,
                "minutes" => Piece::Minutes,
                other => {
                    return Err(invalid(format!(
                        "unknown placeholder {{{other}}}; use {{carrier}}, {{code}} or {{minutes}}"
                    )));
                }
            };
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(piece);
            rest = from_brace.get(close + 1..).unwrap_or_default();
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        if !pieces.contains(&Piece::Code) {
            return Err(invalid("must contain {code}".into()));
        }
        Ok(Self {
            source: source.to_owned(),
            pieces,
        })
    }

    /// The template text as configured.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Fills in the placeholders.
    pub fn render(&self, carrier: &CarrierName, code: &PlainSmsCode, minutes: u32) -> SmsText {
        let mut text = Zeroizing::new(String::with_capacity(self.source.len() + 32));
        for piece in &self.pieces {
            match piece {
                Piece::Literal(literal) => text.push_str(literal),
                Piece::Carrier => text.push_str(carrier.as_str()),
                Piece::Code => text.push_str(code.as_str()),
                Piece::Minutes => text.push_str(&minutes.to_string()),
            }
        }
        SmsText(text)
    }
}

/// A language tag for choosing a template: `en`, `fr`, `fr-CA`, normalised.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SmsLocale(String);

impl SmsLocale {
    /// Parses `language[-REGION]` (2–3 letter language, 2-letter or 3-digit region), any case.
    pub fn parse(tag: &str) -> Result<Self, OtpError> {
        let invalid =
            || OtpError::invalid("locale", "must be a language tag such as en, fr or fr-CA");
        let tag = tag.trim().replace('_', "-");
        let mut parts = tag.split('-');
        let language = parts.next().unwrap_or_default();
        if !(2..=3).contains(&language.len()) || !language.bytes().all(|b| b.is_ascii_alphabetic())
        {
            return Err(invalid());
        }
        let mut normalised = language.to_ascii_lowercase();
        if let Some(region) = parts.next() {
            let is_letters = region.len() == 2 && region.bytes().all(|b| b.is_ascii_alphabetic());
            let is_digits = region.len() == 3 && region.bytes().all(|b| b.is_ascii_digit());
            if !(is_letters || is_digits) {
                return Err(invalid());
            }
            normalised.push('-');
            normalised.push_str(&region.to_ascii_uppercase());
        }
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(Self(normalised))
    }

    /// The normalised tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The language alone (`fr` for `fr-CA`).
    pub fn language(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }
}

/// Message templates keyed by locale, with a default locale that always has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsTemplates {
    default_locale: SmsLocale,
    // Kept beside the map so the final fallback of a lookup cannot be missing.
    default_template: SmsTemplate,
    by_locale: BTreeMap<SmsLocale, SmsTemplate>,
}

impl SmsTemplates {
    /// The built-in English and French templates, English by default.
    pub fn builtin() -> Result<Self, OtpError> {
        let english = SmsTemplate::parse(BUILTIN_EN)?;
        let mut by_locale = BTreeMap::new();
        by_locale.insert(SmsLocale::parse("en")?, english.clone());
        by_locale.insert(SmsLocale::parse("fr")?, SmsTemplate::parse(BUILTIN_FR)?);
        Ok(Self {
            default_locale: SmsLocale::parse("en")?,
            default_template: english,
            by_locale,
        })
    }

    /// Adds or replaces the template of a locale (carrier-specific wording, more languages).
    pub fn with_template(mut self, locale: SmsLocale, template: SmsTemplate) -> Self {
        if locale == self.default_locale {
            self.default_template = template.clone();
        }
        self.by_locale.insert(locale, template);
        self
    }

    /// Uses another default locale; it must already have a template.
    pub fn with_default_locale(mut self, locale: SmsLocale) -> Result<Self, OtpError> {
        let template = self.by_locale.get(&locale).cloned().ok_or_else(|| {
            OtpError::invalid(
                "default locale",
                format!("no template for {}", locale.as_str()),
            )
        })?;
        self.default_locale = locale;
        self.default_template = template;
        Ok(self)
    }

    /// The template for `locale`: exact match, else its language, else the default locale's.
    pub fn template_for(&self, locale: Option<&SmsLocale>) -> &SmsTemplate {
        let exact = locale.and_then(|l| self.by_locale.get(l));
        let language = || {
            locale.and_then(|l| {
                SmsLocale::parse(l.language())
                    .ok()
                    .and_then(|language| self.by_locale.get(&language))
            })
        };
        exact.or_else(language).unwrap_or(&self.default_template)
    }

    /// Locales that have a template.
    pub fn locales(&self) -> impl Iterator<Item = &SmsLocale> {
        self.by_locale.keys()
    }
}

/// A rendered message; it contains the code, so it is redacted in `Debug` and zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SmsText(Zeroizing<String>);

impl SmsText {
    /// A text read back from persistent storage, where it was put after a template rendered it.
    pub fn from_stored(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    /// The message text to hand to a gateway.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The GSM-7 length in septets, or `None` if the text needs UCS-2.
    pub fn gsm7_septets(&self) -> Option<usize> {
        gsm7_septets(&self.0)
    }

    /// Whether the text fits one SMS: 160 GSM-7 septets, or 70 UCS-2 units otherwise.
    pub fn fits_single_sms(&self) -> bool {
        match self.gsm7_septets() {
            Some(septets) => septets <= 160,
            None => self.0.encode_utf16().count() <= 70,
        }
    }
}

impl fmt::Debug for SmsText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmsText([redacted; {} chars])", self.0.chars().count())
    }
}

/// GSM 03.38 default alphabet (one septet each).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// GSM 03.38 extension table (escape + character: two septets each).
const GSM7_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// Length of `text` in GSM-7 septets, or `None` if a character is outside the GSM-7 alphabet.
pub fn gsm7_septets(text: &str) -> Option<usize> {
    text.chars().try_fold(0usize, |septets, c| {
        if GSM7_BASIC.contains(c) {
            Some(septets + 1)
        } else if GSM7_EXTENSION.contains(c) {
            Some(septets + 2)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_placeholders_and_keeps_literals() {
        let template = SmsTemplate::parse("Code {code} for {carrier}, {minutes} min").unwrap();
        assert_eq!(template.pieces.len(), 7);
        assert_eq!(
            template.as_str(),
            "Code {code} for {carrier}, {minutes} min"
        );
    }

    #[test]
    fn rejects_bad_templates() {
        for bad in [
            "",
            "   ",
            "Your code expires in {minutes} min",
            "{code} {name}",
            "{code} {Code}",
            "{code} {",
            "{code} }",
            "{code} {{carrier}}",
            "{code}\u{7}",
        ] {
            assert!(SmsTemplate::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(SmsTemplate::parse(&format!("{{code}}{}", "x".repeat(480))).is_err());
    }

    #[test]
    fn locales_normalise_and_fall_back() {
        assert_eq!(SmsLocale::parse("FR_ca").unwrap().as_str(), "fr-CA");
        assert_eq!(SmsLocale::parse("es-419").unwrap().as_str(), "es-419");
        for bad in ["", "f", "french", "fr-", "fr-CAN", "fr-CA-x", "e1"] {
            assert!(SmsLocale::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let templates = SmsTemplates::builtin().unwrap();
        let fr_ca = SmsLocale::parse("fr-CA").unwrap();
        let de = SmsLocale::parse("de").unwrap();
        assert_eq!(templates.template_for(Some(&fr_ca)).as_str(), BUILTIN_FR);
        assert_eq!(templates.template_for(Some(&de)).as_str(), BUILTIN_EN);
        assert_eq!(templates.template_for(None).as_str(), BUILTIN_EN);
        assert!(templates.clone().with_default_locale(de).is_err());
        let custom = SmsTemplate::parse("{carrier}: {code}").unwrap();
        let with_de = templates.with_template(SmsLocale::parse("de").unwrap(), custom.clone());
        assert_eq!(
            with_de.template_for(Some(&SmsLocale::parse("de-AT").unwrap())),
            &custom
        );
        assert_eq!(with_de.locales().count(), 3);
    }

    #[test]
    fn counts_gsm7_septets_like_an_smsc() {
        assert_eq!(gsm7_septets("abc"), Some(3));
        assert_eq!(gsm7_septets("vérification à"), Some(14));
        assert_eq!(gsm7_septets("€5 [x]"), Some(9));
        assert_eq!(gsm7_septets("ç"), None);
        assert_eq!(gsm7_septets("код"), None);
    }
}
