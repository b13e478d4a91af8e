//! The form-encoded bodies Kassa sends Stripe. They carry card and bank account numbers, so
//! their `Debug` shows field names only: a body can be logged or asserted on without leaking.

use kassa_core::money::Money;

use crate::{DebitMandate, Instrument};

/// Ordered `name=value` pairs, encoded with `form_urlencoded` when sent.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.fields.push((name.to_string(), value.into()));
        self
    }

    /// The value of the first field with that name.
    #[cfg(test)]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(n, _)| n.as_str())
    }

    pub fn encode(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.fields.iter())
            .finish()
    }
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// Creates a card or bank account PaymentMethod. `None` for Google Pay, which this connector
/// does not send (see the module documentation).
pub fn payment_method(instrument: &Instrument<'_>, holder_name: Option<&str>) -> Option<Form> {
    let mut form = Form::new();
    match instrument {
        Instrument::Card {
            number,
            expiry,
            cvc,
            postal_code,
        } => {
            form.push("type", "card")
                .push("card[number]", number.expose())
                .push("card[exp_month]", expiry.month.to_string())
                .push("card[exp_year]", expiry.year.to_string());
            if let Some(cvc) = cvc {
                form.push("card[cvc]", cvc.expose());
            }
            if let Some(postal_code) = postal_code {
                form.push("billing_details[address][postal_code]", *postal_code);
            }
        }
        Instrument::Ach {
            routing_number,
            account_number,
            account_type,
        } => {
            form.push("type", "us_bank_account")
                .push("us_bank_account[routing_number]", routing_number.as_str())
                .push("us_bank_account[account_number]", account_number.expose())
                .push("us_bank_account[account_holder_type]", "individual")
                .push("us_bank_account[account_type]", account_type.as_str());
        }
        Instrument::GooglePay { .. } => return None,
    }
    if let Some(name) = holder_name {
        form.push("billing_details[name]", name);
    }
    Some(form)
}

/// How a PaymentIntent is to be confirmed.
#[derive(Debug, Clone, Copy)]
pub enum Intent<'a> {
    /// A card sale, captured at once.
    Sale,
    /// A card hold (`capture_method=manual`).
    Hold,
    /// A bank debit, with the payer's authorization when the pay page took one.
    Debit(Option<DebitMandate<'a>>),
}

/// Creates and confirms a PaymentIntent for `kassa_id` with a PaymentMethod made just before.
pub fn payment_intent(kassa_id: &str, amount: Money, method_id: &str, intent: Intent<'_>) -> Form {
    let mut form = Form::new();
    form.push("amount", amount.minor().to_string())
        .push("currency", amount.currency().as_str().to_ascii_lowercase())
        .push("payment_method", method_id)
        .push("confirm", "true")
        .push("metadata[kassa_id]", kassa_id);
    match intent {
        Intent::Sale => {
            form.push("payment_method_types[]", "card");
        }
        Intent::Hold => {
            form.push("payment_method_types[]", "card")
                .push("capture_method", "manual");
        }
        Intent::Debit(mandate) => {
            form.push("payment_method_types[]", "us_bank_account");
            push_mandate(&mut form, mandate);
        }
    }
    form
}

/// Stripe requires a mandate to confirm a bank debit. An online acceptance needs the payer's IP
/// address and user agent; without them (API debits, where the partner took the authorization)
/// the mandate is recorded as accepted offline.
fn push_mandate(form: &mut Form, mandate: Option<DebitMandate<'_>>) {
    let online = mandate.and_then(|m| Some((m.accepted_at, m.ip?, m.user_agent?)));
    match online {
        Some((accepted_at, ip, user_agent)) => {
            form.push("mandate_data[customer_acceptance][type]", "online")
                .push(
                    "mandate_data[customer_acceptance][accepted_at]",
                    accepted_at.unix_timestamp().to_string(),
                )
                .push("mandate_data[customer_acceptance][online][ip_address]", ip)
                .push(
                    "mandate_data[customer_acceptance][online][user_agent]",
                    user_agent,
                );
        }
        None => {
            form.push("mandate_data[customer_acceptance][type]", "offline");
            if let Some(m) = mandate {
                form.push(
                    "mandate_data[customer_acceptance][accepted_at]",
                    m.accepted_at.unix_timestamp().to_string(),
                );
            }
        }
    }
}

/// The replay of a PaymentIntent creation that proves whether Stripe ever received the original:
/// the same Idempotency-Key with parameters the original never had (no payment method, no
/// confirmation), so it can neither charge nor be mistaken for the original. `kassa_fence` marks
/// it, so a later search that finds it knows it for what it is.
pub fn fence(kassa_id: &str, amount: Money) -> Form {
    let mut form = Form::new();
    form.push("amount", amount.minor().to_string())
        .push("currency", amount.currency().as_str().to_ascii_lowercase())
        .push("metadata[kassa_id]", kassa_id)
        .push("metadata[kassa_fence]", "true");
    form
}

pub fn refund(payment_intent: &str, refund_id: &str, amount: Money) -> Form {
    let mut form = Form::new();
    form.push("payment_intent", payment_intent)
        .push("amount", amount.minor().to_string())
        .push("metadata[kassa_id]", refund_id);
    form
}

/// A search query for PaymentIntents carrying a Kassa id in `field` of their metadata. Kassa ids
/// are `[A-Za-z0-9_]`, but quotes are escaped anyway so the query can never be broken out of.
pub fn search_query(field: &str, kassa_id: &str) -> String {
    let escaped = kassa_id.replace('\\', "\\\\").replace('\'', "\\'");
    format!("metadata['{field}']:'{escaped}'")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kassa_core::ach::{AccountNumber, AccountType, RoutingNumber};
    use kassa_core::card::{CardNumber, Cvc, Expiry};
    use kassa_core::money::Currency;
    use time::OffsetDateTime;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::Usd)
    }

    #[test]
    fn a_card_method_carries_the_card_and_debug_shows_only_names() {
        let number = CardNumber::parse("4242424242424242").unwrap();
        let cvc = Cvc::parse("123", None).unwrap();
        let form = payment_method(
            &Instrument::Card {
                number: &number,
                expiry: Expiry {
                    month: 7,
                    year: 2031,
                },
                cvc: Some(&cvc),
                postal_code: Some("94102"),
            },
            Some("Pat Payer"),
        )
        .unwrap();
        assert_eq!(form.get("type"), Some("card"));
        assert_eq!(form.get("card[number]"), Some("4242424242424242"));
        assert_eq!(form.get("card[exp_month]"), Some("7"));
        assert_eq!(form.get("card[exp_year]"), Some("2031"));
        assert_eq!(form.get("card[cvc]"), Some("123"));
        assert_eq!(
            form.get("billing_details[address][postal_code]"),
            Some("94102")
        );
        assert_eq!(form.get("billing_details[name]"), Some("Pat Payer"));
        let encoded = form.encode();
        assert!(encoded.contains("card%5Bnumber%5D=4242424242424242"));
        assert!(encoded.contains("billing_details%5Bname%5D=Pat+Payer"));
        let debug = format!("{form:?}");
        assert!(debug.contains("card[number]"));
        assert!(!debug.contains("4242"), "{debug}");
        assert!(!debug.contains("123\""), "{debug}");
    }

    #[test]
    fn a_bank_method_carries_the_account_and_debug_hides_it() {
        let routing = RoutingNumber::parse("110000000").unwrap();
        let account = AccountNumber::parse("000123456789").unwrap();
        let form = payment_method(
            &Instrument::Ach {
                routing_number: &routing,
                account_number: &account,
                account_type: AccountType::Savings,
            },
            Some("Pat Payer"),
        )
        .unwrap();
        assert_eq!(form.get("type"), Some("us_bank_account"));
        assert_eq!(
            form.get("us_bank_account[routing_number]"),
            Some("110000000")
        );
        assert_eq!(
            form.get("us_bank_account[account_number]"),
            Some("000123456789")
        );
        assert_eq!(
            form.get("us_bank_account[account_holder_type]"),
            Some("individual")
        );
        assert_eq!(form.get("us_bank_account[account_type]"), Some("savings"));
        assert!(!format!("{form:?}").contains("000123456789"));
    }

    #[test]
    fn google_pay_has_no_payment_method_form() {
        let google_pay = Instrument::GooglePay {
            token: Some("tok"),
            brand: None,
        };
        assert!(payment_method(&google_pay, None).is_none());
    }

    #[test]
    fn intents_carry_amount_currency_and_kassa_id() {
        let sale = payment_intent("pay_1", usd(1234), "pm_1", Intent::Sale);
        assert_eq!(sale.get("amount"), Some("1234"));
        assert_eq!(sale.get("currency"), Some("usd"));
        assert_eq!(sale.get("payment_method"), Some("pm_1"));
        assert_eq!(sale.get("confirm"), Some("true"));
        assert_eq!(sale.get("metadata[kassa_id]"), Some("pay_1"));
        assert_eq!(sale.get("payment_method_types[]"), Some("card"));
        assert_eq!(sale.get("capture_method"), None);
        let hold = payment_intent("auth_1", usd(500), "pm_1", Intent::Hold);
        assert_eq!(hold.get("capture_method"), Some("manual"));
    }

    #[test]
    fn a_debit_carries_an_online_mandate_only_with_ip_and_user_agent() {
        let accepted_at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let online = payment_intent(
            "pay_1",
            usd(100),
            "pm_1",
            Intent::Debit(Some(DebitMandate {
                accepted_at,
                ip: Some("203.0.113.9"),
                user_agent: Some("Firefox"),
            })),
        );
        assert_eq!(
            online.get("payment_method_types[]"),
            Some("us_bank_account")
        );
        assert_eq!(
            online.get("mandate_data[customer_acceptance][type]"),
            Some("online")
        );
        assert_eq!(
            online.get("mandate_data[customer_acceptance][accepted_at]"),
            Some("1800000000")
        );
        assert_eq!(
            online.get("mandate_data[customer_acceptance][online][ip_address]"),
            Some("203.0.113.9")
        );
        assert_eq!(
            online.get("mandate_data[customer_acceptance][online][user_agent]"),
            Some("Firefox")
        );
        let no_agent = payment_intent(
            "pay_1",
            usd(100),
            "pm_1",
            Intent::Debit(Some(DebitMandate {
                accepted_at,
                ip: Some("203.0.113.9"),
                user_agent: None,
            })),
        );
        assert_eq!(
            no_agent.get("mandate_data[customer_acceptance][type]"),
            Some("offline")
        );
        assert_eq!(
            no_agent.get("mandate_data[customer_acceptance][online][ip_address]"),
            None
        );
        let api = payment_intent("pay_1", usd(100), "pm_1", Intent::Debit(None));
        assert_eq!(
            api.get("mandate_data[customer_acceptance][type]"),
            Some("offline")
        );
        assert_eq!(
            api.get("mandate_data[customer_acceptance][accepted_at]"),
            None
        );
    }

    #[test]
    fn the_fence_cannot_charge() {
        let fence = fence("pay_1", usd(100));
        let names: Vec<_> = fence.names().collect();
        assert_eq!(
            names,
            [
                "amount",
                "currency",
                "metadata[kassa_id]",
                "metadata[kassa_fence]"
            ]
        );
    }

    #[test]
    fn search_queries_escape_quotes() {
        assert_eq!(
            search_query("kassa_id", "pay_1"),
            "metadata['kassa_id']:'pay_1'"
        );
        assert_eq!(
            search_query("kassa_id", "a'b"),
            "metadata['kassa_id']:'a\\'b'"
        );
    }
}
