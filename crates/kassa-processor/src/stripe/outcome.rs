//! What Stripe's statuses and codes mean for Kassa: a PaymentIntent's status read as a charge
//! outcome, decline codes read as Kassa's five, and bank failure codes as ACH return codes.
//! Anything unrecognised is never success.

use kassa_core::payment::{AchResolution, AchReturnCode, DeclineCode, Funding};

use super::objects::{ApiError, PaymentIntent, PaymentMethod};
use crate::{ChargeOutcome, ProcessorError};

/// What to do with a PaymentIntent's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// A decision Kassa records as it is.
    Decided(ChargeOutcome),
    /// Stripe wants the payer to act (3-D Secure, microdeposit verification). Kassa cannot put
    /// the payer in front of Stripe, so nothing will be charged: it is a decline, and the
    /// PaymentIntent is canceled so it can never complete later.
    Abandon(ChargeOutcome),
}

/// The funding of a card from its PaymentMethod; `Unknown` for bank accounts or when Stripe did
/// not say.
pub fn funding(method: Option<&PaymentMethod>) -> Funding {
    method
        .and_then(|m| m.card.as_ref())
        .and_then(|c| c.funding.as_deref())
        .and_then(Funding::parse_str)
        .unwrap_or(Funding::Unknown)
}

/// Kassa's decline code for Stripe's `decline_code` or `code`.
pub fn decline_code(code: &str) -> DeclineCode {
    match code {
        "insufficient_funds" => DeclineCode::InsufficientFunds,
        "expired_card" => DeclineCode::ExpiredCard,
        "incorrect_cvc" | "invalid_cvc" => DeclineCode::IncorrectCvc,
        "processing_error" => DeclineCode::ProcessingError,
        _ => DeclineCode::CardDeclined,
    }
}

/// The decline code an error carries: the issuer's `decline_code` is the more specific, so it
/// wins over `code` (which is just `card_declined` for most issuer declines).
pub fn decline_of(error: Option<&ApiError>) -> DeclineCode {
    let Some(error) = error else {
        return DeclineCode::CardDeclined;
    };
    let specific = error.decline_code.as_deref().map(decline_code);
    let general = error.code.as_deref().map(decline_code);
    match (specific, general) {
        (Some(code), _) if code != DeclineCode::CardDeclined => code,
        (_, Some(code)) => code,
        (Some(code), None) => code,
        (None, None) => DeclineCode::CardDeclined,
    }
}

/// Reads a PaymentIntent after Kassa confirmed it (or found it confirmed).
pub fn read_intent(intent: &PaymentIntent, funding: Funding) -> Result<Reading, ProcessorError> {
    let declined = || ChargeOutcome::Declined {
        code: decline_of(intent.last_payment_error.as_ref()),
    };
    Ok(match intent.status.as_str() {
        // A bank debit succeeds only once it has cleared, which recovery may be the first to see.
        "succeeded" if intent.is_bank_debit() => Reading::Decided(ChargeOutcome::AchSubmitted {
            expected: Some(AchResolution::Clear),
        }),
        "succeeded" | "requires_capture" => Reading::Decided(ChargeOutcome::Approved { funding }),
        "processing" if intent.is_bank_debit() => {
            Reading::Decided(ChargeOutcome::AchSubmitted { expected: None })
        }
        "processing" => {
            return Err(ProcessorError::Unknown(format!(
                "Stripe is still processing card payment {}",
                intent.id
            )))
        }
        "requires_payment_method" | "canceled" => Reading::Decided(declined()),
        "requires_action" | "requires_confirmation" => Reading::Abandon(declined()),
        other => {
            return Err(ProcessorError::Unknown(format!(
                "PaymentIntent {} has a status Kassa does not know: {other}",
                intent.id
            )))
        }
    })
}

/// The ACH return code for why Stripe says a bank debit failed. Stripe reports the bank's reason
/// in its own words; those without a NACHA counterpart here become R01, the most common return,
/// so the debit is treated as returned (which it was) rather than left pending.
pub fn ach_return(error: Option<&ApiError>) -> AchReturnCode {
    let code = error
        .and_then(|e| e.decline_code.as_deref().or(e.code.as_deref()))
        .unwrap_or("");
    let r = match code {
        "account_closed" | "bank_account_closed" => "R02",
        "no_account" | "bank_account_unusable" => "R03",
        "invalid_account_number" => "R04",
        "debit_not_authorized" => "R10",
        "account_frozen" | "bank_account_frozen" => "R16",
        _ => "R01",
    };
    AchReturnCode::parse(r).expect("the table holds well-formed return codes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(json: &str) -> PaymentIntent {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn decline_codes_map_to_kassas_five() {
        for (stripe, kassa) in [
            ("insufficient_funds", DeclineCode::InsufficientFunds),
            ("expired_card", DeclineCode::ExpiredCard),
            ("incorrect_cvc", DeclineCode::IncorrectCvc),
            ("invalid_cvc", DeclineCode::IncorrectCvc),
            ("processing_error", DeclineCode::ProcessingError),
            ("card_declined", DeclineCode::CardDeclined),
            ("generic_decline", DeclineCode::CardDeclined),
            ("do_not_honor", DeclineCode::CardDeclined),
            ("fraudulent", DeclineCode::CardDeclined),
            ("lost_card", DeclineCode::CardDeclined),
            ("stolen_card", DeclineCode::CardDeclined),
            ("incorrect_number", DeclineCode::CardDeclined),
            ("invalid_number", DeclineCode::CardDeclined),
            ("invalid_expiry_month", DeclineCode::CardDeclined),
            ("invalid_expiry_year", DeclineCode::CardDeclined),
            ("something_new", DeclineCode::CardDeclined),
        ] {
            assert_eq!(decline_code(stripe), kassa, "{stripe}");
        }
    }

    #[test]
    fn the_issuers_decline_code_wins_over_the_general_code() {
        let error = |code: Option<&str>, decline: Option<&str>| ApiError {
            code: code.map(str::to_string),
            decline_code: decline.map(str::to_string),
            ..ApiError::default()
        };
        assert_eq!(
            decline_of(Some(&error(
                Some("card_declined"),
                Some("insufficient_funds")
            ))),
            DeclineCode::InsufficientFunds
        );
        assert_eq!(
            decline_of(Some(&error(Some("expired_card"), None))),
            DeclineCode::ExpiredCard
        );
        assert_eq!(
            decline_of(Some(&error(Some("incorrect_cvc"), Some("generic_decline")))),
            DeclineCode::IncorrectCvc
        );
        assert_eq!(decline_of(None), DeclineCode::CardDeclined);
    }

    #[test]
    fn statuses_map_to_outcomes() {
        let credit = Funding::Credit;
        let read = |json: &str| read_intent(&intent(json), credit);
        let approved = Reading::Decided(ChargeOutcome::Approved { funding: credit });
        assert_eq!(
            read(r#"{"id":"pi_1","status":"succeeded"}"#).unwrap(),
            approved
        );
        assert_eq!(
            read(r#"{"id":"pi_1","status":"requires_capture"}"#).unwrap(),
            approved
        );
        assert_eq!(
            read(
                r#"{"id":"pi_1","status":"processing","payment_method_types":["us_bank_account"]}"#
            )
            .unwrap(),
            Reading::Decided(ChargeOutcome::AchSubmitted { expected: None })
        );
        assert_eq!(
            read(
                r#"{"id":"pi_1","status":"succeeded","payment_method_types":["us_bank_account"]}"#
            )
            .unwrap(),
            Reading::Decided(ChargeOutcome::AchSubmitted {
                expected: Some(AchResolution::Clear)
            })
        );
        assert!(matches!(
            read(r#"{"id":"pi_1","status":"processing","payment_method_types":["card"]}"#),
            Err(ProcessorError::Unknown(_))
        ));
        assert_eq!(
            read(r#"{"id":"pi_1","status":"requires_payment_method","last_payment_error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds"}}"#)
                .unwrap(),
            Reading::Decided(ChargeOutcome::Declined {
                code: DeclineCode::InsufficientFunds
            })
        );
        assert_eq!(
            read(r#"{"id":"pi_1","status":"canceled"}"#).unwrap(),
            Reading::Decided(ChargeOutcome::Declined {
                code: DeclineCode::CardDeclined
            })
        );
        for status in ["requires_action", "requires_confirmation"] {
            assert_eq!(
                read(&format!(r#"{{"id":"pi_1","status":"{status}"}}"#)).unwrap(),
                Reading::Abandon(ChargeOutcome::Declined {
                    code: DeclineCode::CardDeclined
                })
            );
        }
        assert!(matches!(
            read(r#"{"id":"pi_1","status":"partially_funded"}"#),
            Err(ProcessorError::Unknown(_))
        ));
    }

    #[test]
    fn an_expanded_bank_method_makes_processing_a_debit() {
        let json = r#"{"id":"pi_1","status":"processing","payment_method_types":["card","us_bank_account"],
            "payment_method":{"id":"pm_1","type":"us_bank_account"}}"#;
        assert_eq!(
            read_intent(&intent(json), Funding::Unknown).unwrap(),
            Reading::Decided(ChargeOutcome::AchSubmitted { expected: None })
        );
    }

    #[test]
    fn funding_comes_from_the_card() {
        let method: PaymentMethod =
            serde_json::from_str(r#"{"id":"pm_1","type":"card","card":{"funding":"debit"}}"#)
                .unwrap();
        assert_eq!(funding(Some(&method)), Funding::Debit);
        let odd: PaymentMethod =
            serde_json::from_str(r#"{"id":"pm_1","type":"card","card":{"funding":"charge"}}"#)
                .unwrap();
        assert_eq!(funding(Some(&odd)), Funding::Unknown);
        assert_eq!(funding(None), Funding::Unknown);
    }

    #[test]
    fn bank_failures_map_to_return_codes() {
        let error = |code: &str| ApiError {
            code: Some(code.to_string()),
            ..ApiError::default()
        };
        for (stripe, r) in [
            ("insufficient_funds", "R01"),
            ("account_closed", "R02"),
            ("no_account", "R03"),
            ("invalid_account_number", "R04"),
            ("debit_not_authorized", "R10"),
            ("account_frozen", "R16"),
            ("payment_method_provider_decline", "R01"),
        ] {
            assert_eq!(ach_return(Some(&error(stripe))).as_str(), r, "{stripe}");
        }
        assert_eq!(ach_return(None).as_str(), "R01");
    }
}
