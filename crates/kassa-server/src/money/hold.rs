//! Authorize now, capture later: holding funds on a card or Google Pay, and capturing (part of) a
//! hold as a payment. Both go through the money protocol; a capture is a payment attempt, so an
//! abandoned one is recovered with the other attempts.

use std::ops::ControlFlow;

use kassa_core::audit::Caller;
use kassa_core::authorization::{Authorization, AUTHORIZATION_VALIDITY};
use kassa_core::id::{AuthorizationId, PartnerId, PaymentId};
use kassa_core::money::Money;
use kassa_core::payment::{Funding, MaskedMethod, Payment};
use kassa_core::processor::Connector;
use kassa_processor::{AuthorizeRequest, CaptureRequest, Held as HeldAt};
use kassa_store::{
    AttemptResult, AuthorizationResult, CaptureOutcome, FinishedAttempt, NewAuthorization,
    NewCapture, Partner,
};

use super::order::{begun, Order};
use super::protocol::{run, Flow};
use super::records::{capture_answer, hold_answer, Answered, Attempts, Authorizations};
use super::sale::recorded_by_recovery;
use crate::state::AppState;

/// Records the authorization, asks the processor to hold the funds, and records the answer.
pub async fn authorize(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
    order: Order,
    idempotency_key: Option<String>,
) -> anyhow::Result<Authorization> {
    let flow = Authorize {
        partner: partner.clone(),
        by: by.clone(),
        order,
        idempotency_key,
    };
    run(state, flow).await
}

struct Authorize {
    partner: Partner,
    by: Caller,
    order: Order,
    idempotency_key: Option<String>,
}

/// The authorization as recorded before the processor is asked.
struct Held {
    authorization: (PartnerId, AuthorizationId),
    amount: Money,
    /// The processor it was recorded for.
    connector: Connector,
}

impl Flow for Authorize {
    type Record = Authorizations;
    type Intent = Held;
    type Outcome = Authorization;

    async fn record_intent(
        &mut self,
        state: &AppState,
    ) -> anyhow::Result<ControlFlow<Authorization, Held>> {
        let now = state.clock.now();
        let id = AuthorizationId::generate();
        let (customer, method) = self.order.payer_and_method(state, &self.partner, now);
        let new = NewAuthorization {
            id: id.clone(),
            idempotency_key: self.idempotency_key.take(),
            amount: self.order.amount(),
            customer,
            method,
            invoice: self.order.invoice.clone(),
            dynamic_descriptor: self.order.dynamic_descriptor.clone(),
            expires_at: now + AUTHORIZATION_VALIDITY,
        };
        let recorded = state
            .store
            .begin_authorization(&self.partner.id, &new, &self.by)
            .await;
        begun(recorded, |hold| Held {
            authorization: (self.partner.id.clone(), id),
            amount: new.amount,
            connector: hold.processor.connector,
        })
    }

    fn key(held: &Held) -> &(PartnerId, AuthorizationId) {
        &held.authorization
    }

    async fn ask(&self, state: &AppState, held: &Held) -> Option<Answered<AuthorizationResult>> {
        let (partner, id) = &held.authorization;
        let holder = self.order.method.holder_name();
        let asked = async {
            state
                .processor_for(partner, held.connector)
                .await?
                .authorize(AuthorizeRequest {
                    authorization_id: id,
                    amount: held.amount,
                    instrument: self.order.method.instrument(),
                    holder_name: holder.as_deref(),
                })
                .await
        }
        .await;
        hold_answer(id, asked)
    }

    async fn undecided(self, state: &AppState, held: Held) -> anyhow::Result<Authorization> {
        let (partner, id) = &held.authorization;
        tracing::warn!(authorization = %id, "processor did not answer in time; the authorization stays pending until recovery asks it");
        current_authorization(state, partner, id).await
    }

    async fn answered(
        self,
        _state: &AppState,
        _held: Held,
        _answer: Answered<AuthorizationResult>,
        authorization: Authorization,
    ) -> anyhow::Result<Authorization> {
        Ok(authorization)
    }

    async fn recorded_meanwhile(
        self,
        state: &AppState,
        held: Held,
    ) -> anyhow::Result<Authorization> {
        let (partner, id) = &held.authorization;
        current_authorization(state, partner, id).await
    }
}

async fn current_authorization(
    state: &AppState,
    partner: &PartnerId,
    id: &AuthorizationId,
) -> anyhow::Result<Authorization> {
    state
        .store
        .authorization(partner, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("authorization {id} vanished"))
}

/// Claims an authorization for its capture, asks the processor to capture, and records the
/// answer: `Captured` with a completed payment, or with a failed one (the processor refused; the
/// authorization may be captured again), or any refusal of the claim.
pub async fn capture(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
    authorization: AuthorizationId,
    capture: NewCapture,
) -> anyhow::Result<CaptureOutcome> {
    let flow = Capture {
        partner: partner.clone(),
        by: by.clone(),
        authorization,
        capture,
    };
    run(state, flow).await
}

struct Capture {
    partner: Partner,
    by: Caller,
    authorization: AuthorizationId,
    capture: NewCapture,
}

/// The claimed authorization and the pending payment its capture made.
struct Claimed {
    payment_key: (PartnerId, PaymentId),
    authorization: Authorization,
    payment: Payment,
}

impl Flow for Capture {
    type Record = Attempts;
    type Intent = Claimed;
    type Outcome = CaptureOutcome;

    async fn record_intent(
        &mut self,
        state: &AppState,
    ) -> anyhow::Result<ControlFlow<CaptureOutcome, Claimed>> {
        let claimed = state
            .store
            .capture_authorization(
                &self.partner.id,
                &self.authorization,
                &self.capture,
                &self.by,
            )
            .await?;
        let CaptureOutcome::Captured {
            authorization,
            payment,
        } = claimed
        else {
            return Ok(ControlFlow::Break(claimed));
        };
        Ok(ControlFlow::Continue(Claimed {
            payment_key: (self.partner.id.clone(), payment.id.clone()),
            authorization,
            payment,
        }))
    }

    fn key(claimed: &Claimed) -> &(PartnerId, PaymentId) {
        &claimed.payment_key
    }

    async fn ask(&self, state: &AppState, claimed: &Claimed) -> Option<Answered<AttemptResult>> {
        let payment = &claimed.payment;
        let hold = &claimed.authorization;
        let hold_funding = match hold.payment_method {
            MaskedMethod::Card { funding, .. } => funding,
            _ => Funding::Unknown,
        };
        let asked = async {
            state
                .processor_for(&self.partner.id, hold.processor.connector)
                .await?
                .capture(CaptureRequest {
                    hold: HeldAt {
                        authorization_id: &hold.id,
                        reference: hold.processor.reference.as_deref(),
                        amount: hold.amount,
                    },
                    payment_id: &payment.id,
                    amount: payment.amount,
                })
                .await
        }
        .await;
        capture_answer(state, payment, hold_funding, asked)
    }

    async fn undecided(
        self,
        _state: &AppState,
        claimed: Claimed,
    ) -> anyhow::Result<CaptureOutcome> {
        tracing::warn!(payment = %claimed.payment.id, "processor did not answer a capture in time; it stays pending until recovery asks");
        Ok(CaptureOutcome::Captured {
            authorization: claimed.authorization,
            payment: claimed.payment,
        })
    }

    async fn answered(
        self,
        state: &AppState,
        claimed: Claimed,
        _answer: Answered<AttemptResult>,
        finished: FinishedAttempt,
    ) -> anyhow::Result<CaptureOutcome> {
        self.captured(state, claimed.authorization, finished.payment)
            .await
    }

    async fn recorded_meanwhile(
        self,
        state: &AppState,
        claimed: Claimed,
    ) -> anyhow::Result<CaptureOutcome> {
        let (partner, payment) = &claimed.payment_key;
        let payment = recorded_by_recovery(state, partner, payment).await?;
        self.captured(state, claimed.authorization, payment).await
    }
}

impl Capture {
    /// The outcome with the authorization as the capture left it.
    async fn captured(
        &self,
        state: &AppState,
        claimed: Authorization,
        payment: Payment,
    ) -> anyhow::Result<CaptureOutcome> {
        let authorization = state
            .store
            .authorization(&self.partner.id, &self.authorization)
            .await?
            .unwrap_or(claimed);
        Ok(CaptureOutcome::Captured {
            authorization,
            payment,
        })
    }
}
