//! Webhook endpoints: where a partner wants its events sent, with signing secrets sealed by
//! the vault key, and enabled or disabled.

use async_trait::async_trait;
use kassa_core::audit::{Action, Caller, Entry};
use kassa_core::clock::{from_micros, to_micros};
use kassa_core::id::{PartnerId, WebhookEndpointId};
use kassa_core::webhook::{DeliveryStatus, EndpointStatus, EventFilter, WebhookUrl};
use time::OffsetDateTime;

use crate::audit::append;
use crate::columns::*;
use crate::db::{query, query_scalar, Backend, Conn, Row, WriteTx as _};
use crate::model::*;
use crate::Result;

use super::*;

#[async_trait]
pub trait WebhookEndpointStore {
    /// Makes the endpoint unless the partner has `max` endpoints already (checked under a lock on
    /// the partner).
    async fn create_webhook_endpoint(
        &self,
        partner: &PartnerId,
        new: &NewWebhookEndpoint,
        max: i64,
        by: &Caller,
    ) -> Result<CreateEndpointOutcome>;
    /// One of the partner's endpoints, unless deleted.
    async fn webhook_endpoint(
        &self,
        partner: &PartnerId,
        id: &WebhookEndpointId,
    ) -> Result<Option<WebhookEndpoint>>;
    /// The partner's endpoints, newest first.
    async fn list_webhook_endpoints(
        &self,
        partner: &PartnerId,
        page: &PageRequest,
    ) -> Result<Page<WebhookEndpoint>>;
    /// Deletes the endpoint: its secrets are destroyed and its pending deliveries canceled, in
    /// one transaction. None if there is no such endpoint.
    async fn delete_webhook_endpoint(
        &self,
        partner: &PartnerId,
        id: &WebhookEndpointId,
        by: &Caller,
    ) -> Result<Option<WebhookEndpoint>>;
    /// Replaces the signing secret; the old one keeps signing until `previous_until` (a secret
    /// replaced before is forgotten).
    async fn rotate_webhook_secret(
        &self,
        partner: &PartnerId,
        id: &WebhookEndpointId,
        secret: &SealedSecret,
        previous_until: OffsetDateTime,
        by: &Caller,
    ) -> Result<Option<WebhookEndpoint>>;
    /// Enables the endpoint again and forgets its failures.
    async fn enable_webhook_endpoint(
        &self,
        partner: &PartnerId,
        id: &WebhookEndpointId,
        by: &Caller,
    ) -> Result<Option<WebhookEndpoint>>;
}

#[async_trait]
impl<B: Backend> WebhookEndpointStore for B {
    async fn create_webhook_endpoint(
        &self,
        partner: &PartnerId,
        new: &NewWebhookEndpoint,
        max: i64,
        by: &Caller,
    ) -> Result<CreateEndpointOutcome> {
        let now = by.at;
        let mut tx = self.begin_write().await?;
        // Locks the partner (a no-op update), so two creations at once cannot both
        // pass the count.
        query("UPDATE partners SET name = name WHERE id = $1")
            .bind(partner.as_str())
            .execute(&mut tx)
            .await?;
        let count: i64 = query_scalar(
            "SELECT COUNT(*) FROM webhook_endpoints WHERE partner_id = $1 AND deleted_at IS NULL",
        )
        .bind(partner.as_str())
        .fetch_one(&mut tx)
        .await?;
        if count >= max {
            return Ok(CreateEndpointOutcome::TooMany);
        }
        let events =
            serde_json::to_string(&new.events.to_list()).map_err(|_| bad("webhook events"))?;
        let row = query(concat!(
            "INSERT INTO webhook_endpoints (id, partner_id, url, description, events, secret_nonce, \
             secret_ciphertext, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'enabled', $8, $8) RETURNING ",
            crate::webhooks::webhook_cols!()
        ))
        .bind(new.id.as_str())
        .bind(partner.as_str())
        .bind(new.url.as_str())
        .bind(new.description.as_deref())
        .bind(events)
        .bind(&new.secret.nonce)
        .bind(&new.secret.ciphertext)
        .bind(to_micros(now))
        .fetch_one(&mut tx)
        .await?;
        let endpoint = endpoint_from_row(&row)?;
        let entry = Entry::succeeded(Action::WebhookEndpointCreated, endpoint.id.as_str())
            .with_details(serde_json::json!({"url": endpoint.url.as_str()}));
        append(&mut tx, Some(partner), by, &entry).await?;
        tx.commit().await?;
        Ok(CreateEndpointOutcome::Created(endpoint))
    }

    async fn webhook_endpoint(
        &self,
        partner: &PartnerId,
        id: &WebhookEndpointId,
    ) -> Result<Option<WebhookEndpoint>> {
        let row = query(concat!(
            "SELECT ",
            crate::webhooks::webhook_cols!(),
            " FROM webhook_endpoints WHERE partner_id = $1 AND id = $2 AND deleted_at IS NULL"
        ))
        .bind(partner.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut self.reader())
        .await?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    async fn list_webhook_endpoints(
        &self,
        partner: &PartnerId,
        page: &PageRequest,
    ) -> Result<Page<WebhookEndpoint>> {
        let cursor: Option<i64> = match &page.starting_after {
            None => None,
            Some(id) => {
                let seq = query_scalar(
                    "SELECT seq FROM webhook_endpoints WHERE partner_id = $1 AND id = $2 AND deleted_at IS NULL",
                )
                .bind(partner.as_str())
                .bind(id)
                .fetch_optional(&mut self.reader())
                .await?;
                match seq {
                    Some(seq) => Some(seq),
                    None => return Ok(Page::UnknownCursor),
                }
            }
        };
        let rows = query(concat!(
            "SELECT ",
            crate::webhooks::webhook_cols!(),
            " FROM webhook_endpoints WHERE partner_id = $1 AND deleted_at IS NULL \
             AND ($2 IS NULL OR seq < $2) ORDER BY seq DESC LIMIT $3"
        ))
        .bind(partner.as_str())
        .bind(cursor)
        .bind(page.limit + 1)
        .fetch_all(&mut self.reader())
        .await?;
        let has_more = rows.len() as i64 > page.limit;
        let data = rows
            .iter()
            .take(page.limit as usize)
            .map(endpoint_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::Items { data, has_more })
    }

    async fn delete_webhook_endpoint(
        &self,
        partner: &PartnerId,
        id: &WebhookEndpointId,
        by: &Caller,
    ) -> Result<Option<WebhookEndpoint>> {
        let now = by.at;
        let mut tx = self.begin_write().await?;
        // The secrets are destroyed with it: nothing can be signed with them again.
        let row = query(concat!(
            "UPDATE webhook_endpoints SET deleted_at = $3, updated_at = $3, secret_nonce = $4, \
             secret_ciphertext = $4, previous_secret_nonce = NULL, previous_secret_ciphertext = NULL, \
             previous_secret_expires_at = NULL \
             WHERE partner_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING ",
            crate::webhooks::webhook_cols!()
        ))
        .bind(partner.as_str())
        .bind(id.as_str())
        .bind(to_micros(now))
        .bind(Vec::<u8>::new())
        .fetch_optional(&mut tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let endpoint = endpoint_from_row(&row)?;
        end_pending(&mut tx, id.as_str(), DeliveryStatus::Canceled, now).await?;
        let entry = Entry::succeeded(Action::WebhookEndpointDeleted, id.as_str());
        append(&mut tx, Some(partner), by, &entry).await?;
        tx.commit().await?;
        Ok(Some(endpoint))
    }

    async fn rotate_webhook_secret(
        &self,
        partner: &PartnerId,
        id: &WebhookEndpointId,
        secret: &SealedSecret,
        previous_until: OffsetDateTime,
        by: &Caller,
    ) -> Result<Option<WebhookEndpoint>> {
        let now = by.at;
        // The right-hand sides read the row as it was: the current secret becomes the
        // previous one.
        let mut tx = self.begin_write().await?;
        let row = query(concat!(
            "UPDATE webhook_endpoints SET previous_secret_nonce = secret_nonce, \
             previous_secret_ciphertext = secret_ciphertext, previous_secret_expires_at = $3, \
             secret_nonce = $4, secret_ciphertext = $5, updated_at = $6 \
             WHERE partner_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING ",
            crate::webhooks::webhook_cols!()
        ))
        .bind(partner.as_str())
        .bind(id.as_str())
        .bind(to_micros(previous_until))
        .bind(&secret.nonce)
        .bind(&secret.ciphertext)
        .bind(to_micros(now))
        .fetch_optional(&mut tx)
        .await?;
        if row.is_some() {
            let entry = Entry::succeeded(Action::WebhookEndpointSecretRotated, id.as_str());
            append(&mut tx, Some(partner), by, &entry).await?;
        }
        tx.commit().await?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    async fn enable_webhook_endpoint(
        &self,
        partner: &PartnerId,
        id: &WebhookEndpointId,
        by: &Caller,
    ) -> Result<Option<WebhookEndpoint>> {
        let now = by.at;
        let mut tx = self.begin_write().await?;
        let row = query(concat!(
            "UPDATE webhook_endpoints SET status = 'enabled', disabled_reason = NULL, disabled_at = NULL, \
             failing_since = NULL, failed_deliveries = 0, updated_at = $3 \
             WHERE partner_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING ",
            crate::webhooks::webhook_cols!()
        ))
        .bind(partner.as_str())
        .bind(id.as_str())
        .bind(to_micros(now))
        .fetch_optional(&mut tx)
        .await?;
        if row.is_some() {
            let entry = Entry::succeeded(Action::WebhookEndpointEnabled, id.as_str());
            append(&mut tx, Some(partner), by, &entry).await?;
        }
        tx.commit().await?;
        row.as_ref().map(endpoint_from_row).transpose()
    }
}

pub(crate) fn endpoint_from_row(row: &Row) -> Result<WebhookEndpoint> {
    let events: String = row.try_get("events")?;
    let events: Vec<String> = serde_json::from_str(&events).map_err(|_| bad("webhook events"))?;
    let status: String = row.try_get("status")?;
    Ok(WebhookEndpoint {
        id: WebhookEndpointId::from_trusted(row.try_get("id")?),
        partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
        url: WebhookUrl::from_trusted(row.try_get("url")?),
        description: row.try_get("description")?,
        events: EventFilter::from_trusted(events),
        status: EndpointStatus::parse_str(&status).ok_or_else(|| bad("webhook endpoint status"))?,
        disabled_reason: row.try_get("disabled_reason")?,
        disabled_at: time_opt(row.try_get("disabled_at")?),
        failing_since: time_opt(row.try_get("failing_since")?),
        failed_deliveries: i64::from(row.try_get::<i32, _>("failed_deliveries")?),
        previous_secret_expires_at: time_opt(row.try_get("previous_secret_expires_at")?),
        created_at: from_micros(row.try_get("created_at")?),
        updated_at: from_micros(row.try_get("updated_at")?),
    })
}

pub(crate) fn sealed(row: &Row, nonce: &str, ciphertext: &str) -> Result<Option<SealedSecret>> {
    let nonce: Option<Vec<u8>> = row.try_get(nonce)?;
    let ciphertext: Option<Vec<u8>> = row.try_get(ciphertext)?;
    Ok(match (nonce, ciphertext) {
        (Some(nonce), Some(ciphertext)) => Some(SealedSecret { nonce, ciphertext }),
        _ => None,
    })
}

/// A no-op update that locks the endpoint's row (PostgreSQL; SQLite has one writer),
/// so whatever changes an endpoint and its deliveries does it one at a time; the
/// endpoint's status, None if it does not exist (or was deleted).
pub(crate) async fn lock_endpoint(
    tx: &mut dyn Conn,
    endpoint: &str,
) -> Result<Option<EndpointStatus>> {
    let status: Option<String> = query_scalar(
        "UPDATE webhook_endpoints SET updated_at = updated_at WHERE id = $1 AND deleted_at IS NULL RETURNING status",
    )
    .bind(endpoint)
    .fetch_optional(&mut *tx)
    .await?;
    status
        .map(|s| EndpointStatus::parse_str(&s).ok_or_else(|| bad("webhook endpoint status")))
        .transpose()
}
