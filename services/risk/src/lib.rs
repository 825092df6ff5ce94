//! Risk rules over sliding windows, configured as data rather than code.
//!
//! A rule watches one [`Signal`] (a verification opened, an SMS code sent, a document verified,
//! a SIM swap reported by the network...) grouped by one [`KeyKind`] (the MSISDN, the device's
//! EID, the document, the store, the API key, the client IP) and fires when the
//! [`Aggregate`] of that signal for one key within `window_secs` reaches `threshold`: a count of
//! events, a count of distinct subscribers (one document under many MSISDNs), or a sum of
//! amounts (bytes of data in a burst). A fired rule raises an alert of its [`Severity`] and
//! applies its [`RuleAction`].
//!
//! This crate only describes and checks rules and decides whether an observed total fires one;
//! the store keeps the events (so every replica sees the same windows) and the API applies the
//! actions.
//!
//! Layout: the vocabulary enums, then [`RiskRule`] and [`RiskRules`] (validation, the default
//! rule set), then [`RiskRule::fires`]; [`geography`] says when a sighting's region is unusual
//! or its travel impossible.

pub mod geography;

use std::fmt;

use serde::{Deserialize, Serialize};

/// Everything wrong with a rule set. Knows nothing of HTTP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RiskError {
    /// A rule cannot work as written.
    #[error("risk rule {rule:?}: {reason}")]
    InvalidRule {
        /// The rule's name.
        rule: String,
        /// What is wrong.
        reason: String,
    },
}

/// What happened, as the risk engine counts it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// A verification session was opened.
    VerificationOpened,
    /// A verification was rejected.
    VerificationRejected,
    /// An SMS one-time code was queued.
    OtpSend,
    /// A document passed its checks (keyed by the document).
    DocumentVerified,
    /// A document's portrait matched the face of another document's holder (1:N search).
    FaceOtherIdentity,
    /// The network reports data usage (amount: bytes).
    DataUsage,
    /// The network reports an attach.
    Attach,
    /// The network reports a SIM swap.
    SimSwap,
    /// The network reports a login with the subscriber's number.
    Login,
    /// The subscriber was seen (network event or store) in a region that is not a home region
    /// and where they were not seen before (see [`geography`]).
    UnusualRegion,
    /// Data usage (amount: bytes) reported from a region unusual for the subscriber.
    DataUsageUnusualRegion,
    /// Two sightings of the subscriber too far apart for the time between them.
    ImpossibleTravel,
    /// A document passed for a number earlier verified only with documents of other issuing
    /// states.
    DocumentIssuerChanged,
}

impl Signal {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::VerificationOpened => "verification_opened",
            Signal::VerificationRejected => "verification_rejected",
            Signal::OtpSend => "otp_send",
            Signal::DocumentVerified => "document_verified",
            Signal::FaceOtherIdentity => "face_other_identity",
            Signal::DataUsage => "data_usage",
            Signal::Attach => "attach",
            Signal::SimSwap => "sim_swap",
            Signal::Login => "login",
            Signal::UnusualRegion => "unusual_region",
            Signal::DataUsageUnusualRegion => "data_usage_unusual_region",
            Signal::ImpossibleTravel => "impossible_travel",
            Signal::DocumentIssuerChanged => "document_issuer_changed",
        }
    }
}

/// What events are grouped by.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// The subscriber (their opaque id, derived from the MSISDN).
    Msisdn,
    /// The device's eSIM (EID).
    Eid,
    /// The identity document (issuer and number).
    Document,
    /// The store or kiosk that sent the request.
    Store,
    /// The client's IP address.
    ClientIp,
    /// The API key that made the request.
    ApiKey,
}

impl KeyKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Msisdn => "msisdn",
            KeyKind::Eid => "eid",
            KeyKind::Document => "document",
            KeyKind::Store => "store",
            KeyKind::ClientIp => "client_ip",
            KeyKind::ApiKey => "api_key",
        }
    }
}

/// How events in the window are totalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// The number of events.
    #[default]
    Count,
    /// The number of distinct subscribers among the events.
    DistinctSubscribers,
    /// The sum of the events' amounts (e.g. bytes).
    SumAmount,
}

/// How bad a fired rule is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Suspicious.
    Medium,
    /// Likely fraud.
    High,
    /// Fraud in progress: act now.
    Critical,
}

impl Severity {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a fired rule does besides raising its alert.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Only the alert.
    Alert,
    /// The alert, and the verification at hand goes to `needs_review`.
    Review,
    /// The alert, and the subscriber is frozen (no verification, no token).
    Freeze,
    /// The alert, the freeze, and every live token of the subscriber is revoked.
    FreezeAndRevoke,
}

impl RuleAction {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleAction::Alert => "alert",
            RuleAction::Review => "review",
            RuleAction::Freeze => "freeze",
            RuleAction::FreezeAndRevoke => "freeze_and_revoke",
        }
    }

    /// Whether the subscriber is frozen.
    pub fn freezes(self) -> bool {
        matches!(self, RuleAction::Freeze | RuleAction::FreezeAndRevoke)
    }
}

/// A stored wire name that names no variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownName {
    /// The vocabulary.
    pub what: &'static str,
    /// The name found.
    pub value: String,
}

macro_rules! parse_by_wire_name {
    ($($kind:ident: [$($variant:ident),*]),* $(,)?) => {
        $(
            impl std::str::FromStr for $kind {
                type Err = UnknownName;
                fn from_str(value: &str) -> Result<Self, Self::Err> {
                    [$($kind::$variant),*]
                        .into_iter()
                        .find(|v| v.as_str() == value)
                        .ok_or_else(|| UnknownName { what: stringify!($kind), value: value.to_owned() })
                }
            }
        )*
    };
}

parse_by_wire_name!(
    Signal: [VerificationOpened, VerificationRejected, OtpSend, DocumentVerified, FaceOtherIdentity, DataUsage, Attach, SimSwap, Login, UnusualRegion, DataUsageUnusualRegion, ImpossibleTravel, DocumentIssuerChanged],
    KeyKind: [Msisdn, Eid, Document, Store, ClientIp, ApiKey],
    Severity: [Low, Medium, High, Critical],
    RuleAction: [Alert, Review, Freeze, FreezeAndRevoke],
);

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskRule {
    /// Unique name, used in alerts and metrics: `otp_pumping_per_store`.
    pub name: String,
    /// The signal counted.
    pub signal: Signal,
    /// What events are grouped by.
    pub key: KeyKind,
    /// How they are totalled.
    #[serde(default)]
    pub aggregate: Aggregate,
    /// The sliding window, in seconds.
    pub window_secs: u64,
    /// The total (including the event at hand) at which the rule fires.
    pub threshold: u64,
    /// The alert's severity.
    pub severity: Severity,
    /// What else happens.
    pub action: RuleAction,
}

impl RiskRule {
    /// Whether `total` (the window's total including the event at hand) fires the rule.
    pub fn fires(&self, total: u64) -> bool {
        total >= self.threshold
    }

    fn validate(&self) -> Result<(), RiskError> {
        let invalid = |reason: &str| RiskError::InvalidRule {
            rule: self.name.clone(),
            reason: reason.to_owned(),
        };
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !name_ok {
            return Err(invalid("name must be 1-64 characters of a-z, 0-9 and _"));
        }
        if self.window_secs == 0 || self.window_secs > 90 * 24 * 3600 {
            return Err(invalid("window_secs must be 1 s to 90 days"));
        }
        if self.threshold == 0 {
            return Err(invalid("threshold must be at least 1"));
        }
        if self.aggregate == Aggregate::SumAmount
            && !matches!(
                self.signal,
                Signal::DataUsage | Signal::DataUsageUnusualRegion
            )
        {
            return Err(invalid(
                "sum_amount applies to data_usage and data_usage_unusual_region only",
            ));
        }
        if self.action.freezes() && self.key != KeyKind::Msisdn {
            // Freezing every subscriber seen on a kiosk would punish the victims too.
            return Err(invalid("freeze actions need key = msisdn"));
        }
        Ok(())
    }
}

/// A validated rule set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<RiskRule>", into = "Vec<RiskRule>")]
pub struct RiskRules(Vec<RiskRule>);

impl TryFrom<Vec<RiskRule>> for RiskRules {
    type Error = RiskError;

    fn try_from(rules: Vec<RiskRule>) -> Result<Self, Self::Error> {
        for (index, rule) in rules.iter().enumerate() {
            rule.validate()?;
            if rules[..index].iter().any(|other| other.name == rule.name) {
                return Err(RiskError::InvalidRule {
                    rule: rule.name.clone(),
                    reason: "duplicate name".into(),
                });
            }
        }
        Ok(Self(rules))
    }
}

impl From<RiskRules> for Vec<RiskRule> {
    fn from(rules: RiskRules) -> Self {
        rules.0
    }
}

impl RiskRules {
    /// The rules watching `signal`.
    pub fn for_signal(&self, signal: Signal) -> impl Iterator<Item = &RiskRule> {
        self.0.iter().filter(move |rule| rule.signal == signal)
    }

    /// Every rule.
    pub fn all(&self) -> &[RiskRule] {
        &self.0
    }

    /// The longest window of any rule (how long events must be kept).
    pub fn longest_window_secs(&self) -> u64 {
        self.0.iter().map(|r| r.window_secs).max().unwrap_or(0)
    }
}

impl Default for RiskRules {
    /// The shipped rules; every threshold is configuration (`[[risk.rules]]`).
    fn default() -> Self {
        let rule =
            |name: &str, signal, key, aggregate, window_secs, threshold, severity, action| {
                RiskRule {
                    name: name.to_owned(),
                    signal,
                    key,
                    aggregate,
                    window_secs,
                    threshold,
                    severity,
                    action,
                }
            };
        use Aggregate::{Count, DistinctSubscribers, SumAmount};
        use KeyKind::{ApiKey, ClientIp, Document, Eid, Msisdn, Store};
        use RuleAction::{Alert, FreezeAndRevoke, Review};
        use Severity::{Critical, High, Low, Medium};
        use Signal::{
            DataUsage, DataUsageUnusualRegion, DocumentIssuerChanged, DocumentVerified,
            FaceOtherIdentity, ImpossibleTravel, OtpSend, SimSwap, UnusualRegion,
            VerificationOpened,
        };
        const HOUR: u64 = 3600;
        const DAY: u64 = 24 * HOUR;
        Self(vec![
            // One document presented for several numbers: a stolen or forged identity reused.
            rule(
                "document_many_msisdns",
                DocumentVerified,
                Document,
                DistinctSubscribers,
                30 * DAY,
                3,
                High,
                Review,
            ),
            // One face on the documents of two identities: a forged or borrowed document.
            rule(
                "face_under_other_identity",
                FaceOtherIdentity,
                Msisdn,
                Count,
                30 * DAY,
                1,
                High,
                Review,
            ),
            // One device activating number after number: a SIM farm or a fraudster's phone.
            rule(
                "device_many_verifications",
                VerificationOpened,
                Eid,
                Count,
                DAY,
                5,
                Medium,
                Review,
            ),
            // One number verified again and again: someone trying until a check gives way.
            rule(
                "msisdn_many_verifications",
                VerificationOpened,
                Msisdn,
                Count,
                DAY,
                6,
                Medium,
                Alert,
            ),
            // SMS pumping from one kiosk or one client.
            rule(
                "otp_pumping_per_store",
                OtpSend,
                Store,
                Count,
                HOUR,
                30,
                High,
                Alert,
            ),
            rule(
                "otp_pumping_per_api_key",
                OtpSend,
                ApiKey,
                Count,
                HOUR,
                300,
                High,
                Alert,
            ),
            // Two SIM swaps of one number within a day: the takeover pattern eSIM fraud follows.
            rule(
                "sim_swap_burst",
                SimSwap,
                Msisdn,
                Count,
                DAY,
                2,
                Critical,
                FreezeAndRevoke,
            ),
            // 5 GB within an hour from one eSIM right after activation: a resold or abused line.
            rule(
                "data_usage_burst",
                DataUsage,
                Eid,
                SumAmount,
                HOUR,
                5_000_000_000,
                High,
                Alert,
            ),
            // Verifications from one client address: a script working through stolen identities.
            // The threshold is high because the kiosks of one store share the address of the
            // shop's router.
            rule(
                "verifications_per_client_ip",
                VerificationOpened,
                ClientIp,
                Count,
                HOUR,
                100,
                Medium,
                Alert,
            ),
            // SMS codes requested from one client address.
            rule(
                "otp_pumping_per_client_ip",
                OtpSend,
                ClientIp,
                Count,
                HOUR,
                60,
                High,
                Alert,
            ),
            // Seen in a region that is neither home nor anywhere they have been lately: worth a
            // look, not an action (travellers roam).
            rule(
                "activity_unusual_region",
                UnusualRegion,
                Msisdn,
                Count,
                DAY,
                1,
                Low,
                Alert,
            ),
            // 500 MB within an hour from a region the subscriber has never been seen in: the line
            // was taken over and is being used abroad.
            rule(
                "data_burst_unusual_region",
                DataUsageUnusualRegion,
                Msisdn,
                SumAmount,
                HOUR,
                500_000_000,
                Critical,
                FreezeAndRevoke,
            ),
            // A number verified before with one state's documents now comes with another's:
            // the fraudster presents their own (or a forged) document for the victim's number.
            rule(
                "document_issuer_changed",
                DocumentIssuerChanged,
                Msisdn,
                Count,
                30 * DAY,
                1,
                High,
                Review,
            ),
            // Activated at a store hours after being seen a continent away.
            rule(
                "impossible_travel",
                ImpossibleTravel,
                Msisdn,
                Count,
                DAY,
                1,
                High,
                Review,
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_rules_are_valid_and_round_trip_through_toml() {
        let rules = RiskRules::default();
        let list: Vec<RiskRule> = rules.clone().into();
        assert_eq!(RiskRules::try_from(list).as_ref(), Ok(&rules));
        #[derive(Serialize, Deserialize)]
        struct Wrapper {
            rules: RiskRules,
        }
        let text = toml::to_string(&Wrapper {
            rules: rules.clone(),
        })
        .map_err(|e| e.to_string());
        let parsed: Result<Wrapper, String> =
            text.and_then(|t| toml::from_str(&t).map_err(|e| e.to_string()));
        assert_eq!(parsed.map(|w| w.rules), Ok(rules));
    }

    #[test]
    fn rules_that_cannot_work_are_refused() {
        let good = RiskRules::default().all()[0].clone();
        let bad = |edit: fn(&mut RiskRule)| {
            let mut rule = good.clone();
            edit(&mut rule);
            RiskRules::try_from(vec![rule]).is_err()
        };
        assert!(bad(|r| r.name = "Has Spaces".into()));
        assert!(bad(|r| r.window_secs = 0));
        assert!(bad(|r| r.threshold = 0));
        assert!(bad(|r| r.aggregate = Aggregate::SumAmount));
        // Freezing by store would freeze every genuine subscriber who used that kiosk.
        assert!(bad(|r| {
            r.key = KeyKind::Store;
            r.action = RuleAction::Freeze;
        }));
        assert!(
            RiskRules::try_from(vec![good.clone(), good]).is_err(),
            "duplicate names"
        );
    }

    #[test]
    fn wire_names_parse_back() {
        for signal in RiskRules::default().all().iter().map(|r| r.signal) {
            assert_eq!(signal.as_str().parse::<Signal>(), Ok(signal));
        }
        assert_eq!("freeze_and_revoke".parse(), Ok(RuleAction::FreezeAndRevoke));
        assert!("sms".parse::<KeyKind>().is_err());
    }

    #[test]
    fn a_rule_fires_at_its_threshold() {
        let rules = RiskRules::default();
        let rule = &rules.all()[0];
        assert!(!rule.fires(rule.threshold - 1));
        assert!(rule.fires(rule.threshold));
    }
}
