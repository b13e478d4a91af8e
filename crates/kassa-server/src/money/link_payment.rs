//! Paying a payment request (the hosted page's form): claim the request with a new attempt,
//! charge, record the answer — through the money protocol, so the rules hold as everywhere else.

use std::ops::ControlFlow;

use kassa_core::ach::AchAuthorization;
use kassa_core::id::{PartnerId, PaymentId, PaymentRequestId};
use kassa_core::payment::DeclineCode;
use kassa_core::payment_method::NewInstrument;
use kassa_core::payment_request::PaymentRequest;
use kassa_core::processor::Connector;
use kassa_processor::{ChargeRequest, DebitMandate};
use kassa_store::{AttemptResult, BeginOutcome, FinishedAttempt, MethodOwner, NewAttempt, Partner};

use super::instrument::{processor_instrument, sealed_method};
use super::protocol::{run, Flow};
use super::records::{charge_answer, Answered, Attempts};
use crate::counters::Attempt;
use crate::state::AppState;

/// A payer's instrument from the form, parsed and valid, with the holder's name and (for a card)
/// the billing postal code.
#[derive(Debug)]
pub struct PayInput {
    pub holder_name: String,
    pub postal_code: Option<String>,
    pub instrument: NewInstrument,
    /// For a bank debit: the payer's authorization (docs/api.md §10), required by the page.
    pub ach_authorization: Option<AchAuthorization>,
    /// Where the payer wants the receipt (the form's optional email); None: the request's
    /// `payerEmail`.
    pub payer_email: Option<kassa_core::email::Email>,
}

#[derive(Debug)]
pub enum PayOutcome {
    /// Card approved: the request is completed.
    Completed,
    /// ACH debit submitted: the request is processing.
    Processing,
    /// Refused; the request is open again for another try.
    Declined(PaymentRequest, DeclineCode),
    AlreadyCompleted(PaymentRequest),
    InProgress(PaymentRequest),
    NotOpen(PaymentRequest),
    TooManyAttempts,
    NotFound,
}

/// Pays a request.
pub async fn pay(
    state: &AppState,
    partner: &Partner,
    request: &PaymentRequestId,
    input: PayInput,
) -> anyhow::Result<PayOutcome> {
    let flow = LinkPayment {
        partner: partner.clone(),
        request: request.clone(),
        input,
    };
    run(state, flow).await
}

struct LinkPayment {
    partner: Partner,
    request: PaymentRequestId,
    input: PayInput,
}

/// The attempt that holds the request, and the request as it claimed it.
struct Claimed {
    attempt: (PartnerId, PaymentId),
    request: PaymentRequest,
    /// The processor the attempt was recorded for.
    connector: Connector,
}

impl Flow for LinkPayment {
    type Record = Attempts;
    type Intent = Claimed;
    type Outcome = PayOutcome;

    async fn record_intent(
        &mut self,
        state: &AppState,
    ) -> anyhow::Result<ControlFlow<PayOutcome, Claimed>> {
        let attempt = self.new_attempt(state);
        let begun = state
            .store
            .begin_attempt(&self.partner.id, &self.request, &attempt, state.clock.now())
            .await?;
        if !matches!(begun, BeginOutcome::Started { .. }) {
            state.metrics.attempt(Attempt::Refused);
        }
        Ok(match begun {
            BeginOutcome::Started { request, payment } => ControlFlow::Continue(Claimed {
                attempt: (self.partner.id.clone(), attempt.payment_id),
                request,
                connector: payment.processor.connector,
            }),
            BeginOutcome::NotFound => ControlFlow::Break(PayOutcome::NotFound),
            BeginOutcome::AlreadyCompleted(pr) => {
                ControlFlow::Break(PayOutcome::AlreadyCompleted(pr))
            }
            BeginOutcome::InProgress(pr) => ControlFlow::Break(PayOutcome::InProgress(pr)),
            BeginOutcome::NotOpen(pr) => ControlFlow::Break(PayOutcome::NotOpen(pr)),
            BeginOutcome::TooManyAttempts(_) => ControlFlow::Break(PayOutcome::TooManyAttempts),
        })
    }

    fn key(claimed: &Claimed) -> &(PartnerId, PaymentId) {
        &claimed.attempt
    }

    async fn ask(&self, state: &AppState, claimed: &Claimed) -> Option<Answered<AttemptResult>> {
        let (partner, payment_id) = &claimed.attempt;
        let mandate = self.input.ach_authorization.as_ref().map(|a| DebitMandate {
            accepted_at: a.accepted_at,
            ip: a.ip.as_deref(),
            user_agent: a.user_agent.as_deref(),
        });
        let charged = async {
            state
                .processor_for(partner, claimed.connector)
                .await?
                .charge(ChargeRequest {
                    payment_id,
                    amount: claimed.request.amount,
                    instrument: processor_instrument(
                        &self.input.instrument,
                        self.input.postal_code.as_deref(),
                    ),
                    holder_name: Some(self.input.holder_name.as_str()),
                    mandate,
                })
                .await
        }
        .await;
        charge_answer(state, payment_id, charged)
    }

    // Still undecided: the request stays held until recovery asks the processor.
    async fn undecided(self, _state: &AppState, claimed: Claimed) -> anyhow::Result<PayOutcome> {
        tracing::warn!(payment = %claimed.attempt.1, "processor did not answer in time");
        Ok(PayOutcome::InProgress(claimed.request))
    }

    async fn answered(
        self,
        state: &AppState,
        _claimed: Claimed,
        answer: Answered<AttemptResult>,
        finished: FinishedAttempt,
    ) -> anyhow::Result<PayOutcome> {
        Ok(match answer.result {
            AttemptResult::Approved { .. } => PayOutcome::Completed,
            AttemptResult::Declined { code } => {
                // Before the payer's page is drawn, so it already asks for the proof of work.
                crate::challenge_mode::after_decline(state, &self.partner.id).await;
                PayOutcome::Declined(
                    finished.request.ok_or_else(|| {
                        anyhow::anyhow!("a request's attempt finished without it")
                    })?,
                    code,
                )
            }
            AttemptResult::AchSubmitted { .. } => PayOutcome::Processing,
        })
    }

    // The payer sees the request as it now is.
    async fn recorded_meanwhile(
        self,
        state: &AppState,
        _claimed: Claimed,
    ) -> anyhow::Result<PayOutcome> {
        let now = state.clock.now();
        Ok(
            match state
                .store
                .payment_request(&self.partner.id, &self.request)
                .await?
            {
                Some(pr) => PayOutcome::InProgress(pr.seen_at(now)),
                None => PayOutcome::NotFound,
            },
        )
    }
}

impl LinkPayment {
    /// The attempt's records: the number goes into the vault sealed; outside it only the brand,
    /// last 4 and a keyed fingerprint. The payer's method belongs to no customer.
    fn new_attempt(&self, state: &AppState) -> NewAttempt {
        NewAttempt {
            payment_id: PaymentId::generate(),
            method: sealed_method(
                state,
                &self.partner,
                &self.input.instrument,
                self.input.holder_name.clone(),
                MethodOwner::default(),
                self.input.postal_code.clone(),
            ),
            failed_limit: state.config.failed_attempt_limit(),
            ach_authorization: self.input.ach_authorization.clone(),
            payer_email: self.input.payer_email.clone(),
        }
    }
}
