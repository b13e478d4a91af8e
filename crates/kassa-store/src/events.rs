//! Events: written in the transaction of the change they report, and listed for the events API.

use async_trait::async_trait;
use kassa_core::clock::{from_micros, to_micros};
use kassa_core::event::EventType;
use kassa_core::id::{EventId, PartnerId};
use time::OffsetDateTime;

use crate::columns::*;
use crate::db::{query, Backend, Batch, Conn, Row};
use crate::model::*;
use crate::paging::*;
use crate::Result;

#[async_trait]
pub trait EventStore {
    /// The partner's events, newest first; only `event_type` when given.
    async fn list_events(
        &self,
        partner: &PartnerId,
        event_type: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<EventRecord>>;
    async fn event(&self, partner: &PartnerId, id: &EventId) -> Result<Option<EventRecord>>;
}

#[async_trait]
impl<B: Backend> EventStore for B {
    async fn list_events(
        &self,
        partner: &PartnerId,
        event_type: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<EventRecord>> {
        let Some(cursor) = cursor_of(
            &mut self.reader(),
            "SELECT seq FROM events WHERE partner_id = $1 AND id = $2",
            partner,
            page,
        )
        .await?
        else {
            return Ok(Page::UnknownCursor);
        };
        let rows = query(
            "SELECT id, type, data, created_at FROM events WHERE partner_id = $1 \
             AND ($2 IS NULL OR seq < $2) AND ($4 IS NULL OR type = $4) ORDER BY seq DESC LIMIT $3",
        )
        .bind(partner.as_str())
        .bind(cursor)
        .bind(page.limit + 1)
        .bind(event_type)
        .fetch_all(&mut self.reader())
        .await?;
        page_of(&rows, page, event_from_row)
    }

    async fn event(&self, partner: &PartnerId, id: &EventId) -> Result<Option<EventRecord>> {
        let row = query(
            "SELECT id, type, data, created_at FROM events WHERE partner_id = $1 AND id = $2",
        )
        .bind(partner.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut self.reader())
        .await?;
        row.as_ref().map(event_from_row).transpose()
    }
}

pub(crate) fn event_from_row(row: &Row) -> Result<EventRecord> {
    let data: String = row.try_get("data")?;
    Ok(EventRecord {
        id: EventId::from_trusted(row.try_get("id")?),
        event_type: row.try_get("type")?,
        data: serde_json::from_str(&data).map_err(|_| bad("event data"))?,
        created_at: from_micros(row.try_get("created_at")?),
    })
}

/// The outbox: an event is written in the same transaction as the change it reports.
pub(crate) async fn insert_event<T: serde::Serialize>(
    tx: &mut dyn Conn,
    partner: &PartnerId,
    event_type: EventType,
    object: &T,
    now: OffsetDateTime,
) -> Result<()> {
    let mut batch = Batch::new();
    push_event(&mut batch, partner, event_type, object, now)?;
    batch.execute(tx).await
}

pub(crate) fn push_event<T: serde::Serialize>(
    batch: &mut Batch,
    partner: &PartnerId,
    event_type: EventType,
    object: &T,
    now: OffsetDateTime,
) -> Result<()> {
    let data = serde_json::to_string(object).map_err(|_| bad("event data"))?;
    batch
        .push("INSERT INTO events (id, partner_id, type, data, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(EventId::generate().as_str().to_string())
        .bind(partner.as_str())
        .bind(event_type.as_str())
        .bind(data)
        .bind(to_micros(now));
    Ok(())
}
