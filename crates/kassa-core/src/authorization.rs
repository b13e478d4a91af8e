//! An authorization: funds held on a card, captured later (in full or in part) or reversed.

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::descriptor::DynamicDescriptor;
use crate::id::{AuthorizationId, CustomerId, PartnerId, PaymentId, PaymentMethodId};
use crate::invoice::Invoice;
use crate::money::{Currency, Money};
use crate::payment::MaskedMethod;

/// How long an authorization holds the funds; card networks release holds after about a week.
pub const AUTHORIZATION_VALIDITY: time::Duration = time::Duration::days(7);

/// `pending` only while the processor is asked; then `authorized` or `failed`. An authorized
/// hold ends `captured`, `reversed`, or `expired` (seen once `expiresAt` has passed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizationStatus {
    Pending,
    Authorized,
    Failed,
    Captured,
    Reversed,
    Expired,
}

impl AuthorizationStatus {
    pub const ALL: [AuthorizationStatus; 6] = [
        Self::Pending,
        Self::Authorized,
        Self::Failed,
        Self::Captured,
        Self::Reversed,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Authorized => "authorized",
            Self::Failed => "failed",
            Self::Captured => "captured",
            Self::Reversed => "reversed",
            Self::Expired => "expired",
        }
    }

    pub fn parse_str(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    pub id: AuthorizationId,
    #[serde(skip)]
    pub partner_id: PartnerId,
    #[schema(inline)]
    pub object: AuthorizationObject,
    pub status: AuthorizationStatus,
    pub amount: Money,
    pub currency: Currency,
    pub captured_amount: Money,
    pub customer_id: Option<CustomerId>,
    pub payment_method_id: Option<PaymentMethodId>,
    /// The payment its capture made.
    pub payment_id: Option<PaymentId>,
    pub payment_method: MaskedMethod,
    pub invoice: Option<Invoice>,
    pub dynamic_descriptor: Option<DynamicDescriptor>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    /// Which processor holds it, and its id there.
    pub processor: crate::processor::ProcessorRef,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::clock::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "crate::clock::rfc3339_option")]
    pub captured_at: Option<OffsetDateTime>,
    #[serde(with = "crate::clock::rfc3339_option")]
    pub reversed_at: Option<OffsetDateTime>,
}

impl Authorization {
    /// The status as seen at `now`: an uncaptured hold past its deadline is expired.
    pub fn status_at(&self, now: OffsetDateTime) -> AuthorizationStatus {
        match self.status {
            AuthorizationStatus::Authorized if self.expires_at <= now => {
                AuthorizationStatus::Expired
            }
            status => status,
        }
    }

    pub fn seen_at(mut self, now: OffsetDateTime) -> Self {
        self.status = self.status_at(now);
        self
    }
}

/// The `object` field: always `"authorization"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
pub enum AuthorizationObject {
    #[default]
    #[serde(rename = "authorization")]
    Authorization,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::CardBrand;
    use crate::payment::Funding;
    use time::macros::datetime;

    #[test]
    fn an_uncaptured_hold_expires() {
        let created = datetime!(2026-11-21 12:00 UTC);
        let usd = |m| Money::new(m, Currency::Usd);
        let auth = Authorization {
            processor: crate::processor::ProcessorRef {
                connector: crate::processor::Connector::Sandbox,
                reference: None,
            },
            id: AuthorizationId::generate(),
            partner_id: PartnerId::generate(),
            object: AuthorizationObject::Authorization,
            status: AuthorizationStatus::Authorized,
            amount: usd(1000),
            currency: Currency::Usd,
            captured_amount: usd(0),
            customer_id: None,
            payment_method_id: None,
            payment_id: None,
            payment_method: MaskedMethod::Card {
                brand: CardBrand::Visa,
                funding: Funding::Credit,
                last4: "4242".into(),
                exp_month: 12,
                exp_year: 2030,
            },
            invoice: None,
            dynamic_descriptor: None,
            failure_code: None,
            failure_message: None,
            created_at: created,
            expires_at: created + AUTHORIZATION_VALIDITY,
            captured_at: None,
            reversed_at: None,
        };
        assert_eq!(auth.status_at(created), AuthorizationStatus::Authorized);
        let later = created + AUTHORIZATION_VALIDITY;
        assert_eq!(auth.status_at(later), AuthorizationStatus::Expired);
        let captured = Authorization {
            status: AuthorizationStatus::Captured,
            ..auth
        };
        assert_eq!(captured.status_at(later), AuthorizationStatus::Captured);
        let json = serde_json::to_value(captured.seen_at(later)).unwrap();
        assert_eq!(json["object"], "authorization");
        assert_eq!(json["status"], "captured");
        assert_eq!(json["amount"], "10.00");
    }

    #[test]
    fn statuses_round_trip() {
        for st in AuthorizationStatus::ALL {
            assert_eq!(AuthorizationStatus::parse_str(st.as_str()), Some(st));
        }
    }
}
