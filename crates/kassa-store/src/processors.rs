//! A partner's processor (docs/api.md §10): which connector its new payments go through, its
//! account at each connector (credentials sealed, opaque here), the notifications applied once,
//! and the records a notification names by the processor's own id.

use async_trait::async_trait;
use kassa_core::audit::{Action, Caller, Entry};
use kassa_core::authorization::Authorization;
use kassa_core::clock::to_micros;
use kassa_core::id::PartnerId;
use kassa_core::payment::Payment;
use kassa_core::processor::Connector;
use kassa_core::refund::Refund;
use time::OffsetDateTime;

use crate::attempts::payment_from_row;
use crate::audit::append;
use crate::authorizations::auth_from_row;
use crate::db::{query, Backend, Batch, Conn, WriteTx as _};
use crate::refunds::refund_from_row;
use crate::webhooks::sealed;
use crate::{Result, SealedSecret, StoreError};

/// A partner's account at one connector. The login and address are in clear; the secret keys
/// are one sealed JSON object only the server opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorAccount {
    pub partner_id: PartnerId,
    pub connector: Connector,
    pub api_base: String,
    pub login_id: Option<String>,
    pub credentials: SealedSecret,
    pub updated_at: OffsetDateTime,
}

impl ProcessorAccount {
    /// The row id the credentials are sealed to: `{partner id}/{connector}`.
    pub fn row_id(partner: &PartnerId, connector: Connector) -> String {
        format!("{partner}/{connector}")
    }
}

/// A record a notification names by the processor's id.
#[derive(Debug, Clone, PartialEq)]
pub enum Referenced {
    Payment(Payment),
    Authorization(Authorization),
    Refund(Refund),
}

#[async_trait]
pub trait ProcessorStore {
    /// Makes `connector` the partner's processor for new payments and, for a real connector,
    /// stores its account (replacing an earlier one there), audited; one transaction. None if
    /// the partner does not exist.
    async fn set_processor(
        &self,
        partner: &PartnerId,
        connector: Connector,
        account: Option<&ProcessorAccount>,
        by: &Caller,
    ) -> Result<Option<()>>;
    /// The partner's account at a connector, if it has one.
    async fn processor_account(
        &self,
        partner: &PartnerId,
        connector: Connector,
    ) -> Result<Option<ProcessorAccount>>;
    /// Notes a processor event as applied; false when it was noted before (it is not applied
    /// again).
    async fn note_processor_event(
        &self,
        partner: &PartnerId,
        connector: Connector,
        event_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool>;
    /// Whether a processor event was applied already.
    async fn processor_event_seen(
        &self,
        partner: &PartnerId,
        connector: Connector,
        event_id: &str,
    ) -> Result<bool>;
    /// An authorization by id alone, for the job that tells its processor to release it (jobs
    /// carry no partner).
    async fn authorization_to_release(
        &self,
        id: &kassa_core::id::AuthorizationId,
    ) -> Result<Option<Authorization>>;
    /// Claims up to `limit` pending bank debits at `connector` submitted before
    /// `submitted_before` and not asked about since `checked_before`, oldest check first, and
    /// notes them as asked about at `now` (so several instances ask about each once).
    async fn debits_to_check(
        &self,
        connector: Connector,
        submitted_before: OffsetDateTime,
        checked_before: OffsetDateTime,
        now: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<Payment>>;
    /// The payment, authorization or refund the processor knows by `reference`.
    async fn by_processor_reference(
        &self,
        partner: &PartnerId,
        connector: Connector,
        reference: &str,
    ) -> Result<Option<Referenced>>;
}

#[async_trait]
impl<B: Backend> ProcessorStore for B {
    async fn set_processor(
        &self,
        partner: &PartnerId,
        connector: Connector,
        account: Option<&ProcessorAccount>,
        by: &Caller,
    ) -> Result<Option<()>> {
        let _forget = self.read_cache().forget_on_drop();
        let mut tx = self.begin_write().await?;
        let changed = query("UPDATE partners SET processor = $2 WHERE id = $1 RETURNING id")
            .bind(partner.as_str())
            .bind(connector.as_str())
            .fetch_optional(&mut tx)
            .await?;
        if changed.is_none() {
            tx.rollback().await?;
            return Ok(None);
        }
        let mut details = serde_json::json!({ "connector": connector.as_str() });
        if let Some(a) = account {
            if a.connector != connector || &a.partner_id != partner {
                tx.rollback().await?;
                return Err(StoreError::ChangedUnderneath(
                    "a processor account must be the partner's, at the connector set",
                ));
            }
            query(
                "INSERT INTO processor_accounts (id, partner_id, connector, api_base, login_id, \
                 credentials_nonce, credentials_ciphertext, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (id) DO UPDATE SET api_base = excluded.api_base, \
                 login_id = excluded.login_id, credentials_nonce = excluded.credentials_nonce, \
                 credentials_ciphertext = excluded.credentials_ciphertext, \
                 updated_at = excluded.updated_at",
            )
            .bind(ProcessorAccount::row_id(partner, connector))
            .bind(partner.as_str())
            .bind(connector.as_str())
            .bind(a.api_base.as_str())
            .bind(a.login_id.as_deref())
            .bind(a.credentials.nonce.as_slice())
            .bind(a.credentials.ciphertext.as_slice())
            .bind(to_micros(a.updated_at))
            .execute(&mut tx)
            .await?;
            // What changed, never the secrets.
            details["apiBase"] = a.api_base.clone().into();
            if let Some(login) = &a.login_id {
                details["loginId"] = login.clone().into();
            }
        }
        let entry = Entry::succeeded(Action::ProcessorSet, partner.as_str()).with_details(details);
        append(&mut tx, Some(partner), by, &entry).await?;
        tx.commit().await?;
        Ok(Some(()))
    }

    async fn processor_account(
        &self,
        partner: &PartnerId,
        connector: Connector,
    ) -> Result<Option<ProcessorAccount>> {
        let row = query(
            "SELECT partner_id, connector, api_base, login_id, credentials_nonce, \
             credentials_ciphertext, updated_at FROM processor_accounts WHERE id = $1",
        )
        .bind(ProcessorAccount::row_id(partner, connector))
        .fetch_optional(&mut self.reader())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(ProcessorAccount {
            partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
            connector,
            api_base: row.try_get("api_base")?,
            login_id: row.try_get("login_id")?,
            credentials: sealed(&row, "credentials_nonce", "credentials_ciphertext")?
                .ok_or_else(|| StoreError::Corrupt("processor credentials missing".into()))?,
            updated_at: kassa_core::clock::from_micros(row.try_get("updated_at")?),
        }))
    }

    async fn note_processor_event(
        &self,
        partner: &PartnerId,
        connector: Connector,
        event_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let noted = query(
            "INSERT INTO processor_events (partner_id, connector, event_id, received_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING event_id",
        )
        .bind(partner.as_str())
        .bind(connector.as_str())
        .bind(event_id)
        .bind(to_micros(now))
        .fetch_optional(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(noted.is_some())
    }

    async fn processor_event_seen(
        &self,
        partner: &PartnerId,
        connector: Connector,
        event_id: &str,
    ) -> Result<bool> {
        let row = query(
            "SELECT event_id FROM processor_events WHERE partner_id = $1 AND connector = $2 \
             AND event_id = $3",
        )
        .bind(partner.as_str())
        .bind(connector.as_str())
        .bind(event_id)
        .fetch_optional(&mut self.reader())
        .await?;
        Ok(row.is_some())
    }

    async fn authorization_to_release(
        &self,
        id: &kassa_core::id::AuthorizationId,
    ) -> Result<Option<Authorization>> {
        let row = query(concat!(
            "SELECT ",
            crate::columns::auth_cols!(),
            " FROM authorizations WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&mut self.reader())
        .await?;
        row.as_ref().map(auth_from_row).transpose()
    }

    async fn debits_to_check(
        &self,
        connector: Connector,
        submitted_before: OffsetDateTime,
        checked_before: OffsetDateTime,
        now: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<Payment>> {
        let mut tx = self.begin_write().await?;
        let rows = query(concat!(
            "UPDATE payments SET debit_checked_at = $4 WHERE id IN (SELECT id FROM payments \
             WHERE status = 'pending' AND method_type = 'ach' AND NOT awaiting_processor \
             AND processor = $1 AND created_at < $2 \
             AND (debit_checked_at IS NULL OR debit_checked_at < $3) \
             ORDER BY COALESCE(debit_checked_at, 0), created_at LIMIT $5) RETURNING ",
            crate::columns::payment_cols!()
        ))
        .bind(connector.as_str())
        .bind(to_micros(submitted_before))
        .bind(to_micros(checked_before))
        .bind(to_micros(now))
        .bind(limit)
        .fetch_all(&mut tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(payment_from_row).collect()
    }

    async fn by_processor_reference(
        &self,
        partner: &PartnerId,
        connector: Connector,
        reference: &str,
    ) -> Result<Option<Referenced>> {
        let mut reader = self.reader();
        let conn: &mut dyn Conn = &mut reader;
        // A capture's payment carries its hold's reference too: the payment is what was paid.
        let mut batch = Batch::new();
        batch
            .push(concat!(
                "SELECT ",
                crate::columns::payment_cols!(),
                " FROM payments WHERE partner_id = $1 AND processor = $2 \
                 AND processor_reference = $3 ORDER BY seq DESC LIMIT 1"
            ))
            .bind(partner.as_str())
            .bind(connector.as_str())
            .bind(reference);
        if let Some(row) = batch.fetch_all(conn).await?.first() {
            return Ok(Some(Referenced::Payment(payment_from_row(row)?)));
        }
        let row = query(concat!(
            "SELECT ",
            crate::columns::auth_cols!(),
            " FROM authorizations WHERE partner_id = $1 AND processor = $2 \
             AND processor_reference = $3"
        ))
        .bind(partner.as_str())
        .bind(connector.as_str())
        .bind(reference)
        .fetch_optional(conn)
        .await?;
        if let Some(row) = row {
            return Ok(Some(Referenced::Authorization(auth_from_row(&row)?)));
        }
        let row = query(concat!(
            "SELECT ",
            crate::columns::refund_cols!(),
            " FROM refunds WHERE partner_id = $1 AND processor = $2 AND processor_reference = $3"
        ))
        .bind(partner.as_str())
        .bind(connector.as_str())
        .bind(reference)
        .fetch_optional(conn)
        .await?;
        row.as_ref()
            .map(|r| refund_from_row(r).map(Referenced::Refund))
            .transpose()
    }
}
