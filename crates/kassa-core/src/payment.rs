//! A payment: one attempt to move money, whether it succeeded or not.

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::ach::AccountType;
use crate::card::CardBrand;
use crate::descriptor::DynamicDescriptor;
use crate::id::{
    AuthorizationId, CustomerId, PartnerId, PaymentId, PaymentMethodId, PaymentRequestId,
};
use crate::invoice::Invoice;
use crate::money::{Currency, Money};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Submitted and not decided yet: an ACH debit before it clears, or a card attempt in flight.
    Pending,
    Completed,
    Failed,
    PartiallyRefunded,
    Refunded,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 5] = [
        Self::Pending,
        Self::Completed,
        Self::Failed,
        Self::PartiallyRefunded,
        Self::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Refunded => "refunded",
        }
    }

    pub fn parse_str(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentSource {
    Api,
    PaymentRequest,
}

impl PaymentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::PaymentRequest => "payment_request",
        }
    }

    pub fn parse_str(s: &str) -> Option<Self> {
        [Self::Api, Self::PaymentRequest]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Funding {
    Credit,
    Debit,
    Prepaid,
    Unknown,
}

impl Funding {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Credit => "credit",
            Self::Debit => "debit",
            Self::Prepaid => "prepaid",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse_str(s: &str) -> Option<Self> {
        [Self::Credit, Self::Debit, Self::Prepaid, Self::Unknown]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// What may be shown of the instrument that paid: never a full number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MaskedMethod {
    #[serde(rename_all = "camelCase")]
    Card {
        brand: CardBrand,
        funding: Funding,
        last4: String,
        exp_month: i32,
        exp_year: i32,
    },
    #[serde(rename_all = "camelCase")]
    Ach {
        account_type: AccountType,
        routing_number: String,
        last4: String,
    },
    #[serde(rename_all = "camelCase")]
    GooglePay {
        brand: Option<CardBrand>,
        last4: Option<String>,
    },
}

impl MaskedMethod {
    pub fn type_str(&self) -> &'static str {
        match self {
            Self::Card { .. } => "card",
            Self::Ach { .. } => "ach",
            Self::GooglePay { .. } => "google_pay",
        }
    }

    pub fn last4(&self) -> Option<&str> {
        match self {
            Self::Card { last4, .. } | Self::Ach { last4, .. } => Some(last4),
            Self::GooglePay { last4, .. } => last4.as_deref(),
        }
    }

    /// "Visa •••• 4242", "Checking •••• 6789" — for receipts and the dashboard.
    pub fn describe(&self) -> String {
        match self {
            Self::Card { brand, last4, .. } => format!("{} •••• {last4}", brand.display_name()),
            Self::Ach {
                account_type,
                last4,
                ..
            } => {
                let kind = match account_type {
                    AccountType::Checking => "Checking account",
                    AccountType::Savings => "Savings account",
                };
                format!("{kind} •••• {last4}")
            }
            Self::GooglePay { brand, last4 } => match (brand, last4) {
                (Some(b), Some(l)) => format!("Google Pay ({} •••• {l})", b.display_name()),
                _ => "Google Pay".to_string(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub id: PaymentId,
    #[serde(skip)]
    pub partner_id: PartnerId,
    #[schema(inline)]
    pub object: PaymentObject,
    pub status: PaymentStatus,
    pub amount: Money,
    pub currency: Currency,
    pub captured_amount: Money,
    pub refunded_amount: Money,
    pub customer_id: Option<CustomerId>,
    pub payment_method_id: Option<PaymentMethodId>,
    pub authorization_id: Option<AuthorizationId>,
    pub payment_request_id: Option<PaymentRequestId>,
    pub reference_id: Option<String>,
    pub source: PaymentSource,
    pub payment_method: MaskedMethod,
    pub invoice: Option<Invoice>,
    pub dynamic_descriptor: Option<DynamicDescriptor>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    /// Which processor took it, and its id there.
    pub processor: crate::processor::ProcessorRef,
    /// For a bank debit made on the pay page: the payer's authorization.
    pub ach_authorization: Option<crate::ach::AchAuthorization>,
    /// Who paid, as far as Kassa knows: `payerName` and `payerEmail`.
    #[serde(flatten)]
    pub payer: Payer,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::clock::rfc3339_option")]
    pub completed_at: Option<OffsetDateTime>,
}

/// Who paid: the name on the card or bank account, and the email the receipt goes to (the pay
/// form's, else the payment request's `payerEmail`; an API sale has none unless one is given).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, ToSchema)]
pub struct Payer {
    #[serde(rename = "payerName")]
    pub name: Option<String>,
    #[serde(rename = "payerEmail")]
    #[schema(value_type = Option<String>, format = "email")]
    pub email: Option<crate::email::Email>,
}

/// The `object` field: always `"payment"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
pub enum PaymentObject {
    #[default]
    #[serde(rename = "payment")]
    Payment,
}

/// Why a processor refused a payment; the `failureCode` of a failed payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeclineCode {
    CardDeclined,
    InsufficientFunds,
    ExpiredCard,
    IncorrectCvc,
    ProcessingError,
}

impl DeclineCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CardDeclined => "card_declined",
            Self::InsufficientFunds => "insufficient_funds",
            Self::ExpiredCard => "expired_card",
            Self::IncorrectCvc => "incorrect_cvc",
            Self::ProcessingError => "processing_error",
        }
    }

    /// Words a payer can act on; never anything internal.
    pub fn payer_message(self) -> &'static str {
        match self {
            Self::CardDeclined => {
                "Your card was declined. Please try another card or a bank account."
            }
            Self::InsufficientFunds => {
                "Your card has insufficient funds. Please try another card or a bank account."
            }
            Self::ExpiredCard => {
                "Your card has expired. Please check the expiry date or use another card."
            }
            Self::IncorrectCvc => {
                "The security code (CVC) is incorrect. Please check it and try again."
            }
            Self::ProcessingError => "We could not process your card just now. Please try again.",
        }
    }
}

/// An ACH return reason code such as `R01`: "R" and two digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AchReturnCode(String);

impl AchReturnCode {
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        (b.len() == 3 && b[0] == b'R' && b[1].is_ascii_digit() && b[2].is_ascii_digit())
            .then(|| Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn message(&self) -> String {
        let reason = match self.0.as_str() {
            "R01" => "insufficient funds",
            "R02" => "account closed",
            "R03" => "no account or unable to locate account",
            "R04" => "invalid account number",
            "R08" => "payment stopped",
            "R10" => "customer advises not authorized",
            "R16" => "account frozen",
            "R29" => "corporate customer advises not authorized",
            _ => "returned by the bank",
        };
        format!("ACH debit returned ({}): {reason}", self.0)
    }
}

/// How a submitted ACH debit ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AchResolution {
    Clear,
    Return(AchReturnCode),
}

/// A card payment of `amount` USD cents with `status`, for tests elsewhere in the crate; captured
/// in full unless pending or failed.
#[cfg(test)]
pub(crate) fn test_payment(status: PaymentStatus, amount: i64) -> Payment {
    let usd = |minor| Money::new(minor, Currency::Usd);
    let settled = !matches!(status, PaymentStatus::Pending | PaymentStatus::Failed);
    Payment {
        processor: crate::processor::ProcessorRef {
            connector: crate::processor::Connector::Sandbox,
            reference: None,
        },
        ach_authorization: None,
        payer: Payer::default(),
        id: PaymentId::parse("pay_0123456789ABCDEFGHIJabcd").unwrap(),
        partner_id: PartnerId::parse("par_0123456789ABCDEFGHIJabcd").unwrap(),
        object: PaymentObject::Payment,
        status,
        amount: usd(amount),
        currency: Currency::Usd,
        captured_amount: usd(if settled { amount } else { 0 }),
        refunded_amount: usd(0),
        customer_id: None,
        payment_method_id: None,
        authorization_id: None,
        payment_request_id: None,
        reference_id: None,
        source: PaymentSource::Api,
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
        created_at: time::macros::datetime!(2026-11-21 12:00 UTC),
        completed_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_card_serializes_with_type_tag() {
        let m = MaskedMethod::Card {
            brand: CardBrand::Visa,
            funding: Funding::Credit,
            last4: "4242".into(),
            exp_month: 12,
            exp_year: 2030,
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "card", "brand": "visa", "funding": "credit",
                               "last4": "4242", "expMonth": 12, "expYear": 2030})
        );
        assert_eq!(m.describe(), "Visa •••• 4242");
    }

    #[test]
    fn masked_ach_serializes_like_the_contract() {
        let m = MaskedMethod::Ach {
            account_type: AccountType::Checking,
            routing_number: "110000000".into(),
            last4: "6789".into(),
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "ach", "accountType": "checking",
                               "routingNumber": "110000000", "last4": "6789"})
        );
    }

    #[test]
    fn return_codes_are_r_and_two_digits() {
        assert!(AchReturnCode::parse("R01").is_some());
        assert!(AchReturnCode::parse("R1").is_none());
        assert!(AchReturnCode::parse("r01").is_none());
        assert!(AchReturnCode::parse("R0１").is_none());
        assert!(AchReturnCode::parse("R010").is_none());
    }

    #[test]
    fn statuses_round_trip() {
        for st in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse_str(st.as_str()), Some(st));
        }
    }
}
