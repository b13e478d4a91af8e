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

#[cfg(test)]
mod tests {
    use super::*;
    use kassa_core::ach::{AccountNumber, AccountType, RoutingNumber};
    use kassa_core::card::{CardBrand, CardNumber, Cvc, Expiry};
    use kassa_core::money::Currency;
    use kassa_core::payment::Funding;

    const PAY: &str = "pay_0123456789ABCDEFGHIJabcd";
    const REFUND: &str = "re_zyxwvutsrqponmlkjihgfedc";

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::Usd)
    }

    fn envelope<'a>(
        transaction_request: TransactionRequest<'a>,
    ) -> Envelope<'a, TransactionBody<'a>> {
        Envelope {
            name: "createTransactionRequest",
            auth: MerchantAuthentication {
                name: "login-1",
                transaction_key: "secret-transaction-key",
            },
            ref_id: Some(super::super::short_id(PAY)),
            body: TransactionBody {
                transaction_request,
            },
        }
    }

    #[test]
    fn amounts_are_major_units_with_two_decimals() {
        assert_eq!(amount(usd(1234)), "12.34");
        assert_eq!(amount(usd(5)), "0.05");
        assert_eq!(amount(usd(100_000)), "1000.00");
    }

    #[test]
    fn a_card_charge_is_written_in_schema_order_and_debugs_without_secrets() {
        let number = CardNumber::parse("4111111111111111").unwrap();
        let cvc = Cvc::parse("987", Some(CardBrand::Visa)).unwrap();
        let instrument = Instrument::Card {
            number: &number,
            expiry: Expiry {
                month: 3,
                year: 2031,
            },
            cvc: Some(&cvc),
            postal_code: Some(" 94105 "),
        };
        let tx = payment_transaction(
            "authCaptureTransaction",
            PAY,
            usd(1234),
            &instrument,
            None,
            None,
        )
        .unwrap();
        let envelope = envelope(tx);
        assert_eq!(
            serde_json::to_string(&envelope).unwrap(),
            concat!(
                r#"{"createTransactionRequest":{"merchantAuthentication":{"name":"login-1","transactionKey":"secret-transaction-key"},"#,
                r#""refId":"p0123456789ABCDEFGHI","transactionRequest":{"transactionType":"authCaptureTransaction","amount":"12.34","#,
                r#""payment":{"creditCard":{"cardNumber":"4111111111111111","expirationDate":"2031-03","cardCode":"987"}},"#,
                r#""order":{"invoiceNumber":"p0123456789ABCDEFGHI","description":"pay_0123456789ABCDEFGHIJabcd"},"#,
                r#""billTo":{"zip":"94105"},"#,
                r#""transactionSettings":{"setting":{"settingName":"duplicateWindow","settingValue":"28800"}}}}}"#
            )
        );
        let debug = format!("{envelope:?}");
        assert!(!debug.contains("4111111111111111"), "{debug}");
        assert!(!debug.contains("987"), "{debug}");
        assert!(!debug.contains("secret-transaction-key"), "{debug}");
    }

    #[test]
    fn an_echeck_taken_on_the_pay_page_is_web_with_the_payers_ip() {
        let routing = RoutingNumber::parse("110000000").unwrap();
        let account = AccountNumber::parse("000123456789").unwrap();
        let instrument = Instrument::Ach {
            routing_number: &routing,
            account_number: &account,
            account_type: AccountType::Savings,
        };
        let mandate = DebitMandate {
            accepted_at: time::OffsetDateTime::UNIX_EPOCH,
            ip: Some("203.0.113.9"),
            user_agent: None,
        };
        let name = Some("Bartholomew Fitzgerald-Smythe");
        let web = payment_transaction(
            "authCaptureTransaction",
            PAY,
            usd(500),
            &instrument,
            name,
            Some(mandate),
        )
        .unwrap();
        let json = serde_json::to_value(&web).unwrap();
        assert_eq!(json["payment"]["bankAccount"]["echeckType"], "WEB");
        assert_eq!(
            json["payment"]["bankAccount"]["nameOnAccount"],
            "Bartholomew Fitzgerald"
        );
        // serde_json::Value sorts keys; the order is checked on the struct's own output.
        let text = serde_json::to_string(&web).unwrap();
        let order: Vec<usize> = [
            "accountType",
            "routingNumber",
            "accountNumber",
            "nameOnAccount",
            "echeckType",
        ]
        .iter()
        .map(|k| text.find(&format!("\"{k}\"")).unwrap())
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        let top: Vec<usize> = [
            "transactionType",
            "amount",
            "payment",
            "order",
            "customerIP",
            "transactionSettings",
        ]
        .iter()
        .map(|k| text.find(&format!("\"{k}\"")).unwrap())
        .collect();
        assert!(top.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(json["customerIP"], "203.0.113.9");
        assert!(!format!("{web:?}").contains("000123456789"));

        let ppd = payment_transaction(
            "authCaptureTransaction",
            PAY,
            usd(500),
            &instrument,
            Some("Pat"),
            None,
        )
        .unwrap();
        let json = serde_json::to_value(&ppd).unwrap();
        assert_eq!(json["payment"]["bankAccount"]["echeckType"], "PPD");
        assert!(json.get("customerIP").is_none());

        let v6 = DebitMandate {
            ip: Some("2001:db8::1"),
            ..mandate
        };
        let json = serde_json::to_value(
            payment_transaction(
                "authCaptureTransaction",
                PAY,
                usd(500),
                &instrument,
                Some("Pat"),
                Some(v6),
            )
            .unwrap(),
        )
        .unwrap();
        assert!(json.get("customerIP").is_none());

        match payment_transaction(
            "authCaptureTransaction",
            PAY,
            usd(500),
            &instrument,
            None,
            None,
        ) {
            Err(ProcessorError::NotSent(reason)) => assert!(reason.contains("name"), "{reason}"),
            other => panic!("expected NotSent, got {other:?}"),
        }
    }

    #[test]
    fn google_pay_is_not_sent() {
        let instrument = Instrument::GooglePay {
            token: Some("{}"),
            brand: None,
        };
        match payment_transaction(
            "authOnlyTransaction",
            PAY,
            usd(500),
            &instrument,
            None,
            None,
        ) {
            Err(ProcessorError::NotSent(reason)) => assert_eq!(reason, GOOGLE_PAY_UNSUPPORTED),
            other => panic!("expected NotSent, got {other:?}"),
        }
    }

    #[test]
    fn refunds_name_the_last_four_digits_and_the_refund() {
        let card = MaskedMethod::Card {
            brand: CardBrand::Visa,
            funding: Funding::Unknown,
            last4: "1111".into(),
            exp_month: 3,
            exp_year: 2031,
        };
        let tx = refund_transaction(REFUND, usd(1000), "60001", &card, None).unwrap();
        assert_eq!(
            serde_json::to_string(&tx).unwrap(),
            concat!(
                r#"{"transactionType":"refundTransaction","amount":"10.00","#,
                r#""payment":{"creditCard":{"cardNumber":"1111","expirationDate":"XXXX"}},"#,
                r#""refTransId":"60001","#,
                r#""order":{"invoiceNumber":"rzyxwvutsrqponmlkjih","description":"re_zyxwvutsrqponmlkjihgfedc"},"#,
                r#""transactionSettings":{"setting":{"settingName":"duplicateWindow","settingValue":"28800"}}}"#
            )
        );
        let ach = MaskedMethod::Ach {
            account_type: AccountType::Checking,
            routing_number: "110000000".into(),
            last4: "6789".into(),
        };
        let tx = refund_transaction(REFUND, usd(1000), "60002", &ach, Some("Pat Payer")).unwrap();
        let text = serde_json::to_string(&tx).unwrap();
        assert!(
            text.contains(r#""bankAccount":{"accountType":"checking","routingNumber":"110000000","accountNumber":"6789","nameOnAccount":"Pat Payer","echeckType":"PPD"}"#),
            "{text}"
        );
        assert!(refund_transaction(REFUND, usd(1000), "60002", &ach, None).is_err());
        let gpay = MaskedMethod::GooglePay {
            brand: None,
            last4: None,
        };
        assert_eq!(
            refund_transaction(REFUND, usd(1000), "60003", &gpay, None).unwrap_err(),
            GOOGLE_PAY_UNSUPPORTED
        );
    }

    #[test]
    fn captures_and_voids_name_the_hold() {
        assert_eq!(
            serde_json::to_string(&capture_transaction(usd(4000), "70001")).unwrap(),
            r#"{"transactionType":"priorAuthCaptureTransaction","amount":"40.00","refTransId":"70001"}"#
        );
        assert_eq!(
            serde_json::to_string(&void_transaction("70001")).unwrap(),
            r#"{"transactionType":"voidTransaction","refTransId":"70001"}"#
        );
    }
}
