//! The parts of Stripe's objects Kassa reads. Every field but an object's id and status is
//! optional or defaulted, so a field Stripe adds, drops or leaves unexpanded never makes an
//! otherwise readable answer unreadable.

use std::collections::HashMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    pub status: String,
    /// Absent from some stand-ins (localstripe); zero then.
    #[serde(default)]
    pub amount_received: i64,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub payment_method: Option<Expandable<PaymentMethod>>,
    #[serde(default)]
    pub payment_method_types: Vec<String>,
    #[serde(default)]
    pub last_payment_error: Option<ApiError>,
}

impl PaymentIntent {
    pub fn kassa_id(&self) -> Option<&str> {
        self.metadata.get("kassa_id").map(String::as_str)
    }

    /// The payment that captured this hold, once one did.
    pub fn kassa_capture_id(&self) -> Option<&str> {
        self.metadata.get("kassa_capture_id").map(String::as_str)
    }

    /// Whether this is a recovery fence (see the module documentation of `stripe`), not a
    /// payment.
    pub fn is_fence(&self) -> bool {
        self.metadata.get("kassa_fence").map(String::as_str) == Some("true")
    }

    /// The payment method, when Stripe sent it whole (`expand[]=payment_method`).
    pub fn expanded_method(&self) -> Option<&PaymentMethod> {
        match &self.payment_method {
            Some(Expandable::Object(method)) => Some(method),
            _ => None,
        }
    }

    /// Whether this is a bank debit, from whatever Stripe told us about its method.
    pub fn is_bank_debit(&self) -> bool {
        let named = self
            .expanded_method()
            .or_else(|| {
                self.last_payment_error
                    .as_ref()
                    .and_then(|e| e.payment_method.as_ref())
            })
            .map(|m| m.kind == "us_bank_account");
        named.unwrap_or_else(|| {
            !self.payment_method_types.is_empty()
                && self
                    .payment_method_types
                    .iter()
                    .all(|t| t == "us_bank_account")
        })
    }
}

/// A reference Stripe sends whole when asked to expand it, and otherwise as an id (or an
/// object Kassa cannot read), which Kassa has no use for.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Expandable<T> {
    Object(T),
    Unexpanded(serde::de::IgnoredAny),
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentMethod {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub card: Option<CardDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CardDetails {
    #[serde(default)]
    pub funding: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Refund {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub failure_reason: Option<String>,
}

impl Refund {
    pub fn kassa_id(&self) -> Option<&str> {
        self.metadata.get("kassa_id").map(String::as_str)
    }
}

/// A list or search result page.
#[derive(Debug, Clone, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
}

/// A webhook event; its object is read according to its type.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

/// The body of every non-2xx answer.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorBody {
    pub error: ApiError,
}

/// Stripe's error object, also found as a PaymentIntent's `last_payment_error`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApiError {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub param: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<IntentRef>,
    #[serde(default)]
    pub payment_method: Option<PaymentMethod>,
}

impl ApiError {
    /// Type, code and parameter: what may be logged or put in an error string. Stripe's message
    /// is left out, as it is free text about the payer's instrument.
    pub fn summary(&self) -> String {
        let mut parts = vec![self.kind.as_deref().unwrap_or("unknown_error").to_string()];
        if let Some(code) = &self.code {
            parts.push(format!("code {code}"));
        }
        if let Some(code) = &self.decline_code {
            parts.push(format!("decline_code {code}"));
        }
        if let Some(param) = &self.param {
            parts.push(format!("param {param}"));
        }
        parts.join(", ")
    }
}

/// The PaymentIntent an error is about; only its id is read.
#[derive(Debug, Clone, Deserialize)]
pub struct IntentRef {
    pub id: String,
}
