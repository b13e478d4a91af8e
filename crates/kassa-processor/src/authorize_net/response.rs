//! Authorize.net's answers as serde types, read leniently: the JSON is converted from XML, so a
//! list may arrive as an array, a single object or an object wrapping either, and codes may be
//! strings or numbers. Amounts are kept as their raw JSON text so they never pass through a float.

use kassa_core::money::{amount_text, parse_amount};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::Value;

/// A list in any of the shapes the XML-to-JSON conversion produces.
fn list<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    fn collect<T: DeserializeOwned>(value: Value, out: &mut Vec<T>) -> Result<(), String> {
        match value {
            Value::Null => Ok(()),
            Value::Array(items) => items.into_iter().try_for_each(|item| collect(item, out)),
            Value::Object(map)
                if map.len() == 1 && map.values().all(|v| v.is_array() || v.is_object()) =>
            {
                map.into_iter().try_for_each(|(_, v)| collect(v, out))
            }
            other => {
                out.push(serde_json::from_value(other).map_err(|e| e.to_string())?);
                Ok(())
            }
        }
    }
    let mut out = Vec::new();
    collect(Value::deserialize(d)?, &mut out).map_err(serde::de::Error::custom)?;
    Ok(out)
}

/// A code sent as `"1"` or `1`.
fn code<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// The top-level `messages` every answer carries.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Messages {
    #[serde(default)]
    pub result_code: String,
    #[serde(default, deserialize_with = "list")]
    pub message: Vec<Message>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Message {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub text: String,
}

impl Messages {
    pub fn is_ok(&self) -> bool {
        self.result_code.eq_ignore_ascii_case("Ok")
    }

    pub fn first_code(&self) -> &str {
        self.message.first().map_or("", |m| m.code.as_str())
    }

    /// "E00007: User authentication failed…", for error strings (never carries card data).
    pub fn describe(&self) -> String {
        match self.message.first() {
            Some(m) => format!("{}: {}", m.code, m.text),
            None => format!("result {}", self.result_code),
        }
    }
}

/// Any answer, read for its `messages` only.
#[cfg(test)]
#[derive(Debug, Deserialize)]
pub(crate) struct Bare {
    pub messages: Messages,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateTransactionResponse {
    pub transaction_response: Option<TransactionResponse>,
    pub messages: Messages,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TransactionResponse {
    #[serde(default, deserialize_with = "code")]
    pub response_code: Option<String>,
    #[serde(default)]
    pub trans_id: Option<String>,
    #[serde(default, deserialize_with = "list")]
    pub messages: Vec<TransactionMessage>,
    #[serde(default, deserialize_with = "list")]
    pub errors: Vec<TransactionError>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TransactionMessage {
    #[serde(default, deserialize_with = "code")]
    pub code: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TransactionError {
    #[serde(default, deserialize_with = "code")]
    pub error_code: Option<String>,
    #[serde(default)]
    pub error_text: Option<String>,
}

impl TransactionResponse {
    /// The response reason code: the first error's, else the first message's.
    pub fn reason_code(&self) -> Option<u32> {
        self.errors
            .iter()
            .filter_map(|e| e.error_code.as_deref())
            .chain(self.messages.iter().filter_map(|m| m.code.as_deref()))
            .find_map(|c| c.trim().parse().ok())
    }

    /// Authorize.net's own words for the reason, for error strings and refusals.
    pub fn reason_text(&self) -> String {
        self.errors
            .iter()
            .filter_map(|e| e.error_text.clone())
            .chain(self.messages.iter().filter_map(|m| m.description.clone()))
            .next()
            .unwrap_or_else(|| "no reason given".to_string())
    }

    /// The transaction id, unless it is Authorize.net's "0" for "none made".
    pub fn reference(&self) -> Option<String> {
        self.trans_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty() && *id != "0")
            .map(str::to_string)
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct TransactionDetailsResponse {
    pub transaction: Option<TransactionDetails>,
    pub messages: Messages,
}

/// A transaction as the reporting API reads it back.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TransactionDetails {
    #[serde(default)]
    pub trans_id: String,
    #[serde(default)]
    pub transaction_status: Option<String>,
    #[serde(default, deserialize_with = "code")]
    pub response_reason_code: Option<String>,
    #[serde(default)]
    pub order: Option<OrderRead>,
    #[serde(default)]
    pub auth_amount: Option<Box<RawValue>>,
    #[serde(default)]
    pub settle_amount: Option<Box<RawValue>>,
    #[serde(default)]
    pub payment: Option<PaymentRead>,
    #[serde(default, deserialize_with = "list")]
    pub returned_items: Vec<ReturnedItem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderRead {
    #[serde(default)]
    pub invoice_number: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PaymentRead {
    #[serde(default)]
    pub bank_account: Option<BankAccountRead>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BankAccountRead {
    #[serde(default)]
    pub name_on_account: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReturnedItem {
    #[serde(default)]
    pub code: Option<String>,
}

impl TransactionDetails {
    pub fn status(&self) -> &str {
        self.transaction_status.as_deref().unwrap_or("")
    }

    pub fn is_echeck(&self) -> bool {
        self.payment
            .as_ref()
            .is_some_and(|p| p.bank_account.is_some())
    }

    pub fn reason_code(&self) -> Option<u32> {
        self.response_reason_code.as_deref()?.trim().parse().ok()
    }

    pub fn kassa_id(&self) -> Option<String> {
        let order = self.order.as_ref()?;
        super::short_id::kassa_id_of(
            order.invoice_number.as_deref(),
            order.description.as_deref(),
        )
    }

    /// The settled (for a capture: captured) amount in minor units.
    pub fn settle_minor(&self) -> Option<i64> {
        minor(self.settle_amount.as_deref()?)
    }

    pub fn auth_minor(&self) -> Option<i64> {
        minor(self.auth_amount.as_deref()?)
    }
}

/// "12.34" or 12.34 (or 12.3) in minor units, from the text itself.
fn minor(raw: &RawValue) -> Option<i64> {
    parse_amount(&amount_text(raw)?).ok()
}

/// One line of a transaction list (unsettled, or one settled batch).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TransactionSummary {
    #[serde(default)]
    pub trans_id: String,
    #[serde(default)]
    pub invoice_number: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TransactionListResponse {
    #[serde(default, deserialize_with = "list")]
    pub transactions: Vec<TransactionSummary>,
    pub messages: Messages,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchListResponse {
    #[serde(default, deserialize_with = "list")]
    pub batch_list: Vec<Batch>,
    pub messages: Messages,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Batch {
    #[serde(default, deserialize_with = "code")]
    pub batch_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_arrive_in_every_shape() {
        for body in [
            r#"{"messages":{"resultCode":"Ok","message":[{"code":"I00001","text":"Successful."}]}}"#,
            r#"{"messages":{"resultCode":"Ok","message":{"code":"I00001","text":"Successful."}}}"#,
        ] {
            let bare: Bare = serde_json::from_str(body).unwrap();
            assert!(bare.messages.is_ok());
            assert_eq!(bare.messages.first_code(), "I00001");
        }
        let wrapped = r#"{"transactions":{"transaction":[{"transId":"1","invoiceNumber":"a"},{"transId":"2"}]},
            "messages":{"resultCode":"Ok","message":[]}}"#;
        let list: TransactionListResponse = serde_json::from_str(wrapped).unwrap();
        assert_eq!(list.transactions.len(), 2);
        assert_eq!(list.transactions[0].invoice_number.as_deref(), Some("a"));
        let none = r#"{"messages":{"resultCode":"Ok","message":[{"code":"I00004","text":"No records found."}]}}"#;
        let list: TransactionListResponse = serde_json::from_str(none).unwrap();
        assert!(list.transactions.is_empty());
    }

    #[test]
    fn amounts_and_codes_are_read_exactly() {
        let body = r#"{"transaction":{"transId":"60","transactionStatus":"settledSuccessfully",
            "responseReasonCode":1,"authAmount":12.3,"settleAmount":"0.10",
            "returnedItems":{"returnedItem":{"code":"R01"}}},
            "messages":{"resultCode":"Ok","message":[]}}"#;
        let details: TransactionDetailsResponse = serde_json::from_str(body).unwrap();
        let t = details.transaction.unwrap();
        assert_eq!(t.auth_minor(), Some(1230));
        assert_eq!(t.settle_minor(), Some(10));
        assert_eq!(t.reason_code(), Some(1));
        assert_eq!(t.returned_items[0].code.as_deref(), Some("R01"));
        assert!(!t.is_echeck());
    }

    #[test]
    fn a_zero_transaction_id_is_no_reference() {
        let tr: TransactionResponse =
            serde_json::from_str(r#"{"responseCode":"3","transId":"0","errors":[{"errorCode":"6","errorText":"The credit card number is invalid."}]}"#)
                .unwrap();
        assert_eq!(tr.reference(), None);
        assert_eq!(tr.reason_code(), Some(6));
        assert_eq!(tr.reason_text(), "The credit card number is invalid.");
    }
}
