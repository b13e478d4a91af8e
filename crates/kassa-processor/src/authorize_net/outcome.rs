//! What Authorize.net's codes mean for Kassa: `transactionResponse.responseCode` with its reason
//! code, the API's own error codes when no transaction was made, and the reporting API's
//! `transactionStatus`. Anything not known to be final is `Unknown`, never success.
//!
//! Authorize.net does not say whether a card is credit, debit or prepaid, so an approval is
//! `Funding::Unknown` rather than a guess. Nor does it report insufficient funds apart from other
//! issuer declines (they all arrive as reason 2), so `InsufficientFunds` never comes from here.

use kassa_core::payment::{DeclineCode, Funding};

use super::response::{CreateTransactionResponse, Messages, TransactionDetails};
use crate::{Answer, ChargeOutcome, ProcessorError};

/// An approval: a card's (or a hold's) is final; an eCheck's is only submitted, and its result is
/// learned later by asking (`debit_status`).
pub(crate) fn approved(echeck: bool) -> ChargeOutcome {
    if echeck {
        ChargeOutcome::AchSubmitted { expected: None }
    } else {
        ChargeOutcome::Approved {
            funding: Funding::Unknown,
        }
    }
}

/// The decline code for response code 2 (declined), by reason code.
pub(crate) fn declined_code(reason: Option<u32>) -> DeclineCode {
    match reason {
        Some(8 | 317) => DeclineCode::ExpiredCard,
        // Card code mismatch (44, 65), address and card code mismatch (45).
        Some(44 | 45 | 65) => DeclineCode::IncorrectCvc,
        // 2/3/4 issuer declines, 27 address mismatch, 41 fraud score, 250/251 fraud filters,
        // 254 declined in review, and any other: the card was refused.
        _ => DeclineCode::CardDeclined,
    }
}

/// The decline code for response code 3 (error): the transaction was not processed, except that
/// reason 11 says an identical transaction was made moments ago (perhaps this very attempt), so
/// whether money moved is `None` — unknown.
pub(crate) fn error_code(reason: Option<u32>) -> Option<DeclineCode> {
    Some(match reason {
        Some(11) => return None,
        // Invalid card number, card type not accepted, invalid routing or account number.
        Some(6 | 9 | 10 | 17 | 28 | 37 | 315) => DeclineCode::CardDeclined,
        // Invalid or past expiration date.
        Some(7 | 8 | 316 | 317) => DeclineCode::ExpiredCard,
        // Invalid card code.
        Some(78) => DeclineCode::IncorrectCvc,
        _ => DeclineCode::ProcessingError,
    })
}

/// Reads a `createTransactionResponse` for a charge, an authorization or a capture.
pub(crate) fn transaction_answer(
    response: &CreateTransactionResponse,
    echeck: bool,
) -> Result<Answer, ProcessorError> {
    let Some(tr) = response
        .transaction_response
        .as_ref()
        .filter(|tr| tr.response_code.is_some())
    else {
        return Err(if response.messages.is_ok() {
            ProcessorError::Unknown("Authorize.net answered without a transaction result".into())
        } else {
            api_error(&response.messages)
        });
    };
    let reason = tr.reason_code();
    let outcome = match tr.response_code.as_deref().map(str::trim) {
        Some("1") => approved(echeck),
        Some("2") => ChargeOutcome::Declined {
            code: declined_code(reason),
        },
        Some("3") => match error_code(reason) {
            Some(code) => ChargeOutcome::Declined { code },
            None => {
                return Err(ProcessorError::Unknown(format!(
                    "Authorize.net refused it as a duplicate of a recent transaction ({}); the \
                     earlier one decides",
                    tr.reason_text()
                )))
            }
        },
        Some("4") => {
            return Err(ProcessorError::Unknown(format!(
                "held for review at Authorize.net ({}); pending until the review decides",
                tr.reason_text()
            )))
        }
        other => {
            return Err(ProcessorError::Unknown(format!(
                "Authorize.net answered an unknown response code {:?}",
                other.unwrap_or("")
            )))
        }
    };
    Ok(Answer::new(outcome, tr.reference()))
}

/// Errors that Authorize.net raises before it makes any transaction: bad credentials, an
/// inactive or test-mode account, a request its schema refuses.
const REFUSED_BEFORE_ANYTHING: &[&str] = &[
    "E00003", "E00007", "E00008", "E00009", "E00011", "E00013", "E00014", "E00015", "E00016",
    "E00045",
];

/// An answer with `resultCode` Error and no transaction result.
pub(crate) fn api_error(messages: &Messages) -> ProcessorError {
    let code = messages.first_code();
    if REFUSED_BEFORE_ANYTHING.contains(&code) {
        ProcessorError::NotSent(format!(
            "Authorize.net refused the request: {}",
            messages.describe()
        ))
    } else {
        ProcessorError::Unknown(format!(
            "Authorize.net answered an error: {}",
            messages.describe()
        ))
    }
}

/// What a transaction read back through the reporting API says about the payment (or hold).
pub(crate) fn status_outcome(
    details: &TransactionDetails,
) -> Result<ChargeOutcome, ProcessorError> {
    let declined = |code| Ok(ChargeOutcome::Declined { code });
    match details.status() {
        "authorizedPendingCapture"
        | "capturedPendingSettlement"
        | "settledSuccessfully"
        | "pendingSettlement"
        | "pendingFinalSettlement"
        | "updatingSettlement"
        | "returnedItem"
        | "chargeback"
        | "chargebackReversal" => Ok(approved(details.is_echeck())),
        "declined" => declined(declined_code(details.reason_code())),
        "failedReview" => declined(DeclineCode::CardDeclined),
        "voided" | "expired" | "generalError" | "communicationError" | "settlementError" => {
            declined(DeclineCode::ProcessingError)
        }
        // FDSPendingReview, FDSAuthorizedPendingReview, underReview, approvedReview,
        // couldNotVoid and anything new: not final.
        other => Err(ProcessorError::Unknown(format!(
            "transaction {} is {other:?} at Authorize.net, not final",
            details.trans_id
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorize_net::client::parse;

    fn answer(body: &str, echeck: bool) -> Result<Answer, ProcessorError> {
        transaction_answer(&parse(body.as_bytes()).unwrap(), echeck)
    }

    fn tx(response_code: &str, reason: &str, trans_id: &str) -> String {
        let result = if response_code == "1" { "Ok" } else { "Error" };
        let detail = if response_code == "1" {
            format!(
                r#""messages":[{{"code":"{reason}","description":"This transaction has been approved."}}]"#
            )
        } else {
            format!(r#""errors":[{{"errorCode":"{reason}","errorText":"Refused."}}]"#)
        };
        format!(
            r#"{{"transactionResponse":{{"responseCode":"{response_code}","authCode":"","transId":"{trans_id}",{detail}}},
              "refId":"p0123456789ABCDEFGHI","messages":{{"resultCode":"{result}","message":[{{"code":"E00027","text":"The transaction was unsuccessful."}}]}}}}"#
        )
    }

    #[test]
    fn approvals_are_final_for_cards_and_submitted_for_echecks() {
        let card = answer(&tx("1", "1", "40000000001"), false).unwrap();
        assert_eq!(
            card,
            Answer::new(
                ChargeOutcome::Approved {
                    funding: Funding::Unknown
                },
                Some("40000000001".into())
            )
        );
        let echeck = answer(&tx("1", "1", "40000000002"), true).unwrap();
        assert_eq!(
            echeck.outcome,
            ChargeOutcome::AchSubmitted { expected: None }
        );
    }

    #[test]
    fn declines_map_by_reason_code() {
        for (reason, code) in [
            ("2", DeclineCode::CardDeclined),
            ("3", DeclineCode::CardDeclined),
            ("4", DeclineCode::CardDeclined),
            ("27", DeclineCode::CardDeclined),
            ("8", DeclineCode::ExpiredCard),
            ("44", DeclineCode::IncorrectCvc),
            ("45", DeclineCode::IncorrectCvc),
            ("65", DeclineCode::IncorrectCvc),
            ("250", DeclineCode::CardDeclined),
        ] {
            let got = answer(&tx("2", reason, "40000000003"), false).unwrap();
            assert_eq!(
                got.outcome,
                ChargeOutcome::Declined { code },
                "reason {reason}"
            );
            assert_eq!(got.reference.as_deref(), Some("40000000003"));
        }
    }

    #[test]
    fn errors_decline_unless_a_duplicate() {
        for (reason, code) in [
            ("6", DeclineCode::CardDeclined),
            ("37", DeclineCode::CardDeclined),
            ("17", DeclineCode::CardDeclined),
            ("7", DeclineCode::ExpiredCard),
            ("8", DeclineCode::ExpiredCard),
            ("78", DeclineCode::IncorrectCvc),
            ("5", DeclineCode::ProcessingError),
            ("19", DeclineCode::ProcessingError),
            ("33", DeclineCode::ProcessingError),
        ] {
            let got = answer(&tx("3", reason, "0"), false).unwrap();
            assert_eq!(
                got.outcome,
                ChargeOutcome::Declined { code },
                "reason {reason}"
            );
            assert_eq!(got.reference, None);
        }
        assert!(matches!(
            answer(&tx("3", "11", "0"), false),
            Err(ProcessorError::Unknown(_))
        ));
    }

    #[test]
    fn held_for_review_and_unknown_codes_are_unknown() {
        for code in ["4", "5", ""] {
            assert!(
                matches!(
                    answer(&tx(code, "252", "40000000004"), false),
                    Err(ProcessorError::Unknown(_))
                ),
                "response code {code:?}"
            );
        }
    }

    #[test]
    fn api_errors_without_a_transaction() {
        let error = |code: &str| {
            format!(
                r#"{{"messages":{{"resultCode":"Error","message":[{{"code":"{code}","text":"Failed."}}]}}}}"#
            )
        };
        for code in ["E00007", "E00008", "E00003", "E00013", "E00015"] {
            assert!(
                matches!(answer(&error(code), false), Err(ProcessorError::NotSent(_))),
                "{code}"
            );
        }
        for code in ["E00001", "E00027", "E99999"] {
            assert!(
                matches!(answer(&error(code), false), Err(ProcessorError::Unknown(_))),
                "{code}"
            );
        }
        let ok_without_result = r#"{"messages":{"resultCode":"Ok","message":[]}}"#;
        assert!(matches!(
            answer(ok_without_result, false),
            Err(ProcessorError::Unknown(_))
        ));
    }

    #[test]
    fn reported_statuses_map_to_outcomes() {
        let details = |status: &str, bank: bool, reason: u32| {
            let payment = if bank {
                r#"{"bankAccount":{"accountNumber":"XXXX6789","nameOnAccount":"Pat"}}"#
            } else {
                r#"{"creditCard":{"cardNumber":"XXXX1111","expirationDate":"XXXX"}}"#
            };
            let body = format!(
                r#"{{"transId":"7","transactionStatus":"{status}","responseReasonCode":{reason},"payment":{payment}}}"#
            );
            serde_json::from_str::<TransactionDetails>(&body).unwrap()
        };
        let card = ChargeOutcome::Approved {
            funding: Funding::Unknown,
        };
        for status in [
            "authorizedPendingCapture",
            "capturedPendingSettlement",
            "settledSuccessfully",
        ] {
            assert_eq!(
                status_outcome(&details(status, false, 1)).unwrap(),
                card,
                "{status}"
            );
            assert_eq!(
                status_outcome(&details(status, true, 1)).unwrap(),
                ChargeOutcome::AchSubmitted { expected: None }
            );
        }
        for (status, reason, code) in [
            ("declined", 2, DeclineCode::CardDeclined),
            ("declined", 8, DeclineCode::ExpiredCard),
            ("voided", 1, DeclineCode::ProcessingError),
            ("expired", 1, DeclineCode::ProcessingError),
            ("failedReview", 254, DeclineCode::CardDeclined),
            ("generalError", 19, DeclineCode::ProcessingError),
            ("communicationError", 57, DeclineCode::ProcessingError),
            ("settlementError", 1, DeclineCode::ProcessingError),
        ] {
            assert_eq!(
                status_outcome(&details(status, false, reason)).unwrap(),
                ChargeOutcome::Declined { code },
                "{status}"
            );
        }
        for status in [
            "FDSPendingReview",
            "FDSAuthorizedPendingReview",
            "underReview",
            "approvedReview",
            "somethingNew",
        ] {
            assert!(
                matches!(
                    status_outcome(&details(status, false, 1)),
                    Err(ProcessorError::Unknown(_))
                ),
                "{status}"
            );
        }
    }
}
