//! The queries that read payments as lists and sums — the filtered list (API and dashboard), the
//! totals of the same filter, and the volume completed per slice of time — sharing one `WHERE`
//! so a list and its totals always count the same payments. [`crate::PaymentStore`] exposes them.

use kassa_core::clock::{from_micros, to_micros};
use kassa_core::id::PartnerId;
use time::{Duration, OffsetDateTime};

use crate::db::{like_contains, query, Conn, Query};
use crate::model::{PaymentFilter, PaymentTotals, VolumeSlice};
use crate::Result;

/// The statuses of a payment that collected money.
macro_rules! collected {
    () => {
        "status IN ('completed', 'partially_refunded', 'refunded')"
    };
}

/// The `WHERE` of a [`PaymentFilter`]: `$1` is the partner, `$2`–`$14` the filter, bound by
/// [`bind_filter`]. A search term matches a payment when any of its readings does.
macro_rules! payment_filter {
    () => {
        "partner_id = $1 \
         AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR source = $3) \
         AND ($4 IS NULL OR customer_id = $4) AND ($5 IS NULL OR reference_id = $5) \
         AND ($6 IS NULL OR created_at >= $6) AND ($7 IS NULL OR created_at <= $7) \
         AND ($8 IS NULL OR method_type = $8) \
         AND ($9 IS NULL OR LOWER(reference_id) LIKE $9 ESCAPE '\\') \
         AND ($10 IS NULL OR LOWER(reference_id) LIKE $10 ESCAPE '\\' \
              OR LOWER(payer_email) LIKE $10 ESCAPE '\\' OR LOWER(payer_name) LIKE $10 ESCAPE '\\' \
              OR last4 = $11 OR amount = $12 OR id = $13 OR payment_request_id = $14)"
    };
}
pub(crate) use payment_filter;

/// Binds `$1`–`$14` of [`payment_filter`].
pub(crate) fn bind_filter(q: Query, partner: &PartnerId, filter: &PaymentFilter) -> Query {
    let search = filter.search.as_ref();
    q.bind(partner.as_str())
        .bind(filter.status.map(|s| s.as_str()))
        .bind(filter.source.map(|s| s.as_str()))
        .bind(filter.customer_id.as_ref().map(|c| c.as_str()))
        .bind(filter.reference_id.as_deref())
        .bind(filter.created_from.map(to_micros))
        .bind(filter.created_to.map(to_micros))
        .bind(filter.method.as_deref())
        .bind(filter.reference_contains.as_deref().map(like_contains))
        .bind(search.map(|s| like_contains(&s.text)))
        .bind(search.and_then(|s| s.last4.as_deref()))
        .bind(search.and_then(|s| s.amount_minor))
        .bind(search.and_then(|s| s.payment_id.as_ref().map(|id| id.as_str())))
        .bind(search.and_then(|s| s.payment_request_id.as_ref().map(|id| id.as_str())))
}

pub(crate) async fn totals(
    conn: &mut dyn Conn,
    partner: &PartnerId,
    filter: &PaymentFilter,
) -> Result<PaymentTotals> {
    let sql = concat!(
        "SELECT COUNT(*) AS n, ",
        "COUNT(CASE WHEN ",
        collected!(),
        " THEN 1 END) AS succeeded, ",
        "CAST(COALESCE(SUM(CASE WHEN ",
        collected!(),
        " THEN captured_amount ELSE 0 END), 0) AS BIGINT) AS gross, ",
        "CAST(COALESCE(SUM(refunded_amount), 0) AS BIGINT) AS refunded ",
        "FROM payments WHERE ",
        payment_filter!()
    );
    let row = bind_filter(query(sql), partner, filter)
        .fetch_one(conn)
        .await?;
    Ok(PaymentTotals {
        count: row.try_get("n")?,
        succeeded: row.try_get("succeeded")?,
        gross: row.try_get("gross")?,
        refunded: row.try_get("refunded")?,
    })
}

/// Payments completed from `from` up to `to`, summed per `slice` of time (slices start at the
/// Unix epoch; the caller picks a slice that divides its days, e.g. 15 minutes for any zone).
/// Only slices with payments are returned, oldest first.
pub(crate) async fn completed_volume(
    conn: &mut dyn Conn,
    partner: &PartnerId,
    from: OffsetDateTime,
    to: OffsetDateTime,
    slice: Duration,
) -> Result<Vec<VolumeSlice>> {
    let slice_micros = i64::try_from(slice.whole_microseconds())
        .unwrap_or(i64::MAX)
        .max(1);
    let rows = query(concat!(
        "SELECT CAST(completed_at / $4 AS BIGINT) AS slice, COUNT(*) AS n, ",
        "CAST(COALESCE(SUM(captured_amount), 0) AS BIGINT) AS total ",
        "FROM payments WHERE partner_id = $1 AND ",
        collected!(),
        " AND completed_at >= $2 AND completed_at < $3 GROUP BY 1 ORDER BY 1"
    ))
    .bind(partner.as_str())
    .bind(to_micros(from))
    .bind(to_micros(to))
    .bind(slice_micros)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let n: i64 = row.try_get("slice")?;
            Ok(VolumeSlice {
                start: from_micros(n.saturating_mul(slice_micros)),
                count: row.try_get("n")?,
                amount: row.try_get("total")?,
            })
        })
        .collect()
}
