//! Transactions: the list with one search box (`q`, read as `kassa_core::payment_search`
//! says), filters, date presets in the partner's timezone, the totals of what the filters show,
//! and its CSV export. A payment's own page is `transaction.rs`; the refund wizard `refund.rs`.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kassa_core::money::{Currency, Money};
use kassa_core::payment::{MaskedMethod, Payment, PaymentSource, PaymentStatus};
use kassa_core::payment_search::PaymentSearch;
use kassa_core::period::Preset;
use kassa_store::{PageRequest, PaymentFilter, PaymentTotals};

use super::times::Times;
use super::{act, Can, Nav};
use crate::pages::{internal_error_page, render, Brand};
use crate::state::AppState;

/// The filters a list and its CSV share, in the order they are written into links.
const FILTERS: [&str; 7] = ["q", "status", "method", "source", "period", "from", "to"];

/// The transactions filters, read from the query string; the same for the page and its CSV.
struct TransactionsQuery {
    raw: HashMap<String, String>,
    filter: PaymentFilter,
    /// The preset in force, if one is.
    preset: Option<Preset>,
    /// The dates the list covers, as the date fields show them (`2026-12-06`).
    from: String,
    to: String,
    problems: Vec<String>,
}

fn transactions_query(
    params: HashMap<String, String>,
    times: &Times,
    now: time::OffsetDateTime,
) -> TransactionsQuery {
    let get = |k: &str| params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut problems = Vec::new();
    let mut filter = PaymentFilter::default();
    if let Some(s) = get("status") {
        match PaymentStatus::parse_str(s) {
            Some(st) => filter.status = Some(st),
            None => problems.push("Unknown status.".to_string()),
        }
    }
    if let Some(s) = get("source") {
        match PaymentSource::parse_str(s) {
            Some(src) => filter.source = Some(src),
            None => problems.push("Unknown source.".to_string()),
        }
    }
    if let Some(m) = get("method") {
        if ["card", "ach", "google_pay"].contains(&m) {
            filter.method = Some(m.to_string());
        } else {
            problems.push("Unknown method.".to_string());
        }
    }
    // A preset decides the dates; without one, the From and To fields do.
    let preset = match get("period") {
        None => None,
        Some(p) => {
            let parsed = Preset::parse_str(p);
            if parsed.is_none() {
                problems.push("Unknown period.".to_string());
            }
            parsed
        }
    };
    let (from, to) = match preset.map(|p| p.days(times.date(now))) {
        Some(Some((first, last))) => (first.to_string(), last.to_string()),
        Some(None) => (String::new(), String::new()),
        None => (
            get("from").unwrap_or("").to_string(),
            get("to").unwrap_or("").to_string(),
        ),
    };
    (filter.created_from, filter.created_to) = super::day_range(
        Some(from.as_str()).filter(|v| !v.is_empty()),
        Some(to.as_str()).filter(|v| !v.is_empty()),
        times,
        &mut problems,
    );
    filter.search = get("q").and_then(PaymentSearch::parse);
    TransactionsQuery {
        raw: params,
        filter,
        preset,
        from,
        to,
        problems,
    }
}

impl TransactionsQuery {
    fn value(&self, k: &str) -> String {
        self.raw.get(k).cloned().unwrap_or_default()
    }

    /// The filters as a query string (without the page cursor), `except` one.
    fn query_string_without(&self, except: &[&str]) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for k in FILTERS.iter().filter(|k| !except.contains(k)) {
            if let Some(v) = self.raw.get(*k).filter(|v| !v.trim().is_empty()) {
                q.append_pair(k, v.trim());
            }
        }
        q.finish()
    }

    fn query_string(&self) -> String {
        self.query_string_without(&[])
    }

    /// A link per preset, keeping the other filters (custom dates give way to the preset).
    fn presets(&self) -> Vec<PresetLink> {
        let rest = self.query_string_without(&["period", "from", "to"]);
        let custom = self.preset.is_none() && !(self.from.is_empty() && self.to.is_empty());
        Preset::ALL
            .into_iter()
            .map(|p| {
                let mut q = form_urlencoded::Serializer::new(rest.clone());
                q.append_pair("period", p.as_str());
                PresetLink {
                    href: format!("/dashboard/transactions?{}", q.finish()),
                    label: p.label(),
                    current: self.preset == Some(p)
                        || (p == Preset::All && self.preset.is_none() && !custom),
                }
            })
            .collect()
    }
}

/// One date preset, as a link.
struct PresetLink {
    href: String,
    label: &'static str,
    current: bool,
}

/// One option of a filter's select.
struct Choice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

fn choices(current: &str, options: &[(&'static str, &'static str)]) -> Vec<Choice> {
    options
        .iter()
        .map(|(value, label)| Choice {
            value,
            label,
            selected: *value == current.trim(),
        })
        .collect()
}

/// A payment as a row of a list (here, on the home page and on a payment request's page).
pub(super) struct TxRow {
    pub id: String,
    pub status: String,
    /// The status for people ("partially refunded").
    pub label: String,
    pub amount: String,
    pub reference: String,
    /// Who paid: the name on the card or account, and the receipt's email.
    pub payer_name: String,
    pub payer_email: String,
    pub method: String,
    pub created: String,
    pub completed: String,
}

pub(super) fn tx_row(p: &Payment, times: &Times) -> TxRow {
    TxRow {
        id: p.id.to_string(),
        status: p.status.as_str().to_string(),
        label: p.status.as_str().replace('_', " "),
        amount: p.amount.display(),
        reference: p.reference_id.clone().unwrap_or_default(),
        payer_name: p.payer.name.clone().unwrap_or_default(),
        payer_email: p
            .payer
            .email
            .as_ref()
            .map(|e| e.as_str().to_string())
            .unwrap_or_default(),
        method: p.payment_method.describe(),
        created: times.when(p.created_at),
        completed: p.completed_at.map(|t| times.when(t)).unwrap_or_default(),
    }
}

/// The last 4 digits of the card or bank account ("" when the method does not say).
fn last4(m: &MaskedMethod) -> &str {
    match m {
        MaskedMethod::Card { last4, .. } | MaskedMethod::Ach { last4, .. } => last4,
        MaskedMethod::GooglePay { last4, .. } => last4.as_deref().unwrap_or(""),
    }
}

/// The totals above the list, for people.
struct Totals {
    count: i64,
    succeeded: i64,
    gross: String,
    refunded: String,
    net: String,
}

impl Totals {
    fn of(t: &PaymentTotals) -> Totals {
        let usd = |minor: i64| Money::new(minor, Currency::Usd).display();
        Totals {
            count: t.count,
            succeeded: t.succeeded,
            gross: usd(t.gross),
            refunded: usd(t.refunded),
            net: usd(t.gross.saturating_sub(t.refunded)),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/transactions.html")]
struct TransactionsPage {
    brand: Brand,
    nav: Nav,
    notice: Option<String>,
    q: String,
    from: String,
    to: String,
    presets: Vec<PresetLink>,
    /// Whether a filter other than the search or a preset is set ("More filters" stay open).
    more_open: bool,
    statuses: Vec<Choice>,
    methods: Vec<Choice>,
    sources: Vec<Choice>,
    query: String,
    totals: Option<Totals>,
    payments: Vec<TxRow>,
    next: Option<String>,
}

/// `GET /dashboard/transactions`: every payment of the partner, filtered, 50 a page, with the
/// totals of all the filters match.
pub async fn transactions(
    State(state): State<AppState>,
    signed: Can<act::View>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let partner = &signed.session.partner;
    let times = Times::of(partner);
    let tq = transactions_query(params, &times, state.clock.now());
    let after = tq
        .raw
        .get("after")
        .filter(|a| a.len() <= 64 && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .cloned();
    let (payments, next, totals) = if tq.problems.is_empty() {
        let page = PageRequest {
            limit: 50,
            starting_after: after,
        };
        let totals = match state.store.payment_totals(&partner.id, &tq.filter).await {
            Ok(t) => Totals::of(&t),
            Err(e) => return internal_error_page(e),
        };
        match state
            .store
            .list_payments(&partner.id, &tq.filter, &page)
            .await
        {
            Ok(kassa_store::Page::Items { data, has_more }) => {
                let next = has_more.then(|| {
                    let last = data.last().map(|p| p.id.to_string()).unwrap_or_default();
                    let q = tq.query_string();
                    if q.is_empty() {
                        format!("after={last}")
                    } else {
                        format!("{q}&after={last}")
                    }
                });
                let rows = data.iter().map(|p| tx_row(p, &times)).collect();
                (rows, next, Some(totals))
            }
            Ok(kassa_store::Page::UnknownCursor) => (Vec::new(), None, Some(totals)),
            Err(e) => return internal_error_page(e),
        }
    } else {
        (Vec::new(), None, None)
    };
    let status = if tq.problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let custom_dates = tq.preset.is_none() && !(tq.from.is_empty() && tq.to.is_empty());
    let more_open = custom_dates
        || ["status", "method", "source"]
            .iter()
            .any(|k| !tq.value(k).trim().is_empty());
    render(
        status,
        &TransactionsPage {
            brand: Brand::of(partner),
            nav: signed.nav(&state, "transactions", None),
            notice: (!tq.problems.is_empty()).then(|| tq.problems.join(" ")),
            q: tq.value("q"),
            from: tq.from.clone(),
            to: tq.to.clone(),
            presets: tq.presets(),
            more_open,
            statuses: choices(
                &tq.value("status"),
                &[
                    ("", "Any"),
                    ("pending", "Pending"),
                    ("completed", "Completed"),
                    ("failed", "Failed"),
                    ("partially_refunded", "Partially refunded"),
                    ("refunded", "Refunded"),
                ],
            ),
            methods: choices(
                &tq.value("method"),
                &[
                    ("", "Any"),
                    ("card", "Card"),
                    ("ach", "Bank account"),
                    ("google_pay", "Google Pay"),
                ],
            ),
            sources: choices(
                &tq.value("source"),
                &[
                    ("", "Any"),
                    ("payment_request", "Payment requests"),
                    ("api", "API"),
                ],
            ),
            query: tq.query_string(),
            totals,
            payments,
            next,
        },
    )
}

/// `GET /dashboard/transactions.csv`: exactly what the same filters show, every page; times
/// in the partner's timezone with their offset.
pub async fn transactions_csv(
    State(state): State<AppState>,
    signed: Can<act::View>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let partner = &signed.session.partner;
    let times = Times::of(partner);
    let tq = transactions_query(params, &times, state.clock.now());
    if !tq.problems.is_empty() {
        return (StatusCode::BAD_REQUEST, tq.problems.join(" ")).into_response();
    }
    let store = &state.store;
    let filter = &tq.filter;
    super::csv::export(
        "transactions.csv",
        "id,status,amount,currency,reference_id,payer_name,payer_email,method,last4,source,created_at,completed_at",
        |page| async move { store.list_payments(&partner.id, filter, &page).await },
        |p| {
            vec![
                p.id.to_string(),
                p.status.as_str().to_string(),
                kassa_core::money::format_minor(p.amount.minor()),
                p.currency.as_str().to_string(),
                p.reference_id.clone().unwrap_or_default(),
                p.payer.name.clone().unwrap_or_default(),
                p.payer
                    .email
                    .as_ref()
                    .map(|e| e.as_str().to_string())
                    .unwrap_or_default(),
                p.payment_method.type_str().to_string(),
                last4(&p.payment_method).to_string(),
                p.source.as_str().to_string(),
                times.iso(p.created_at),
                p.completed_at.map(|t| times.iso(t)).unwrap_or_default(),
            ]
        },
        |p| p.id.to_string(),
    )
    .await
}
