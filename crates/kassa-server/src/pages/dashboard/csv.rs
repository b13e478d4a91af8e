//! The dashboard's CSV exports (transactions, the audit log): every page a list's filters show,
//! up to [`CSV_MAX_ROWS`], each field safe to open in a spreadsheet.

use std::future::Future;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use kassa_store::{Page, PageRequest, StoreError};

use crate::pages::internal_error_page;

/// Rows a CSV export holds at most.
pub const CSV_MAX_ROWS: usize = 10_000;

/// One CSV field: quoted when needed, and never read as a formula by a spreadsheet.
pub(super) fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// A download named `filename`: the `header` line, then a line per item, reading the list a
/// page of 100 at a time with `fetch` (newest first) until it ends or [`CSV_MAX_ROWS`] are in.
pub(super) async fn export<T, F, Fut>(
    filename: &str,
    header_line: &str,
    mut fetch: F,
    fields: impl Fn(&T) -> Vec<String>,
    id: impl Fn(&T) -> String,
) -> Response
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>, StoreError>>,
{
    let mut out = format!("{header_line}\n");
    let mut after = None;
    let mut rows = 0;
    loop {
        let page = PageRequest {
            limit: 100,
            starting_after: after.take(),
        };
        let (data, has_more) = match fetch(page).await {
            Ok(Page::Items { data, has_more }) => (data, has_more),
            Ok(Page::UnknownCursor) => break,
            Err(e) => return internal_error_page(e),
        };
        for item in &data {
            let line: Vec<String> = fields(item).iter().map(|f| csv_field(f)).collect();
            out.push_str(&line.join(","));
            out.push('\n');
            rows += 1;
        }
        if !has_more || rows >= CSV_MAX_ROWS {
            break;
        }
        after = data.last().map(&id);
    }
    let disposition = format!("attachment; filename=\"{filename}\"");
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        out,
    )
        .into_response()
}
