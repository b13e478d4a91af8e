//! The sandbox processor: outcomes decided by magic numbers (docs/api.md §6), so every flow can be
//! driven in tests and demos without a real processor.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kassa_core::id::{AuthorizationId, PaymentId};
use kassa_core::money::Money;
use kassa_core::payment::{AchResolution, AchReturnCode, DeclineCode, Funding};

use crate::{
    Answer, AuthorizeRequest, CaptureRequest, ChargeOutcome, ChargeRequest, Connector, Held,
    Instrument, PaymentLookup, Processor, ProcessorError, RefundOutcome, RefundRequest,
};

/// Decides every payment from its card or bank account number, and remembers its recent
/// decisions by payment id like a real processor would (in memory: a restart forgets them,
/// which is also when an in-process sandbox charge could not have happened).
#[derive(Debug, Default, Clone)]
pub struct SandboxProcessor {
    latency: Duration,
    decided: Arc<Mutex<Decisions>>,
}

/// The last `REMEMBERED` decisions, oldest evicted first.
#[derive(Debug, Default)]
struct Decisions {
    /// Keyed by our payment or authorization id.
    by_id: HashMap<String, ChargeOutcome>,
    order: VecDeque<String>,
    /// Captures made (payment id → amount), so a repeated capture is not counted twice.
    captures: HashMap<String, Money>,
    /// Refunds made (refund id → amount).
    refunds: HashMap<String, Money>,
}

const REMEMBERED: usize = 100_000;

impl Decisions {
    fn remember(&mut self, id: &str, outcome: &ChargeOutcome) -> ChargeOutcome {
        if let Some(first) = self.by_id.get(id) {
            return first.clone();
        }
        if self.order.len() >= REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.by_id.remove(&old);
                self.captures.remove(&old);
            }
        }
        self.by_id.insert(id.to_string(), outcome.clone());
        self.order.push_back(id.to_string());
        outcome.clone()
    }
}

impl SandboxProcessor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers after `latency`, like a real network call; tests use it to hold attempts in flight.
    pub fn with_latency(latency: Duration) -> Self {
        Self {
            latency,
            ..Self::default()
        }
    }

    /// The outcome for a card number (digits only).
    pub fn card_outcome(number: &str) -> ChargeOutcome {
        let declined = |code| ChargeOutcome::Declined { code };
        match number {
            "4000000000000002" => declined(DeclineCode::CardDeclined),
            "4000000000009995" => declined(DeclineCode::InsufficientFunds),
            "4000000000000069" => declined(DeclineCode::ExpiredCard),
            "4000000000000127" => declined(DeclineCode::IncorrectCvc),
            "4000000000000119" => declined(DeclineCode::ProcessingError),
            "4000056655665556" => ChargeOutcome::Approved {
                funding: Funding::Debit,
            },
            _ => ChargeOutcome::Approved {
                funding: Funding::Credit,
            },
        }
    }

    /// Google Pay is approved when its payment data carries a token.
    pub fn google_pay_outcome(token: Option<&str>) -> ChargeOutcome {
        match token {
            Some(_) => ChargeOutcome::Approved {
                funding: Funding::Credit,
            },
            None => ChargeOutcome::Declined {
                code: DeclineCode::ProcessingError,
            },
        }
    }

    fn decide(instrument: &Instrument<'_>) -> ChargeOutcome {
        match instrument {
            Instrument::Card { number, .. } => Self::card_outcome(number.expose()),
            Instrument::Ach { account_number, .. } => ChargeOutcome::AchSubmitted {
                expected: Some(Self::ach_resolution(account_number.expose())),
            },
            Instrument::GooglePay { token, .. } => Self::google_pay_outcome(*token),
        }
    }

    async fn wait(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }

    fn decisions(&self) -> std::sync::MutexGuard<'_, Decisions> {
        self.decided
            .lock()
            .expect("sandbox state is never poisoned")
    }

    /// What the sandbox captured as this payment, if anything (tests check captures happen once).
    pub fn captured(&self, payment_id: &PaymentId) -> Option<Money> {
        self.decisions().captures.get(payment_id.as_str()).copied()
    }

    /// How an ACH debit from this account number ends.
    pub fn ach_resolution(account_number: &str) -> AchResolution {
        let returned = |code: &str| {
            AchResolution::Return(
                AchReturnCode::parse(code).expect("sandbox return codes are well formed"),
            )
        };
        match account_number {
            "000111111116" => returned("R03"),
            "000111111113" => returned("R02"),
            "000222222227" => returned("R01"),
            _ => AchResolution::Clear,
        }
    }
}

/// The sandbox's id for what it decided on a Kassa id, shown as the payment's
/// `processor.reference`.
pub fn reference(kassa_id: &str) -> String {
    format!("sbx_{kassa_id}")
}

fn answer(kassa_id: &str, outcome: ChargeOutcome) -> Answer {
    Answer::new(outcome, Some(reference(kassa_id)))
}

#[async_trait]
impl Processor for SandboxProcessor {
    fn connector(&self) -> Connector {
        Connector::Sandbox
    }

    async fn charge(&self, request: ChargeRequest<'_>) -> Result<Answer, ProcessorError> {
        self.wait().await;
        let id = request.payment_id.as_str();
        let outcome = Self::decide(&request.instrument);
        Ok(answer(id, self.decisions().remember(id, &outcome)))
    }

    async fn lookup(&self, payment: PaymentLookup<'_>) -> Result<Option<Answer>, ProcessorError> {
        let id = payment.payment_id.as_str();
        Ok(self
            .decisions()
            .by_id
            .get(id)
            .cloned()
            .map(|outcome| answer(id, outcome)))
    }

    async fn authorize(&self, request: AuthorizeRequest<'_>) -> Result<Answer, ProcessorError> {
        self.wait().await;
        let outcome = match request.instrument {
            Instrument::Ach { .. } => {
                return Err(ProcessorError::NotSent(
                    "ACH debits cannot be authorized, only charged".into(),
                ))
            }
            ref other => Self::decide(other),
        };
        let id = request.authorization_id.as_str();
        Ok(answer(id, self.decisions().remember(id, &outcome)))
    }

    async fn lookup_authorization(
        &self,
        authorization_id: &AuthorizationId,
        _amount: Money,
    ) -> Result<Option<Answer>, ProcessorError> {
        let id = authorization_id.as_str();
        Ok(self
            .decisions()
            .by_id
            .get(id)
            .cloned()
            .map(|outcome| answer(id, outcome)))
    }

    async fn capture(&self, request: CaptureRequest<'_>) -> Result<Answer, ProcessorError> {
        self.wait().await;
        let authorization_id = request.hold.authorization_id;
        let payment_id = request.payment_id.as_str();
        let mut decided = self.decisions();
        let funding = match decided.by_id.get(authorization_id.as_str()) {
            Some(ChargeOutcome::Approved { funding }) => *funding,
            // A hold this process never saw (the sandbox forgets on restart) is taken as held.
            None => Funding::Credit,
            Some(_) => {
                return Ok(answer(
                    payment_id,
                    ChargeOutcome::Declined {
                        code: DeclineCode::ProcessingError,
                    },
                ))
            }
        };
        // Remembered under the payment id, so `lookup` answers for an unrecorded capture too.
        let outcome = decided.remember(payment_id, &ChargeOutcome::Approved { funding });
        decided
            .captures
            .entry(payment_id.to_string())
            .or_insert(request.amount);
        Ok(answer(payment_id, outcome))
    }

    async fn release(&self, _hold: Held<'_>) -> Result<(), ProcessorError> {
        self.wait().await;
        Ok(())
    }

    async fn refund(&self, request: RefundRequest<'_>) -> Result<RefundOutcome, ProcessorError> {
        self.wait().await;
        let id = request.refund_id.as_str();
        self.decisions()
            .refunds
            .entry(id.to_string())
            .or_insert(request.amount);
        Ok(RefundOutcome::Succeeded {
            reference: Some(reference(id)),
        })
    }

    async fn lookup_refund(
        &self,
        request: RefundRequest<'_>,
    ) -> Result<Option<RefundOutcome>, ProcessorError> {
        let id = request.refund_id.as_str();
        Ok(self
            .decisions()
            .refunds
            .contains_key(id)
            .then(|| RefundOutcome::Succeeded {
                reference: Some(reference(id)),
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kassa_core::ach::{AccountNumber, AccountType, RoutingNumber};
    use kassa_core::card::{CardNumber, Expiry};
    use kassa_core::id::PaymentId;
    use kassa_core::money::{Currency, Money};

    async fn charge_card(number: &str) -> ChargeOutcome {
        let card = CardNumber::parse(number).unwrap();
        let id = PaymentId::generate();
        SandboxProcessor::new()
            .charge(ChargeRequest {
                payment_id: &id,
                amount: Money::new(1000, Currency::Usd),
                instrument: Instrument::Card {
                    number: &card,
                    expiry: Expiry {
                        month: 12,
                        year: 2040,
                    },
                    cvc: None,
                    postal_code: None,
                },
                holder_name: None,
                mandate: None,
            })
            .await
            .unwrap()
            .outcome
    }

    async fn charge_ach(account: &str) -> ChargeOutcome {
        let routing = RoutingNumber::parse("110000000").unwrap();
        let account = AccountNumber::parse(account).unwrap();
        let id = PaymentId::generate();
        SandboxProcessor::new()
            .charge(ChargeRequest {
                payment_id: &id,
                amount: Money::new(1000, Currency::Usd),
                instrument: Instrument::Ach {
                    routing_number: &routing,
                    account_number: &account,
                    account_type: AccountType::Checking,
                },
                holder_name: Some("Pat Payer"),
                mandate: None,
            })
            .await
            .unwrap()
            .outcome
    }

    #[tokio::test]
    async fn magic_cards_decide_the_outcome() {
        let approved = ChargeOutcome::Approved {
            funding: Funding::Credit,
        };
        assert_eq!(charge_card("4242424242424242").await, approved);
        assert_eq!(charge_card("5555555555554444").await, approved);
        assert_eq!(charge_card("378282246310005").await, approved);
        assert_eq!(
            charge_card("4000056655665556").await,
            ChargeOutcome::Approved {
                funding: Funding::Debit
            }
        );
        for (number, code) in [
            ("4000000000000002", DeclineCode::CardDeclined),
            ("4000000000009995", DeclineCode::InsufficientFunds),
            ("4000000000000069", DeclineCode::ExpiredCard),
            ("4000000000000127", DeclineCode::IncorrectCvc),
            ("4000000000000119", DeclineCode::ProcessingError),
        ] {
            assert_eq!(charge_card(number).await, ChargeOutcome::Declined { code });
        }
    }

    #[tokio::test]
    async fn a_payment_id_is_charged_once_and_remembered() {
        let sandbox = SandboxProcessor::new();
        let id = PaymentId::generate();
        let lookup = PaymentLookup {
            payment_id: &id,
            reference: None,
            amount: Money::new(1000, Currency::Usd),
            capture_of: None,
        };
        assert_eq!(sandbox.lookup(lookup).await.unwrap(), None);
        let declined = CardNumber::parse("4000000000000002").unwrap();
        let good = CardNumber::parse("4242424242424242").unwrap();
        let charge = |number| ChargeRequest {
            payment_id: &id,
            amount: Money::new(1000, Currency::Usd),
            instrument: Instrument::Card {
                number,
                expiry: Expiry {
                    month: 12,
                    year: 2040,
                },
                cvc: None,
                postal_code: None,
            },
            holder_name: None,
            mandate: None,
        };
        let first = sandbox.charge(charge(&declined)).await.unwrap();
        // The same id again, even with another card, answers the first decision.
        assert_eq!(sandbox.charge(charge(&good)).await.unwrap(), first);
        assert_eq!(
            first.reference.as_deref(),
            Some(reference(id.as_str()).as_str())
        );
        assert_eq!(sandbox.lookup(lookup).await.unwrap(), Some(first));
    }

    #[tokio::test]
    async fn magic_accounts_decide_the_ach_outcome() {
        let ret = |c: &str| ChargeOutcome::AchSubmitted {
            expected: Some(AchResolution::Return(AchReturnCode::parse(c).unwrap())),
        };
        assert_eq!(
            charge_ach("000123456789").await,
            ChargeOutcome::AchSubmitted {
                expected: Some(AchResolution::Clear)
            }
        );
        assert_eq!(charge_ach("000111111116").await, ret("R03"));
        assert_eq!(charge_ach("000111111113").await, ret("R02"));
        assert_eq!(charge_ach("000222222227").await, ret("R01"));
        assert_eq!(
            charge_ach("12345678").await,
            ChargeOutcome::AchSubmitted {
                expected: Some(AchResolution::Clear)
            }
        );
    }
}
