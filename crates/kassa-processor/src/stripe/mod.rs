//! The Stripe connector: card payments and holds as PaymentMethods + PaymentIntents, bank debits
//! as `us_bank_account` PaymentIntents, refunds through `/v1/refunds`, and Stripe's signed
//! webhooks (docs/api.md §10).
//!
//! Every POST carries an Idempotency-Key derived from Kassa's own id (the payment, hold or refund
//! id itself for the call that moves money), so any call can be repeated without moving money
//! twice. Card numbers go to Stripe's API directly, which needs raw-card access on the Stripe
//! account. Google Pay is not supported: Stripe takes a Google Pay token only through its own
//! client-side flow, so such a charge is refused before anything is sent.
//!
//! Decisions Kassa cannot act on become declines: a PaymentIntent that wants the payer to act
//! (3-D Secure, microdeposit verification of a bank account) is declined and canceled, because
//! Kassa has no way to put the payer in front of Stripe and the payer was not charged. Bank
//! debits therefore need a Stripe account allowed to debit account numbers without verification.
//!
//! A capture writes its payment id to the hold's `metadata[kassa_capture_id]` (an update just
//! before the capture), so recovery can tell which payment captured a hold.
//!
//! **Recovery and the fence.** To learn what became of a Kassa id whose answer was lost, the
//! connector reads the PaymentIntent by its recorded id, or searches for it by
//! `metadata['kassa_id']`. Stripe's search is eventually consistent (new objects can take about a
//! minute to appear), so "not found" proves nothing alone. The connector then *fences* the id:
//! it repeats the PaymentIntent creation with the same Idempotency-Key but parameters the original
//! never had (amount, currency and the Kassa id only: nothing that can charge). If Stripe answers
//! `idempotency_error`, the key was used with other parameters, so the original arrived and the
//! answer is `Unknown` (ask again later, when search shows it). If Stripe creates a PaymentIntent,
//! the original never arrived and now never can, because its key is spent: the new
//! PaymentIntent (marked `metadata[kassa_fence]=true`, so a later search that finds it answers
//! `Ok(None)` again) is canceled and the answer is `Ok(None)`. A fenced id cannot be charged
//! later; Stripe refuses its key, which reads as `Unknown`, so a new attempt needs a new id.

mod client;
mod form;
mod objects;
mod outcome;
mod recovery;
mod webhook;

use std::time::Duration;

use async_trait::async_trait;
use kassa_core::id::AuthorizationId;
use kassa_core::money::Money;
use kassa_core::payment::{DeclineCode, Funding};

pub use client::API_VERSION;
pub use webhook::{sign as sign_webhook, TOLERANCE_SECONDS};

use client::{Client, Refusal, Reply};
use form::{Form, Intent};
use objects::{PaymentIntent, PaymentMethod, Refund};
use outcome::Reading;

use crate::{
    Answer, AuthorizeRequest, CaptureRequest, ChargeOutcome, ChargeRequest, Connector, Delivery,
    Held, Instrument, Notification, NotificationError, PaymentLookup, Processor, ProcessorError,
    RefundOutcome, RefundRequest,
};

/// Stripe's API address.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";

/// How long one attempt may take. With three attempts and the backoff between them a call
/// stays well under a minute.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The pause before the first retry; the second waits twice as long.
pub const RETRY_BACKOFF: Duration = Duration::from_millis(300);

/// How long one trait call may take in all, however many requests it makes (a charge makes two,
/// a capture three, a lookup up to four), so Kassa's caller is answered within a minute.
pub const CALL_BUDGET: Duration = Duration::from_secs(50);

const GOOGLE_PAY_UNSUPPORTED: &str = "Google Pay through Stripe is not supported by this connector";

/// A partner's Stripe account.
#[derive(Clone)]
pub struct StripeConfig {
    /// `sk_live_…` / `sk_test_…` (or a restricted `rk_…` key with PaymentIntents, PaymentMethods
    /// and Refunds write access).
    pub secret_key: String,
    /// `whsec_…`; without it every webhook delivery is refused.
    pub webhook_secret: Option<String>,
    /// [`DEFAULT_API_BASE`], or a stand-in's address; a trailing slash is fine.
    pub api_base: String,
}

impl StripeConfig {
    pub fn new(secret_key: impl Into<String>) -> Self {
        Self {
            secret_key: secret_key.into(),
            webhook_secret: None,
            api_base: DEFAULT_API_BASE.to_string(),
        }
    }
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig")
            .field("secret_key", &"[redacted]")
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("api_base", &self.api_base)
            .finish()
    }
}

pub struct StripeProcessor {
    client: Client,
    webhook_secret: Option<String>,
    budget: Duration,
}

impl std::fmt::Debug for StripeProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeProcessor")
            .field("client", &self.client)
            .field("budget", &self.budget)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl StripeProcessor {
    pub fn new(client: reqwest::Client, config: StripeConfig) -> Self {
        Self {
            client: Client::new(client, &config.api_base, config.secret_key),
            webhook_secret: config.webhook_secret,
            budget: CALL_BUDGET,
        }
    }

    /// Replaces [`REQUEST_TIMEOUT`] and [`RETRY_BACKOFF`] (tests use short ones).
    pub fn with_timing(mut self, request_timeout: Duration, retry_backoff: Duration) -> Self {
        self.client.timeout = request_timeout;
        self.client.backoff = retry_backoff;
        self
    }

    /// Replaces [`CALL_BUDGET`].
    pub fn with_call_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// Runs one trait call within [`CALL_BUDGET`]. A call cut short may have reached Stripe, so
    /// it is `Unknown`, and recovery asks again.
    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, ProcessorError>>,
    ) -> Result<T, ProcessorError> {
        match tokio::time::timeout(self.budget, call).await {
            Ok(result) => result,
            Err(_) => Err(ProcessorError::Unknown(format!(
                "no answer from Stripe within {} s",
                self.budget.as_secs()
            ))),
        }
    }

    /// Creates the PaymentMethod and confirms a PaymentIntent with it.
    async fn pay(
        &self,
        kassa_id: &str,
        amount: Money,
        instrument: &Instrument<'_>,
        holder_name: Option<&str>,
        intent: Intent<'_>,
    ) -> Result<Answer, ProcessorError> {
        let Some(method_form) = form::payment_method(instrument, holder_name) else {
            return Err(ProcessorError::NotSent(GOOGLE_PAY_UNSUPPORTED.into()));
        };
        let method: PaymentMethod = match self
            .client
            .post(
                "/v1/payment_methods",
                &method_form,
                &format!("{kassa_id}-pm"),
            )
            .await?
        {
            Reply::Ok(method) => method,
            // An invalid number or expiry is a card_error (402): the payer can fix it.
            Reply::Refused(r) if r.is_decline() => return Ok(declined(&r, None)),
            Reply::Refused(r) => return Err(r.error_for("the payment method")),
        };
        let funding = outcome::funding(Some(&method));
        let intent_form = form::payment_intent(kassa_id, amount, &method.id, intent);
        match self
            .client
            .post::<PaymentIntent>("/v1/payment_intents", &intent_form, kassa_id)
            .await?
        {
            Reply::Ok(intent) => self.settle(intent, funding).await,
            Reply::Refused(r) if r.is_decline() => {
                let reference = r.error.payment_intent.as_ref().map(|p| p.id.clone());
                Ok(declined(&r, reference))
            }
            Reply::Refused(r) => Err(r.error_for("the payment")),
        }
    }

    /// The answer a confirmed PaymentIntent gives, canceling one that waits on the payer.
    async fn settle(
        &self,
        intent: PaymentIntent,
        funding: Funding,
    ) -> Result<Answer, ProcessorError> {
        let reading = outcome::read_intent(&intent, funding)?;
        let outcome = match reading {
            Reading::Decided(outcome) => outcome,
            Reading::Abandon(outcome) => {
                tracing::info!(
                    payment_intent = %intent.id,
                    status = %intent.status,
                    "Stripe wants the payer to act; declining and canceling"
                );
                if let Err(e) = self
                    .cancel(&intent.id, &format!("{}-abandon", intent.id))
                    .await
                {
                    // Nobody holds its client secret, so it cannot complete; it expires.
                    tracing::warn!(payment_intent = %intent.id, "could not cancel: {e}");
                }
                outcome
            }
        };
        Ok(Answer::new(outcome, Some(intent.id)))
    }

    async fn cancel(&self, intent_id: &str, key: &str) -> Result<(), ProcessorError> {
        let path = format!("/v1/payment_intents/{}/cancel", path_segment(intent_id));
        match self
            .client
            .post::<PaymentIntent>(&path, &Form::new(), key)
            .await?
        {
            Reply::Ok(_) => Ok(()),
            Reply::Refused(r) => {
                // Already canceled is what was wanted; anything else is a real refusal.
                if self.retrieve(intent_id).await?.status == "canceled" {
                    Ok(())
                } else {
                    Err(r.error_for("the cancellation"))
                }
            }
        }
    }
}

fn declined(refusal: &Refusal, reference: Option<String>) -> Answer {
    tracing::info!(error = %refusal.error.summary(), "Stripe declined");
    Answer::new(
        ChargeOutcome::Declined {
            code: outcome::decline_of(Some(&refusal.error)),
        },
        reference,
    )
}

/// Stripe ids are `[A-Za-z0-9_]`; anything else is percent-encoded so a recorded reference can
/// never change the path.
fn path_segment(id: &str) -> String {
    form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

fn refund_outcome(refund: Refund) -> Result<RefundOutcome, ProcessorError> {
    match refund.status.as_str() {
        "succeeded" => Ok(RefundOutcome::Succeeded {
            reference: Some(refund.id),
        }),
        "failed" | "canceled" => Ok(RefundOutcome::Refused {
            reason: refund
                .failure_reason
                .unwrap_or_else(|| format!("refund {}", refund.status)),
        }),
        // pending, requires_action: Kassa keeps the refund pending until a webhook or lookup.
        other => Err(ProcessorError::Unknown(format!(
            "Stripe refund {} is {other}",
            refund.id
        ))),
    }
}

/// Whether a refused refund was refused for what it asked (already refunded, too much), as
/// opposed to a request Stripe could not read.
fn refund_refused(refusal: &Refusal) -> Option<String> {
    let code = refusal.error.code.as_deref();
    let about_amount = refusal.error.param.as_deref() == Some("amount");
    let refused = matches!(
        code,
        Some("charge_already_refunded" | "amount_too_large" | "charge_disputed")
    ) || about_amount;
    refused.then(|| {
        refusal
            .error
            .message
            .clone()
            .or_else(|| code.map(str::to_string))
            .unwrap_or_else(|| "Stripe refused the refund".into())
    })
}

#[async_trait]
impl Processor for StripeProcessor {
    fn connector(&self) -> Connector {
        Connector::Stripe
    }

    async fn charge(&self, request: ChargeRequest<'_>) -> Result<Answer, ProcessorError> {
        self.bounded(async move {
            let kassa_id = request.payment_id.as_str();
            let intent = match request.instrument {
                Instrument::Card { .. } => Intent::Sale,
                Instrument::Ach { .. } => {
                    if request.holder_name.is_none() {
                        return Err(ProcessorError::NotSent(
                            "Stripe needs the account holder's name for a bank debit".into(),
                        ));
                    }
                    Intent::Debit(request.mandate)
                }
                Instrument::GooglePay { .. } => {
                    return Err(ProcessorError::NotSent(GOOGLE_PAY_UNSUPPORTED.into()))
                }
            };
            self.pay(
                kassa_id,
                request.amount,
                &request.instrument,
                request.holder_name,
                intent,
            )
            .await
        })
        .await
    }

    async fn lookup(&self, payment: PaymentLookup<'_>) -> Result<Option<Answer>, ProcessorError> {
        self.bounded(async move {
            let payment_id = payment.payment_id.as_str();
            let Some(hold) = payment.capture_of else {
                return self
                    .lookup_kassa_id(payment_id, payment.reference, payment.amount)
                    .await;
            };
            let Some(intent_id) = self.hold_intent(&hold).await? else {
                return Ok(None);
            };
            let intent = self.retrieve(&intent_id).await?;
            let funding = outcome::funding(intent.expanded_method());
            let captured_as = intent.kassa_capture_id();
            let reference = Some(intent.id.clone());
            let outcome = match intent.status.as_str() {
                "succeeded" if captured_as == Some(payment_id) => {
                    ChargeOutcome::Approved { funding }
                }
                "succeeded" if captured_as.is_none() && intent.amount_received > 0 => {
                    ChargeOutcome::Approved { funding }
                }
                // Captured as another payment: this one captured nothing.
                "succeeded" | "canceled" => ChargeOutcome::Declined {
                    code: DeclineCode::ProcessingError,
                },
                "requires_capture" => return Ok(None),
                other => {
                    return Err(ProcessorError::Unknown(format!(
                        "held PaymentIntent {intent_id} is {other}"
                    )))
                }
            };
            Ok(Some(Answer::new(outcome, reference)))
        })
        .await
    }

    async fn authorize(&self, request: AuthorizeRequest<'_>) -> Result<Answer, ProcessorError> {
        self.bounded(async move {
            match request.instrument {
                Instrument::Card { .. } => {}
                Instrument::Ach { .. } => {
                    return Err(ProcessorError::NotSent(
                        "ACH debits cannot be authorized, only charged".into(),
                    ))
                }
                Instrument::GooglePay { .. } => {
                    return Err(ProcessorError::NotSent(GOOGLE_PAY_UNSUPPORTED.into()))
                }
            }
            self.pay(
                request.authorization_id.as_str(),
                request.amount,
                &request.instrument,
                request.holder_name,
                Intent::Hold,
            )
            .await
        })
        .await
    }

    async fn lookup_authorization(
        &self,
        authorization_id: &AuthorizationId,
        amount: Money,
    ) -> Result<Option<Answer>, ProcessorError> {
        self.bounded(async move {
            self.lookup_kassa_id(authorization_id.as_str(), None, amount)
                .await
        })
        .await
    }

    async fn capture(&self, request: CaptureRequest<'_>) -> Result<Answer, ProcessorError> {
        self.bounded(async move {
        let payment_id = request.payment_id.as_str();
        let Some(intent_id) = self.hold_intent(&request.hold).await? else {
            return Err(ProcessorError::NotSent(format!(
                "Stripe never received hold {}",
                request.hold.authorization_id
            )));
        };
        let intent = self.retrieve(&intent_id).await?;
        let funding = outcome::funding(intent.expanded_method());
        let reference = Some(intent.id.clone());
        let cannot = || {
            Answer::new(
                ChargeOutcome::Declined {
                    code: DeclineCode::ProcessingError,
                },
                reference.clone(),
            )
        };
        let captured_as = intent.kassa_capture_id();
        match intent.status.as_str() {
            "requires_capture" => {}
            // This very capture, repeated after its answer was lost.
            "succeeded" if captured_as == Some(payment_id) => {
                return Ok(Answer::new(ChargeOutcome::Approved { funding }, reference))
            }
            _ => return Ok(cannot()),
        }
        // The capture's id goes on the PaymentIntent first, in its own update: Stripe's capture
        // takes metadata too, but stand-ins (localstripe) refuse it, and lookup reads it only
        // once the PaymentIntent is captured, so an update without a capture misleads nobody.
        let mut mark = Form::new();
        mark.push("metadata[kassa_capture_id]", payment_id);
        let path = format!("/v1/payment_intents/{}", path_segment(&intent_id));
        if let Reply::Refused(r) = self
            .client
            .post::<PaymentIntent>(&path, &mark, &format!("{payment_id}-mark"))
            .await?
        {
            return Err(r.error_for("marking the hold with the capture's id"));
        }
        let mut capture = Form::new();
        capture.push("amount_to_capture", request.amount.minor().to_string());
        let path = format!("/v1/payment_intents/{}/capture", path_segment(&intent_id));
        match self
            .client
            .post::<PaymentIntent>(&path, &capture, payment_id)
            .await?
        {
            Reply::Ok(intent) if intent.status == "succeeded" => {
                Ok(Answer::new(ChargeOutcome::Approved { funding }, reference))
            }
            Reply::Ok(intent) if intent.status == "canceled" => Ok(cannot()),
            Reply::Ok(intent) => Err(ProcessorError::Unknown(format!(
                "captured PaymentIntent {} is {}",
                intent.id, intent.status
            ))),
            Reply::Refused(r) if r.is_decline() => Ok(declined(&r, reference)),
            // Already captured, canceled or expired: nothing was captured by this request.
            Reply::Refused(r) if r.status == 400 && !r.is_idempotency_error() => {
                tracing::info!(error = %r.error.summary(), "Stripe would not capture {intent_id}");
                Ok(cannot())
            }
            Reply::Refused(r) => Err(r.error_for("the capture")),
        }
        })
        .await
    }

    async fn release(&self, hold: Held<'_>) -> Result<(), ProcessorError> {
        self.bounded(async move {
            match self.hold_intent(&hold).await? {
                Some(intent_id) => {
                    self.cancel(
                        &intent_id,
                        &format!("{}-cancel", hold.authorization_id.as_str()),
                    )
                    .await
                }
                None => Ok(()),
            }
        })
        .await
    }

    async fn refund(&self, request: RefundRequest<'_>) -> Result<RefundOutcome, ProcessorError> {
        self.bounded(async move {
            let intent_id = self.payment_intent_of(&request.payment).await?;
            let refund_id = request.refund_id.as_str();
            let body = form::refund(&intent_id, refund_id, request.amount);
            match self
                .client
                .post::<Refund>("/v1/refunds", &body, refund_id)
                .await?
            {
                Reply::Ok(refund) => refund_outcome(refund),
                Reply::Refused(r) => match refund_refused(&r) {
                    Some(reason) => Ok(RefundOutcome::Refused { reason }),
                    None => Err(r.error_for("the refund")),
                },
            }
        })
        .await
    }

    async fn lookup_refund(
        &self,
        request: RefundRequest<'_>,
    ) -> Result<Option<RefundOutcome>, ProcessorError> {
        self.bounded(async move {
            let intent_id = self.payment_intent_of(&request.payment).await?;
            match self
                .find_refund(&intent_id, request.refund_id.as_str())
                .await?
            {
                Some(refund) => refund_outcome(refund).map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    async fn read_notification(
        &self,
        delivery: Delivery<'_>,
    ) -> Result<Notification, NotificationError> {
        let Some(secret) = &self.webhook_secret else {
            return Err(NotificationError::BadSignature);
        };
        webhook::verify(
            secret,
            delivery.header("Stripe-Signature"),
            delivery.body,
            delivery.received_at,
        )?;
        webhook::read_event(delivery.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_both_secrets() {
        let config = StripeConfig {
            secret_key: "sk_test_supersecret".into(),
            webhook_secret: Some("whsec_supersecret".into()),
            api_base: "http://127.0.0.1:1/".into(),
        };
        let processor = StripeProcessor::new(reqwest::Client::new(), config.clone());
        for debug in [format!("{config:?}"), format!("{processor:?}")] {
            assert!(!debug.contains("supersecret"), "{debug}");
            assert!(debug.contains("[redacted]"), "{debug}");
        }
    }

    fn refusal(json: &str) -> Refusal {
        Refusal {
            status: 400,
            error: serde_json::from_str::<objects::ErrorBody>(json)
                .unwrap()
                .error,
        }
    }

    #[test]
    fn refunds_refused_for_what_they_ask_are_refused() {
        assert!(refund_refused(&refusal(
            r#"{"error":{"type":"invalid_request_error","code":"charge_already_refunded","message":"Charge ch_1 has already been refunded."}}"#
        ))
        .is_some());
        assert!(refund_refused(&refusal(
            r#"{"error":{"type":"invalid_request_error","param":"amount","message":"Refund amount ($20.00) is greater than unrefunded amount on charge ($10.00)"}}"#
        ))
        .unwrap()
        .contains("greater than"));
        assert!(refund_refused(&refusal(
            r#"{"error":{"type":"invalid_request_error","code":"resource_missing","param":"payment_intent"}}"#
        ))
        .is_none());
    }

    #[test]
    fn refund_statuses_map() {
        let refund = |status: &str| Refund {
            id: "re_1".into(),
            status: status.into(),
            metadata: Default::default(),
            failure_reason: None,
        };
        assert_eq!(
            refund_outcome(refund("succeeded")),
            Ok(RefundOutcome::Succeeded {
                reference: Some("re_1".into())
            })
        );
        assert!(matches!(
            refund_outcome(refund("failed")),
            Ok(RefundOutcome::Refused { .. })
        ));
        assert!(matches!(
            refund_outcome(refund("canceled")),
            Ok(RefundOutcome::Refused { .. })
        ));
        for status in ["pending", "requires_action", "odd"] {
            assert!(matches!(
                refund_outcome(refund(status)),
                Err(ProcessorError::Unknown(_))
            ));
        }
    }

    #[test]
    fn path_segments_cannot_escape() {
        assert_eq!(path_segment("pi_123"), "pi_123");
        assert_eq!(path_segment("../x?y"), "..%2Fx%3Fy");
    }

    #[test]
    fn the_api_base_takes_a_trailing_slash() {
        let processor = StripeProcessor::new(
            reqwest::Client::new(),
            StripeConfig {
                api_base: "https://api.stripe.com/".into(),
                ..StripeConfig::new("sk_test_x")
            },
        );
        assert!(format!("{processor:?}").contains("base: \"https://api.stripe.com\""));
    }
}
