//! What an API key may do (docs/api.md §9): its scopes, and the rule that a key never makes a key
//! with more than it has. Which scope each operation needs is declared on the operation itself
//! (`kassa-server/src/api`); this file holds the set and its arithmetic.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One scope of an API key.
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
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Every GET of payment requests, payments, refunds, balance, payouts, events and webhooks.
    Read,
    /// Payment requests, sales, authorizations, captures, reverses, customers, payment methods,
    /// invoice previews and the sandbox.
    Payments,
    Refunds,
    /// Webhook endpoints, their secrets and delivery retries.
    Webhooks,
    /// The partner's branding and contact settings.
    Settings,
    /// API keys, users, audit events and the security settings.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::Read,
        Scope::Payments,
        Scope::Refunds,
        Scope::Webhooks,
        Scope::Settings,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Payments => "payments",
            Scope::Refunds => "refunds",
            Scope::Webhooks => "webhooks",
            Scope::Settings => "settings",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Scopes(u8);

/// A scope list that names no scope Kassa has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope \"{0}\"; scopes are read, payments, refunds, webhooks, settings and admin")]
pub struct UnknownScope(pub String);

impl Scopes {
    pub const NONE: Scopes = Scopes(0);

    /// Every scope.
    pub fn all() -> Scopes {
        Scope::ALL.into_iter().collect()
    }

    /// What a key gets when nobody says otherwise: every scope but `admin`.
    pub fn default_for_new_key() -> Scopes {
        Scope::ALL
            .into_iter()
            .filter(|s| *s != Scope::Admin)
            .collect()
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// True when every scope of `other` is in `self`.
    pub fn covers(self, other: Scopes) -> bool {
        other.0 & !self.0 == 0
    }

    /// The scopes of `other` that `self` lacks, in order.
    pub fn missing(self, other: Scopes) -> Vec<Scope> {
        other.iter().filter(|s| !self.contains(*s)).collect()
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// A comma-separated list (`read,payments`), as typed on the command line and stored.
    pub fn parse_list(s: &str) -> Result<Scopes, UnknownScope> {
        s.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| Scope::parse(part).ok_or_else(|| UnknownScope(part.to_string())))
            .collect()
    }

    /// The comma-separated form read back by [`Scopes::parse_list`].
    pub fn to_list(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(",")
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Scopes(iter.into_iter().fold(0, |bits, s| bits | s.bit()))
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// May a key with `holder` make a key with `wanted`? Only with scopes it has itself: the
/// scopes it would hand out that it lacks, when any.
pub fn may_grant(holder: Scopes, wanted: Scopes) -> Result<(), Vec<Scope>> {
    match holder.missing(wanted) {
        missing if missing.is_empty() => Ok(()),
        missing => Err(missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_read_back_and_refuse_unknown_names() {
        let s = Scopes::parse_list("read, payments,admin").unwrap();
        assert_eq!(s.to_list(), "read,payments,admin");
        assert_eq!(Scopes::parse_list(&s.to_list()).unwrap(), s);
        assert_eq!(Scopes::parse_list("").unwrap(), Scopes::NONE);
        assert_eq!(
            Scopes::parse_list("read,root").unwrap_err(),
            UnknownScope("root".into())
        );
        assert!(Scopes::parse_list("READ").is_err(), "names are lowercase");
    }

    #[test]
    fn a_new_key_gets_everything_but_admin() {
        let d = Scopes::default_for_new_key();
        assert!(!d.contains(Scope::Admin));
        assert_eq!(d.iter().count(), 5);
        assert!(Scopes::all().covers(d));
        assert!(!d.covers(Scopes::all()));
    }

    #[test]
    fn a_key_grants_only_what_it_has() {
        let holder = Scopes::parse_list("read,payments").unwrap();
        assert_eq!(
            may_grant(holder, Scopes::parse_list("read").unwrap()),
            Ok(())
        );
        assert_eq!(may_grant(holder, holder), Ok(()));
        assert_eq!(
            may_grant(holder, Scopes::parse_list("read,refunds,admin").unwrap()),
            Err(vec![Scope::Refunds, Scope::Admin])
        );
        assert_eq!(may_grant(Scopes::all(), Scopes::all()), Ok(()));
    }
}
