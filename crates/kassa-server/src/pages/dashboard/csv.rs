//! The dashboard's CSV exports (transactions, the audit log, payout statements): every page a
//! list's filters show, up to [`CSV_MAX_ROWS`], each field safe to open in a spreadsheet.

use std::future::Future;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use kassa_store::{Page, PageRequest, StoreError};

use crate::pages::internal_error_page;

/// Rows a CSV export holds at most.
pub const CSV_MAX_ROWS: usize = 10_000;

/// One CSV field: quoted when needed, and never read as a formula by a spreadsheet (a plain
/// negative amount such as "-10.00" stays a number).
pub(super) fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_amount(value) {
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

/// "-10.00", "250.00": an amount as Kassa writes it, which no spreadsheet reads as a formula.
fn is_amount(value: &str) -> bool {
    let digits = value.strip_prefix('-').unwrap_or(value);
    match digits.split_once('.') {
        Some((whole, cents)) => {
            !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && cents.len() == 2
                && cents.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
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
    attachment(filename, out)
}

/// A download named `filename` of the `header` line and `rows`.
pub(super) fn download(filename: &str, header_line: &str, rows: &[Vec<String>]) -> Response {
    let mut out = format!("{header_line}\n");
    for row in rows {
        let line: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    attachment(filename, out)
}

fn attachment(filename: &str, body: String) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn formulas_are_defused_and_amounts_stay_numbers() {
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("-2+3"), "'-2+3");
        assert_eq!(csv_field("-10.00"), "-10.00");
        assert_eq!(csv_field("-1.5"), "'-1.5");
        assert_eq!(csv_field("250.00"), "250.00");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("QUOTE-7"), "QUOTE-7");
    }
}
