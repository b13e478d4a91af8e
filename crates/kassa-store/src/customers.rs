//! Customers, their vaulted payment methods, and the partner's tax rates: what the one-time
//! payment API keeps between payments.

use async_trait::async_trait;
use kassa_core::audit::{Action, Caller, Entry};
use kassa_core::clock::{from_micros, to_micros};
use kassa_core::customer::{Customer, CustomerPatch};
use kassa_core::id::{CustomerId, PartnerId, PaymentMethodId, VaultEntryId};
use kassa_core::invoice::{TaxRate, TaxRates};
use kassa_core::payment_method::PaymentMethod;
use time::OffsetDateTime;

use crate::audit::append;
use crate::columns::*;
use crate::db::{query, query_scalar, Backend, Batch, Conn, Row, WriteTx as _};
use crate::model::*;
use crate::paging::*;
use crate::Result;

#[async_trait]
pub trait CustomerStore {
    async fn create_customer(&self, customer: &Customer, by: &Caller) -> Result<()>;
    async fn customer(&self, partner: &PartnerId, id: &CustomerId) -> Result<Option<Customer>>;
    async fn update_customer(
        &self,
        partner: &PartnerId,
        id: &CustomerId,
        patch: &CustomerPatch,
        by: &Caller,
    ) -> Result<Option<Customer>>;
    async fn list_customers(
        &self,
        partner: &PartnerId,
        filter: &CustomerFilter,
        page: &PageRequest,
    ) -> Result<Page<Customer>>;
    /// Vaults a payment method (and makes its customer when new), in one transaction.
    async fn create_payment_method(
        &self,
        partner: &PartnerId,
        customer: Option<&CustomerRef>,
        method: &NewPaymentMethod,
        by: &Caller,
    ) -> Result<PaymentMethod>;
    /// A payment method that has not been deleted.
    async fn payment_method(
        &self,
        partner: &PartnerId,
        id: &PaymentMethodId,
    ) -> Result<Option<PaymentMethod>>;
    /// A partner's live (not deleted) payment methods, newest first; `customer` narrows to one
    /// customer's.
    async fn list_payment_methods(
        &self,
        partner: &PartnerId,
        customer: Option<&CustomerId>,
        page: &PageRequest,
    ) -> Result<Page<PaymentMethod>>;
    /// The sealed number of a payment method that has not been deleted.
    async fn payment_method_vault(
        &self,
        partner: &PartnerId,
        id: &PaymentMethodId,
    ) -> Result<Option<VaultEntry>>;
    /// Marks it deleted and destroys its vault entry; None if there is no such live method.
    async fn delete_payment_method(
        &self,
        partner: &PartnerId,
        id: &PaymentMethodId,
        by: &Caller,
    ) -> Result<Option<PaymentMethod>>;
    async fn set_tax_rate(
        &self,
        partner: &PartnerId,
        code: &str,
        rate: TaxRate,
        by: &Caller,
    ) -> Result<()>;
    async fn tax_rates(&self, partner: &PartnerId) -> Result<TaxRates>;
}

#[async_trait]
impl<B: Backend> CustomerStore for B {
    async fn create_customer(&self, customer: &Customer, by: &Caller) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_customer(&mut tx, customer).await?;
        let entry = Entry::succeeded(Action::CustomerCreated, customer.id.as_str());
        append(&mut tx, Some(&customer.partner_id), by, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn customer(&self, partner: &PartnerId, id: &CustomerId) -> Result<Option<Customer>> {
        let row = query(concat!(
            "SELECT ",
            crate::columns::customer_cols!(),
            " FROM customers WHERE partner_id = $1 AND id = $2"
        ))
        .bind(partner.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut self.reader())
        .await?;
        row.as_ref().map(customer_from_row).transpose()
    }

    async fn update_customer(
        &self,
        partner: &PartnerId,
        id: &CustomerId,
        patch: &CustomerPatch,
        by: &Caller,
    ) -> Result<Option<Customer>> {
        let now = by.at;
        let mut tx = self.begin_write().await?;
        let row = query(concat!(
            "UPDATE customers SET first_name = COALESCE($3, first_name), last_name = COALESCE($4, last_name), \
             email = CASE WHEN $5 THEN $6 ELSE email END, \
             merchant_customer_ref_id = CASE WHEN $7 THEN $8 ELSE merchant_customer_ref_id END, \
             entity_use_code = CASE WHEN $9 THEN $10 ELSE entity_use_code END, updated_at = $11 \
             WHERE partner_id = $1 AND id = $2 RETURNING ", crate::columns::customer_cols!()
        ))
        .bind(partner.as_str())
        .bind(id.as_str())
        .bind(patch.first_name.as_deref())
        .bind(patch.last_name.as_deref())
        .bind(patch.email.is_some())
        .bind(patch.email.clone().flatten())
        .bind(patch.merchant_customer_ref_id.is_some())
        .bind(patch.merchant_customer_ref_id.clone().flatten())
        .bind(patch.entity_use_code.is_some())
        .bind(patch.entity_use_code.clone().flatten())
        .bind(to_micros(now))
        .fetch_optional(&mut tx)
        .await?;
        if row.is_some() {
            let entry = Entry::succeeded(Action::CustomerUpdated, id.as_str());
            append(&mut tx, Some(partner), by, &entry).await?;
        }
        tx.commit().await?;
        row.as_ref().map(customer_from_row).transpose()
    }

    async fn list_customers(
        &self,
        partner: &PartnerId,
        filter: &CustomerFilter,
        page: &PageRequest,
    ) -> Result<Page<Customer>> {
        let Some(cursor) = cursor_of(
            &mut self.reader(),
            "SELECT seq FROM customers WHERE partner_id = $1 AND id = $2",
            partner,
            page,
        )
        .await?
        else {
            return Ok(Page::UnknownCursor);
        };
        let rows = query(concat!(
            "SELECT ", crate::columns::customer_cols!(), " FROM customers WHERE partner_id = $1 \
             AND ($2 IS NULL OR seq < $2) AND ($4 IS NULL OR merchant_customer_ref_id = $4) ORDER BY seq DESC LIMIT $3"
        ))
        .bind(partner.as_str())
        .bind(cursor)
        .bind(page.limit + 1)
        .bind(filter.merchant_customer_ref_id.as_deref())
        .fetch_all(&mut self.reader())
        .await?;
        page_of(&rows, page, customer_from_row)
    }

    async fn create_payment_method(
        &self,
        partner: &PartnerId,
        customer: Option<&CustomerRef>,
        method: &NewPaymentMethod,
        by: &Caller,
    ) -> Result<PaymentMethod> {
        let now = by.at;
        let mut tx = self.begin_write().await?;
        let mut batch = Batch::new();
        if let Some(customer) = customer {
            ensure_customer(&mut tx, &mut batch, partner, customer).await?;
        }
        push_payment_method(&mut batch, partner, method, now)?;
        batch
            .push(concat!(
                "SELECT ",
                crate::columns::pm_cols!(),
                " FROM payment_methods WHERE id = $1"
            ))
            .bind(method.id.as_str());
        let rows = batch.fetch_all(&mut tx).await?;
        let row = rows.last().ok_or_else(|| bad("payment method just made"))?;
        let method = pm_from_row(row)?;
        let entry = Entry::succeeded(Action::PaymentMethodCreated, method.id.as_str());
        append(&mut tx, Some(partner), by, &entry).await?;
        tx.commit().await?;
        Ok(method)
    }

    async fn payment_method(
        &self,
        partner: &PartnerId,
        id: &PaymentMethodId,
    ) -> Result<Option<PaymentMethod>> {
        let row = query(concat!(
            "SELECT ",
            crate::columns::pm_cols!(),
            " FROM payment_methods WHERE partner_id = $1 AND id = $2 AND deleted_at IS NULL"
        ))
        .bind(partner.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut self.reader())
        .await?;
        row.as_ref().map(pm_from_row).transpose()
    }

    async fn list_payment_methods(
        &self,
        partner: &PartnerId,
        customer: Option<&CustomerId>,
        page: &PageRequest,
    ) -> Result<Page<PaymentMethod>> {
        let Some(cursor) = cursor_of(
            &mut self.reader(),
            "SELECT seq FROM payment_methods WHERE partner_id = $1 AND id = $2",
            partner,
            page,
        )
        .await?
        else {
            return Ok(Page::UnknownCursor);
        };
        let rows = query(concat!(
            "SELECT ", crate::columns::pm_cols!(), " FROM payment_methods WHERE partner_id = $1 AND deleted_at IS NULL \
             AND ($2 IS NULL OR seq < $2) AND ($4 IS NULL OR customer_id = $4) ORDER BY seq DESC LIMIT $3"
        ))
        .bind(partner.as_str())
        .bind(cursor)
        .bind(page.limit + 1)
        .bind(customer.map(|c| c.as_str()))
        .fetch_all(&mut self.reader())
        .await?;
        page_of(&rows, page, pm_from_row)
    }

    async fn payment_method_vault(
        &self,
        partner: &PartnerId,
        id: &PaymentMethodId,
    ) -> Result<Option<VaultEntry>> {
        let row = query(
            "SELECT v.id, v.nonce, v.ciphertext FROM payment_methods m JOIN vault_entries v ON v.id = m.vault_entry_id \
             WHERE m.partner_id = $1 AND m.id = $2 AND m.deleted_at IS NULL AND v.partner_id = $1",
        )
        .bind(partner.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut self.reader())
        .await?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Some(VaultEntry {
                id: VaultEntryId::from_trusted(row.try_get("id")?),
                nonce: row.try_get("nonce")?,
                ciphertext: row.try_get("ciphertext")?,
            })),
        }
    }

    async fn delete_payment_method(
        &self,
        partner: &PartnerId,
        id: &PaymentMethodId,
        by: &Caller,
    ) -> Result<Option<PaymentMethod>> {
        let now = by.at;
        let mut tx = self.begin_write().await?;
        let vault_id: Option<Option<String>> = query_scalar(
            "SELECT vault_entry_id FROM payment_methods WHERE partner_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(partner.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut tx)
        .await?;
        let Some(vault_id) = vault_id else {
            tx.rollback().await?;
            return Ok(None);
        };
        let row = query(concat!(
            "UPDATE payment_methods SET deleted_at = $3, vault_entry_id = NULL \
             WHERE partner_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING ",
            crate::columns::pm_cols!()
        ))
        .bind(partner.as_str())
        .bind(id.as_str())
        .bind(to_micros(now))
        .fetch_optional(&mut tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(None);
        };
        // Deleting the method destroys the number: nothing can decrypt it afterwards.
        if let Some(vault_id) = vault_id {
            query("DELETE FROM vault_entries WHERE id = $1 AND partner_id = $2")
                .bind(vault_id)
                .bind(partner.as_str())
                .execute(&mut tx)
                .await?;
        }
        let entry = Entry::succeeded(Action::PaymentMethodDeleted, id.as_str());
        append(&mut tx, Some(partner), by, &entry).await?;
        tx.commit().await?;
        pm_from_row(&row).map(Some)
    }

    async fn set_tax_rate(
        &self,
        partner: &PartnerId,
        code: &str,
        rate: TaxRate,
        by: &Caller,
    ) -> Result<()> {
        let now = by.at;
        let mut tx = self.begin_write().await?;
        query(
            "INSERT INTO tax_rates (partner_id, code, rate_e4, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (partner_id, code) DO UPDATE SET rate_e4 = excluded.rate_e4, updated_at = excluded.updated_at",
        )
        .bind(partner.as_str())
        .bind(code)
        .bind(rate.e4())
        .bind(to_micros(now))
        .execute(&mut tx)
        .await?;
        let entry = Entry::succeeded(Action::TaxRateSet, code)
            .with_details(serde_json::json!({"code": code, "rateE4": rate.e4()}));
        append(&mut tx, Some(partner), by, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn tax_rates(&self, partner: &PartnerId) -> Result<TaxRates> {
        // Read fresh every time (not cached): a rate set from the CLI prices the very
        // next sale.
        let rows = query("SELECT code, rate_e4 FROM tax_rates WHERE partner_id = $1")
            .bind(partner.as_str())
            .fetch_all(&mut self.reader())
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get::<String, _>("code")?,
                    TaxRate::from_e4(row.try_get("rate_e4")?),
                ))
            })
            .collect()
    }
}

pub(crate) fn customer_from_row(row: &Row) -> Result<Customer> {
    Ok(Customer {
        id: CustomerId::from_trusted(row.try_get("id")?),
        partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
        object: Default::default(),
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        email: row.try_get("email")?,
        merchant_customer_ref_id: row.try_get("merchant_customer_ref_id")?,
        entity_use_code: row.try_get("entity_use_code")?,
        created_at: from_micros(row.try_get("created_at")?),
        updated_at: from_micros(row.try_get("updated_at")?),
    })
}

pub(crate) fn pm_from_row(row: &Row) -> Result<PaymentMethod> {
    Ok(PaymentMethod {
        id: PaymentMethodId::from_trusted(row.try_get("id")?),
        partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
        object: Default::default(),
        customer_id: row
            .try_get::<Option<String>, _>("customer_id")?
            .map(CustomerId::from_trusted),
        billing_first_name: row.try_get("billing_first_name")?,
        billing_last_name: row.try_get("billing_last_name")?,
        billing_address: json_opt(row, "billing_address")?,
        merchant_payment_method_ref_id: row.try_get("merchant_payment_method_ref_id")?,
        method: masked_from_row(row, false)?,
        created_at: from_micros(row.try_get("created_at")?),
        deleted_at: time_opt(row.try_get("deleted_at")?),
    })
}

pub(crate) async fn insert_customer(tx: &mut dyn Conn, c: &Customer) -> Result<()> {
    let mut batch = Batch::new();
    push_customer(&mut batch, c);
    batch.execute(tx).await
}

pub(crate) fn push_customer(batch: &mut Batch, c: &Customer) {
    batch
        .push(
            "INSERT INTO customers (id, partner_id, first_name, last_name, email, merchant_customer_ref_id, \
             entity_use_code, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(c.id.as_str())
        .bind(c.partner_id.as_str())
        .bind(c.first_name.as_str())
        .bind(c.last_name.as_str())
        .bind(c.email.as_deref())
        .bind(c.merchant_customer_ref_id.as_deref())
        .bind(c.entity_use_code.as_deref())
        .bind(to_micros(c.created_at))
        .bind(to_micros(c.updated_at));
}

/// Adds a new customer to `batch`, or checks an existing one belongs to the partner.
pub(crate) async fn ensure_customer(
    tx: &mut dyn Conn,
    batch: &mut Batch,
    partner: &PartnerId,
    customer: &CustomerRef,
) -> Result<()> {
    match customer {
        CustomerRef::New(c) => {
            push_customer(batch, c);
            Ok(())
        }
        CustomerRef::Existing(id) => {
            let mut check = Batch::new();
            check
                .push("SELECT seq FROM customers WHERE partner_id = $1 AND id = $2")
                .bind(partner.as_str())
                .bind(id.as_str());
            let found = check.fetch_all(tx).await?;
            found
                .first()
                .map(|_| ())
                .ok_or(crate::StoreError::Missing("customer"))
        }
    }
}

/// Adds the vault entry and the masked payment method row to `batch`.
pub(crate) fn push_payment_method(
    batch: &mut Batch,
    partner: &PartnerId,
    m: &NewPaymentMethod,
    now: OffsetDateTime,
) -> Result<()> {
    batch
        .push("INSERT INTO vault_entries (id, partner_id, nonce, ciphertext, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(m.vault.id.as_str())
        .bind(partner.as_str())
        .bind(m.vault.nonce.as_slice())
        .bind(m.vault.ciphertext.as_slice())
        .bind(to_micros(now));
    let (method_type, brand, exp_month, exp_year, postal_code, routing, account_type) =
        method_columns(&m.details);
    let billing_address = m.owner.billing_address.as_ref().map(to_json).transpose()?;
    batch
        .push(
            "INSERT INTO payment_methods (id, partner_id, customer_id, method_type, holder_name, brand, last4, exp_month, \
             exp_year, routing_number, account_type, postal_code, fingerprint, vault_entry_id, created_at, \
             billing_first_name, billing_last_name, billing_address, merchant_payment_method_ref_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        )
        .bind(m.id.as_str())
        .bind(partner.as_str())
        .bind(m.owner.customer_id.as_ref().map(|c| c.as_str()))
        .bind(method_type)
        .bind(m.holder_name.as_deref())
        .bind(brand)
        .bind(m.last4.as_str())
        .bind(exp_month)
        .bind(exp_year)
        .bind(routing)
        .bind(account_type)
        .bind(postal_code)
        .bind(m.fingerprint.as_str())
        .bind(m.vault.id.as_str())
        .bind(to_micros(now))
        .bind(m.owner.billing_first_name.as_deref())
        .bind(m.owner.billing_last_name.as_deref())
        .bind(billing_address)
        .bind(m.owner.merchant_payment_method_ref_id.as_deref());
    Ok(())
}

/// Adds a new method (vaulted) to `batch`, or checks a stored one is the partner's and
/// not deleted.
pub(crate) async fn ensure_method(
    tx: &mut dyn Conn,
    batch: &mut Batch,
    partner: &PartnerId,
    method: &MethodUse,
    now: OffsetDateTime,
) -> Result<()> {
    match method {
        MethodUse::New(m) => push_payment_method(batch, partner, m, now),
        MethodUse::Existing { id, .. } => {
            let mut check = Batch::new();
            check
                .push("SELECT seq FROM payment_methods WHERE partner_id = $1 AND id = $2 AND deleted_at IS NULL")
                .bind(partner.as_str())
                .bind(id.as_str());
            let found = check.fetch_all(tx).await?;
            found
                .first()
                .map(|_| ())
                .ok_or(crate::StoreError::Missing("payment method"))
        }
    }
}
