//! The Authorize.net connector: Kassa's payments as `createTransactionRequest` calls to
//! Authorize.net's JSON API, answers read back through its transaction reporting API, and its
//! webhooks. Authorize.net has no idempotency key, so a transaction is never sent twice by this
//! code; a call whose answer is lost is `Unknown` and settled by a lookup. If Kassa itself sends
//! an attempt again, Authorize.net's duplicate window (set to its 8-hour maximum) refuses it and
//! the first attempt's decision is the answer. Kassa's id travels in `refId` and the order (see
//! [`short_id`]).

mod client;
mod debit;
mod outcome;
mod refund;
mod reporting;
mod request;
mod response;
mod short_id;
mod webhook;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use kassa_core::id::AuthorizationId;
use kassa_core::money::Money;
use kassa_core::payment::{AchResolution, DeclineCode};

pub use short_id::{is_short_of, kassa_id_of, short_id, short_kind, IdKind};

use client::Client;
use outcome::{approved, transaction_answer};
use request::{Envelope, MerchantAuthentication, TransactionBody, TransactionRequest};
use response::CreateTransactionResponse;

use crate::{
    Answer, AuthorizeRequest, CaptureRequest, Captured, ChargeOutcome, ChargeRequest, Connector,
    Delivery, Held, Instrument, Notification, NotificationError, PaymentLookup, Processor,
    ProcessorError, RefundOutcome, RefundRequest,
};

/// Authorize.net's production API.
pub const PRODUCTION_API_BASE: &str = "https://api.authorize.net";
/// Authorize.net's sandbox API, for sandbox accounts.
pub const SANDBOX_API_BASE: &str = "https://apitest.authorize.net";

/// A merchant's Authorize.net credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizeNetConfig {
    /// The API login id.
    pub login_id: String,
    pub transaction_key: String,
    /// The Signature Key that signs webhooks; without it every delivery is refused.
    pub signature_key: Option<String>,
    /// [`PRODUCTION_API_BASE`], [`SANDBOX_API_BASE`] or a stand-in's address.
    pub api_base: String,
}

impl fmt::Debug for AuthorizeNetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeNetConfig")
            .field("login_id", &self.login_id)
            .field("transaction_key", &"[redacted]")
            .field(
                "signature_key",
                &self.signature_key.as_ref().map(|_| "[redacted]"),
            )
            .field("api_base", &self.api_base)
            .finish()
    }
}

#[derive(Clone)]
pub struct AuthorizeNetProcessor {
    client: Client,
    config: AuthorizeNetConfig,
}

impl fmt::Debug for AuthorizeNetProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeNetProcessor")
            .field("config", &self.config)
            .finish()
    }
}

/// Reason code for a void of a transaction already voided.
const ALREADY_VOIDED: u32 = 310;
/// Reason code for a capture of a hold already captured.
const ALREADY_CAPTURED: u32 = 311;
/// Reason code for a duplicate inside the duplicate window.
const DUPLICATE: u32 = 11;

/// What a void came to.
enum Voided {
    Yes,
    Refused(String),
}

impl AuthorizeNetProcessor {
    pub fn new(client: reqwest::Client, config: AuthorizeNetConfig) -> Self {
        Self {
            client: Client::new(client, &config.api_base, client::DEFAULT_TIMEOUT),
            config,
        }
    }

    /// Gives up on each call after `timeout` instead of the default 25 seconds.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.client = Client::new(self.client.http().clone(), &self.config.api_base, timeout);
        self
    }

    fn envelope<T>(&self, name: &'static str, ref_id: Option<String>, body: T) -> Envelope<'_, T> {
        Envelope {
            name,
            auth: MerchantAuthentication {
                name: &self.config.login_id,
                transaction_key: &self.config.transaction_key,
            },
            ref_id,
            body,
        }
    }

    /// Sends one `createTransactionRequest`, once.
    async fn transact(
        &self,
        kassa_id: &str,
        transaction_request: TransactionRequest<'_>,
    ) -> Result<CreateTransactionResponse, ProcessorError> {
        let kind = transaction_request.transaction_type;
        let envelope = self.envelope(
            "createTransactionRequest",
            Some(short_id(kassa_id)),
            TransactionBody {
                transaction_request,
            },
        );
        let response: CreateTransactionResponse = self.client.call(&envelope).await?;
        tracing::debug!(
            kassa_id,
            transaction_type = kind,
            result = %response.messages.result_code,
            response_code = response
                .transaction_response
                .as_ref()
                .and_then(|t| t.response_code.as_deref())
                .unwrap_or(""),
            "authorize.net transaction"
        );
        Ok(response)
    }

    /// The answer to a new transaction. Refused as a duplicate (the same card or account, amount
    /// and invoice number within the duplicate window), the attempt was already made: what the
    /// first one decided is the answer, if the reporting API shows it yet.
    async fn answer_or_first(
        &self,
        kassa_id: &str,
        response: &CreateTransactionResponse,
        echeck: bool,
    ) -> Result<Answer, ProcessorError> {
        let duplicate = response.transaction_response.as_ref().is_some_and(|t| {
            t.response_code.as_deref() == Some("3") && t.reason_code() == Some(DUPLICATE)
        });
        let answer = transaction_answer(response, echeck);
        if !duplicate {
            return answer;
        }
        match self.find(kassa_id).await {
            Ok(Some(first)) => Ok(Answer::new(
                outcome::status_outcome(&first)?,
                Some(first.trans_id),
            )),
            Ok(None) | Err(_) => answer,
        }
    }

    /// The transaction id of a hold: recorded, or found by its Kassa id. `None` when
    /// Authorize.net holds nothing for it (never received, or declined).
    async fn hold_reference(&self, hold: Held<'_>) -> Result<Option<String>, ProcessorError> {
        if let Some(reference) = hold.reference {
            return Ok(Some(reference.to_string()));
        }
        Ok(
            match self
                .lookup_authorization(hold.authorization_id, hold.amount)
                .await?
            {
                Some(Answer {
                    outcome: ChargeOutcome::Approved { .. },
                    reference,
                }) => reference,
                _ => None,
            },
        )
    }

    /// The transaction id of a payment: recorded, or found by its Kassa id.
    async fn payment_reference(
        &self,
        payment: &Captured<'_>,
    ) -> Result<Option<String>, ProcessorError> {
        if let Some(reference) = payment.reference {
            return Ok(Some(reference.to_string()));
        }
        Ok(self
            .find(payment.payment_id.as_str())
            .await?
            .map(|d| d.trans_id))
    }

    /// Voids `trans_id`; a transaction already voided counts as voided.
    async fn void(&self, kassa_id: &str, trans_id: &str) -> Result<Voided, ProcessorError> {
        let response = self
            .transact(kassa_id, request::void_transaction(trans_id))
            .await?;
        let Some(tr) = response
            .transaction_response
            .as_ref()
            .filter(|t| t.response_code.is_some())
        else {
            return Err(outcome::api_error(&response.messages));
        };
        match (tr.response_code.as_deref(), tr.reason_code()) {
            (Some("1"), _) | (_, Some(ALREADY_VOIDED)) => Ok(Voided::Yes),
            (Some("2" | "3"), _) => Ok(Voided::Refused(tr.reason_text())),
            _ => Err(ProcessorError::Unknown(format!(
                "Authorize.net's answer to the void of {trans_id} is not final: {}",
                tr.reason_text()
            ))),
        }
    }
}

#[async_trait]
impl Processor for AuthorizeNetProcessor {
    fn connector(&self) -> Connector {
        Connector::AuthorizeNet
    }

    async fn charge(&self, request: ChargeRequest<'_>) -> Result<Answer, ProcessorError> {
        let id = request.payment_id.as_str();
        let echeck = matches!(request.instrument, Instrument::Ach { .. });
        let transaction = request::payment_transaction(
            "authCaptureTransaction",
            id,
            request.amount,
            &request.instrument,
            request.holder_name,
            request.mandate,
        )?;
        let response = self.transact(id, transaction).await?;
        self.answer_or_first(id, &response, echeck).await
    }

    async fn lookup(&self, payment: PaymentLookup<'_>) -> Result<Option<Answer>, ProcessorError> {
        if let Some(hold) = payment.capture_of {
            // A capture is the hold's own transaction, captured: ask how the hold stands.
            let Some(trans_id) = self.hold_reference(hold).await? else {
                return Ok(None);
            };
            let details = self.known_details(&trans_id).await?;
            return match details.status() {
                "authorizedPendingCapture" => Ok(None),
                "capturedPendingSettlement"
                | "settledSuccessfully"
                | "pendingSettlement"
                | "pendingFinalSettlement"
                | "updatingSettlement" => Ok(Some(Answer::new(approved(false), Some(trans_id)))),
                "voided" | "expired" | "declined" | "failedReview" | "generalError"
                | "communicationError" | "settlementError" => Ok(Some(Answer::new(
                    ChargeOutcome::Declined {
                        code: DeclineCode::ProcessingError,
                    },
                    Some(trans_id),
                ))),
                other => Err(ProcessorError::Unknown(format!(
                    "the hold {trans_id} is {other:?} at Authorize.net, not final"
                ))),
            };
        }
        let details = match payment.reference {
            Some(reference) => Some(self.known_details(reference).await?),
            None => self.find(payment.payment_id.as_str()).await?,
        };
        details
            .map(|d| Ok(Answer::new(outcome::status_outcome(&d)?, Some(d.trans_id))))
            .transpose()
    }

    async fn authorize(&self, request: AuthorizeRequest<'_>) -> Result<Answer, ProcessorError> {
        if matches!(request.instrument, Instrument::Ach { .. }) {
            return Err(ProcessorError::NotSent(
                "bank debits cannot be authorized, only charged".into(),
            ));
        }
        let id = request.authorization_id.as_str();
        let transaction = request::payment_transaction(
            "authOnlyTransaction",
            id,
            request.amount,
            &request.instrument,
            request.holder_name,
            None,
        )?;
        let response = self.transact(id, transaction).await?;
        self.answer_or_first(id, &response, false).await
    }

    async fn lookup_authorization(
        &self,
        authorization_id: &AuthorizationId,
        _amount: Money,
    ) -> Result<Option<Answer>, ProcessorError> {
        self.find(authorization_id.as_str())
            .await?
            .map(|d| Ok(Answer::new(outcome::status_outcome(&d)?, Some(d.trans_id))))
            .transpose()
    }

    async fn capture(&self, request: CaptureRequest<'_>) -> Result<Answer, ProcessorError> {
        let Some(trans_id) = self.hold_reference(request.hold).await? else {
            return Err(ProcessorError::NotSent(format!(
                "Authorize.net holds nothing for {}",
                request.hold.authorization_id
            )));
        };
        let id = request.payment_id.as_str();
        let response = self
            .transact(id, request::capture_transaction(request.amount, &trans_id))
            .await?;
        let already_captured = response
            .transaction_response
            .as_ref()
            .is_some_and(|t| t.reason_code() == Some(ALREADY_CAPTURED));
        if already_captured {
            // A repeated capture: what the first one did is the answer.
            let details = self.known_details(&trans_id).await?;
            return Ok(Answer::new(
                outcome::status_outcome(&details)?,
                Some(trans_id),
            ));
        }
        let answer = transaction_answer(&response, false)?;
        Ok(Answer::new(
            answer.outcome,
            answer.reference.or(Some(trans_id)),
        ))
    }

    async fn release(&self, hold: Held<'_>) -> Result<(), ProcessorError> {
        let Some(trans_id) = self.hold_reference(hold).await? else {
            return Ok(());
        };
        match self.void(hold.authorization_id.as_str(), &trans_id).await? {
            Voided::Yes => Ok(()),
            Voided::Refused(reason) => {
                // Nothing left to release is as good as released.
                let details = self.known_details(&trans_id).await?;
                match details.status() {
                    "voided" | "expired" | "declined" | "failedReview" => Ok(()),
                    _ => Err(ProcessorError::NotSent(format!(
                        "Authorize.net would not void the hold {trans_id}: {reason}"
                    ))),
                }
            }
        }
    }

    async fn refund(&self, request: RefundRequest<'_>) -> Result<RefundOutcome, ProcessorError> {
        self.refund_payment(request).await
    }

    async fn lookup_refund(
        &self,
        request: RefundRequest<'_>,
    ) -> Result<Option<RefundOutcome>, ProcessorError> {
        self.find_refund(request).await
    }

    async fn debit_status(
        &self,
        payment: PaymentLookup<'_>,
    ) -> Result<Option<AchResolution>, ProcessorError> {
        self.debit(payment).await
    }

    async fn read_notification(
        &self,
        delivery: Delivery<'_>,
    ) -> Result<Notification, NotificationError> {
        self.notification(delivery).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_and_processors_debug_without_keys() {
        let config = AuthorizeNetConfig {
            login_id: "login-1".into(),
            transaction_key: "tk-secret".into(),
            signature_key: Some("sig-secret".into()),
            api_base: SANDBOX_API_BASE.into(),
        };
        let processor = AuthorizeNetProcessor::new(reqwest::Client::new(), config.clone());
        for debug in [format!("{config:?}"), format!("{processor:?}")] {
            assert!(!debug.contains("tk-secret"), "{debug}");
            assert!(!debug.contains("sig-secret"), "{debug}");
            assert!(debug.contains("login-1"), "{debug}");
        }
    }
}
