//! An API sale: record the payment (and its new customer and method), charge it, record the
//! answer — through the money protocol. A decline is a failed payment, not an error.

use std::ops::ControlFlow;

use kassa_core::audit::Caller;
use kassa_core::id::{PartnerId, PaymentId};
use kassa_core::money::Money;
use kassa_core::payment::Payment;
use kassa_core::processor::Connector;
use kassa_processor::ChargeRequest;
use kassa_store::{AttemptResult, FinishedAttempt, NewApiPayment, Partner};

use super::order::{begun, Order};
use super::protocol::{run, Flow};
use super::records::{charge_answer, Answered, Attempts};
use crate::state::AppState;

/// Records the sale, charges it, and records the answer. A retry under the same
/// `Idempotency-Key` gets the payment the first request made, never a second charge.
pub async fn sale(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
    order: Order,
    idempotency_key: Option<String>,
) -> anyhow::Result<Payment> {
    let flow = Sale {
        partner: partner.clone(),
        by: by.clone(),
        order,
        idempotency_key,
    };
    run(state, flow).await
}

struct Sale {
    partner: Partner,
    by: Caller,
    order: Order,
    idempotency_key: Option<String>,
}

/// The payment as recorded before the processor is asked.
struct Recorded {
    payment: (PartnerId, PaymentId),
    amount: Money,
    /// The processor it was recorded for.
    connector: Connector,
}

impl Flow for Sale {
    type Record = Attempts;
    type Intent = Recorded;
    type Outcome = Payment;

    async fn record_intent(
        &mut self,
        state: &AppState,
    ) -> anyhow::Result<ControlFlow<Payment, Recorded>> {
        let now = state.clock.now();
        let payment_id = PaymentId::generate();
        let (customer, method) = self.order.payer_and_method(state, &self.partner, now);
        let new = NewApiPayment {
            payment_id: payment_id.clone(),
            idempotency_key: self.idempotency_key.take(),
            amount: self.order.amount(),
            customer,
            method,
            invoice: self.order.invoice.clone(),
            dynamic_descriptor: self.order.dynamic_descriptor.clone(),
        };
        let recorded = state
            .store
            .begin_payment(&self.partner.id, &new, &self.by)
            .await;
        begun(recorded, |payment| Recorded {
            payment: (self.partner.id.clone(), payment_id),
            amount: new.amount,
            connector: payment.processor.connector,
        })
    }

    fn key(recorded: &Recorded) -> &(PartnerId, PaymentId) {
        &recorded.payment
    }

    async fn ask(&self, state: &AppState, recorded: &Recorded) -> Option<Answered<AttemptResult>> {
        let (partner, payment_id) = &recorded.payment;
        let holder = self.order.method.holder_name();
        let charged = async {
            state
                .processor_for(partner, recorded.connector)
                .await?
                .charge(ChargeRequest {
                    payment_id,
                    amount: recorded.amount,
                    instrument: self.order.method.instrument(),
                    holder_name: holder.as_deref(),
                    mandate: None,
                })
                .await
        }
        .await;
        charge_answer(state, payment_id, charged)
    }

    async fn undecided(self, state: &AppState, recorded: Recorded) -> anyhow::Result<Payment> {
        let (partner, payment_id) = &recorded.payment;
        tracing::warn!(payment = %payment_id, "processor did not answer in time; the payment stays pending until recovery asks it");
        current_payment(state, partner, payment_id).await
    }

    async fn answered(
        self,
        _state: &AppState,
        _recorded: Recorded,
        _answer: Answered<AttemptResult>,
        finished: FinishedAttempt,
    ) -> anyhow::Result<Payment> {
        Ok(finished.payment)
    }

    async fn recorded_meanwhile(
        self,
        state: &AppState,
        recorded: Recorded,
    ) -> anyhow::Result<Payment> {
        let (partner, payment_id) = &recorded.payment;
        recorded_by_recovery(state, partner, payment_id).await
    }
}

/// An API payment whose answer recovery recorded first: that record stands and is returned.
pub(crate) async fn recorded_by_recovery(
    state: &AppState,
    partner: &PartnerId,
    payment: &PaymentId,
) -> anyhow::Result<Payment> {
    tracing::warn!(payment = %payment, "the answer was recorded meanwhile by recovery");
    current_payment(state, partner, payment).await
}

pub(crate) async fn current_payment(
    state: &AppState,
    partner: &PartnerId,
    id: &PaymentId,
) -> anyhow::Result<Payment> {
    state
        .store
        .payment(partner, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("payment {id} vanished"))
}
