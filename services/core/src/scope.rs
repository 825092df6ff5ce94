//! API-key scopes: what a key may do. A route names the one scope it needs.

use std::{collections::BTreeSet, fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::InvalidInput;

/// One permission an API key can hold.
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
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Run verifications: documents, faces, sessions.
    Verify,
    /// Enrol and check one-time codes.
    Otp,
    /// Issue and introspect activation tokens.
    Tokens,
    /// Administer the tenant: keys, alerts, subscribers.
    Admin,
    /// Run batch re-verification.
    Batch,
    /// Feed usage events of active eSIMs from the network side (`POST /v1/events`).
    Events,
    /// A front end's key (kiosk page, onboarding app): opens verifications and runs only the
    /// ones it opened itself; nothing else.
    Kiosk,
}

impl Scope {
    /// Every scope, in display order.
    pub const ALL: [Scope; 7] = [
        Scope::Verify,
        Scope::Otp,
        Scope::Tokens,
        Scope::Admin,
        Scope::Batch,
        Scope::Events,
        Scope::Kiosk,
    ];

    /// The scope's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Verify => "verify",
            Scope::Otp => "otp",
            Scope::Tokens => "tokens",
            Scope::Admin => "admin",
            Scope::Batch => "batch",
            Scope::Events => "events",
            Scope::Kiosk => "kiosk",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = InvalidInput;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|s| s.as_str() == raw.trim())
            .ok_or_else(|| InvalidInput {
                what: "scope",
                reason: format!(
                    "unknown scope {raw:?}; expected one of verify, otp, tokens, admin, batch, events, kiosk"
                ),
            })
    }
}

/// A non-empty set of scopes, stored as a comma-separated list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "Vec<Scope>", into = "Vec<Scope>")]
#[schema(value_type = Vec<Scope>)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// Builds a set; an empty set is rejected because a key without scopes is useless.
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Result<Self, InvalidInput> {
        let set: BTreeSet<Scope> = scopes.into_iter().collect();
        if set.is_empty() {
            return Err(InvalidInput {
                what: "scopes",
                reason: "at least one scope is required".into(),
            });
        }
        Ok(Self(set))
    }

    /// Parses a comma-separated list such as `verify,otp`.
    pub fn parse_list(raw: &str) -> Result<Self, InvalidInput> {
        let scopes = raw
            .split(',')
            .filter(|part| !part.trim().is_empty())
            .map(Scope::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(scopes)
    }

    /// Whether the set grants `scope`.
    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    /// The comma-separated form stored in the database.
    pub fn to_list(&self) -> String {
        self.0
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Iterates the scopes in order.
    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

impl TryFrom<Vec<Scope>> for ScopeSet {
    type Error = InvalidInput;
    fn try_from(value: Vec<Scope>) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<ScopeSet> for Vec<Scope> {
    fn from(value: ScopeSet) -> Self {
        value.0.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_lists_in_canonical_order() {
        let set = ScopeSet::parse_list("otp, verify,otp").unwrap();
        assert_eq!(set.to_list(), "verify,otp");
        assert!(set.contains(Scope::Otp));
        assert!(!set.contains(Scope::Admin));
    }

    #[test]
    fn rejects_unknown_and_empty() {
        assert!(ScopeSet::parse_list("verify,root").is_err());
        assert!(ScopeSet::parse_list("").is_err());
        assert!(ScopeSet::parse_list(" , ").is_err());
    }
}
