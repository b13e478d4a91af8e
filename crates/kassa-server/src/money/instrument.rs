//! The payer's instrument on its one path. Whether it comes from the hosted page's form, an API
//! `paymentMethod`, or a stored method opened from the vault, it is kassa-core's
//! [`NewInstrument`]; it is sealed into the vault from that type and lent to the processor from
//! it ([`processor_instrument`]), so no parallel card/ACH/Google Pay types sit in between.

use kassa_core::ach::{AccountNumber, RoutingNumber};
use kassa_core::card::{CardNumber, Expiry};
use kassa_core::id::{CustomerId, PaymentMethodId, VaultEntryId};
use kassa_core::payment::MaskedMethod;
use kassa_core::payment_method::{GooglePayData, NewInstrument, PaymentMethodDraft};
use kassa_core::secret::Secret;
use kassa_processor::Instrument;
use kassa_store::{MethodDetails, MethodOwner, MethodUse, NewPaymentMethod, Partner};

use crate::state::AppState;

/// The instrument of a sale or authorization, with its secret in hand for the processor call.
// One per request, moved along once; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Charged {
    /// A `paymentMethod` from the request, vaulted in the same transaction as the payment.
    New(PaymentMethodDraft),
    /// A stored payment method, its secret opened from the vault (a card without its CVC).
    Stored {
        id: PaymentMethodId,
        masked: MaskedMethod,
        secret: NewInstrument,
    },
}

impl Charged {
    /// The instrument as the processor is given it, for the length of one call.
    pub(crate) fn instrument(&self) -> Instrument<'_> {
        match self {
            Charged::New(draft) => processor_instrument(
                &draft.instrument,
                draft
                    .billing_address
                    .as_ref()
                    .and_then(|a| a.postal_code.as_deref()),
            ),
            Charged::Stored { secret, .. } => processor_instrument(secret, None),
        }
    }

    /// The name on the card or account, when the request gave one (a stored method's billing
    /// names are not opened for the call).
    pub(crate) fn holder_name(&self) -> Option<String> {
        match self {
            Charged::New(draft) => Some(format!(
                "{} {}",
                draft.billing_first_name, draft.billing_last_name
            )),
            Charged::Stored { .. } => None,
        }
    }

    /// What the payment records about its method: a new one sealed into the vault, or the stored
    /// one by id with its masked details.
    pub(crate) fn method_use(
        &self,
        state: &AppState,
        partner: &Partner,
        customer: &CustomerId,
    ) -> MethodUse {
        match self {
            Charged::New(draft) => {
                MethodUse::New(vault_method(state, partner, Some(customer), draft))
            }
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
}

/// Lends an instrument to the processor; the billing postal code goes with a card when known.
pub(crate) fn processor_instrument<'a>(
    instrument: &'a NewInstrument,
    postal_code: Option<&'a str>,
) -> Instrument<'a> {
    match instrument {
        NewInstrument::Card {
            number,
            expiry,
            cvc,
        } => Instrument::Card {
            number,
            expiry: *expiry,
            cvc: cvc.as_ref(),
            postal_code,
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
    }
}

/// Seals a new method's number into the vault; outside it only brand, last 4 and a fingerprint.
pub fn vault_method(
    state: &AppState,
    partner: &Partner,
    customer: Option<&CustomerId>,
    draft: &PaymentMethodDraft,
) -> NewPaymentMethod {
    let owner = MethodOwner {
        customer_id: customer.cloned(),
        billing_first_name: Some(draft.billing_first_name.clone()),
        billing_last_name: Some(draft.billing_last_name.clone()),
        billing_address: draft.billing_address.clone(),
        merchant_payment_method_ref_id: draft.merchant_payment_method_ref_id.clone(),
    };
    let holder_name = format!("{} {}", draft.billing_first_name, draft.billing_last_name);
    let postal_code = draft
        .billing_address
        .as_ref()
        .and_then(|a| a.postal_code.clone());
    sealed_method(
        state,
        partner,
        &draft.instrument,
        holder_name,
        owner,
        postal_code,
    )
}

/// The payment method record of an instrument: the secret (card number, account number or
/// Google Pay data) sealed in the vault, the rest masked. A CVC is never stored.
pub(crate) fn sealed_method(
    state: &AppState,
    partner: &Partner,
    instrument: &NewInstrument,
    holder_name: String,
    owner: MethodOwner,
    postal_code: Option<String>,
) -> NewPaymentMethod {
    let vault_id = VaultEntryId::generate();
    let (last4, fingerprint, details, secret): (String, String, MethodDetails, &[u8]) =
        match instrument {
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
        holder_name: Some(holder_name),
        owner,
        last4,
        fingerprint,
        details,
        vault: state.vault.seal(&partner.id, vault_id, secret),
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

/// Opens a stored method's secret as the instrument it was (a card comes back without a CVC).
/// None when the vault entry cannot be read back as what the method says it is (then the method
/// cannot be charged).
pub fn open_stored(
    state: &AppState,
    partner: &Partner,
    masked: &MaskedMethod,
    entry: &kassa_store::VaultEntry,
) -> Option<NewInstrument> {
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
        } => Some(NewInstrument::Card {
            number: CardNumber::parse(text.expose()).ok()?,
            expiry: Expiry {
                month: u8::try_from(*exp_month).ok()?,
                year: *exp_year,
            },
            cvc: None,
        }),
        MaskedMethod::Ach {
            routing_number,
            account_type,
            ..
        } => Some(NewInstrument::Ach {
            routing_number: RoutingNumber::parse(routing_number).ok()?,
            account_number: AccountNumber::parse(text.expose()).ok()?,
            account_type: *account_type,
        }),
        MaskedMethod::GooglePay { .. } => {
            GooglePayData::parse(text.expose()).map(NewInstrument::GooglePay)
        }
    }
}
