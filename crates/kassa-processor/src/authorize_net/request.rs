//! The bodies Kassa posts to Authorize.net. The API takes JSON but validates it against its XML
//! schema, so every struct keeps its fields in the schema's element order (serde serializes in
//! declaration order) — a reordered field is a request Authorize.net refuses. Secrets and
//! account numbers are redacted from every `Debug`.

use std::fmt;

use kassa_core::money::{format_minor, Money};
use kassa_core::payment::MaskedMethod;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::{DebitMandate, Instrument, ProcessorError};

/// Duplicate window sent with every new transaction, in seconds (Authorize.net's maximum, 8 h).
/// Authorize.net has no idempotency key; within the window it refuses a transaction with the
/// same card or account, amount and invoice number (reason 11), and since the invoice number is
/// derived from Kassa's id a resent attempt is refused instead of charged twice.
pub(crate) const DUPLICATE_WINDOW_SECONDS: u32 = 28_800;

/// An amount in major units with two decimals ("12.34"), from minor units without floats.
pub(crate) fn amount(money: Money) -> String {
    format_minor(money.minor())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MerchantAuthentication<'a> {
    pub name: &'a str,
    pub transaction_key: &'a str,
}

impl fmt::Debug for MerchantAuthentication<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MerchantAuthentication")
            .field("name", &self.name)
            .field("transaction_key", &"[redacted]")
            .finish()
    }
}

/// `{"<name>": {"merchantAuthentication": …, "refId": …, <body>}}`: every API call's shape.
#[derive(Debug)]
pub(crate) struct Envelope<'a, T> {
    pub name: &'static str,
    pub auth: MerchantAuthentication<'a>,
    pub ref_id: Option<String>,
    pub body: T,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Inner<'e, 'a, T> {
    merchant_authentication: &'e MerchantAuthentication<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ref_id: &'e Option<String>,
    #[serde(flatten)]
    body: &'e T,
}

impl<T: Serialize> Serialize for Envelope<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(
            self.name,
            &Inner {
                merchant_authentication: &self.auth,
                ref_id: &self.ref_id,
                body: &self.body,
            },
        )?;
        map.end()
    }
}

/// The body of `createTransactionRequest`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TransactionBody<'a> {
    pub transaction_request: TransactionRequest<'a>,
}

/// `transactionRequestType`, only the elements Kassa sends, in schema order.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TransactionRequest<'a> {
    pub transaction_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentData<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_trans_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bill_to: Option<BillTo>,
    #[serde(rename = "customerIP", skip_serializing_if = "Option::is_none")]
    pub customer_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_settings: Option<TransactionSettings>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum PaymentData<'a> {
    CreditCard(CreditCard<'a>),
    BankAccount(BankAccount<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreditCard<'a> {
    /// The full number for a charge; the last four digits for a refund.
    pub card_number: &'a str,
    /// "YYYY-MM"; "XXXX" for a refund.
    pub expiration_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_code: Option<&'a str>,
}

impl fmt::Debug for CreditCard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreditCard")
            .field("card_number", &"[redacted]")
            .field("expiration_date", &self.expiration_date)
            .field("card_code", &self.card_code.map(|_| "[redacted]"))
            .finish()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BankAccount<'a> {
    pub account_type: &'static str,
    pub routing_number: &'a str,
    /// The full number for a debit; the last four digits for a refund.
    pub account_number: &'a str,
    pub name_on_account: String,
    pub echeck_type: &'static str,
}

impl fmt::Debug for BankAccount<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BankAccount")
            .field("account_type", &self.account_type)
            .field("routing_number", &self.routing_number)
            .field("account_number", &"[redacted]")
            .field("name_on_account", &self.name_on_account)
            .field("echeck_type", &self.echeck_type)
            .finish()
    }
}

/// Authorize.net's limit for `nameOnAccount`.
pub(crate) const NAME_ON_ACCOUNT_LEN: usize = 22;

/// The name cut to Authorize.net's 22 characters (banks match names loosely; a refused request
/// for a long name would help no one).
pub(crate) fn name_on_account(name: &str) -> String {
    name.trim().chars().take(NAME_ON_ACCOUNT_LEN).collect()
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Order {
    /// [`super::short_id`] of the Kassa id.
    pub invoice_number: String,
    /// The full Kassa id, so a transaction read back names it exactly.
    pub description: String,
}

impl Order {
    pub fn for_id(kassa_id: &str) -> Self {
        Self {
            invoice_number: super::short_id(kassa_id),
            description: kassa_id.to_string(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BillTo {
    pub zip: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct TransactionSettings {
    setting: Setting,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Setting {
    setting_name: &'static str,
    setting_value: String,
}

impl TransactionSettings {
    pub fn duplicate_window() -> Self {
        Self {
            setting: Setting {
                setting_name: "duplicateWindow",
                setting_value: DUPLICATE_WINDOW_SECONDS.to_string(),
            },
        }
    }
}

/// The body of `getTransactionDetailsRequest`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DetailsBody {
    pub trans_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Sorting {
    pub order_by: &'static str,
    pub order_descending: &'static str,
}

impl Sorting {
    /// Newest first: the transaction Kassa looks for was usually made minutes ago.
    pub fn newest_first() -> Self {
        Self {
            order_by: "submitTimeUTC",
            order_descending: "true",
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Paging {
    pub limit: String,
    /// 1-based page number.
    pub offset: String,
}

/// The body of `getUnsettledTransactionListRequest`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UnsettledBody {
    pub sorting: Sorting,
    pub paging: Paging,
}

/// The body of `getSettledBatchListRequest`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchListBody {
    pub include_statistics: &'static str,
    pub first_settlement_date: String,
    pub last_settlement_date: String,
}

/// The body of `getTransactionListRequest`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchTransactionsBody {
    pub batch_id: String,
    pub sorting: Sorting,
    pub paging: Paging,
}

/// Why Kassa will not send a charge or an authorization through Authorize.net.
pub(crate) const GOOGLE_PAY_UNSUPPORTED: &str =
    "Google Pay through Authorize.net is not supported by this connector";

/// An `authCaptureTransaction` or `authOnlyTransaction` for `kassa_id`.
pub(crate) fn payment_transaction<'a>(
    transaction_type: &'static str,
    kassa_id: &str,
    money: Money,
    instrument: &Instrument<'a>,
    holder_name: Option<&str>,
    mandate: Option<DebitMandate<'_>>,
) -> Result<TransactionRequest<'a>, ProcessorError> {
    let mut request = TransactionRequest {
        transaction_type,
        amount: Some(amount(money)),
        order: Some(Order::for_id(kassa_id)),
        transaction_settings: Some(TransactionSettings::duplicate_window()),
        ..TransactionRequest::default()
    };
    match instrument {
        Instrument::Card {
            number,
            expiry,
            cvc,
            postal_code,
        } => {
            request.payment = Some(PaymentData::CreditCard(CreditCard {
                card_number: number.expose(),
                expiration_date: format!("{:04}-{:02}", expiry.year, expiry.month),
                card_code: cvc.map(|c| c.expose()),
            }));
            request.bill_to = postal_code
                .map(str::trim)
                .filter(|z| !z.is_empty())
                .map(|z| BillTo {
                    zip: z.chars().take(ZIP_LEN).collect(),
                });
        }
        Instrument::Ach {
            routing_number,
            account_number,
            account_type,
        } => {
            let name = holder_name
                .map(name_on_account)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    ProcessorError::NotSent(
                        "an eCheck debit through Authorize.net needs the account holder's name"
                            .into(),
                    )
                })?;
            request.payment = Some(PaymentData::BankAccount(BankAccount {
                account_type: account_type.as_str(),
                routing_number: routing_number.as_str(),
                account_number: account_number.expose(),
                name_on_account: name,
                // A mandate is taken on Kassa's pay page: an internet-initiated (WEB) entry. API
                // debits come with the partner's own, usually written, authorization (PPD).
                echeck_type: if mandate.is_some() { "WEB" } else { "PPD" },
            }));
            request.customer_ip = mandate.and_then(|m| m.ip).and_then(customer_ip);
        }
        Instrument::GooglePay { .. } => {
            return Err(ProcessorError::NotSent(GOOGLE_PAY_UNSUPPORTED.into()))
        }
    }
    Ok(request)
}

/// Authorize.net's limit for `billTo.zip`.
const ZIP_LEN: usize = 20;

/// `customerIP` holds at most 15 characters: an IPv4 address. Anything else is left out rather
/// than have the debit refused for it.
fn customer_ip(ip: &str) -> Option<String> {
    ip.trim()
        .parse::<std::net::Ipv4Addr>()
        .ok()
        .map(|ip| ip.to_string())
}

/// A `refundTransaction` of `money` against the transaction `trans_id`. Authorize.net wants the
/// last four digits of the card (with a masked expiry) or the bank account back. The error is
/// why Kassa cannot ask (a refusal, not a failure).
pub(crate) fn refund_transaction<'a>(
    refund_id: &str,
    money: Money,
    trans_id: &str,
    method: &'a MaskedMethod,
    holder_name: Option<&str>,
) -> Result<TransactionRequest<'a>, String> {
    let payment = match method {
        MaskedMethod::Card { last4, .. } => PaymentData::CreditCard(CreditCard {
            card_number: last4,
            expiration_date: "XXXX".into(),
            card_code: None,
        }),
        MaskedMethod::Ach {
            account_type,
            routing_number,
            last4,
        } => PaymentData::BankAccount(BankAccount {
            account_type: account_type.as_str(),
            routing_number,
            account_number: last4,
            name_on_account: holder_name
                .map(name_on_account)
                .filter(|n| !n.is_empty())
                .ok_or("Authorize.net needs the account holder's name to refund an eCheck")?,
            // WEB entries are debits only; a credit back to a consumer account is PPD.
            echeck_type: "PPD",
        }),
        MaskedMethod::GooglePay { .. } => return Err(GOOGLE_PAY_UNSUPPORTED.into()),
    };
    Ok(TransactionRequest {
        transaction_type: "refundTransaction",
        amount: Some(amount(money)),
        payment: Some(payment),
        ref_trans_id: Some(trans_id.to_string()),
        order: Some(Order::for_id(refund_id)),
        transaction_settings: Some(TransactionSettings::duplicate_window()),
        ..TransactionRequest::default()
    })
}

/// A `priorAuthCaptureTransaction` of `money` from the hold `trans_id`.
pub(crate) fn capture_transaction(money: Money, trans_id: &str) -> TransactionRequest<'static> {
    TransactionRequest {
        transaction_type: "priorAuthCaptureTransaction",
        amount: Some(amount(money)),
        ref_trans_id: Some(trans_id.to_string()),
        ..TransactionRequest::default()
    }
}

/// A `voidTransaction` of `trans_id`.
pub(crate) fn void_transaction(trans_id: &str) -> TransactionRequest<'static> {
    TransactionRequest {
        transaction_type: "voidTransaction",
        ref_trans_id: Some(trans_id.to_string()),
        ..TransactionRequest::default()
    }
}
