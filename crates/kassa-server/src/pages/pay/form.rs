//! What the pay form sends, read once: the payer's instrument and optional receipt email, or a
//! message for every field in error, in the form's order. What the form shows again after any
//! refusal ([`FormValues`]) never holds a card number, CVC or account number.

use std::collections::HashMap;

use kassa_core::ach::{
    AccountNumber, AccountType, AchAuthorization, RoutingNumber, AUTHORIZATION_TEXT_VERSION,
};
use kassa_core::card::{CardNumber, Cvc, Expiry};
use kassa_core::email::Email;
use kassa_core::error::ValidationError;
use kassa_core::payment_method::NewInstrument;
use time::OffsetDateTime;

use crate::money::PayInput;

/// The entries the form shows again after a refusal: everything the payer typed but the card
/// number, the CVC and the account number, which are never echoed into a page.
#[derive(Default)]
pub struct FormValues {
    /// `card` or `ach`; anything else shows the card fields.
    pub method: String,
    pub cardholder_name: String,
    pub expiry: String,
    pub postal_code: String,
    pub email: String,
    pub account_holder_name: String,
    pub routing_number: String,
    pub account_type: String,
    pub ach_authorized: bool,
}

impl FormValues {
    /// The entries of a posted form that may be shown again.
    pub fn kept(form: &HashMap<String, String>) -> FormValues {
        let get = |name: &str| {
            form.get(name)
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        FormValues {
            method: get("method"),
            cardholder_name: get("cardholderName"),
            expiry: get("expiry"),
            postal_code: get("postalCode"),
            email: get("email"),
            account_holder_name: get("accountHolderName"),
            routing_number: get("routingNumber"),
            account_type: get("accountType"),
            ach_authorized: get("achAuthorization") == "accepted",
        }
    }

    /// Whether the bank account fields are the chosen ones.
    pub fn is_ach(&self) -> bool {
        self.method == "ach"
    }
}

/// What the error summary lists: a message about the whole form (a decline, a limit, an expired
/// form or security check) and a message per field, in the form's order.
#[derive(Debug, Default)]
pub struct Problems {
    pub general: Option<String>,
    fields: Vec<(&'static str, String)>,
}

impl Problems {
    /// A message about the form as a whole.
    pub fn general(message: impl Into<String>) -> Problems {
        Problems {
            general: Some(message.into()),
            fields: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.general.is_none() && self.fields.is_empty()
    }

    /// The message of a field (by its name in the form), if it is in error.
    pub fn field(&self, name: &str) -> Option<&String> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, m)| m)
    }

    fn add(&mut self, name: &'static str, message: impl Into<String>) {
        if self.field(name).is_none() {
            self.fields.push((name, message.into()));
        }
    }

    /// The summary's links: the id of the control each field message leads to, and the message.
    pub fn links(&self) -> Vec<(&'static str, &str)> {
        self.fields
            .iter()
            .map(|(name, message)| (anchor(name), message.as_str()))
            .collect()
    }
}

/// The control a field's message leads to: a radio group's first choice, else the input.
fn anchor(name: &'static str) -> &'static str {
    match name {
        "method" => "method-card",
        "accountType" => "accountType-checking",
        other => other,
    }
}

/// Who accepted a bank debit's authorization, and from where, as the payment keeps it.
pub struct Acceptance {
    pub at: OffsetDateTime,
    pub ip: String,
    pub user_agent: Option<String>,
}

/// What "required" means for each field, in words a payer can act on.
fn missing(name: &str) -> &'static str {
    match name {
        "cardholderName" => "Enter the name on the card.",
        "cardNumber" => "Enter the card number.",
        "expiry" => "Enter the card's expiry date as MM/YY.",
        "cvc" => "Enter the card's security code (CVC).",
        "accountHolderName" => "Enter the name on the account.",
        "routingNumber" => "Enter the routing number.",
        "accountNumber" => "Enter the account number.",
        "accountType" => "Choose checking or savings.",
        _ => "This field is required.",
    }
}

/// Reads the posted form: the payer's instrument, or every field message at once.
pub fn parse_form(
    form: &HashMap<String, String>,
    acceptance: Acceptance,
) -> Result<PayInput, Problems> {
    let today = acceptance.at.date();
    let get = |name: &str| form.get(name).map(|v| v.trim()).unwrap_or("");
    let mut problems = Problems::default();
    fn take<T, E: ValidationError>(
        problems: &mut Problems,
        name: &'static str,
        r: Result<T, E>,
    ) -> Option<T> {
        r.map_err(|e| {
            if e.code() == "required" {
                problems.add(name, missing(name));
            } else {
                let msg = e.message();
                let mut chars = msg.chars();
                let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
                problems.add(
                    name,
                    format!("{}{}.", first.unwrap_or_default(), chars.as_str()),
                );
            }
        })
        .ok()
    }
    let name = |field: &'static str, problems: &mut Problems| {
        let v = get(field);
        if v.is_empty() {
            problems.add(field, missing(field));
        } else if v.chars().count() > 100 || v.chars().any(char::is_control) {
            problems.add(field, "The name must be at most 100 characters.");
        }
        v.to_string()
    };
    let input = match get("method") {
        "card" => {
            let holder_name = name("cardholderName", &mut problems);
            let number = take(
                &mut problems,
                "cardNumber",
                CardNumber::parse(get("cardNumber")),
            );
            let expiry = take(&mut problems, "expiry", Expiry::parse(get("expiry"), today));
            let cvc = take(
                &mut problems,
                "cvc",
                Cvc::parse(get("cvc"), number.as_ref().map(CardNumber::brand)),
            );
            let postal = get("postalCode");
            if postal.chars().count() < 2
                || postal.chars().count() > 20
                || postal.chars().any(char::is_control)
            {
                problems.add("postalCode", "Enter the billing ZIP or postal code.");
            }
            match (number, expiry, cvc) {
                (Some(number), Some(expiry), Some(cvc)) => Some(PayInput {
                    holder_name,
                    postal_code: Some(postal.to_string()),
                    instrument: NewInstrument::Card {
                        number,
                        expiry,
                        cvc: Some(cvc),
                    },
                    ach_authorization: None,
                    payer_email: None,
                }),
                _ => None,
            }
        }
        "ach" => {
            let holder_name = name("accountHolderName", &mut problems);
            let routing = take(
                &mut problems,
                "routingNumber",
                RoutingNumber::parse(get("routingNumber")),
            );
            let account = take(
                &mut problems,
                "accountNumber",
                AccountNumber::parse(get("accountNumber")),
            );
            let account_type = take(
                &mut problems,
                "accountType",
                AccountType::parse(get("accountType")),
            );
            // The payer's own act, on the wording this page version shows.
            if get("achAuthorization") != "accepted" {
                problems.add(
                    "achAuthorization",
                    "Check the box to authorize the debit from your account.",
                );
            }
            match (routing, account, account_type) {
                (Some(routing_number), Some(account_number), Some(account_type)) => {
                    Some(PayInput {
                        holder_name,
                        postal_code: None,
                        instrument: NewInstrument::Ach {
                            routing_number,
                            account_number,
                            account_type,
                        },
                        ach_authorization: Some(AchAuthorization {
                            accepted_at: acceptance.at,
                            ip: Some(acceptance.ip),
                            user_agent: acceptance.user_agent,
                            text_version: AUTHORIZATION_TEXT_VERSION.to_string(),
                        }),
                        payer_email: None,
                    })
                }
                _ => None,
            }
        }
        _ => {
            problems.add("method", "Choose to pay by card or by bank account.");
            None
        }
    };
    // Optional: where the receipt goes (docs/api.md §11); a wrong one charges nothing.
    let email = match get("email") {
        "" => None,
        text => take(&mut problems, "email", Email::parse(text)),
    };
    match input {
        Some(mut input) if problems.is_empty() => {
            input.payer_email = email;
            Ok(input)
        }
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acceptance() -> Acceptance {
        Acceptance {
            at: time::macros::datetime!(2026-11-21 12:00 UTC),
            ip: "192.0.2.1".into(),
            user_agent: None,
        }
    }

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn problems_come_in_the_forms_order_with_words_for_missing_fields() {
        let problems = parse_form(
            &form(&[("method", "card"), ("email", "nope")]),
            acceptance(),
        )
        .unwrap_err();
        let names: Vec<&str> = problems.links().iter().map(|(id, _)| *id).collect();
        assert_eq!(
            names,
            [
                "cardholderName",
                "cardNumber",
                "expiry",
                "cvc",
                "postalCode",
                "email"
            ]
        );
        assert_eq!(
            problems.field("cardNumber").unwrap(),
            "Enter the card number."
        );
        assert_eq!(
            problems.field("email").unwrap(),
            "Must be a valid email address."
        );
    }

    #[test]
    fn a_valid_card_form_with_an_email_is_an_input() {
        let input = parse_form(
            &form(&[
                ("method", "card"),
                ("cardholderName", "Jo Payer"),
                ("cardNumber", "4242 4242 4242 4242"),
                ("expiry", "12/30"),
                ("cvc", "123"),
                ("postalCode", "94107"),
                ("email", " jo@example.com "),
            ]),
            acceptance(),
        )
        .unwrap();
        assert_eq!(input.payer_email.unwrap().as_str(), "jo@example.com");
        assert_eq!(input.instrument.type_str(), "card");
    }

    #[test]
    fn radio_groups_are_linked_by_their_first_choice() {
        let problems = parse_form(&form(&[("method", "ach")]), acceptance()).unwrap_err();
        assert!(problems
            .links()
            .iter()
            .any(|(id, _)| *id == "accountType-checking"));
        let problems = parse_form(&form(&[]), acceptance()).unwrap_err();
        assert_eq!(problems.links()[0].0, "method-card");
    }

    #[test]
    fn kept_values_never_hold_the_numbers() {
        let kept = FormValues::kept(&form(&[
            ("method", "ach"),
            ("cardNumber", "4242424242424242"),
            ("cvc", "123"),
            ("accountNumber", "000123456789"),
            ("routingNumber", "110000000"),
            ("achAuthorization", "accepted"),
        ]));
        assert!(kept.is_ach() && kept.ach_authorized);
        assert_eq!(kept.routing_number, "110000000");
        let FormValues {
            method,
            cardholder_name,
            expiry,
            postal_code,
            email,
            account_holder_name,
            routing_number,
            account_type,
            ach_authorized: _,
        } = kept;
        for v in [
            method,
            cardholder_name,
            expiry,
            postal_code,
            email,
            account_holder_name,
            routing_number,
            account_type,
        ] {
            assert!(!v.contains("4242") && !v.contains("123456789") && v != "123");
        }
    }
}
