//! Which processor moved a payment's money, and its id for it (docs/api.md §10). The connector is
//! recorded with each payment, authorization and refund when Kassa records the intent, so every
//! later call about it (recovery, capture, refund, a notification) goes to the same processor even
//! if the partner has since switched.

use serde::Serialize;
use utoipa::ToSchema;

/// Which processor a partner's payments go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Connector {
    Sandbox,
    Stripe,
    AuthorizeNet,
}

impl Connector {
    pub const ALL: [Connector; 3] = [Self::Sandbox, Self::Stripe, Self::AuthorizeNet];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sandbox => "sandbox",
            Self::Stripe => "stripe",
            Self::AuthorizeNet => "authorize_net",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Whether it tells what became of a bank debit only when asked (Authorize.net sends no
    /// notification when an eCheck settles or is returned), so Kassa asks it from time to time.
    pub fn reports_debits_when_asked(self) -> bool {
        matches!(self, Self::AuthorizeNet)
    }

    /// The path segment of its notification endpoint: `/hooks/{segment}/{partnerSlug}`.
    pub fn hook_segment(self) -> &'static str {
        match self {
            Self::Sandbox => "sandbox",
            Self::Stripe => "stripe",
            Self::AuthorizeNet => "authorize-net",
        }
    }
}

impl std::fmt::Display for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `processor` on a payment, authorization or refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessorRef {
    pub connector: Connector,
    /// The processor's own id (`pi_…` at Stripe, a transaction id at Authorize.net); null until
    /// the processor has answered.
    pub reference: Option<String>,
}

impl ProcessorRef {
    /// From stored columns; an unknown connector name is `None` (the store reports it corrupt).
    pub fn from_columns(connector: &str, reference: Option<String>) -> Option<Self> {
        Some(Self {
            connector: Connector::parse(connector)?,
            reference,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Connector::ALL {
            assert_eq!(Connector::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        assert_eq!(Connector::parse("Stripe"), None);
        assert_eq!(Connector::AuthorizeNet.hook_segment(), "authorize-net");
    }
}
