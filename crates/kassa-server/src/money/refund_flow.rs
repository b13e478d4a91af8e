//! Refunding a payment: reserve the amount (never more than was captured), ask the processor,
//! record its answer — through the money protocol, so it is recorded once and recovered from the
//! processor after a crash. Shared by the API and the dashboard.

use std::ops::ControlFlow;

use kassa_core::audit::Caller;
use kassa_core::id::PaymentId;
use kassa_core::payment::Payment;
use kassa_core::refund::Refund;
use kassa_store::{NewRefund, Partner, RefundBegin, RefundResult};

use super::protocol::{run, Flow};
use super::records::{refund_request, refunded_answer, Answered, Refunds};
use crate::error::ApiError;
use crate::state::AppState;

/// Refunds a payment. `Started` carries the refund as recorded: `succeeded`, `failed` (the
/// processor refused; the amount is refundable again), or `pending` if the processor has not
/// answered yet.
pub async fn refund(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
    payment: PaymentId,
    new: NewRefund,
) -> anyhow::Result<RefundBegin> {
    let flow = RefundFlow {
        partner: partner.clone(),
        by: by.clone(),
        payment,
        new,
    };
    run(state, flow).await
}

/// The refund a request made (or an earlier one under the same idempotency key), or why none
/// was made, in the API's words (the dashboard shows the same messages).
pub fn outcome(begun: RefundBegin) -> Result<Refund, ApiError> {
    match begun {
        RefundBegin::Started { refund, .. } | RefundBegin::Existing(refund) => Ok(refund),
        RefundBegin::NotFound => Err(ApiError::not_found("payment")),
        RefundBegin::NotSettled(p) => Err(ApiError::invalid_state(
            "payment_not_settled",
            match p.status {
                kassa_core::payment::PaymentStatus::Failed => {
                    format!("payment {} failed; nothing was collected to refund", p.id)
                }
                _ => format!(
                    "payment {} is still pending; a bank payment can be refunded once it has cleared",
                    p.id
                ),
            },
        )),
        RefundBegin::ExceedsAvailable { available, .. } => Err(ApiError::invalid_state(
            "refund_exceeds_available",
            format!(
                "at most {} of this payment is left to refund",
                available.display()
            ),
        )),
    }
}

struct RefundFlow {
    partner: Partner,
    by: Caller,
    payment: PaymentId,
    new: NewRefund,
}

/// The refund as reserved, and the payment it is taken from.
struct Reserved {
    refund: Refund,
    payment: Payment,
}

impl Flow for RefundFlow {
    type Record = Refunds;
    type Intent = Reserved;
    type Outcome = RefundBegin;

    async fn record_intent(
        &mut self,
        state: &AppState,
    ) -> anyhow::Result<ControlFlow<RefundBegin, Reserved>> {
        let begun = state
            .store
            .begin_refund(&self.partner.id, &self.payment, &self.new, &self.by)
            .await?;
        Ok(match begun {
            RefundBegin::Started { refund, payment } => {
                ControlFlow::Continue(Reserved { refund, payment })
            }
            other => ControlFlow::Break(other),
        })
    }

    fn key(reserved: &Reserved) -> &Refund {
        &reserved.refund
    }

    async fn ask(&self, state: &AppState, reserved: &Reserved) -> Option<Answered<RefundResult>> {
        let Reserved { refund, payment } = reserved;
        let refunded = async {
            state
                .processor_for(&self.partner.id, refund.processor.connector)
                .await?
                .refund(refund_request(refund, payment))
                .await
        }
        .await;
        refunded_answer(refund, refunded)
    }

    async fn undecided(self, _state: &AppState, reserved: Reserved) -> anyhow::Result<RefundBegin> {
        tracing::warn!(refund = %reserved.refund.id, "processor did not answer a refund in time; it stays pending until recovery asks");
        Ok(RefundBegin::Started {
            refund: reserved.refund,
            payment: reserved.payment,
        })
    }

    async fn answered(
        self,
        _state: &AppState,
        reserved: Reserved,
        _answer: Answered<RefundResult>,
        refund: Refund,
    ) -> anyhow::Result<RefundBegin> {
        Ok(RefundBegin::Started {
            refund,
            payment: reserved.payment,
        })
    }

    async fn recorded_meanwhile(
        self,
        state: &AppState,
        reserved: Reserved,
    ) -> anyhow::Result<RefundBegin> {
        let id = &reserved.refund.id;
        let refund = state
            .store
            .refund(&self.partner.id, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("refund {id} vanished"))?;
        Ok(RefundBegin::Started {
            refund,
            payment: reserved.payment,
        })
    }
}
