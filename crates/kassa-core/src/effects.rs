//! What each money outcome causes, decided once. When the processor answers an attempt, an ACH
//! debit clears or is returned, a refund is answered, an authorization is made or reversed, a
//! payment request is created or a payout batch is cut, the consequences — the payment's and the
//! request's new state, the events, the ledger postings and fee, the follow-up job — are business
//! rules. They live here as pure functions returning plain values; the store applies them in the
//! transaction of the change that causes them, and decides nothing itself.
//!
//! Every function encodes exactly what the store's SQL did when this module was written, down to
//! the order in which events are written (see each function's doc).

use time::OffsetDateTime;

use crate::authorization::AuthorizationStatus;
use crate::event::EventType;
use crate::fee::{FeeMethod, FeeSchedule};
use crate::id::{AuthorizationId, PaymentId, PayoutId};
use crate::job::{AchSettlement, ExpirePaymentRequest, JobPayload, NewJobSpec, ProcessorRelease};
use crate::ledger::PostingSet;
use crate::money::Money;
use crate::payment::{AchResolution, AchReturnCode, DeclineCode, Funding, Payment, PaymentStatus};
use crate::payment_request::{PaymentRequest, PaymentRequestStatus};
use crate::payout::PayoutStatus;
use crate::refund::{Refund, RefundStatus};

/// The processor's answer to a payment attempt (a hosted-page payment, an API sale, or the
/// capture of an authorization). The store's `AttemptResult` should become a re-export of this.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptResult {
    Approved {
        funding: Funding,
    },
    Declined {
        code: DeclineCode,
    },
    /// ACH debit submitted; `settle` (if known) is scheduled at its instant.
    AchSubmitted {
        settle: Option<(AchResolution, OffsetDateTime)>,
    },
}

impl AttemptResult {
    /// Whether money becomes the partner's now, so the partner's fee schedule is needed.
    pub fn takes_fee(&self) -> bool {
        matches!(self, Self::Approved { .. })
    }
}

/// The processor's answer to an authorization. The store's `AuthorizationResult` should become a
/// re-export of this.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthorizationResult {
    Authorized { funding: Funding },
    Declined { code: DeclineCode },
}

/// The processor's answer to a refund. The store's `RefundResult` should become a re-export of
/// this.
#[derive(Debug, Clone, PartialEq)]
pub enum RefundResult {
    Succeeded,
    /// Nothing was refunded; `reason` is the processor's own explanation, when it gave one (a
    /// refund before the payment settled, more than is left at the processor).
    Failed {
        code: DeclineCode,
        reason: Option<String>,
    },
}

impl RefundResult {
    /// The `failureCode` and `failureMessage` a failed refund is written with.
    pub fn failure(&self) -> Option<Failure> {
        match self {
            RefundResult::Succeeded => None,
            RefundResult::Failed { code, reason: None } => Some(Failure {
                code: code.as_str().to_owned(),
                message: "The processor could not make the refund; nothing was refunded. You can \
                          try again."
                    .to_owned(),
            }),
            RefundResult::Failed {
                code,
                reason: Some(reason),
            } => Some(Failure {
                code: code.as_str().to_owned(),
                message: format!(
                    "The processor refused the refund: {}. Nothing was refunded.",
                    crate::text::truncate_chars(reason.trim_end_matches('.'), 300)
                ),
            }),
        }
    }
}

/// Why something failed: the `failureCode` and `failureMessage` written with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: String,
    pub message: String,
}

impl Failure {
    /// A processor's refusal, in words a payer can act on.
    pub fn declined(code: DeclineCode) -> Failure {
        Failure {
            code: code.as_str().to_owned(),
            message: code.payer_message().to_owned(),
        }
    }

    /// A returned ACH debit.
    pub fn returned(code: &AchReturnCode) -> Failure {
        Failure {
            code: code.as_str().to_owned(),
            message: code.message(),
        }
    }
}

/// What a pending payment row becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentChange {
    /// `pending` → `completed`: `captured_amount` = `amount`, `completed_at` = now, and `funding`
    /// when the processor told it (an ACH clearing leaves it as it is).
    Completed { funding: Option<Funding> },
    /// `pending` → `failed`, with why.
    Failed(Failure),
    /// Stays `pending`: an ACH debit submitted, waiting to clear or be returned.
    StaysPending,
}

impl PaymentChange {
    pub fn status(&self) -> PaymentStatus {
        match self {
            Self::Completed { .. } => PaymentStatus::Completed,
            Self::Failed(_) => PaymentStatus::Failed,
            Self::StaysPending => PaymentStatus::Pending,
        }
    }
}

/// Which of a payment request's columns must name the payment for a [`RequestTransition`] to
/// apply; if none matches, something else changed the request and the transaction aborts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestHold {
    /// `attempt_payment_id`: the attempt in flight.
    Attempt,
    /// `payment_id`: the ACH debit the request waits for.
    Payment,
}

/// What a request's `payment_id` becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentLink {
    /// Set to the payment.
    Set,
    /// Set to NULL.
    Clear,
    /// Left as it is.
    Keep,
}

/// How a payment request changes when a payment on it is decided. Every transition also sets
/// `updated_at` = now, and `completed_at` = now when the new status is `completed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestTransition {
    /// A card payment completed it: `open` → `completed`.
    Paid,
    /// The attempt failed: the attempt is released and the request stays as it is (`open`), so
    /// the link can be retried.
    AttemptReleased,
    /// An ACH debit was submitted: `open` → `processing` until it clears or is returned.
    Processing,
    /// The ACH debit cleared: `processing` → `completed`.
    Cleared,
    /// The ACH debit was returned: `processing` → `open` again, with no payment.
    Reopened,
}

impl RequestTransition {
    /// The status the request must have; None: any.
    pub fn requires_status(self) -> Option<PaymentRequestStatus> {
        match self {
            Self::Paid | Self::Processing => Some(PaymentRequestStatus::Open),
            Self::AttemptReleased => None,
            Self::Cleared | Self::Reopened => Some(PaymentRequestStatus::Processing),
        }
    }

    /// The column that must name the payment.
    pub fn held_by(self) -> RequestHold {
        match self {
            Self::Paid | Self::AttemptReleased | Self::Processing => RequestHold::Attempt,
            Self::Cleared | Self::Reopened => RequestHold::Payment,
        }
    }

    /// The new status; None leaves it as it is.
    pub fn new_status(self) -> Option<PaymentRequestStatus> {
        match self {
            Self::Paid | Self::Cleared => Some(PaymentRequestStatus::Completed),
            Self::AttemptReleased => None,
            Self::Processing => Some(PaymentRequestStatus::Processing),
            Self::Reopened => Some(PaymentRequestStatus::Open),
        }
    }

    pub fn payment_link(self) -> PaymentLink {
        match self {
            Self::Paid | Self::Processing => PaymentLink::Set,
            Self::AttemptReleased | Self::Cleared => PaymentLink::Keep,
            Self::Reopened => PaymentLink::Clear,
        }
    }

    /// Whether `attempt_payment_id` becomes NULL (the attempt is over).
    pub fn releases_attempt(self) -> bool {
        self.held_by() == RequestHold::Attempt
    }

    /// The event about the request, written after the change: `payment_request.completed` when
    /// it completes.
    pub fn event(self) -> Option<EventType> {
        (self.new_status() == Some(PaymentRequestStatus::Completed))
            .then_some(EventType::PaymentRequestCompleted)
    }
}

/// The fee a partner pays on a payment that became theirs: by its method (Google Pay as a card),
/// on the payment's amount (a capture's amount is what was captured).
pub fn settlement_fee(payment: &Payment, fees: &FeeSchedule) -> i64 {
    fees.fee(
        FeeMethod::for_payment_method(&payment.payment_method),
        payment.amount.minor(),
    )
}

/// `set` followed by the payment's fee set, if there is a fee: one batch of postings.
fn settled(payment: &Payment, set: PostingSet, fee: i64) -> Vec<PostingSet> {
    std::iter::once(set)
        .chain(PostingSet::fee(payment.id.as_str(), fee))
        .collect()
}

/// What the processor's answer to an attempt causes. The store writes, in this order: the
/// payment change, `event` (about the payment), `postings` (one batch), `job`, the
/// authorization's release, the request's transition, then `request_event` (about the request
/// as changed).
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptEffects {
    pub payment: PaymentChange,
    pub event: EventType,
    /// The partner's fee (0 unless approved).
    pub fee: i64,
    pub postings: Vec<PostingSet>,
    pub job: Option<NewJobSpec>,
    /// A refused capture gives the hold back: this authorization goes from `captured` back to
    /// `authorized` (captured amount 0, no capture payment, no `captured_at`), if it is still
    /// captured by this payment.
    pub release_authorization: Option<AuthorizationId>,
    /// For a payment on a payment request.
    pub request: Option<RequestTransition>,
    pub request_event: Option<EventType>,
}

/// The effects of `result` on `payment` (a pending attempt). `fees` is the partner's schedule;
/// it is only used when [`AttemptResult::takes_fee`].
///
/// - Approved: completed; `payment.completed`; the capture onto available plus the card fee;
///   the request is paid (`payment_request.completed`).
/// - Declined: failed with the decline's code and payer message; `payment.failed`; a capture's
///   authorization is released; the request's attempt is released.
/// - ACH submitted: stays pending; `payment.pending`; the amount onto pending (no fee until it
///   clears); the scheduled settlement as an `ach_settlement` job; the request is processing.
pub fn attempt_finished(
    payment: &Payment,
    result: &AttemptResult,
    fees: &FeeSchedule,
) -> AttemptEffects {
    let (id, amount) = (payment.id.as_str(), payment.amount.minor());
    let (change, event, fee, postings, job, transition) = match result {
        AttemptResult::Approved { funding } => {
            let fee = settlement_fee(payment, fees);
            (
                PaymentChange::Completed {
                    funding: Some(*funding),
                },
                EventType::PaymentCompleted,
                fee,
                settled(payment, PostingSet::card_captured(id, amount), fee),
                None,
                RequestTransition::Paid,
            )
        }
        AttemptResult::Declined { code } => (
            PaymentChange::Failed(Failure::declined(*code)),
            EventType::PaymentFailed,
            0,
            Vec::new(),
            None,
            RequestTransition::AttemptReleased,
        ),
        AttemptResult::AchSubmitted { settle } => (
            PaymentChange::StaysPending,
            EventType::PaymentPending,
            0,
            vec![PostingSet::ach_submitted(id, amount)],
            settle
                .as_ref()
                .map(|(outcome, at)| ach_settlement_job(&payment.id, outcome, *at)),
            RequestTransition::Processing,
        ),
    };
    let release_authorization = match result {
        AttemptResult::Declined { .. } => payment.authorization_id.clone(),
        _ => None,
    };
    let request = payment.payment_request_id.as_ref().map(|_| transition);
    AttemptEffects {
        payment: change,
        event,
        fee,
        postings,
        job,
        release_authorization,
        request,
        request_event: request.and_then(RequestTransition::event),
    }
}

/// The job that settles a submitted ACH debit with `outcome` at `at`.
pub fn ach_settlement_job(
    payment: &PaymentId,
    outcome: &AchResolution,
    at: OffsetDateTime,
) -> NewJobSpec {
    NewJobSpec {
        payload: JobPayload::AchSettlement(AchSettlement {
            payment_id: payment.clone(),
            outcome: outcome.clone(),
        }),
        run_at: at,
    }
}

/// What an ACH debit's clearing or return causes. The store writes, in this order: the payment
/// change, `postings` (one batch), the request's transition, then `events` — each about the
/// payment, except `payment_request.completed`, about the request as changed.
#[derive(Debug, Clone, PartialEq)]
pub struct AchEffects {
    pub payment: PaymentChange,
    /// The partner's ACH fee (0 unless cleared).
    pub fee: i64,
    pub postings: Vec<PostingSet>,
    pub request: Option<RequestTransition>,
    pub events: Vec<EventType>,
}

/// The effects of `resolution` on a pending, submitted ACH `payment`. `fees` is the partner's
/// schedule, used only when it clears.
///
/// - Clear: completed; pending → available plus the ACH fee; the request completes;
///   `payment.completed`, then `payment_request.completed` if there is a request.
/// - Return: failed with the return code and its message; pending back to clearing (no fee);
///   the request is open again for another try; `payment.failed`.
pub fn ach_resolved(
    payment: &Payment,
    resolution: &AchResolution,
    fees: &FeeSchedule,
) -> AchEffects {
    let (id, amount) = (payment.id.as_str(), payment.amount.minor());
    let (change, fee, postings, transition, event) = match resolution {
        AchResolution::Clear => {
            let fee = settlement_fee(payment, fees);
            (
                PaymentChange::Completed { funding: None },
                fee,
                settled(payment, PostingSet::ach_cleared(id, amount), fee),
                RequestTransition::Cleared,
                EventType::PaymentCompleted,
            )
        }
        AchResolution::Return(code) => (
            PaymentChange::Failed(Failure::returned(code)),
            0,
            vec![PostingSet::ach_returned(id, amount)],
            RequestTransition::Reopened,
            EventType::PaymentFailed,
        ),
    };
    let request = payment.payment_request_id.as_ref().map(|_| transition);
    let events = std::iter::once(event)
        .chain(request.and_then(RequestTransition::event))
        .collect();
    AchEffects {
        payment: change,
        fee,
        postings,
        request,
        events,
    }
}

/// What the processor's answer to a refund causes.
#[derive(Debug, Clone, PartialEq)]
pub struct RefundEffects {
    pub status: RefundStatus,
    pub failure: Option<Failure>,
    /// Written after the refund's change, then `event` (about the refund).
    pub postings: Vec<PostingSet>,
    pub event: Option<EventType>,
    /// A failed refund gives the amount it reserved back to its payment, whose status then
    /// follows [`crate::refund::status_after_refunds`].
    pub give_back: Option<Money>,
}

/// Succeeded: the refund leaves the partner's available balance (`refund.created`). Failed: the
/// decline's code and message, no money moves, no event, and the reserved amount is refundable
/// again.
pub fn refund_finished(refund: &Refund, result: &RefundResult) -> RefundEffects {
    match result {
        RefundResult::Succeeded => RefundEffects {
            status: RefundStatus::Succeeded,
            failure: None,
            postings: vec![PostingSet::refund(
                refund.id.as_str(),
                refund.amount.minor(),
            )],
            event: Some(EventType::RefundCreated),
            give_back: None,
        },
        RefundResult::Failed { .. } => RefundEffects {
            status: RefundStatus::Failed,
            failure: result.failure(),
            postings: Vec::new(),
            event: None,
            give_back: Some(refund.amount),
        },
    }
}

/// What the processor's answer to an authorization causes.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizationEffects {
    pub status: AuthorizationStatus,
    /// Recorded when told; otherwise the authorization keeps the funding it had.
    pub funding: Option<Funding>,
    pub failure: Option<Failure>,
    pub event: EventType,
}

/// Authorized or failed; either way the event is `authorization.created` (a declined
/// authorization is reported as created, with status `failed`).
pub fn authorization_finished(result: &AuthorizationResult) -> AuthorizationEffects {
    match result {
        AuthorizationResult::Authorized { funding } => AuthorizationEffects {
            status: AuthorizationStatus::Authorized,
            funding: Some(*funding),
            failure: None,
            event: EventType::AuthorizationCreated,
        },
        AuthorizationResult::Declined { code } => AuthorizationEffects {
            status: AuthorizationStatus::Failed,
            funding: None,
            failure: Some(Failure::declined(*code)),
            event: EventType::AuthorizationCreated,
        },
    }
}

/// What reversing an authorization causes: `authorization.reversed`, then a job that tells the
/// processor to release the hold, due at once.
#[derive(Debug, Clone, PartialEq)]
pub struct ReversalEffects {
    pub event: EventType,
    pub job: NewJobSpec,
}

pub fn authorization_reversed(
    authorization: &AuthorizationId,
    now: OffsetDateTime,
) -> ReversalEffects {
    ReversalEffects {
        event: EventType::AuthorizationReversed,
        job: NewJobSpec {
            payload: JobPayload::ProcessorRelease(ProcessorRelease {
                authorization_id: authorization.clone(),
            }),
            run_at: now,
        },
    }
}

/// What creating a payment request causes: `payment_request.created`, then, for a request with
/// an `expiresAt`, the job that expires it then.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestCreatedEffects {
    pub event: EventType,
    pub job: Option<NewJobSpec>,
}

pub fn payment_request_created(request: &PaymentRequest) -> RequestCreatedEffects {
    RequestCreatedEffects {
        event: EventType::PaymentRequestCreated,
        job: request.expires_at.map(|at| NewJobSpec {
            payload: JobPayload::ExpirePaymentRequest(ExpirePaymentRequest {
                payment_request_id: request.id.clone(),
            }),
            run_at: at,
        }),
    }
}

/// What cutting a payout batch causes, once its items are known.
#[derive(Debug, Clone, PartialEq)]
pub struct PayoutEffects {
    pub status: PayoutStatus,
    /// Written before `event`.
    pub postings: Vec<PostingSet>,
    /// About the payout as recorded, items included.
    pub event: Option<EventType>,
}

/// A positive `net` (minor units) is paid: available → paid out, and `payout.paid`. Zero or
/// negative is carried forward: no money moves and no event.
pub fn payout_cut(payout: &PayoutId, net: i64) -> PayoutEffects {
    match PayoutStatus::for_net(net) {
        PayoutStatus::Paid => PayoutEffects {
            status: PayoutStatus::Paid,
            postings: vec![PostingSet::payout(payout.as_str(), net)],
            event: Some(EventType::PayoutPaid),
        },
        PayoutStatus::CarriedForward => PayoutEffects {
            status: PayoutStatus::CarriedForward,
            postings: Vec::new(),
            event: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ach::AccountType;
    use crate::id::{PaymentRequestId, RefundId};
    use crate::job::JobKind;
    use crate::ledger::{Account, EntryKind};
    use crate::money::Currency;
    use crate::payment::{test_payment, MaskedMethod};
    use crate::percent::Percent;
    use crate::refund::RefundObject;
    use serde_json::json;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);

    fn fees() -> FeeSchedule {
        FeeSchedule {
            card_percent: Percent::parse("2.9").unwrap(),
            card_fixed: 30,
            ach_percent: Percent::parse("0.8").unwrap(),
            ach_cap: Some(500),
        }
    }

    fn request_id() -> PaymentRequestId {
        PaymentRequestId::parse("pr_0123456789ABCDEFGHIJabcd").unwrap()
    }

    fn auth_id() -> AuthorizationId {
        AuthorizationId::parse("auth_0123456789ABCDEFGHIJabcd").unwrap()
    }

    /// A pending card attempt of 100.00.
    fn card() -> Payment {
        test_payment(PaymentStatus::Pending, 10_000)
    }

    fn on_request(p: Payment) -> Payment {
        Payment {
            payment_request_id: Some(request_id()),
            ..p
        }
    }

    /// A pending ACH debit of 1,000.00.
    fn ach() -> Payment {
        Payment {
            payment_method: MaskedMethod::Ach {
                account_type: AccountType::Checking,
                routing_number: "011000015".into(),
                last4: "6789".into(),
            },
            ..test_payment(PaymentStatus::Pending, 100_000)
        }
    }

    fn r01() -> AchReturnCode {
        AchReturnCode::parse("R01").unwrap()
    }

    /// (kind, source, [(account, amount)]) of one set.
    type Lines = (EntryKind, String, Vec<(Account, i64)>);

    /// The [`Lines`] of each set, in order; every set is checked balanced.
    fn ledger(sets: &[PostingSet]) -> Vec<Lines> {
        sets.iter()
            .map(|s| {
                assert!(s.is_balanced());
                let lines = s.postings().iter().map(|p| (p.account, p.amount)).collect();
                (s.kind(), s.source_id().to_owned(), lines)
            })
            .collect()
    }

    #[test]
    fn only_an_approval_takes_a_fee() {
        assert!(AttemptResult::Approved {
            funding: Funding::Credit
        }
        .takes_fee());
        assert!(!AttemptResult::Declined {
            code: DeclineCode::CardDeclined
        }
        .takes_fee());
        assert!(!AttemptResult::AchSubmitted { settle: None }.takes_fee());
    }

    #[test]
    fn settlement_fee_is_by_method_on_the_amount() {
        // 2.9% + 0.30 of 100.00; 0.8% of 1,000.00 capped at 5.00.
        assert_eq!(settlement_fee(&card(), &fees()), 320);
        assert_eq!(settlement_fee(&ach(), &fees()), 500);
        let gpay = Payment {
            payment_method: MaskedMethod::GooglePay {
                brand: None,
                last4: None,
            },
            ..card()
        };
        assert_eq!(settlement_fee(&gpay, &fees()), 320);
        assert_eq!(settlement_fee(&card(), &FeeSchedule::default()), 0);
    }

    #[test]
    fn an_approved_card_completes_its_request_and_pays_the_partner_less_the_fee() {
        let payment = on_request(card());
        let pay = payment.id.as_str().to_owned();
        let fx = attempt_finished(
            &payment,
            &AttemptResult::Approved {
                funding: Funding::Debit,
            },
            &fees(),
        );
        assert_eq!(
            fx,
            AttemptEffects {
                payment: PaymentChange::Completed {
                    funding: Some(Funding::Debit)
                },
                event: EventType::PaymentCompleted,
                fee: 320,
                postings: fx.postings.clone(),
                job: None,
                release_authorization: None,
                request: Some(RequestTransition::Paid),
                request_event: Some(EventType::PaymentRequestCompleted),
            }
        );
        assert_eq!(
            ledger(&fx.postings),
            [
                (
                    EntryKind::Payment,
                    pay.clone(),
                    vec![
                        (Account::ProcessorClearing, -10_000),
                        (Account::PartnerAvailable, 10_000)
                    ]
                ),
                (
                    EntryKind::Fee,
                    pay,
                    vec![(Account::PartnerAvailable, -320), (Account::Fees, 320)]
                ),
            ]
        );
        assert_eq!(fx.payment.status(), PaymentStatus::Completed);
    }

    #[test]
    fn an_approved_api_sale_without_fees_posts_only_the_capture() {
        let approved = AttemptResult::Approved {
            funding: Funding::Credit,
        };
        let fx = attempt_finished(&card(), &approved, &FeeSchedule::default());
        assert_eq!(fx.fee, 0);
        assert_eq!(
            fx.postings,
            [PostingSet::card_captured(card().id.as_str(), 10_000)]
        );
        assert_eq!(fx.request, None);
        assert_eq!(fx.request_event, None);
        // An approved capture keeps its authorization captured.
        let capture = Payment {
            authorization_id: Some(auth_id()),
            ..card()
        };
        assert_eq!(
            attempt_finished(&capture, &approved, &fees()).release_authorization,
            None
        );
    }

    #[test]
    fn a_declined_attempt_fails_frees_the_link_and_gives_a_capture_its_hold_back() {
        let declined = AttemptResult::Declined {
            code: DeclineCode::InsufficientFunds,
        };
        let fx = attempt_finished(&on_request(card()), &declined, &fees());
        assert_eq!(
            fx,
            AttemptEffects {
                payment: PaymentChange::Failed(Failure {
                    code: "insufficient_funds".into(),
                    message: DeclineCode::InsufficientFunds.payer_message().into(),
                }),
                event: EventType::PaymentFailed,
                fee: 0,
                postings: vec![],
                job: None,
                release_authorization: None,
                request: Some(RequestTransition::AttemptReleased),
                request_event: None,
            }
        );
        assert_eq!(fx.payment.status(), PaymentStatus::Failed);
        let capture = Payment {
            authorization_id: Some(auth_id()),
            ..card()
        };
        let fx = attempt_finished(&capture, &declined, &fees());
        assert_eq!(fx.release_authorization, Some(auth_id()));
        assert_eq!(fx.request, None);
    }

    #[test]
    fn a_submitted_ach_debit_waits_on_pending_with_its_settlement_scheduled() {
        let payment = on_request(ach());
        let settle_at = datetime!(2026-11-23 12:00 UTC);
        let fx = attempt_finished(
            &payment,
            &AttemptResult::AchSubmitted {
                settle: Some((AchResolution::Return(r01()), settle_at)),
            },
            &fees(),
        );
        assert_eq!(fx.payment, PaymentChange::StaysPending);
        assert_eq!(fx.payment.status(), PaymentStatus::Pending);
        assert_eq!(fx.event, EventType::PaymentPending);
        // No fee until it clears.
        assert_eq!(fx.fee, 0);
        assert_eq!(
            ledger(&fx.postings),
            [(
                EntryKind::AchPending,
                payment.id.as_str().to_owned(),
                vec![
                    (Account::ProcessorClearing, -100_000),
                    (Account::PartnerPending, 100_000)
                ]
            )]
        );
        let job = fx.job.unwrap();
        assert_eq!(job.kind(), JobKind::AchSettlement);
        assert_eq!(job.run_at, settle_at);
        assert_eq!(
            job.payload.to_payload().to_string(),
            json!({"paymentId": payment.id.as_str(), "outcome": "R01"}).to_string()
        );
        assert_eq!(fx.release_authorization, None);
        assert_eq!(fx.request, Some(RequestTransition::Processing));
        assert_eq!(fx.request_event, None);
        // Without a known outcome nothing is scheduled.
        let fx = attempt_finished(
            &ach(),
            &AttemptResult::AchSubmitted { settle: None },
            &fees(),
        );
        assert_eq!(fx.job, None);
        assert_eq!(fx.request, None);
    }

    #[test]
    fn request_transitions_are_the_updates_the_store_makes() {
        use PaymentLink::*;
        use PaymentRequestStatus::*;
        use RequestHold::*;
        use RequestTransition as T;
        // (transition, requires, held by, becomes, payment_id, releases attempt, event)
        let table = [
            (
                T::Paid,
                Some(Open),
                Attempt,
                Some(Completed),
                Set,
                true,
                true,
            ),
            (T::AttemptReleased, None, Attempt, None, Keep, true, false),
            (
                T::Processing,
                Some(Open),
                Attempt,
                Some(Processing),
                Set,
                true,
                false,
            ),
            (
                T::Cleared,
                Some(Processing),
                Payment,
                Some(Completed),
                Keep,
                false,
                true,
            ),
            (
                T::Reopened,
                Some(Processing),
                Payment,
                Some(Open),
                Clear,
                false,
                false,
            ),
        ];
        for (t, requires, held, becomes, link, releases, event) in table {
            assert_eq!(t.requires_status(), requires, "{t:?}");
            assert_eq!(t.held_by(), held, "{t:?}");
            assert_eq!(t.new_status(), becomes, "{t:?}");
            assert_eq!(t.payment_link(), link, "{t:?}");
            assert_eq!(t.releases_attempt(), releases, "{t:?}");
            assert_eq!(
                t.event(),
                event.then_some(EventType::PaymentRequestCompleted),
                "{t:?}"
            );
        }
    }

    #[test]
    fn a_cleared_debit_pays_the_partner_less_the_ach_fee_and_completes_its_request() {
        let payment = on_request(ach());
        let pay = payment.id.as_str().to_owned();
        let fx = ach_resolved(&payment, &AchResolution::Clear, &fees());
        assert_eq!(fx.payment, PaymentChange::Completed { funding: None });
        assert_eq!(fx.fee, 500);
        assert_eq!(
            ledger(&fx.postings),
            [
                (
                    EntryKind::Payment,
                    pay.clone(),
                    vec![
                        (Account::PartnerPending, -100_000),
                        (Account::PartnerAvailable, 100_000)
                    ]
                ),
                (
                    EntryKind::Fee,
                    pay,
                    vec![(Account::PartnerAvailable, -500), (Account::Fees, 500)]
                ),
            ]
        );
        assert_eq!(fx.request, Some(RequestTransition::Cleared));
        assert_eq!(
            fx.events,
            [
                EventType::PaymentCompleted,
                EventType::PaymentRequestCompleted
            ]
        );
        // An API debit: the payment's event only.
        let fx = ach_resolved(&ach(), &AchResolution::Clear, &FeeSchedule::default());
        assert_eq!(fx.request, None);
        assert_eq!(fx.events, [EventType::PaymentCompleted]);
        assert_eq!(fx.postings.len(), 1);
    }

    #[test]
    fn a_returned_debit_fails_gives_the_money_back_and_reopens_its_request() {
        let payment = on_request(ach());
        let fx = ach_resolved(&payment, &AchResolution::Return(r01()), &fees());
        assert_eq!(
            fx,
            AchEffects {
                payment: PaymentChange::Failed(Failure {
                    code: "R01".into(),
                    message: "ACH debit returned (R01): insufficient funds".into(),
                }),
                fee: 0,
                postings: vec![PostingSet::ach_returned(payment.id.as_str(), 100_000)],
                request: Some(RequestTransition::Reopened),
                events: vec![EventType::PaymentFailed],
            }
        );
        let fx = ach_resolved(&ach(), &AchResolution::Return(r01()), &fees());
        assert_eq!(fx.request, None);
        assert_eq!(fx.events, [EventType::PaymentFailed]);
    }

    fn refund() -> Refund {
        Refund {
            processor: crate::processor::ProcessorRef {
                connector: crate::processor::Connector::Sandbox,
                reference: None,
            },
            id: RefundId::parse("re_0123456789ABCDEFGHIJabcd").unwrap(),
            partner_id: card().partner_id,
            object: RefundObject::Refund,
            payment_id: card().id,
            amount: Money::new(2_500, Currency::Usd),
            currency: Currency::Usd,
            status: RefundStatus::Pending,
            reason: None,
            failure_code: None,
            failure_message: None,
            created_at: NOW,
            payout_id: None,
            created_by: None,
        }
    }

    #[test]
    fn a_refund_succeeds_out_of_available_or_fails_and_gives_its_amount_back() {
        let fx = refund_finished(&refund(), &RefundResult::Succeeded);
        assert_eq!(fx.status, RefundStatus::Succeeded);
        assert_eq!(fx.failure, None);
        assert_eq!(
            ledger(&fx.postings),
            [(
                EntryKind::Refund,
                refund().id.as_str().to_owned(),
                vec![
                    (Account::PartnerAvailable, -2_500),
                    (Account::ProcessorClearing, 2_500)
                ]
            )]
        );
        assert_eq!(fx.event, Some(EventType::RefundCreated));
        assert_eq!(fx.give_back, None);
        let fx = refund_finished(
            &refund(),
            &RefundResult::Failed {
                code: DeclineCode::ProcessingError,
                reason: None,
            },
        );
        assert_eq!(
            fx,
            RefundEffects {
                status: RefundStatus::Failed,
                failure: Some(Failure {
                    code: "processing_error".into(),
                    message: "The processor could not make the refund; nothing was refunded. \
                              You can try again."
                        .into(),
                }),
                postings: vec![],
                event: None,
                give_back: Some(Money::new(2_500, Currency::Usd)),
            }
        );
    }

    #[test]
    fn a_refused_refund_keeps_the_processors_reason() {
        let refused = RefundResult::Failed {
            code: DeclineCode::ProcessingError,
            reason: Some("it can be refunded once the payment has settled.".into()),
        };
        let failure = refused.failure().unwrap();
        assert_eq!(failure.code, "processing_error");
        assert_eq!(
            failure.message,
            "The processor refused the refund: it can be refunded once the payment has settled. \
             Nothing was refunded."
        );
        let long = RefundResult::Failed {
            code: DeclineCode::ProcessingError,
            reason: Some("x".repeat(5_000)),
        };
        assert!(long.failure().unwrap().message.chars().count() < 400);
        assert_eq!(RefundResult::Succeeded.failure(), None);
    }

    #[test]
    fn an_authorization_is_reported_created_whether_or_not_it_was_approved() {
        assert_eq!(
            authorization_finished(&AuthorizationResult::Authorized {
                funding: Funding::Prepaid
            }),
            AuthorizationEffects {
                status: AuthorizationStatus::Authorized,
                funding: Some(Funding::Prepaid),
                failure: None,
                event: EventType::AuthorizationCreated,
            }
        );
        assert_eq!(
            authorization_finished(&AuthorizationResult::Declined {
                code: DeclineCode::ExpiredCard
            }),
            AuthorizationEffects {
                status: AuthorizationStatus::Failed,
                funding: None,
                failure: Some(Failure {
                    code: "expired_card".into(),
                    message: DeclineCode::ExpiredCard.payer_message().into(),
                }),
                event: EventType::AuthorizationCreated,
            }
        );
    }

    #[test]
    fn a_reversal_asks_the_processor_to_release_the_hold_at_once() {
        let fx = authorization_reversed(&auth_id(), NOW);
        assert_eq!(fx.event, EventType::AuthorizationReversed);
        assert_eq!(fx.job.kind(), JobKind::ProcessorRelease);
        assert_eq!(fx.job.run_at, NOW);
        assert_eq!(
            fx.job.payload.to_payload().to_string(),
            json!({ "authorizationId": auth_id().as_str() }).to_string()
        );
    }

    fn request(expires_at: Option<OffsetDateTime>) -> PaymentRequest {
        use crate::payment_request::PaymentRequestObject;
        use crate::reference::ReferenceId;
        PaymentRequest {
            id: request_id(),
            partner_id: card().partner_id,
            object: PaymentRequestObject::PaymentRequest,
            reference_id: ReferenceId::parse("QUOTE-1").unwrap(),
            amount: Money::new(10_000, Currency::Usd),
            currency: Currency::Usd,
            status: PaymentRequestStatus::Open,
            url: "http://127.0.0.1:8080/p/acme/pay/pr_x".into(),
            redirect_url: None,
            description: None,
            payer_email: None,
            metadata: Default::default(),
            created_at: NOW,
            completed_at: None,
            expires_at,
            payment_id: None,
            attempt_count: 0,
            attempt_payment_id: None,
        }
    }

    #[test]
    fn a_request_with_a_deadline_schedules_its_expiry() {
        let at = datetime!(2026-11-22 12:00 UTC);
        let fx = payment_request_created(&request(Some(at)));
        assert_eq!(fx.event, EventType::PaymentRequestCreated);
        let job = fx.job.unwrap();
        assert_eq!(job.kind(), JobKind::ExpirePaymentRequest);
        assert_eq!(job.run_at, at);
        assert_eq!(
            job.payload.to_payload().to_string(),
            json!({ "paymentRequestId": request_id().as_str() }).to_string()
        );
        let fx = payment_request_created(&request(None));
        assert_eq!(fx.event, EventType::PaymentRequestCreated);
        assert_eq!(fx.job, None);
    }

    #[test]
    fn only_a_positive_batch_is_paid_out() {
        let id = PayoutId::parse("po_0123456789ABCDEFGHIJabcd").unwrap();
        assert_eq!(
            payout_cut(&id, 8_680),
            PayoutEffects {
                status: PayoutStatus::Paid,
                postings: vec![PostingSet::payout(id.as_str(), 8_680)],
                event: Some(EventType::PayoutPaid),
            }
        );
        for net in [0, -1_000] {
            assert_eq!(
                payout_cut(&id, net),
                PayoutEffects {
                    status: PayoutStatus::CarriedForward,
                    postings: vec![],
                    event: None,
                }
            );
        }
    }

    #[test]
    fn a_debit_submitted_then_settled_leaves_the_ledger_as_a_card_would() {
        // Submitted then cleared: the same balances as a card capture of the same amount
        // (with the ACH fee); submitted then returned: nothing at all.
        let balance = |sets: &[PostingSet], account| -> i64 {
            sets.iter()
                .flat_map(PostingSet::postings)
                .filter(|p| p.account == account)
                .map(|p| p.amount)
                .sum()
        };
        let submitted = attempt_finished(
            &ach(),
            &AttemptResult::AchSubmitted { settle: None },
            &fees(),
        )
        .postings;
        let cleared = [
            submitted.clone(),
            ach_resolved(&ach(), &AchResolution::Clear, &fees()).postings,
        ]
        .concat();
        assert_eq!(balance(&cleared, Account::PartnerPending), 0);
        assert_eq!(balance(&cleared, Account::PartnerAvailable), 100_000 - 500);
        assert_eq!(balance(&cleared, Account::Fees), 500);
        let returned = [
            submitted,
            ach_resolved(&ach(), &AchResolution::Return(r01()), &fees()).postings,
        ]
        .concat();
        for account in Account::ALL {
            assert_eq!(balance(&returned, account), 0, "{account:?}");
        }
    }
}
