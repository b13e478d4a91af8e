//! The ledger and payouts: balanced posting sets, fees, balances derived from postings, and the
//! payout batch that pays out (or carries forward) the available balance.

use async_trait::async_trait;
use kassa_core::audit::{changes, Action, Caller, Entry};
use kassa_core::clock::{from_micros, to_micros};
use kassa_core::fee::FeeSchedule;
use kassa_core::id::{LedgerEntryId, PartnerId, PayoutId};
use kassa_core::ledger::{Account, PostingSet};
use kassa_core::money::{Currency, Money};
use kassa_core::payout::{Payout, PayoutItem, PayoutItemType, PayoutStatus};
use kassa_core::percent::Percent;
use time::OffsetDateTime;

use crate::audit::append;
use crate::columns::*;
use crate::db::{query, query_scalar, Backend, Batch, Conn, Row, WriteTx as _};
use crate::events::*;
use crate::model::*;
use crate::paging::*;
use crate::Result;

pub(crate) const FEE_SCHEDULE_SQL: &str =
    "SELECT fee_card_percent_e4, fee_card_fixed, fee_ach_percent_e4, fee_ach_cap FROM partners WHERE id = $1";

#[async_trait]
pub trait LedgerStore {
    async fn set_fees(&self, partner: &PartnerId, fees: &FeeSchedule, by: &Caller) -> Result<()>;
    async fn fees(&self, partner: &PartnerId) -> Result<FeeSchedule>;
    async fn balances(&self, partner: &PartnerId) -> Result<Balances>;
    /// Ledger posting sets that do not sum to zero (there must be none).
    async fn unbalanced_ledger_sets(&self) -> Result<i64>;
    /// Cuts a payout batch for the partner: every available-balance entry up to `cutoff` not in an
    /// earlier payout, and the balance carried from the last batch. A positive net is paid (and
    /// posted); a net ≤ 0 is recorded `carried_forward` and moves no money. None when there is
    /// nothing to pay out.
    async fn run_payout(
        &self,
        partner: &PartnerId,
        cutoff: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<Payout>>;
    async fn payout(&self, partner: &PartnerId, id: &PayoutId) -> Result<Option<Payout>>;
    async fn list_payouts(&self, partner: &PartnerId, page: &PageRequest) -> Result<Page<Payout>>;
    /// The payout a payment (or refund, or fee) was paid out or deducted in, if any yet.
    async fn payout_containing(
        &self,
        partner: &PartnerId,
        source_id: &str,
    ) -> Result<Option<PayoutId>>;
    /// Partners with something a payout batch at `cutoff` would take.
    async fn partners_due_payout(&self, cutoff: OffsetDateTime) -> Result<Vec<PartnerId>>;
    /// A payout's items in order, each with the payment it is about (its reference, and when it
    /// happened); empty for another partner's payout.
    async fn payout_statement(
        &self,
        partner: &PartnerId,
        id: &PayoutId,
    ) -> Result<Vec<StatementLine>>;
    /// How many bank debits were returned (the ledger's `ach_return`) since `since`.
    async fn ach_returns_since(&self, partner: &PartnerId, since: OffsetDateTime) -> Result<i64>;
}

#[async_trait]
impl<B: Backend> LedgerStore for B {
    async fn set_fees(&self, partner: &PartnerId, fees: &FeeSchedule, by: &Caller) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // Takes the partner row's lock first, so `before` is what this change replaces.
        query("UPDATE partners SET fee_ach_cap = fee_ach_cap WHERE id = $1")
            .bind(partner.as_str())
            .execute(&mut tx)
            .await?;
        let before = fee_schedule(&mut tx, partner).await?;
        query(
            "UPDATE partners SET fee_card_percent_e4 = $2, fee_card_fixed = $3, fee_ach_percent_e4 = $4, fee_ach_cap = $5 WHERE id = $1",
        )
        .bind(partner.as_str())
        .bind(fees.card_percent.e4())
        .bind(fees.card_fixed)
        .bind(fees.ach_percent.e4())
        .bind(fees.ach_cap)
        .execute(&mut tx)
        .await?;
        let details = changes(&fees_json(&before), &fees_json(fees));
        let entry = Entry::succeeded(Action::FeesUpdated, partner.as_str()).with_details(details);
        append(&mut tx, Some(partner), by, &entry).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn fees(&self, partner: &PartnerId) -> Result<FeeSchedule> {
        fee_schedule(&mut self.reader(), partner).await
    }

    async fn balances(&self, partner: &PartnerId) -> Result<Balances> {
        let rows = query(
            "SELECT account, CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total FROM ledger_entries WHERE partner_id = $1 GROUP BY account",
        )
        .bind(partner.as_str())
        .fetch_all(&mut self.reader())
        .await?;
        let mut b = Balances::default();
        for row in &rows {
            let account: String = row.try_get("account")?;
            let total: i64 = row.try_get("total")?;
            match Account::parse_str(&account) {
                Some(Account::PartnerAvailable) => b.available = total,
                Some(Account::PartnerPending) => b.pending = total,
                Some(Account::PartnerPaidOut) => b.paid_out = total,
                Some(Account::Fees) => b.fees = total,
                Some(Account::ProcessorClearing) => {}
                None => return Err(bad("ledger account")),
            }
        }
        Ok(b)
    }

    async fn unbalanced_ledger_sets(&self) -> Result<i64> {
        Ok(query_scalar(
            "SELECT COUNT(*) FROM (SELECT set_id FROM ledger_entries GROUP BY set_id HAVING SUM(amount) <> 0) AS unbalanced",
        )
        .fetch_one(&mut self.reader())
        .await?)
    }

    async fn run_payout(
        &self,
        partner: &PartnerId,
        cutoff: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<Payout>> {
        let mut tx = self.begin_write().await?;
        let id = PayoutId::generate();
        // Provisional; status and amount are set once the items are known.
        query(
            "INSERT INTO payouts (id, partner_id, status, amount, currency, cutoff_at, created_at) \
             VALUES ($1, $2, 'carried_forward', 0, 'USD', $3, $4)",
        )
        .bind(id.as_str())
        .bind(partner.as_str())
        .bind(to_micros(cutoff))
        .bind(to_micros(now))
        .execute(&mut tx)
        .await?;
        // Each entry can join one payout only (unique ledger_entry_id), also under concurrency.
        query(
            "INSERT INTO payout_items (payout_id, item_type, source_id, amount, ledger_entry_id) \
             SELECT $1, kind, source_id, amount, id FROM ledger_entries e \
             WHERE e.partner_id = $2 AND e.account = 'partner_available' AND e.kind IN ('payment', 'refund', 'fee') \
             AND e.created_at <= $3 AND NOT EXISTS (SELECT 1 FROM payout_items i WHERE i.ledger_entry_id = e.id) \
             ORDER BY e.seq ON CONFLICT DO NOTHING",
        )
        .bind(id.as_str())
        .bind(partner.as_str())
        .bind(to_micros(cutoff))
        .execute(&mut tx)
        .await?;
        let entries: i64 = query_scalar("SELECT COUNT(*) FROM payout_items WHERE payout_id = $1")
            .bind(id.as_str())
            .fetch_one(&mut tx)
            .await?;
        if entries == 0 {
            // Nothing new since the last batch: a carried balance waits for new items.
            tx.rollback().await?;
            return Ok(None);
        }
        let carried = query(
            "UPDATE payouts SET carried_into = $1 WHERE partner_id = $2 AND status = 'carried_forward' \
             AND carried_into IS NULL AND id <> $1 RETURNING id, amount",
        )
        .bind(id.as_str())
        .bind(partner.as_str())
        .fetch_all(&mut tx)
        .await?;
        for row in &carried {
            let from: String = row.try_get("id")?;
            let amount: i64 = row.try_get("amount")?;
            query(
                "INSERT INTO payout_items (payout_id, item_type, source_id, amount, carried_payout_id) \
                 VALUES ($1, 'carried_balance', $2, $3, $2)",
            )
            .bind(id.as_str())
            .bind(&from)
            .bind(amount)
            .execute(&mut tx)
            .await?;
        }
        let total: i64 = query_scalar("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM payout_items WHERE payout_id = $1")
            .bind(id.as_str())
            .fetch_one(&mut tx)
            .await?;
        let effects = kassa_core::effects::payout_cut(&id, total);
        let status = effects.status;
        query("UPDATE payouts SET status = $2, amount = $3 WHERE id = $1")
            .bind(id.as_str())
            .bind(status.as_str())
            .bind(total)
            .execute(&mut tx)
            .await?;
        query(
            "UPDATE refunds SET payout_id = $1 WHERE partner_id = $2 AND id IN \
             (SELECT source_id FROM payout_items WHERE payout_id = $1 AND item_type = 'refund')",
        )
        .bind(id.as_str())
        .bind(partner.as_str())
        .execute(&mut tx)
        .await?;
        let postings: Vec<_> = effects.postings.iter().collect();
        post_all(&mut tx, partner, Currency::Usd, &postings, now).await?;
        let payout = payout_in(&mut tx, partner, id.as_str())
            .await?
            .ok_or_else(|| bad("payout just made"))?;
        if let Some(event) = effects.event {
            insert_event(&mut tx, partner, event, &payout, now).await?;
        }
        tx.commit().await?;
        Ok(Some(payout))
    }

    async fn payout(&self, partner: &PartnerId, id: &PayoutId) -> Result<Option<Payout>> {
        let mut tx = self.begin_read().await?;
        let payout = payout_in(&mut tx, partner, id.as_str()).await?;
        tx.rollback().await?;
        Ok(payout)
    }

    async fn list_payouts(&self, partner: &PartnerId, page: &PageRequest) -> Result<Page<Payout>> {
        let Some(cursor) = cursor_of(
            &mut self.reader(),
            "SELECT seq FROM payouts WHERE partner_id = $1 AND id = $2",
            partner,
            page,
        )
        .await?
        else {
            return Ok(Page::UnknownCursor);
        };
        let ids: Vec<String> = query_scalar(
            "SELECT id FROM payouts WHERE partner_id = $1 AND ($2 IS NULL OR seq < $2) ORDER BY seq DESC LIMIT $3",
        )
        .bind(partner.as_str())
        .bind(cursor)
        .bind(page.limit + 1)
        .fetch_all(&mut self.reader())
        .await?;
        let has_more = ids.len() as i64 > page.limit;
        let mut tx = self.begin_read().await?;
        let mut data = Vec::new();
        for id in ids.iter().take(page.limit as usize) {
            data.push(
                payout_in(&mut tx, partner, id)
                    .await?
                    .ok_or_else(|| bad("listed payout"))?,
            );
        }
        tx.rollback().await?;
        Ok(Page::Items { data, has_more })
    }

    async fn payout_containing(
        &self,
        partner: &PartnerId,
        source_id: &str,
    ) -> Result<Option<PayoutId>> {
        let id: Option<String> = query_scalar(
            "SELECT p.id FROM payout_items i JOIN payouts p ON p.id = i.payout_id \
             WHERE p.partner_id = $1 AND i.source_id = $2 ORDER BY i.seq LIMIT 1",
        )
        .bind(partner.as_str())
        .bind(source_id)
        .fetch_optional(&mut self.reader())
        .await?;
        id.map(|id| PayoutId::parse(&id).map_err(|_| bad("payout id")))
            .transpose()
    }

    async fn payout_statement(
        &self,
        partner: &PartnerId,
        id: &PayoutId,
    ) -> Result<Vec<StatementLine>> {
        let rows = query(
            "SELECT i.item_type, i.source_id, i.amount, COALESCE(p.id, r.payment_id) AS payment_id, \
             COALESCE(p.reference_id, rp.reference_id) AS reference_id, \
             COALESCE(p.payer_name, rp.payer_name) AS payer_name, \
             COALESCE(p.payer_email, rp.payer_email) AS payer_email, \
             COALESCE(p.completed_at, p.created_at, r.created_at, cp.created_at) AS at \
             FROM payout_items i JOIN payouts po ON po.id = i.payout_id AND po.partner_id = $1 \
             LEFT JOIN payments p ON p.partner_id = $1 AND p.id = i.source_id \
             LEFT JOIN refunds r ON r.partner_id = $1 AND r.id = i.source_id \
             LEFT JOIN payments rp ON rp.partner_id = $1 AND rp.id = r.payment_id \
             LEFT JOIN payouts cp ON cp.partner_id = $1 AND cp.id = i.carried_payout_id \
             WHERE i.payout_id = $2 ORDER BY i.seq",
        )
        .bind(partner.as_str())
        .bind(id.as_str())
        .fetch_all(&mut self.reader())
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("item_type")?;
                Ok(StatementLine {
                    item_type: PayoutItemType::parse_str(&kind)
                        .ok_or_else(|| bad("payout item type"))?,
                    source_id: row.try_get("source_id")?,
                    amount: row.try_get("amount")?,
                    payment_id: row.try_get("payment_id")?,
                    reference_id: row.try_get("reference_id")?,
                    payer_name: row.try_get("payer_name")?,
                    payer_email: row.try_get("payer_email")?,
                    at: time_opt(row.try_get("at")?),
                })
            })
            .collect()
    }

    async fn ach_returns_since(&self, partner: &PartnerId, since: OffsetDateTime) -> Result<i64> {
        Ok(query_scalar(
            "SELECT COUNT(*) FROM ledger_entries WHERE partner_id = $1 AND account = 'partner_pending' \
             AND kind = 'ach_return' AND created_at >= $2",
        )
        .bind(partner.as_str())
        .bind(to_micros(since))
        .fetch_one(&mut self.reader())
        .await?)
    }

    async fn partners_due_payout(&self, cutoff: OffsetDateTime) -> Result<Vec<PartnerId>> {
        let ids: Vec<String> = query_scalar(
            "SELECT DISTINCT e.partner_id FROM ledger_entries e WHERE e.account = 'partner_available' \
             AND e.kind IN ('payment', 'refund', 'fee') AND e.created_at <= $1 \
             AND NOT EXISTS (SELECT 1 FROM payout_items i WHERE i.ledger_entry_id = e.id)",
        )
        .bind(to_micros(cutoff))
        .fetch_all(&mut self.reader())
        .await?;
        Ok(ids.into_iter().map(PartnerId::from_trusted).collect())
    }
}

/// Writes balanced sets of ledger entries in the caller's transaction (nothing when there are
/// none).
pub(crate) async fn post_all(
    tx: &mut dyn Conn,
    partner: &PartnerId,
    currency: Currency,
    sets: &[&PostingSet],
    now: OffsetDateTime,
) -> Result<()> {
    let mut batch = Batch::new();
    push_postings(&mut batch, partner, currency, sets, now)?;
    batch.execute(tx).await
}

/// Adds the postings of every set to `batch` as one multi-row `INSERT`; each set is
/// checked balanced first.
pub(crate) fn push_postings(
    batch: &mut Batch,
    partner: &PartnerId,
    currency: Currency,
    sets: &[&PostingSet],
    now: OffsetDateTime,
) -> Result<()> {
    if sets.iter().any(|set| !set.is_balanced()) {
        return Err(bad("an unbalanced posting set"));
    }
    let rows: Vec<(String, &PostingSet, &kassa_core::ledger::Posting)> = sets
        .iter()
        .flat_map(|set| {
            let set_id = LedgerEntryId::generate().as_str().to_string();
            set.postings()
                .iter()
                .map(move |posting| (set_id.clone(), *set, posting))
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let mut sql = String::from(
        "INSERT INTO ledger_entries (id, partner_id, set_id, account, kind, source_id, amount, currency, created_at) VALUES ",
    );
    for i in 0..rows.len() {
        let b = i * 9;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6,
            b + 7,
            b + 8,
            b + 9
        ));
    }
    let mut statement = batch.push(sql);
    for (set_id, set, posting) in rows {
        statement = statement
            .bind(LedgerEntryId::generate().as_str().to_string())
            .bind(partner.as_str())
            .bind(set_id)
            .bind(posting.account.as_str())
            .bind(set.kind().as_str())
            .bind(set.source_id().to_string())
            .bind(posting.amount)
            .bind(currency.as_str())
            .bind(to_micros(now));
    }
    Ok(())
}

pub(crate) fn fee_schedule_from_row(row: &Row) -> Result<FeeSchedule> {
    Ok(FeeSchedule {
        card_percent: Percent::from_e4(row.try_get("fee_card_percent_e4")?),
        card_fixed: row.try_get("fee_card_fixed")?,
        ach_percent: Percent::from_e4(row.try_get("fee_ach_percent_e4")?),
        ach_cap: row.try_get("fee_ach_cap")?,
    })
}

pub(crate) async fn fee_schedule(
    executor: &mut dyn Conn,
    partner: &PartnerId,
) -> Result<FeeSchedule> {
    let row = query(FEE_SCHEDULE_SQL)
        .bind(partner.as_str())
        .fetch_optional(executor)
        .await?
        .ok_or(crate::StoreError::Missing("partner"))?;
    fee_schedule_from_row(&row)
}

pub(crate) async fn payout_in(
    conn: &mut dyn Conn,
    partner: &PartnerId,
    id: &str,
) -> Result<Option<Payout>> {
    let row = query(
        "SELECT id, partner_id, status, amount, currency, cutoff_at, created_at FROM payouts WHERE partner_id = $1 AND id = $2",
    )
    .bind(partner.as_str())
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let items = query(
        "SELECT item_type, source_id, amount FROM payout_items WHERE payout_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    payout_from_rows(&row, &items).map(Some)
}

pub(crate) fn payout_from_rows(row: &Row, items: &[Row]) -> Result<Payout> {
    let currency = currency_of(row)?;
    let status: String = row.try_get("status")?;
    let items = items
        .iter()
        .map(|item| {
            let kind: String = item.try_get("item_type")?;
            Ok(PayoutItem {
                item_type: PayoutItemType::parse_str(&kind)
                    .ok_or_else(|| bad("payout item type"))?,
                source_id: item.try_get("source_id")?,
                amount: Money::new(item.try_get("amount")?, currency),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Payout {
        id: PayoutId::from_trusted(row.try_get("id")?),
        partner_id: PartnerId::from_trusted(row.try_get("partner_id")?),
        object: Default::default(),
        status: PayoutStatus::parse_str(&status).ok_or_else(|| bad("payout status"))?,
        amount: Money::new(row.try_get("amount")?, currency),
        currency,
        created_at: from_micros(row.try_get("created_at")?),
        cutoff_at: from_micros(row.try_get("cutoff_at")?),
        items,
    })
}

/// A fee schedule as the audit log records a change of it.
fn fees_json(f: &FeeSchedule) -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    map.insert("cardPercentE4".into(), f.card_percent.e4().into());
    map.insert("cardFixed".into(), f.card_fixed.into());
    map.insert("achPercentE4".into(), f.ach_percent.e4().into());
    map.insert("achCap".into(), f.ach_cap.into());
    map
}
