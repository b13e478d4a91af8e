//! Every call to a processor, timed and logged in one place: [`TimedProcessor`] wraps whichever
//! connector `processors.rs` hands out (the sandbox, Stripe, Authorize.net) and, around each
//! call, observes `kassa_processor_request_duration_seconds` (connector, operation, outcome) and
//! writes one log line with Kassa's ids for what was asked. Only ids, never an instrument: the
//! requests carry card and account numbers, and none of their fields but the ids is read here.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use kassa_core::id::{AuthorizationId, PaymentId};
use kassa_core::money::Money;
use kassa_core::payment::AchResolution;
use kassa_processor::{
    Answer, AuthorizeRequest, CaptureRequest, ChargeOutcome, ChargeRequest, Connector, Delivery,
    Held, Notification, NotificationError, PaymentLookup, Processor, ProcessorError, RefundOutcome,
    RefundRequest,
};

use crate::counters::Metrics;

/// A processor whose calls are timed, counted and logged.
#[derive(Debug)]
pub struct TimedProcessor {
    inner: Arc<dyn Processor>,
    metrics: Arc<Metrics>,
}

impl TimedProcessor {
    pub fn wrap(inner: Arc<dyn Processor>, metrics: Arc<Metrics>) -> Arc<dyn Processor> {
        Arc::new(Self { inner, metrics })
    }

    /// Runs one call, then observes and logs it.
    async fn timed<T>(
        &self,
        operation: &'static str,
        ids: Ids<'_>,
        call: impl std::future::Future<Output = Result<T, ProcessorError>>,
        outcome_of: impl FnOnce(&T) -> &'static str,
    ) -> Result<T, ProcessorError> {
        let started = Instant::now();
        let result = call.await;
        let took = started.elapsed();
        let outcome = match &result {
            Ok(value) => outcome_of(value),
            Err(ProcessorError::NotSent(_)) => "not_sent",
            Err(ProcessorError::Unknown(_)) => "unknown",
        };
        let connector = self.inner.connector().as_str();
        self.metrics
            .processor_call(connector, operation, outcome, took);
        tracing::info!(
            connector,
            operation,
            outcome,
            latency_ms = took.as_secs_f64() * 1000.0,
            payment = ids.payment,
            authorization = ids.authorization,
            refund = ids.refund,
            error = result.as_ref().err().map(tracing::field::display),
            "processor call"
        );
        result
    }
}

/// Kassa's ids for what a call is about, for its log line.
#[derive(Default, Clone, Copy)]
struct Ids<'a> {
    payment: Option<&'a str>,
    authorization: Option<&'a str>,
    refund: Option<&'a str>,
}

impl<'a> Ids<'a> {
    fn payment(id: &'a PaymentId) -> Self {
        Self {
            payment: Some(id.as_str()),
            ..Self::default()
        }
    }

    fn hold(hold: &Held<'a>) -> Self {
        Self {
            authorization: Some(hold.authorization_id.as_str()),
            ..Self::default()
        }
    }

    fn refund(request: &RefundRequest<'a>) -> Self {
        Self {
            payment: Some(request.payment.payment_id.as_str()),
            refund: Some(request.refund_id.as_str()),
            ..Self::default()
        }
    }
}

fn answer(answer: &Answer) -> &'static str {
    match answer.outcome {
        ChargeOutcome::Approved { .. } => "approved",
        ChargeOutcome::Declined { .. } => "declined",
        ChargeOutcome::AchSubmitted { .. } => "ach_submitted",
    }
}

fn found(looked_up: &Option<Answer>) -> &'static str {
    looked_up.as_ref().map_or("not_found", answer)
}

fn refunded(outcome: &RefundOutcome) -> &'static str {
    match outcome {
        RefundOutcome::Succeeded { .. } => "succeeded",
        RefundOutcome::Refused { .. } => "refused",
    }
}

#[async_trait]
impl Processor for TimedProcessor {
    fn connector(&self) -> Connector {
        self.inner.connector()
    }

    async fn charge(&self, request: ChargeRequest<'_>) -> Result<Answer, ProcessorError> {
        let ids = Ids::payment(request.payment_id);
        self.timed("charge", ids, self.inner.charge(request), answer)
            .await
    }

    async fn lookup(&self, payment: PaymentLookup<'_>) -> Result<Option<Answer>, ProcessorError> {
        let ids = Ids::payment(payment.payment_id);
        self.timed("lookup", ids, self.inner.lookup(payment), found)
            .await
    }

    async fn authorize(&self, request: AuthorizeRequest<'_>) -> Result<Answer, ProcessorError> {
        let ids = Ids {
            authorization: Some(request.authorization_id.as_str()),
            ..Ids::default()
        };
        self.timed("authorize", ids, self.inner.authorize(request), answer)
            .await
    }

    async fn lookup_authorization(
        &self,
        authorization_id: &AuthorizationId,
        amount: Money,
    ) -> Result<Option<Answer>, ProcessorError> {
        let ids = Ids {
            authorization: Some(authorization_id.as_str()),
            ..Ids::default()
        };
        let call = self.inner.lookup_authorization(authorization_id, amount);
        self.timed("lookup_authorization", ids, call, found).await
    }

    async fn capture(&self, request: CaptureRequest<'_>) -> Result<Answer, ProcessorError> {
        let ids = Ids {
            payment: Some(request.payment_id.as_str()),
            ..Ids::hold(&request.hold)
        };
        self.timed("capture", ids, self.inner.capture(request), answer)
            .await
    }

    async fn release(&self, hold: Held<'_>) -> Result<(), ProcessorError> {
        let ids = Ids::hold(&hold);
        self.timed("release", ids, self.inner.release(hold), |_| "ok")
            .await
    }

    async fn refund(&self, request: RefundRequest<'_>) -> Result<RefundOutcome, ProcessorError> {
        let ids = Ids::refund(&request);
        self.timed("refund", ids, self.inner.refund(request), refunded)
            .await
    }

    async fn lookup_refund(
        &self,
        request: RefundRequest<'_>,
    ) -> Result<Option<RefundOutcome>, ProcessorError> {
        let ids = Ids::refund(&request);
        let call = self.inner.lookup_refund(request);
        self.timed("lookup_refund", ids, call, |found| {
            found.as_ref().map_or("not_found", refunded)
        })
        .await
    }

    async fn debit_status(
        &self,
        payment: PaymentLookup<'_>,
    ) -> Result<Option<AchResolution>, ProcessorError> {
        let ids = Ids::payment(payment.payment_id);
        let call = self.inner.debit_status(payment);
        self.timed("debit_status", ids, call, |status| match status {
            None => "pending",
            Some(AchResolution::Clear) => "cleared",
            Some(AchResolution::Return(_)) => "returned",
        })
        .await
    }

    /// Reading a notification asks no processor: passed through untimed.
    async fn read_notification(
        &self,
        delivery: Delivery<'_>,
    ) -> Result<Notification, NotificationError> {
        self.inner.read_notification(delivery).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kassa_core::card::{CardNumber, Expiry};
    use kassa_core::money::Currency;
    use kassa_processor::{Instrument, SandboxProcessor};

    #[tokio::test]
    async fn every_call_is_timed_under_its_connector_operation_and_outcome() {
        let metrics = Arc::new(Metrics::default());
        let processor = TimedProcessor::wrap(Arc::new(SandboxProcessor::new()), metrics.clone());
        let number = CardNumber::parse("4242424242424242").unwrap();
        let payment_id = PaymentId::generate();
        let answer = processor
            .charge(ChargeRequest {
                payment_id: &payment_id,
                amount: Money::new(1000, Currency::Usd),
                instrument: Instrument::Card {
                    number: &number,
                    expiry: Expiry::parse("12/40", time::macros::date!(2026 - 01 - 01)).unwrap(),
                    cvc: None,
                    postal_code: None,
                },
                holder_name: None,
                mandate: None,
            })
            .await
            .unwrap();
        assert!(matches!(answer.outcome, ChargeOutcome::Approved { .. }));
        let mut text = String::new();
        metrics.render(&mut text);
        assert!(
            text.contains(
                "kassa_processor_request_duration_seconds_count{connector=\"sandbox\",operation=\"charge\",outcome=\"approved\"} 1\n"
            ),
            "{text}"
        );
        assert!(!text.contains("4242424242424242"));
    }
}
