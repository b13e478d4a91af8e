//! The audit log (docs/api.md §9): events appended to a per-partner hash chain in the transaction
//! of the change they record ([`append`]), or on their own for what changed nothing (a denied
//! check, a failed sign-in); listed for the API and the dashboard, and read back chain by chain
//! for `kassa audit verify`. The table is append-only in the database itself (migration 0011).

use async_trait::async_trait;
use kassa_core::audit::{
    chain_hash, Action, Actor, ActorKind, Caller, Entry, Head, Outcome, Record,
};
use kassa_core::clock::{from_micros, to_micros};
use kassa_core::id::{AuditEventId, PartnerId};
use time::OffsetDateTime;

use crate::columns::bad;
use crate::db::{query, query_scalar, Backend, Batch, Conn, Row, WriteTx as _};
use crate::model::*;
use crate::paging::*;
use crate::Result;

/// What `GET /v1/audit-events` may filter on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub action: Option<Action>,
    pub actor_id: Option<String>,
    pub object_id: Option<String>,
    pub created_from: Option<OffsetDateTime>,
    pub created_to: Option<OffsetDateTime>,
}

/// Events read per query while a chain is verified.
pub const CHAIN_BATCH: i64 = 1000;

#[async_trait]
pub trait AuditStore {
    /// Writes one event in a transaction of its own: for what changed nothing else (a denied
    /// check, a failed sign-in). `partner` None: the installation's chain.
    async fn record_audit(
        &self,
        partner: Option<&PartnerId>,
        by: &Caller,
        entry: &Entry,
    ) -> Result<AuditEventId>;
    /// The partner's events, newest first.
    async fn list_audit_events(
        &self,
        partner: &PartnerId,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<Record>>;
    /// Every event about any of `object_ids`, oldest first (a transaction's timeline).
    async fn audit_events_about(
        &self,
        partner: &PartnerId,
        object_ids: &[&str],
    ) -> Result<Vec<Record>>;
    /// Every chain that has events: `None` is the installation's.
    async fn audit_chains(&self) -> Result<Vec<Option<PartnerId>>>;
    /// Up to [`CHAIN_BATCH`] events of a chain after `after_seq`, oldest first.
    async fn audit_chain_page(
        &self,
        chain: Option<&PartnerId>,
        after_seq: i64,
    ) -> Result<Vec<Record>>;
    /// The chain's head: how many events it has had and the newest one's hash.
    async fn audit_head(&self, chain: Option<&PartnerId>) -> Result<Option<Head>>;
}

fn chain_key(partner: Option<&PartnerId>) -> &str {
    partner.map_or("", PartnerId::as_str)
}

/// Appends `entry` to the partner's chain inside `tx`, the transaction of the change it records:
/// the head row's update takes its lock, so appends to one chain happen one after the other and
/// the chain never forks; the lock is held until `tx` ends, so callers append last.
pub(crate) async fn append(
    tx: &mut dyn Conn,
    partner: Option<&PartnerId>,
    by: &Caller,
    entry: &Entry,
) -> Result<AuditEventId> {
    let chain = chain_key(partner);
    let head = query(
        "INSERT INTO audit_heads (chain, seq, hash) VALUES ($1, 1, '') \
         ON CONFLICT (chain) DO UPDATE SET seq = audit_heads.seq + 1 RETURNING seq, hash",
    )
    .bind(chain)
    .fetch_one(&mut *tx)
    .await?;
    let mut record = Record {
        id: AuditEventId::generate(),
        partner_id: partner.map(|p| p.as_str().to_string()),
        seq: head.try_get("seq")?,
        action: entry.action,
        outcome: entry.outcome,
        actor: by.actor.clone(),
        object_id: entry.object_id.clone(),
        ip: by.ip.clone(),
        user_agent: by.user_agent.clone(),
        details: entry.details.to_string(),
        // Stored in microseconds: hash what will be read back.
        created_at: from_micros(to_micros(by.at)),
        prev_hash: head.try_get("hash")?,
        hash: String::new(),
    };
    record.hash = chain_hash(&record);
    let mut batch = Batch::new();
    batch
        .push(
            "INSERT INTO audit_events (id, chain, seq, action, outcome, actor_type, actor_id, \
             actor_name, object_id, ip, user_agent, details, created_at, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(record.id.as_str().to_string())
        .bind(chain.to_string())
        .bind(record.seq)
        .bind(record.action.as_str())
        .bind(record.outcome.as_str())
        .bind(record.actor.kind.as_str())
        .bind(record.actor.id.clone())
        .bind(record.actor.name.clone())
        .bind(record.object_id.clone())
        .bind(record.ip.clone())
        .bind(record.user_agent.clone())
        .bind(record.details.clone())
        .bind(to_micros(record.created_at))
        .bind(record.prev_hash.clone())
        .bind(record.hash.clone());
    batch
        .push("UPDATE audit_heads SET hash = $2 WHERE chain = $1")
        .bind(chain.to_string())
        .bind(record.hash.clone());
    batch.execute(tx).await?;
    Ok(record.id)
}

/// [`append`] to the chain of the partner `user` belongs to (read in `tx`).
pub(crate) async fn append_for_user(
    tx: &mut dyn Conn,
    user: &kassa_core::id::UserId,
    by: &Caller,
    entry: &Entry,
) -> Result<AuditEventId> {
    let partner: String = query_scalar("SELECT partner_id FROM users WHERE id = $1")
        .bind(user.as_str())
        .fetch_one(&mut *tx)
        .await?;
    append(tx, Some(&PartnerId::from_trusted(partner)), by, entry).await
}

const COLUMNS: &str = "id, chain, seq, action, outcome, actor_type, actor_id, actor_name, \
    object_id, ip, user_agent, details, created_at, prev_hash, hash";

#[async_trait]
impl<B: Backend> AuditStore for B {
    async fn record_audit(
        &self,
        partner: Option<&PartnerId>,
        by: &Caller,
        entry: &Entry,
    ) -> Result<AuditEventId> {
        let mut tx = self.begin_write().await?;
        let id = append(&mut tx, partner, by, entry).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn list_audit_events(
        &self,
        partner: &PartnerId,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<Record>> {
        let Some(cursor) = cursor_of(
            &mut self.reader(),
            "SELECT seq FROM audit_events WHERE chain = $1 AND id = $2",
            partner,
            page,
        )
        .await?
        else {
            return Ok(Page::UnknownCursor);
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_events WHERE chain = $1 \
             AND ($2 IS NULL OR seq < $2) AND ($4 IS NULL OR action = $4) \
             AND ($5 IS NULL OR actor_id = $5) AND ($6 IS NULL OR object_id = $6) \
             AND ($7 IS NULL OR created_at >= $7) AND ($8 IS NULL OR created_at <= $8) \
             ORDER BY seq DESC LIMIT $3"
        );
        let rows = query(sql)
            .bind(partner.as_str())
            .bind(cursor)
            .bind(page.limit + 1)
            .bind(filter.action.map(Action::as_str))
            .bind(filter.actor_id.as_deref())
            .bind(filter.object_id.as_deref())
            .bind(filter.created_from.map(to_micros))
            .bind(filter.created_to.map(to_micros))
            .fetch_all(&mut self.reader())
            .await?;
        page_of(&rows, page, record_from_row)
    }

    async fn audit_events_about(
        &self,
        partner: &PartnerId,
        object_ids: &[&str],
    ) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        for object in object_ids {
            let sql = format!(
                "SELECT {COLUMNS} FROM audit_events WHERE chain = $1 AND object_id = $2 ORDER BY seq"
            );
            let rows = query(sql)
                .bind(partner.as_str())
                .bind(*object)
                .fetch_all(&mut self.reader())
                .await?;
            for row in &rows {
                out.push(record_from_row(row)?);
            }
        }
        out.sort_by_key(|r| r.seq);
        Ok(out)
    }

    async fn audit_chains(&self) -> Result<Vec<Option<PartnerId>>> {
        let chains: Vec<String> = query_scalar("SELECT chain FROM audit_heads ORDER BY chain")
            .fetch_all(&mut self.reader())
            .await?;
        Ok(chains
            .into_iter()
            .map(|c| (!c.is_empty()).then(|| PartnerId::from_trusted(c)))
            .collect())
    }

    async fn audit_chain_page(
        &self,
        chain: Option<&PartnerId>,
        after_seq: i64,
    ) -> Result<Vec<Record>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_events WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        );
        let rows = query(sql)
            .bind(chain_key(chain))
            .bind(after_seq)
            .bind(CHAIN_BATCH)
            .fetch_all(&mut self.reader())
            .await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn audit_head(&self, chain: Option<&PartnerId>) -> Result<Option<Head>> {
        let row = query("SELECT seq, hash FROM audit_heads WHERE chain = $1")
            .bind(chain_key(chain))
            .fetch_optional(&mut self.reader())
            .await?;
        row.map(|row| {
            Ok(Head {
                seq: row.try_get("seq")?,
                hash: row.try_get("hash")?,
            })
        })
        .transpose()
    }
}

pub(crate) fn record_from_row(row: &Row) -> Result<Record> {
    let chain: String = row.try_get("chain")?;
    let action: String = row.try_get("action")?;
    let outcome: String = row.try_get("outcome")?;
    let actor_type: String = row.try_get("actor_type")?;
    Ok(Record {
        id: AuditEventId::from_trusted(row.try_get("id")?),
        partner_id: (!chain.is_empty()).then_some(chain),
        seq: row.try_get("seq")?,
        action: Action::parse(&action).ok_or_else(|| bad("audit action"))?,
        outcome: Outcome::parse(&outcome).ok_or_else(|| bad("audit outcome"))?,
        actor: Actor {
            kind: ActorKind::parse(&actor_type).ok_or_else(|| bad("audit actor type"))?,
            id: row.try_get("actor_id")?,
            name: row.try_get("actor_name")?,
        },
        object_id: row.try_get("object_id")?,
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
        details: row.try_get("details")?,
        created_at: from_micros(row.try_get("created_at")?),
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}
