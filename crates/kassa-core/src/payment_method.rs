//! Payment methods: the `paymentMethod` of a sale or authorization, and the stored (tokenized)
//! method it becomes. Only masked details ever leave the vault.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::ach::{AccountNumber, AccountType, RoutingNumber};
use crate::address::{BillingAddress, BillingAddressInput};
use crate::card::{CardBrand, CardNumber, Cvc, Expiry};
use crate::error::FieldErrors;
use crate::id::{CustomerId, PartnerId, PaymentMethodId};
use crate::payment::MaskedMethod;
use crate::secret::Secret;
use crate::text::{self, field_path};

pub const BILLING_NAME_MAX: usize = 100;
pub const REF_ID_MAX: usize = 100;
/// Google Pay's payment data is a few kilobytes; anything far larger is not from Google Pay.
pub const GOOGLE_PAY_DATA_MAX: usize = 64 * 1024;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(
    description = "A new payment method: billing names and exactly one of `creditCard`, \
    `ach` or `googlePay`."
)]
pub struct PaymentMethodInput {
    #[schema(required = true, nullable = false, max_length = 100)]
    pub billing_first_name: Option<String>,
    #[schema(required = true, nullable = false, max_length = 100)]
    pub billing_last_name: Option<String>,
    pub billing_address: Option<BillingAddressInput>,
    pub credit_card: Option<CreditCardInput>,
    pub ach: Option<AchInput>,
    pub google_pay: Option<GooglePayInput>,
    /// Your reference for the payment method.
    #[schema(max_length = 100)]
    pub merchant_payment_method_ref_id: Option<String>,
}

// Debug is written by hand: the raw fields are card and bank secrets.
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreditCardInput {
    /// The card number (digits; spaces and dashes allowed).
    #[schema(required = true, nullable = false, examples("4242424242424242"))]
    pub payment_account_number: Option<String>,
    /// `MMYY`, `MMYYYY`, `MM/YY` or `MM/YYYY`.
    #[schema(required = true, nullable = false, examples("12/30"))]
    pub expiration_date: Option<String>,
    /// The CVC: 3 or 4 digits. Never stored.
    pub security_code: Option<String>,
}

// Debug is written by hand: the raw fields are card and bank secrets.
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AchInput {
    /// The 9-digit ABA routing number.
    #[schema(required = true, nullable = false, examples("110000000"))]
    pub routing_number: Option<String>,
    /// 4 to 17 digits.
    #[schema(required = true, nullable = false, examples("000123456789"))]
    pub account_number: Option<String>,
    /// `checking` or `savings`, in any letter case.
    #[schema(required = true, nullable = false, examples("checking"))]
    pub account_type: Option<String>,
}

// Debug is written by hand: the raw fields are card and bank secrets.
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GooglePayInput {
    /// The payment data Google Pay returned, as a string of serialized JSON.
    // Taken as any JSON value so that a wrong type is reported with the other field errors.
    #[schema(required = true, nullable = false, value_type = String)]
    pub google_pay_payment_data_response: Option<serde_json::Value>,
}

/// `Some(***)` or `None`: whether a secret field was sent, never its value.
fn given<T>(v: &Option<T>) -> &'static str {
    if v.is_some() {
        "Some(***)"
    } else {
        "None"
    }
}

impl std::fmt::Debug for CreditCardInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreditCardInput")
            .field(
                "payment_account_number",
                &given(&self.payment_account_number),
            )
            .field("expiration_date", &self.expiration_date)
            .field("security_code", &given(&self.security_code))
            .finish()
    }
}

impl std::fmt::Debug for AchInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AchInput")
            .field("routing_number", &self.routing_number)
            .field("account_number", &given(&self.account_number))
            .field("account_type", &self.account_type)
            .finish()
    }
}

impl std::fmt::Debug for GooglePayInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GooglePayInput")
            .field(
                "google_pay_payment_data_response",
                &given(&self.google_pay_payment_data_response),
            )
            .finish()
    }
}

/// A validated instrument, ready to vault and charge.
#[derive(Debug)]
pub enum NewInstrument {
    Card {
        number: CardNumber,
        expiry: Expiry,
        cvc: Option<Cvc>,
    },
    Ach {
        routing_number: RoutingNumber,
        account_number: AccountNumber,
        account_type: AccountType,
    },
    GooglePay(GooglePayData),
}

impl NewInstrument {
    pub fn type_str(&self) -> &'static str {
        match self {
            Self::Card { .. } => "card",
            Self::Ach { .. } => "ach",
            Self::GooglePay(_) => "google_pay",
        }
    }
}

/// Google Pay's payment data. The whole response is secret (it carries the payment token).
#[derive(Debug, Clone)]
pub struct GooglePayData {
    pub raw: Secret<String>,
    pub token: Option<Secret<String>>,
    pub brand: Option<CardBrand>,
    pub last4: Option<String>,
}

impl GooglePayData {
    /// Reads serialized payment data: it must be a JSON object. The token and the card's
    /// network and last 4 are picked out when present (`paymentMethodData.tokenizationData.token`,
    /// `paymentMethodData.info.cardNetwork` / `cardDetails`).
    pub fn parse(serialized: &str) -> Option<GooglePayData> {
        let value: serde_json::Value = serde_json::from_str(serialized).ok()?;
        value.as_object()?;
        let data = &value["paymentMethodData"];
        let token = data["tokenizationData"]["token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(|t| Secret::new(t.to_string()));
        let brand = data["info"]["cardNetwork"].as_str().and_then(|n| {
            match n.to_ascii_uppercase().as_str() {
                "VISA" => Some(CardBrand::Visa),
                "MASTERCARD" => Some(CardBrand::Mastercard),
                "AMEX" => Some(CardBrand::Amex),
                "DISCOVER" => Some(CardBrand::Discover),
                "JCB" => Some(CardBrand::Jcb),
                _ => None,
            }
        });
        let last4 = data["info"]["cardDetails"]
            .as_str()
            .filter(|d| d.len() == 4 && d.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_string);
        Some(GooglePayData {
            raw: Secret::new(serialized.to_string()),
            token,
            brand,
            last4,
        })
    }
}

/// A validated `paymentMethod`.
#[derive(Debug)]
pub struct PaymentMethodDraft {
    pub billing_first_name: String,
    pub billing_last_name: String,
    pub billing_address: Option<BillingAddress>,
    pub merchant_payment_method_ref_id: Option<String>,
    pub instrument: NewInstrument,
}

impl PaymentMethodInput {
    /// Checks every rule of the source document, recording each failure under `path`
    /// ("paymentMethod" → "paymentMethod.creditCard.paymentAccountNumber"; "" at the top level).
    pub fn validate(
        self,
        path: &str,
        today: time::Date,
        errors: &mut FieldErrors,
    ) -> Option<PaymentMethodDraft> {
        let at = |name: &str| field_path(path, name);
        let before = errors.len();
        let billing_first_name = text::required(
            errors,
            &at("billingFirstName"),
            self.billing_first_name,
            BILLING_NAME_MAX,
        );
        let billing_last_name = text::required(
            errors,
            &at("billingLastName"),
            self.billing_last_name,
            BILLING_NAME_MAX,
        );
        let billing_address = self
            .billing_address
            .and_then(|a| a.validate(&at("billingAddress"), errors));
        let merchant_payment_method_ref_id = text::optional(
            errors,
            &at("merchantPaymentMethodRefId"),
            self.merchant_payment_method_ref_id,
            REF_ID_MAX,
        );
        let given = [
            self.credit_card.is_some(),
            self.ach.is_some(),
            self.google_pay.is_some(),
        ]
        .into_iter()
        .filter(|g| *g)
        .count();
        let instrument = match given {
            0 => {
                errors.add(
                    if path.is_empty() { "creditCard" } else { path },
                    "payment_method_type_required",
                    "one payment method type is required: creditCard, ach or googlePay",
                );
                None
            }
            1 => {
                if let Some(card) = self.credit_card {
                    card.validate(&at("creditCard"), today, errors)
                } else if let Some(ach) = self.ach {
                    ach.validate(&at("ach"), errors)
                } else {
                    self.google_pay
                        .and_then(|g| g.validate(&at("googlePay"), errors))
                }
            }
            _ => {
                errors.add(
                    if path.is_empty() { "creditCard" } else { path },
                    "multiple_payment_method_types",
                    "only one payment method type can be supplied: creditCard, ach or googlePay",
                );
                None
            }
        };
        (errors.len() == before).then(|| PaymentMethodDraft {
            billing_first_name: billing_first_name.expect("validated"),
            billing_last_name: billing_last_name.expect("validated"),
            billing_address,
            merchant_payment_method_ref_id,
            instrument: instrument.expect("validated"),
        })
    }
}

impl CreditCardInput {
    fn validate(
        self,
        path: &str,
        today: time::Date,
        errors: &mut FieldErrors,
    ) -> Option<NewInstrument> {
        let at = |name: &str| field_path(path, name);
        let number = errors.take(
            &at("paymentAccountNumber"),
            CardNumber::parse(self.payment_account_number.as_deref().unwrap_or("")),
        );
        let expiry = errors.take(
            &at("expirationDate"),
            Expiry::parse(self.expiration_date.as_deref().unwrap_or(""), today),
        );
        // The document's rule is 3–4 characters for every brand.
        let cvc = match self.security_code.as_deref().map(str::trim) {
            None | Some("") => Some(None),
            Some(code) => errors
                .take(&at("securityCode"), Cvc::parse(code, None))
                .map(Some),
        };
        Some(NewInstrument::Card {
            number: number?,
            expiry: expiry?,
            cvc: cvc?,
        })
    }
}

impl AchInput {
    fn validate(self, path: &str, errors: &mut FieldErrors) -> Option<NewInstrument> {
        let at = |name: &str| field_path(path, name);
        let routing_number = errors.take(
            &at("routingNumber"),
            RoutingNumber::parse(self.routing_number.as_deref().unwrap_or("").trim()),
        );
        let account_number = errors.take(
            &at("accountNumber"),
            AccountNumber::parse(self.account_number.as_deref().unwrap_or("").trim()),
        );
        let account_type = match self.account_type.as_deref().map(str::trim) {
            None | Some("") => {
                errors.add(at("accountType"), "required", "is required");
                None
            }
            Some(t) => errors.take(&at("accountType"), AccountType::parse(t)),
        };
        Some(NewInstrument::Ach {
            routing_number: routing_number?,
            account_number: account_number?,
            account_type: account_type?,
        })
    }
}

impl GooglePayInput {
    fn validate(self, path: &str, errors: &mut FieldErrors) -> Option<NewInstrument> {
        let field = field_path(path, "googlePayPaymentDataResponse");
        let text = match self.google_pay_payment_data_response {
            None | Some(serde_json::Value::Null) => {
                errors.add(field, "required", "is required");
                return None;
            }
            Some(serde_json::Value::String(s)) => s,
            Some(_) => {
                errors.add(
                    field,
                    "invalid_json",
                    "must be a string holding the serialized JSON object Google Pay returned",
                );
                return None;
            }
        };
        if text.len() > GOOGLE_PAY_DATA_MAX {
            errors.add(
                field,
                "invalid_length",
                "is too large to be Google Pay payment data",
            );
            return None;
        }
        match GooglePayData::parse(&text) {
            Some(data) => Some(NewInstrument::GooglePay(data)),
            None => {
                errors.add(
                    field,
                    "invalid_json",
                    "must contain a valid serialized JSON object",
                );
                None
            }
        }
    }
}

/// A stored payment method as the API shows it: masked, never a full number.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethod {
    pub id: PaymentMethodId,
    #[serde(skip)]
    pub partner_id: PartnerId,
    #[schema(inline)]
    pub object: PaymentMethodObject,
    pub customer_id: Option<CustomerId>,
    pub billing_first_name: Option<String>,
    pub billing_last_name: Option<String>,
    pub billing_address: Option<BillingAddress>,
    pub merchant_payment_method_ref_id: Option<String>,
    #[serde(flatten)]
    pub method: MaskedMethod,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(skip)]
    pub deleted_at: Option<OffsetDateTime>,
}

/// The `object` field: always `"payment_method"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
pub enum PaymentMethodObject {
    #[default]
    #[serde(rename = "payment_method")]
    PaymentMethod,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: time::Date = date!(2026 - 11 - 21);

    fn validate(json: &str) -> Result<PaymentMethodDraft, Vec<(String, &'static str)>> {
        let input: PaymentMethodInput = serde_json::from_str(json).unwrap();
        let mut errors = FieldErrors::new();
        let draft = input.validate("paymentMethod", TODAY, &mut errors);
        match draft {
            Some(d) if errors.is_empty() => Ok(d),
            _ => Err(errors
                .into_vec()
                .into_iter()
                .map(|e| (e.field, e.code))
                .collect()),
        }
    }

    fn codes(json: &str) -> Vec<(String, &'static str)> {
        validate(json).expect_err("should be rejected")
    }

    const NAMES: &str = r#""billingFirstName": "Ada", "billingLastName": "Lovelace""#;

    #[test]
    fn a_card_with_every_field() {
        let d = validate(&format!(
            r#"{{{NAMES}, "creditCard": {{"paymentAccountNumber": "4242424242424242",
                "expirationDate": "12/2030", "securityCode": "123"}}}}"#
        ))
        .unwrap();
        assert!(matches!(
            d.instrument,
            NewInstrument::Card { cvc: Some(_), .. }
        ));
        assert_eq!(d.billing_first_name, "Ada");
    }

    #[test]
    fn exactly_one_payment_method_type() {
        assert_eq!(
            codes(&format!("{{{NAMES}}}")),
            [("paymentMethod".to_string(), "payment_method_type_required")]
        );
        assert_eq!(
            codes(&format!(
                r#"{{{NAMES}, "creditCard": {{"paymentAccountNumber": "4242424242424242", "expirationDate": "1230"}},
                    "ach": {{"routingNumber": "110000000", "accountNumber": "000123456789", "accountType": "Checking"}}}}"#
            )),
            [("paymentMethod".to_string(), "multiple_payment_method_types")]
        );
    }

    #[test]
    fn billing_names_are_required() {
        assert_eq!(
            codes(
                r#"{"ach": {"routingNumber": "110000000", "accountNumber": "000123456789", "accountType": "Savings"}}"#
            ),
            [
                ("paymentMethod.billingFirstName".to_string(), "required"),
                ("paymentMethod.billingLastName".to_string(), "required")
            ]
        );
    }

    #[test]
    fn card_rules() {
        let card = |number: &str, exp: &str, cvc: &str| {
            format!(
                r#"{{{NAMES}, "creditCard": {{"paymentAccountNumber": "{number}", "expirationDate": "{exp}", "securityCode": "{cvc}"}}}}"#
            )
        };
        for exp in ["1230", "122030", "12/30", "12/2030"] {
            assert!(
                validate(&card("4242424242424242", exp, "123")).is_ok(),
                "{exp}"
            );
        }
        assert!(validate(&card("4242424242424242", "1230", "1234")).is_ok());
        assert_eq!(
            codes(&card("4242424242424241", "13/30", "12")),
            [
                (
                    "paymentMethod.creditCard.paymentAccountNumber".to_string(),
                    "luhn_check_failed"
                ),
                (
                    "paymentMethod.creditCard.expirationDate".to_string(),
                    "invalid_month"
                ),
                (
                    "paymentMethod.creditCard.securityCode".to_string(),
                    "invalid_length"
                ),
            ]
        );
        assert_eq!(
            codes(&card("4242424242424242", "12-30", "12345")),
            [
                (
                    "paymentMethod.creditCard.expirationDate".to_string(),
                    "invalid_format"
                ),
                (
                    "paymentMethod.creditCard.securityCode".to_string(),
                    "invalid_length"
                ),
            ]
        );
        assert_eq!(
            codes(&format!(r#"{{{NAMES}, "creditCard": {{}}}}"#)),
            [
                (
                    "paymentMethod.creditCard.paymentAccountNumber".to_string(),
                    "required"
                ),
                (
                    "paymentMethod.creditCard.expirationDate".to_string(),
                    "required"
                ),
            ]
        );
    }

    #[test]
    fn ach_rules() {
        let ach = |routing: &str, account: &str, kind: &str| {
            format!(
                r#"{{{NAMES}, "ach": {{"routingNumber": "{routing}", "accountNumber": "{account}", "accountType": "{kind}"}}}}"#
            )
        };
        assert!(validate(&ach("110000000", "1234", "Checking")).is_ok());
        assert!(validate(&ach("110000000", "12345678901234567", "Savings")).is_ok());
        assert_eq!(
            codes(&ach("11000000", "123", "Brokerage")),
            [
                (
                    "paymentMethod.ach.routingNumber".to_string(),
                    "invalid_length"
                ),
                (
                    "paymentMethod.ach.accountNumber".to_string(),
                    "invalid_length"
                ),
                ("paymentMethod.ach.accountType".to_string(), "invalid_value"),
            ]
        );
        assert_eq!(
            codes(&ach("1100000000", "123456789012345678", "")),
            [
                (
                    "paymentMethod.ach.routingNumber".to_string(),
                    "invalid_length"
                ),
                (
                    "paymentMethod.ach.accountNumber".to_string(),
                    "invalid_length"
                ),
                ("paymentMethod.ach.accountType".to_string(), "required"),
            ]
        );
    }

    #[test]
    fn debug_never_shows_card_or_bank_secrets() {
        let input: PaymentMethodInput = serde_json::from_str(&format!(
            r#"{{{NAMES}, "creditCard": {{"paymentAccountNumber": "4242424242424242", "expirationDate": "1230", "securityCode": "987"}},
                "ach": {{"routingNumber": "110000000", "accountNumber": "000123456789", "accountType": "Checking"}},
                "googlePay": {{"googlePayPaymentDataResponse": "secret-token"}}}}"#
        ))
        .unwrap();
        let shown = format!("{input:?}");
        for secret in ["4242424242424242", "987", "000123456789", "secret-token"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("110000000"));
    }

    #[test]
    fn google_pay_needs_serialized_json_object() {
        let gp = |v: &str| {
            format!(r#"{{{NAMES}, "googlePay": {{"googlePayPaymentDataResponse": {v}}}}}"#)
        };
        let data = r#"{\"paymentMethodData\": {\"info\": {\"cardNetwork\": \"VISA\", \"cardDetails\": \"1111\"}, \"tokenizationData\": {\"token\": \"tok\"}}}"#;
        let d = validate(&gp(&format!("\"{data}\""))).unwrap();
        let NewInstrument::GooglePay(g) = d.instrument else {
            panic!("google pay expected")
        };
        assert_eq!(g.brand, Some(CardBrand::Visa));
        assert_eq!(g.last4.as_deref(), Some("1111"));
        assert!(g.token.is_some());
        assert!(validate(&gp(r#""{}""#)).is_ok());
        let field = "paymentMethod.googlePay.googlePayPaymentDataResponse".to_string();
        assert_eq!(
            codes(&gp(r#""not json""#)),
            [(field.clone(), "invalid_json")]
        );
        assert_eq!(codes(&gp(r#""[1, 2]""#)), [(field.clone(), "invalid_json")]);
        assert_eq!(codes(&gp(r#"{"a": 1}"#)), [(field.clone(), "invalid_json")]);
        assert_eq!(codes(&gp("null")), [(field, "required")]);
    }
}
