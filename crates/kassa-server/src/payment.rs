//! The one-time payment API's money paths: a sale, an authorization, and a sale that captures
//! an authorization. Like the hosted page (`checkout.rs`), each records its intent before the
//! processor is asked and its answer after, so a crash in between is recovered, never doubled.

use kassa_core::ach::{AccountNumber, RoutingNumber};
use kassa_core::authorization::{Authorization, AUTHORIZATION_VALIDITY};
use kassa_core::card::{CardNumber, Expiry};
use kassa_core::customer::{Customer, CustomerFields};
use kassa_core::descriptor::DynamicDescriptor;
use kassa_core::id::{AuthorizationId, CustomerId, PaymentId, PaymentMethodId, VaultEntryId};
use kassa_core::invoice::Invoice;
use kassa_core::money::Money;
use kassa_core::payment::{DeclineCode, Funding, MaskedMethod, Payment};
use kassa_core::payment_method::{GooglePayData, NewInstrument, PaymentMethodDraft};
use kassa_core::secret::Secret;
use kassa_processor::{AuthorizeRequest, ChargeOutcome, ChargeRequest, Instrument};
use kassa_store::{
    AttemptResult, AuthorizationResult, Begun, CaptureOutcome, CustomerRef, MethodDetails,
    MethodOwner, MethodUse, NewApiPayment, NewAuthorization, NewCapture, NewPaymentMethod, Partner,
    StoreError,
};

use crate::state::AppState;

/// Who pays: an existing customer, or one made from the request's names.
#[derive(Debug)]
pub enum Payer {
    Existing(CustomerId),
    New(CustomerFields),
}

/// The instrument of a sale or authorization, with its secret in hand for the processor call.
// One per request, moved along once; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Charged {
    /// A `paymentMethod` from the request, vaulted in the same transaction as the payment.
    New(PaymentMethodDraft),
    /// A stored payment method, its secret opened from the vault.
    Stored {
        id: PaymentMethodId,
        masked: MaskedMethod,
        secret: StoredSecret,
    },
}

/// A stored method's secret, opened from the vault for the length of one processor call.
#[derive(Debug)]
pub enum StoredSecret {
    Card(CardNumber, Expiry),
    Ach(RoutingNumber, AccountNumber, kassa_core::ach::AccountType),
    GooglePay(GooglePayData),
}

/// A sale or authorization, validated and priced.
#[derive(Debug)]
pub struct Order {
    pub payer: Payer,
    pub method: Charged,
    pub invoice: Invoice,
    pub dynamic_descriptor: Option<DynamicDescriptor>,
}

impl Order {
    fn amount(&self) -> Money {
        Money::new(self.invoice.total, self.invoice.currency)
    }
}

/// The stored payment method (or customer) a request named was deleted after it was checked and
/// before the payment was recorded; nothing was recorded or charged.
#[derive(Debug, thiserror::Error)]
#[error("the payment method was deleted while the request was being made")]
pub struct Gone;

/// How long Kassa waits for the processor. Well inside the recovery window
/// (`jobs::ABANDONED_ATTEMPT`), so recovery never asks about a call still in progress; a call
/// that times out stays undecided (`pending`) until recovery asks the processor what happened.
pub const PROCESSOR_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Records the sale, charges it, and records the answer. A decline is a failed payment, not an
/// error. Runs in its own task so a client that disconnects cannot cut it short. A retry under
/// the same `Idempotency-Key` gets the payment the first request made, never a second charge.
pub async fn sale(
    state: &AppState,
    partner: &Partner,
    order: Order,
    idempotency_key: Option<String>,
) -> anyhow::Result<Payment> {
    let (state, partner) = (state.clone(), partner.clone());
    tokio::spawn(async move { sale_detached(&state, &partner, order, idempotency_key).await })
        .await?
}

async fn sale_detached(
    state: &AppState,
    partner: &Partner,
    order: Order,
    idempotency_key: Option<String>,
) -> anyhow::Result<Payment> {
    let now = state.clock.now();
    let payment_id = PaymentId::generate();
    let customer = customer_ref(partner, &order.payer, now);
    let method = method_use(state, partner, customer.id(), &order.method);
    let new = NewApiPayment {
        payment_id: payment_id.clone(),
        idempotency_key,
        amount: order.amount(),
        customer,
        method,
        invoice: order.invoice.clone(),
        dynamic_descriptor: order.dynamic_descriptor.clone(),
    };
    match state.store.begin_payment(&partner.id, &new, now).await {
        Ok(Begun::Existing(payment)) => return Ok(payment),
        Ok(Begun::Started(_)) => {}
        Err(StoreError::Inconsistent(_)) => return Err(Gone.into()),
        Err(e) => return Err(e.into()),
    }
    let charged = tokio::time::timeout(
        PROCESSOR_TIMEOUT,
        state.processor.charge(ChargeRequest {
            payment_id: &payment_id,
            amount: new.amount,
            instrument: instrument(&order.method),
        }),
    )
    .await;
    let result = match charged {
        Err(_) => {
            tracing::warn!(payment = %payment_id, "processor did not answer in time; the payment stays pending until recovery asks it");
            return current_payment(state, partner, &payment_id).await;
        }
        Ok(Ok(outcome)) => crate::checkout::attempt_result(state, outcome),
        Ok(Err(e)) => {
            // Not reached: nothing was charged.
            tracing::warn!(payment = %payment_id, error = %e, "processor unavailable");
            AttemptResult::Declined {
                code: DeclineCode::ProcessingError,
            }
        }
    };
    finish(state, partner, &payment_id, &result).await
}

/// Records the processor's answer for an API payment. If recovery recorded it first (a call
/// that outlived the recovery window), that record stands and is returned.
async fn finish(
    state: &AppState,
    partner: &Partner,
    payment: &PaymentId,
    result: &AttemptResult,
) -> anyhow::Result<Payment> {
    match crate::checkout::record(state, &partner.id, payment, result).await {
        Ok(finished) => Ok(finished.payment),
        Err(e) if crate::checkout::recorded_already(&e) => {
            tracing::warn!(payment = %payment, "the answer was recorded meanwhile by recovery");
            current_payment(state, partner, payment).await
        }
        Err(e) => Err(e),
    }
}

async fn current_payment(
    state: &AppState,
    partner: &Partner,
    id: &PaymentId,
) -> anyhow::Result<Payment> {
    state
        .store
        .payment(&partner.id, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("payment {id} vanished"))
}

/// Claims an authorization for its capture, asks the processor to capture, and records the
/// answer: `Captured` with a completed payment, or with a failed one (the processor refused; the
/// authorization may be captured again), or any refusal of the claim.
pub async fn capture(
    state: &AppState,
    partner: &Partner,
    authorization: AuthorizationId,
    capture: NewCapture,
) -> anyhow::Result<CaptureOutcome> {
    let (state, partner) = (state.clone(), partner.clone());
    tokio::spawn(async move { capture_detached(&state, &partner, &authorization, &capture).await })
        .await?
}

async fn capture_detached(
    state: &AppState,
    partner: &Partner,
    id: &AuthorizationId,
    capture: &NewCapture,
) -> anyhow::Result<CaptureOutcome> {
    let claimed = state
        .store
        .capture_authorization(&partner.id, id, capture, state.clock.now())
        .await?;
    let CaptureOutcome::Captured {
        authorization,
        payment,
    } = claimed
    else {
        return Ok(claimed);
    };
    let asked = tokio::time::timeout(
        PROCESSOR_TIMEOUT,
        state.processor.capture(id, &payment.id, payment.amount),
    )
    .await;
    let result = match asked {
        Err(_) => {
            tracing::warn!(payment = %payment.id, "processor did not answer a capture in time; it stays pending until recovery asks");
            return Ok(CaptureOutcome::Captured {
                authorization,
                payment,
            });
        }
        Ok(Ok(())) => AttemptResult::Approved {
            funding: match authorization.payment_method {
                MaskedMethod::Card { funding, .. } => funding,
                _ => Funding::Unknown,
            },
        },
        Ok(Err(e)) => {
            tracing::warn!(payment = %payment.id, error = %e, "processor refused a capture");
            AttemptResult::Declined {
                code: DeclineCode::ProcessingError,
            }
        }
    };
    let payment = finish(state, partner, &payment.id, &result).await?;
    let authorization = state
        .store
        .authorization(&partner.id, id)
        .await?
        .unwrap_or(authorization);
    Ok(CaptureOutcome::Captured {
        authorization,
        payment,
    })
}

/// Records the authorization, asks the processor to hold the funds, and records the answer.
pub async fn authorize(
    state: &AppState,
    partner: &Partner,
    order: Order,
    idempotency_key: Option<String>,
) -> anyhow::Result<Authorization> {
    let (state, partner) = (state.clone(), partner.clone());
    tokio::spawn(async move { authorize_detached(&state, &partner, order, idempotency_key).await })
        .await?
}

async fn authorize_detached(
    state: &AppState,
    partner: &Partner,
    order: Order,
    idempotency_key: Option<String>,
) -> anyhow::Result<Authorization> {
    let now = state.clock.now();
    let id = AuthorizationId::generate();
    let customer = customer_ref(partner, &order.payer, now);
    let method = method_use(state, partner, customer.id(), &order.method);
    let new = NewAuthorization {
        id: id.clone(),
        idempotency_key,
        amount: order.amount(),
        customer,
        method,
        invoice: order.invoice.clone(),
        dynamic_descriptor: order.dynamic_descriptor.clone(),
        expires_at: now + AUTHORIZATION_VALIDITY,
    };
    match state
        .store
        .begin_authorization(&partner.id, &new, now)
        .await
    {
        Ok(Begun::Existing(auth)) => return Ok(auth),
        Ok(Begun::Started(_)) => {}
        Err(StoreError::Inconsistent(_)) => return Err(Gone.into()),
        Err(e) => return Err(e.into()),
    }
    let asked = tokio::time::timeout(
        PROCESSOR_TIMEOUT,
        state.processor.authorize(AuthorizeRequest {
            authorization_id: &id,
            amount: new.amount,
            instrument: instrument(&order.method),
        }),
    )
    .await;
    let result = match asked {
        Err(_) => {
            tracing::warn!(authorization = %id, "processor did not answer in time; the authorization stays pending until recovery asks it");
            return current_authorization(state, partner, &id).await;
        }
        Ok(Ok(outcome)) => authorization_result(outcome),
        Ok(Err(e)) => {
            tracing::warn!(authorization = %id, error = %e, "processor unavailable");
            AuthorizationResult::Declined {
                code: DeclineCode::ProcessingError,
            }
        }
    };
    match record_authorization(state, partner, &id, &result).await {
        Err(e) if crate::checkout::recorded_already(&e) => {
            current_authorization(state, partner, &id).await
        }
        other => other,
    }
}

async fn current_authorization(
    state: &AppState,
    partner: &Partner,
    id: &AuthorizationId,
) -> anyhow::Result<Authorization> {
    state
        .store
        .authorization(&partner.id, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("authorization {id} vanished"))
}

fn authorization_result(outcome: ChargeOutcome) -> AuthorizationResult {
    match outcome {
        ChargeOutcome::Approved { funding } => AuthorizationResult::Authorized { funding },
        ChargeOutcome::Declined { code } => AuthorizationResult::Declined { code },
        // A processor that answers a hold with a debit is broken; the hold did not happen.
        ChargeOutcome::AchSubmitted { .. } => AuthorizationResult::Declined {
            code: DeclineCode::ProcessingError,
        },
    }
}

async fn record_authorization(
    state: &AppState,
    partner: &Partner,
    id: &AuthorizationId,
    result: &AuthorizationResult,
) -> anyhow::Result<Authorization> {
    Ok(crate::checkout::retrying_database(id.as_str(), || {
        state
            .store
            .finish_authorization(&partner.id, id, result, state.clock.now())
    })
    .await?)
}

/// Settles authorizations whose answer was never recorded, from what the processor decided.
pub async fn recover_abandoned_authorizations(
    state: &AppState,
    started_before: time::OffsetDateTime,
) -> anyhow::Result<usize> {
    let mut recovered = 0;
    for (partner, id) in state.store.abandoned_authorizations(started_before).await? {
        let result = match state.processor.lookup_authorization(&id).await {
            Ok(Some(outcome)) => authorization_result(outcome),
            Ok(None) => AuthorizationResult::Declined {
                code: DeclineCode::ProcessingError,
            },
            Err(e) => {
                tracing::warn!(authorization = %id, error = %e, "cannot ask the processor about an abandoned authorization");
                continue;
            }
        };
        match state
            .store
            .finish_authorization(&partner, &id, &result, state.clock.now())
            .await
        {
            Ok(_) => recovered += 1,
            Err(StoreError::Inconsistent(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(recovered)
}

fn customer_ref(partner: &Partner, payer: &Payer, now: time::OffsetDateTime) -> CustomerRef {
    match payer {
        Payer::Existing(id) => CustomerRef::Existing(id.clone()),
        Payer::New(fields) => CustomerRef::New(new_customer(partner, fields, now)),
    }
}

pub fn new_customer(
    partner: &Partner,
    fields: &CustomerFields,
    now: time::OffsetDateTime,
) -> Customer {
    Customer {
        id: CustomerId::generate(),
        partner_id: partner.id.clone(),
        object: Default::default(),
        first_name: fields.first_name.clone(),
        last_name: fields.last_name.clone(),
        email: fields.email.clone(),
        merchant_customer_ref_id: fields.merchant_customer_ref_id.clone(),
        entity_use_code: fields.entity_use_code.clone(),
        created_at: now,
        updated_at: now,
    }
}

fn method_use(
    state: &AppState,
    partner: &Partner,
    customer: &CustomerId,
    method: &Charged,
) -> MethodUse {
    match method {
        Charged::New(draft) => MethodUse::New(vault_method(state, partner, Some(customer), draft)),
        Charged::Stored { id, masked, .. } => {
            let (last4, details) = stored_details(masked);
            MethodUse::Existing {
                id: id.clone(),
                last4,
                details,
            }
        }
    }
}

fn stored_details(masked: &MaskedMethod) -> (String, MethodDetails) {
    match masked {
        MaskedMethod::Card {
            brand,
            last4,
            exp_month,
            exp_year,
            ..
        } => (
            last4.clone(),
            MethodDetails::Card {
                brand: *brand,
                exp_month: *exp_month,
                exp_year: *exp_year,
                postal_code: None,
            },
        ),
        MaskedMethod::Ach {
            account_type,
            routing_number,
            last4,
        } => (
            last4.clone(),
            MethodDetails::Ach {
                routing_number: routing_number.clone(),
                account_type: *account_type,
            },
        ),
        MaskedMethod::GooglePay { brand, last4 } => (
            last4.clone().unwrap_or_default(),
            MethodDetails::GooglePay { brand: *brand },
        ),
    }
}

/// Seals a new method's number into the vault; outside it only brand, last 4 and a fingerprint.
pub fn vault_method(
    state: &AppState,
    partner: &Partner,
    customer: Option<&CustomerId>,
    draft: &PaymentMethodDraft,
) -> NewPaymentMethod {
    let vault_id = VaultEntryId::generate();
    let owner = MethodOwner {
        customer_id: customer.cloned(),
        billing_first_name: Some(draft.billing_first_name.clone()),
        billing_last_name: Some(draft.billing_last_name.clone()),
        billing_address: draft.billing_address.clone(),
        merchant_payment_method_ref_id: draft.merchant_payment_method_ref_id.clone(),
    };
    let holder_name = Some(format!(
        "{} {}",
        draft.billing_first_name, draft.billing_last_name
    ));
    let postal_code = draft
        .billing_address
        .as_ref()
        .and_then(|a| a.postal_code.clone());
    let (last4, fingerprint, details, secret): (String, String, MethodDetails, &[u8]) =
        match &draft.instrument {
            NewInstrument::Card { number, expiry, .. } => (
                number.last4().to_string(),
                state
                    .vault
                    .fingerprint(&partner.id, "card", number.expose()),
                MethodDetails::Card {
                    brand: number.brand(),
                    exp_month: i32::from(expiry.month),
                    exp_year: expiry.year,
                    postal_code,
                },
                number.expose().as_bytes(),
            ),
            NewInstrument::Ach {
                routing_number,
                account_number,
                account_type,
            } => (
                account_number.last4().to_string(),
                state.vault.fingerprint(
                    &partner.id,
                    "ach",
                    &format!("{}/{}", routing_number.as_str(), account_number.expose()),
                ),
                MethodDetails::Ach {
                    routing_number: routing_number.as_str().to_string(),
                    account_type: *account_type,
                },
                account_number.expose().as_bytes(),
            ),
            NewInstrument::GooglePay(data) => (
                data.last4.clone().unwrap_or_default(),
                state
                    .vault
                    .fingerprint(&partner.id, "google_pay", data.raw.expose()),
                MethodDetails::GooglePay { brand: data.brand },
                data.raw.expose().as_bytes(),
            ),
        };
    NewPaymentMethod {
        id: PaymentMethodId::generate(),
        holder_name,
        owner,
        last4,
        fingerprint,
        details,
        vault: state.vault.seal(&partner.id, vault_id, secret),
    }
}

/// Opens a stored method's secret. None when the vault entry cannot be read back as what the
/// method says it is (then the method cannot be charged).
pub fn open_stored(
    state: &AppState,
    partner: &Partner,
    masked: &MaskedMethod,
    entry: &kassa_store::VaultEntry,
) -> Option<StoredSecret> {
    let plain = state
        .vault
        .open(&partner.id, &entry.id, &entry.nonce, &entry.ciphertext)
        .ok()?;
    let text = Secret::new(String::from_utf8(plain.expose().clone()).ok()?);
    match masked {
        MaskedMethod::Card {
            exp_month,
            exp_year,
            ..
        } => Some(StoredSecret::Card(
            CardNumber::parse(text.expose()).ok()?,
            Expiry {
                month: u8::try_from(*exp_month).ok()?,
                year: *exp_year,
            },
        )),
        MaskedMethod::Ach {
            routing_number,
            account_type,
            ..
        } => Some(StoredSecret::Ach(
            RoutingNumber::parse(routing_number).ok()?,
            AccountNumber::parse(text.expose()).ok()?,
            *account_type,
        )),
        MaskedMethod::GooglePay { .. } => {
            GooglePayData::parse(text.expose()).map(StoredSecret::GooglePay)
        }
    }
}

fn instrument(method: &Charged) -> Instrument<'_> {
    match method {
        Charged::New(draft) => match &draft.instrument {
            NewInstrument::Card {
                number,
                expiry,
                cvc,
            } => Instrument::Card {
                number,
                expiry: *expiry,
                cvc: cvc.as_ref(),
                postal_code: draft
                    .billing_address
                    .as_ref()
                    .and_then(|a| a.postal_code.as_deref()),
            },
            NewInstrument::Ach {
                routing_number,
                account_number,
                account_type,
            } => Instrument::Ach {
                routing_number,
                account_number,
                account_type: *account_type,
            },
            NewInstrument::GooglePay(data) => Instrument::GooglePay {
                token: data.token.as_ref().map(|t| t.expose().as_str()),
                brand: data.brand,
            },
        },
        Charged::Stored { secret, .. } => match secret {
            StoredSecret::Card(number, expiry) => Instrument::Card {
                number,
                expiry: *expiry,
                cvc: None,
                postal_code: None,
            },
            StoredSecret::Ach(routing_number, account_number, account_type) => Instrument::Ach {
                routing_number,
                account_number,
                account_type: *account_type,
            },
            StoredSecret::GooglePay(data) => Instrument::GooglePay {
                token: data.token.as_ref().map(|t| t.expose().as_str()),
                brand: data.brand,
            },
        },
    }
}
