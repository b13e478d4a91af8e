//! Refunds through Authorize.net. A refund needs the payment's transaction and the last four
//! digits of its card or account; one of a payment not yet settled is refused (reason 54), so a
//! full refund before settlement voids the payment instead, and a partial one must wait for the
//! settlement (usually the next day).

use kassa_core::payment::MaskedMethod;

use super::{outcome, request, AuthorizeNetProcessor, Voided, DUPLICATE};
use crate::{Captured, ProcessorError, RefundOutcome, RefundRequest};

/// Reason codes for a refund Authorize.net refuses because the payment has not settled yet
/// (50: awaiting settlement; 54: does not meet the criteria for a credit).
const NOT_SETTLED: [u32; 2] = [50, 54];

impl AuthorizeNetProcessor {
    pub(crate) async fn refund_payment(
        &self,
        request: RefundRequest<'_>,
    ) -> Result<RefundOutcome, ProcessorError> {
        let Some(trans_id) = self.payment_reference(&request.payment).await? else {
            return Ok(RefundOutcome::Refused {
                reason: "Authorize.net has no transaction for this payment".into(),
            });
        };
        let holder = self.holder_name(&request.payment, &trans_id).await?;
        let transaction = match request::refund_transaction(
            request.refund_id.as_str(),
            request.amount,
            &trans_id,
            request.payment.method,
            holder.as_deref(),
        ) {
            Ok(transaction) => transaction,
            Err(reason) => return Ok(RefundOutcome::Refused { reason }),
        };
        let response = self
            .transact(request.refund_id.as_str(), transaction)
            .await?;
        let Some(tr) = response
            .transaction_response
            .as_ref()
            .filter(|t| t.response_code.is_some())
        else {
            return Err(if response.messages.is_ok() {
                ProcessorError::Unknown("Authorize.net answered without a refund result".into())
            } else {
                outcome::api_error(&response.messages)
            });
        };
        match (tr.response_code.as_deref(), tr.reason_code()) {
            (Some("1"), _) => Ok(RefundOutcome::Succeeded {
                reference: tr.reference(),
            }),
            (Some("2" | "3"), Some(reason)) if NOT_SETTLED.contains(&reason) => {
                self.refund_unsettled(&request, &trans_id, tr.reason_text())
                    .await
            }
            // This refund was already sent: what the first attempt did is the answer.
            (Some("3"), Some(DUPLICATE)) => match self.find_refund(request).await {
                Ok(Some(first)) => Ok(first),
                Ok(None) | Err(_) => Err(ProcessorError::Unknown(
                    "Authorize.net refused the refund as a duplicate of a recent one, which \
                     it does not show yet"
                        .into(),
                )),
            },
            (Some("2" | "3"), _) => Ok(RefundOutcome::Refused {
                reason: format!("Authorize.net refused the refund: {}", tr.reason_text()),
            }),
            _ => Err(ProcessorError::Unknown(format!(
                "Authorize.net's answer to the refund is not final: {}",
                tr.reason_text()
            ))),
        }
    }

    pub(crate) async fn find_refund(
        &self,
        request: RefundRequest<'_>,
    ) -> Result<Option<RefundOutcome>, ProcessorError> {
        if let Some(details) = self.find(request.refund_id.as_str()).await? {
            return match details.status() {
                "refundPendingSettlement" | "refundSettledSuccessfully" => {
                    Ok(Some(RefundOutcome::Succeeded {
                        reference: Some(details.trans_id),
                    }))
                }
                "declined" | "voided" | "expired" | "failedReview" | "generalError"
                | "communicationError" | "settlementError" => Ok(Some(RefundOutcome::Refused {
                    reason: format!(
                        "Authorize.net did not refund: the refund transaction is {}",
                        details.status()
                    ),
                })),
                other => Err(ProcessorError::Unknown(format!(
                    "the refund {} is {other:?} at Authorize.net, not final",
                    details.trans_id
                ))),
            };
        }
        // A full refund of an unsettled payment is a void of the payment itself.
        let Some(trans_id) = self.payment_reference(&request.payment).await? else {
            return Ok(None);
        };
        let Some(payment) = self.details(&trans_id).await? else {
            return Ok(None);
        };
        let full =
            [payment.settle_minor(), payment.auth_minor()].contains(&Some(request.amount.minor()));
        Ok(
            (payment.status() == "voided" && full).then_some(RefundOutcome::Succeeded {
                reference: Some(trans_id),
            }),
        )
    }

    /// A refund Authorize.net refused because the payment has not settled: a full refund voids
    /// the payment instead; a partial one must wait for settlement.
    async fn refund_unsettled(
        &self,
        request: &RefundRequest<'_>,
        trans_id: &str,
        refusal: String,
    ) -> Result<RefundOutcome, ProcessorError> {
        let details = self.known_details(trans_id).await?;
        let captured = details
            .settle_minor()
            .filter(|m| *m > 0)
            .or(details.auth_minor());
        let full = captured == Some(request.amount.minor());
        let wait = RefundOutcome::Refused {
            reason: "Authorize.net can refund this payment only once it has settled (usually \
                     the next day); refund it then, or refund the full amount before \
                     settlement, which voids it"
                .into(),
        };
        match details.status() {
            // An earlier attempt at this very refund voided it already.
            "voided" if full => Ok(RefundOutcome::Succeeded {
                reference: Some(trans_id.to_string()),
            }),
            "capturedPendingSettlement" if full => {
                match self.void(request.refund_id.as_str(), trans_id).await? {
                    Voided::Yes => Ok(RefundOutcome::Succeeded {
                        reference: Some(trans_id.to_string()),
                    }),
                    Voided::Refused(reason) => Ok(RefundOutcome::Refused {
                        reason: format!(
                            "Authorize.net would not void the unsettled payment: {reason}"
                        ),
                    }),
                }
            }
            // Partial, or already in the batch being settled (too late to void, too early to
            // refund).
            "capturedPendingSettlement"
            | "pendingSettlement"
            | "pendingFinalSettlement"
            | "updatingSettlement" => Ok(wait),
            other => Ok(RefundOutcome::Refused {
                reason: format!(
                    "Authorize.net refused the refund: {refusal} (the payment's transaction is \
                     {other})"
                ),
            }),
        }
    }

    /// The name for an eCheck refund: Kassa's, else the one on the original debit.
    async fn holder_name(
        &self,
        payment: &Captured<'_>,
        trans_id: &str,
    ) -> Result<Option<String>, ProcessorError> {
        if let Some(name) = payment.holder_name {
            return Ok(Some(name.to_string()));
        }
        if !matches!(payment.method, MaskedMethod::Ach { .. }) {
            return Ok(None);
        }
        Ok(self
            .details(trans_id)
            .await?
            .and_then(|d| d.payment?.bank_account?.name_on_account))
    }
}
