//! Keyset paging for list endpoints: where a page starts (`startingAfter`) and whether there is more.

use kassa_core::id::PartnerId;

use crate::db::{query_scalar, Conn, Row};
use crate::model::*;
use crate::Result;

/// Where a page starts: Some(None) from the newest, Some(Some(seq)) after a row of the
/// partner's, None when `startingAfter` names no row of theirs.
pub(crate) async fn cursor_of(
    pool: &mut dyn Conn,
    table_sql: &'static str,
    partner: &PartnerId,
    page: &PageRequest,
) -> Result<Option<Option<i64>>> {
    match &page.starting_after {
        None => Ok(Some(None)),
        Some(id) => Ok(seq_of(pool, table_sql, partner, id).await?.map(Some)),
    }
}

/// A page from rows fetched with `LIMIT limit + 1`: the extra row only says there is more.
pub(crate) fn page_of<T>(
    rows: &[Row],
    page: &PageRequest,
    read: fn(&Row) -> Result<T>,
) -> Result<Page<T>> {
    let has_more = rows.len() as i64 > page.limit;
    let data = rows
        .iter()
        .take(page.limit as usize)
        .map(read)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::Items { data, has_more })
}

/// The `seq` of a partner's row named by a list cursor (`table_sql` takes partner, id).
pub(crate) async fn seq_of(
    pool: &mut dyn Conn,
    table_sql: &'static str,
    partner: &PartnerId,
    id: &str,
) -> Result<Option<i64>> {
    query_scalar(table_sql)
        .bind(partner.as_str())
        .bind(id)
        .fetch_optional(pool)
        .await
}
