//! What a processor's notification changes (docs/api.md §10): the same records, through the same
//! store writes, as the sandbox path — an answer Kassa was still waiting for (`finish_*`, which
//! applies only while the record awaits its answer), or a bank debit that cleared or came back
//! (`resolve_ach`, only while it is pending). A notification about a record already final changes
//! nothing, so a repeated or late one is harmless.

use kassa_core::id::{AuthorizationId, PartnerId, PaymentId, RefundId};
use kassa_core::payment::{
    AchResolution, DeclineCode, Funding, MaskedMethod, Payment, PaymentStatus,
};
use kassa_core::processor::Connector;
use kassa_core::refund::RefundStatus;
use kassa_processor::{About, Change};
use kassa_store::{
    AttemptResult, AuthorizationResult, Referenced, RefundResult, ResolveOutcome, StoreError,
};

use super::protocol::write_counted;
use super::records::{Answered, Attempts, Authorizations, Refunds};
use crate::state::AppState;

/// What applying a notification did, for the log line and the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A record took the change.
    Changed,
    /// The record was already as the notification says (or final): nothing to do.
    AlreadyFinal,
    /// No record of this partner at this connector matches it.
    UnknownRecord,
}

/// Applies one verified notification's change for `partner` at `connector`.
pub async fn apply(
    state: &AppState,
    partner: &PartnerId,
    connector: Connector,
    change: &Change,
) -> anyhow::Result<Applied> {
    let about = match change {
        Change::PaymentSucceeded { about }
        | Change::PaymentDeclined { about, .. }
        | Change::DebitReturned { about, .. }
        | Change::RefundSucceeded { about }
        | Change::RefundFailed { about, .. } => about,
    };
    let Some(record) = find(state, partner, connector, about).await? else {
        return Ok(Applied::UnknownRecord);
    };
    let reference = about.reference.clone();
    Ok(match (change, record) {
        (Change::PaymentSucceeded { .. }, Referenced::Payment(p)) => {
            let answer = match is_debit(&p) {
                // A debit that cleared before Kassa recorded its submission: submitted, and
                // settled at once by the settlement job.
                true => AttemptResult::AchSubmitted {
                    settle: Some((AchResolution::Clear, state.clock.now())),
                },
                false => AttemptResult::Approved {
                    funding: funding_of(&p),
                },
            };
            match answer_payment(state, partner, &p, answer, reference).await? {
                Applied::AlreadyFinal if is_debit(&p) => {
                    resolve(state, partner, &p, AchResolution::Clear).await?
                }
                applied => applied,
            }
        }
        (Change::PaymentDeclined { code, .. }, Referenced::Payment(p)) => {
            let answer = AttemptResult::Declined { code: *code };
            answer_payment(state, partner, &p, answer, reference).await?
        }
        (Change::DebitReturned { code, .. }, Referenced::Payment(p)) => {
            let returned = AchResolution::Return(code.clone());
            let answer = AttemptResult::AchSubmitted {
                settle: Some((returned.clone(), state.clock.now())),
            };
            match answer_payment(state, partner, &p, answer, reference).await? {
                Applied::AlreadyFinal => resolve(state, partner, &p, returned).await?,
                applied => applied,
            }
        }
        (
            Change::PaymentSucceeded { .. } | Change::PaymentDeclined { .. },
            Referenced::Authorization(a),
        ) => {
            let result = match change {
                Change::PaymentDeclined { code, .. } => {
                    AuthorizationResult::Declined { code: *code }
                }
                _ => AuthorizationResult::Authorized {
                    funding: match a.payment_method {
                        MaskedMethod::Card { funding, .. } => funding,
                        _ => Funding::Unknown,
                    },
                },
            };
            let key = (partner.clone(), a.id.clone());
            written(
                write_counted::<Authorizations>(state, &key, &Answered { result, reference }).await,
            )?
        }
        (Change::RefundSucceeded { .. }, Referenced::Refund(r)) => {
            let answer = Answered {
                result: RefundResult::Succeeded,
                reference,
            };
            written(write_counted::<Refunds>(state, &r, &answer).await)?
        }
        (Change::RefundFailed { reason, .. }, Referenced::Refund(r)) => {
            let answer = Answered {
                result: RefundResult::Failed {
                    code: DeclineCode::ProcessingError,
                    reason: Some(reason.clone()),
                },
                reference,
            };
            match written(write_counted::<Refunds>(state, &r, &answer).await)? {
                Applied::AlreadyFinal if r.status == RefundStatus::Succeeded => {
                    // The money did not reach the payer after all. Kassa's books have no
                    // "refund reversed" yet: said loudly for the operator to settle by hand.
                    tracing::error!(refund = %r.id, reason = %reason, "the processor says a refund Kassa recorded as succeeded failed; the payer was not paid back — settle it with the partner");
                    Applied::AlreadyFinal
                }
                applied => applied,
            }
        }
        (change, record) => {
            tracing::warn!(
                ?change,
                record = record_id(&record),
                "a notification that does not fit its record was ignored"
            );
            Applied::UnknownRecord
        }
    })
}

/// The record a notification is about: by Kassa's id when it carries one back, else by the
/// processor's id. Only this partner's records at this connector are looked at.
async fn find(
    state: &AppState,
    partner: &PartnerId,
    connector: Connector,
    about: &About,
) -> anyhow::Result<Option<Referenced>> {
    let store = &state.store;
    let found = match about.kassa_id.as_deref() {
        Some(id) if id.starts_with("pay_") => match PaymentId::parse(id) {
            Ok(id) => store.payment(partner, &id).await?.map(Referenced::Payment),
            Err(_) => None,
        },
        Some(id) if id.starts_with("auth_") => match AuthorizationId::parse(id) {
            Ok(id) => store
                .authorization(partner, &id)
                .await?
                .map(Referenced::Authorization),
            Err(_) => None,
        },
        Some(id) if id.starts_with("re_") => match RefundId::parse(id) {
            Ok(id) => store.refund(partner, &id).await?.map(Referenced::Refund),
            Err(_) => None,
        },
        _ => None,
    };
    let found = match (found, about.reference.as_deref()) {
        (Some(found), _) => Some(found),
        (None, Some(reference)) => {
            store
                .by_processor_reference(partner, connector, reference)
                .await?
        }
        (None, None) => None,
    };
    // A record that went to another processor is not this notification's.
    Ok(found.filter(|r| connector_of(r) == connector))
}

fn connector_of(record: &Referenced) -> Connector {
    match record {
        Referenced::Payment(p) => p.processor.connector,
        Referenced::Authorization(a) => a.processor.connector,
        Referenced::Refund(r) => r.processor.connector,
    }
}

fn record_id(record: &Referenced) -> &str {
    match record {
        Referenced::Payment(p) => p.id.as_str(),
        Referenced::Authorization(a) => a.id.as_str(),
        Referenced::Refund(r) => r.id.as_str(),
    }
}

fn is_debit(p: &Payment) -> bool {
    matches!(p.payment_method, MaskedMethod::Ach { .. })
}

fn funding_of(p: &Payment) -> Funding {
    match p.payment_method {
        MaskedMethod::Card { funding, .. } => funding,
        _ => Funding::Unknown,
    }
}

/// Records the answer a payment was still waiting for.
async fn answer_payment(
    state: &AppState,
    partner: &PartnerId,
    p: &Payment,
    result: AttemptResult,
    reference: Option<String>,
) -> anyhow::Result<Applied> {
    if p.status != PaymentStatus::Pending {
        return Ok(Applied::AlreadyFinal);
    }
    let key = (partner.clone(), p.id.clone());
    written(write_counted::<Attempts>(state, &key, &Answered { result, reference }).await)
}

/// Clears or returns a pending bank debit.
async fn resolve(
    state: &AppState,
    partner: &PartnerId,
    p: &Payment,
    resolution: AchResolution,
) -> anyhow::Result<Applied> {
    let outcome = super::resolve_debit(state, Some(partner), &p.id, &resolution).await?;
    Ok(match outcome {
        ResolveOutcome::Resolved(_) => Applied::Changed,
        ResolveOutcome::NotPending => Applied::AlreadyFinal,
    })
}

fn written<T>(result: Result<T, StoreError>) -> anyhow::Result<Applied> {
    match result {
        Ok(_) => Ok(Applied::Changed),
        Err(StoreError::AlreadyRecorded) => Ok(Applied::AlreadyFinal),
        Err(e) => Err(e.into()),
    }
}
