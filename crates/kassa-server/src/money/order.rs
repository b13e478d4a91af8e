//! What an API sale or authorization is made of once validated: who pays, with what, for which
//! invoice. Shared by the sale and the hold, and (for a new customer) by `/v1/customers`.

use kassa_core::customer::{Customer, CustomerFields};
use kassa_core::descriptor::DynamicDescriptor;
use kassa_core::id::CustomerId;
use kassa_core::invoice::Invoice;
use kassa_core::money::Money;
use std::ops::ControlFlow;

use kassa_store::{Begun, CustomerRef, MethodUse, Partner, StoreError};

use super::instrument::Charged;
use crate::state::AppState;

/// Who pays: an existing customer, or one made from the request's names.
#[derive(Debug)]
pub enum Payer {
    Existing(CustomerId),
    New(CustomerFields),
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
    pub(crate) fn amount(&self) -> Money {
        Money::new(self.invoice.total, self.invoice.currency)
    }
}

/// The stored payment method (or customer) a request named was deleted after it was checked and
/// before the payment was recorded; nothing was recorded or charged.
#[derive(Debug, thiserror::Error)]
#[error("the payment method was deleted while the request was being made")]
pub struct Gone;

impl Order {
    /// Who pays and with what, as a sale or an authorization records them: the customer (new or
    /// named) and the payment method (new and vaulted, or stored).
    pub(crate) fn payer_and_method(
        &self,
        state: &AppState,
        partner: &Partner,
        now: time::OffsetDateTime,
    ) -> (CustomerRef, MethodUse) {
        let customer = match &self.payer {
            Payer::Existing(id) => CustomerRef::Existing(id.clone()),
            Payer::New(fields) => CustomerRef::New(new_customer(partner, fields, now)),
        };
        let method = self.method.method_use(state, partner, customer.id());
        (customer, method)
    }
}

/// What recording a sale or an authorization led to: the record an earlier request under the
/// same idempotency key made (done), the intent to go on with, or [`Gone`] when the named
/// customer or method went away meanwhile.
pub(crate) fn begun<T, I>(
    recorded: Result<Begun<T>, StoreError>,
    intent: impl FnOnce(T) -> I,
) -> anyhow::Result<ControlFlow<T, I>> {
    match recorded {
        Ok(Begun::Existing(record)) => Ok(ControlFlow::Break(record)),
        Ok(Begun::Started(record)) => Ok(ControlFlow::Continue(intent(record))),
        Err(StoreError::Missing(_)) => Err(Gone.into()),
        Err(e) => Err(e.into()),
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
