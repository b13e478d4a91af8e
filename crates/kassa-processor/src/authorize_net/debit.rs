//! What became of an eCheck debit. Authorize.net sends no notification when a debit settles or
//! is returned, so Kassa asks: the transaction's status and its returned items say it.

use kassa_core::payment::{AchResolution, AchReturnCode};

use super::response::TransactionDetails;
use super::AuthorizeNetProcessor;
use crate::{PaymentLookup, ProcessorError};

/// The return code Kassa reports for an eCheck that Authorize.net never debited after all
/// (voided, failed review, a settlement error), or one returned without a readable code. No
/// NACHA code means "never presented", and inventing a payer-side reason such as R01
/// (insufficient funds) would misinform; R17 ("could not be processed as submitted") is the
/// nearest, and Kassa shows it as returned by the bank.
const NOT_DEBITED_RETURN: &str = "R17";

impl AuthorizeNetProcessor {
    pub(crate) async fn debit(
        &self,
        payment: PaymentLookup<'_>,
    ) -> Result<Option<AchResolution>, ProcessorError> {
        let details = match payment.reference {
            Some(reference) => self.known_details(reference).await?,
            None => match self.find(payment.payment_id.as_str()).await? {
                Some(details) => details,
                None => return Ok(None),
            },
        };
        Ok(debit_resolution(&details))
    }
}

/// What an eCheck's transaction says about the debit; `None` while it is pending.
///
/// `settledSuccessfully` is taken as cleared: it is Authorize.net's final state for a debit
/// nobody returned, and a return arriving later turns the transaction into `returnedItem`.
fn debit_resolution(details: &TransactionDetails) -> Option<AchResolution> {
    let returned = details
        .returned_items
        .iter()
        .filter_map(|r| r.code.as_deref())
        .find_map(|c| AchReturnCode::parse(c.trim()));
    let not_debited =
        || AchResolution::Return(AchReturnCode::parse(NOT_DEBITED_RETURN).expect("well formed"));
    if let Some(code) = returned {
        return Some(AchResolution::Return(code));
    }
    match details.status() {
        "settledSuccessfully" => Some(AchResolution::Clear),
        "returnedItem" | "chargeback" | "declined" | "voided" | "expired" | "failedReview"
        | "generalError" | "communicationError" | "settlementError" => Some(not_debited()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(status: &str, returned: &str) -> TransactionDetails {
        serde_json::from_str(&format!(
            r#"{{"transId":"1","transactionStatus":"{status}","returnedItems":[{returned}]}}"#
        ))
        .unwrap()
    }

    fn returned(code: &str) -> Option<AchResolution> {
        Some(AchResolution::Return(AchReturnCode::parse(code).unwrap()))
    }

    #[test]
    fn debit_resolutions_by_status_and_returned_items() {
        assert_eq!(
            debit_resolution(&details("settledSuccessfully", "")),
            Some(AchResolution::Clear)
        );
        assert_eq!(
            debit_resolution(&details("returnedItem", r#"{"code":"R02"}"#)),
            returned("R02")
        );
        // A return recorded on a transaction still shown as settled is a return.
        assert_eq!(
            debit_resolution(&details("settledSuccessfully", r#"{"code":"R10"}"#)),
            returned("R10")
        );
        assert_eq!(
            debit_resolution(&details("returnedItem", "")),
            returned(NOT_DEBITED_RETURN)
        );
        for status in ["voided", "settlementError", "declined", "failedReview"] {
            assert_eq!(
                debit_resolution(&details(status, "")),
                returned(NOT_DEBITED_RETURN),
                "{status}"
            );
        }
        for status in [
            "capturedPendingSettlement",
            "pendingSettlement",
            "underReview",
            "FDSPendingReview",
        ] {
            assert_eq!(debit_resolution(&details(status, "")), None, "{status}");
        }
    }
}
