//! Payouts: the list, and each payout's statement — the payments it pays out, with refunds and
//! fees shown as deductions.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_core::id::{PayoutId, RefundId};
use kassa_core::money::Money;
use kassa_core::payout::{Payout, PayoutItemType};
use kassa_store::PageRequest;

use super::{act, not_found, Can, Nav};
use crate::pages::{internal_error_page, render, Brand, PageParams};
use crate::state::AppState;

struct PayoutRow {
    id: String,
    created: String,
    cutoff: String,
    status: String,
    amount: String,
    items: usize,
}

#[derive(Template)]
#[template(path = "dashboard/payouts.html")]
struct ListPage {
    brand: Brand,
    nav: Nav,
    available: String,
    rows: Vec<PayoutRow>,
    next: Option<String>,
}

fn status_label(p: &Payout) -> &'static str {
    match p.status.as_str() {
        "paid" => "paid",
        _ => "carried forward",
    }
}

/// `GET /dashboard/payouts`: newest first, 50 a page.
pub async fn payouts(
    State(state): State<AppState>,
    signed: Can<act::View>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let partner = signed.partner();
    let after = params
        .get("after")
        .filter(|a| PayoutId::parse(a).is_ok())
        .cloned();
    let page = PageRequest {
        limit: 50,
        starting_after: after,
    };
    let (data, has_more) = match state.store.list_payouts(&partner.id, &page).await {
        Ok(kassa_store::Page::Items { data, has_more }) => (data, has_more),
        Ok(kassa_store::Page::UnknownCursor) => (Vec::new(), false),
        Err(e) => return internal_error_page(e),
    };
    let balances = match state.store.balances(&partner.id).await {
        Ok(b) => b,
        Err(e) => return internal_error_page(e),
    };
    let next = has_more
        .then(|| data.last().map(|p| format!("after={}", p.id)))
        .flatten();
    render(
        StatusCode::OK,
        &ListPage {
            brand: Brand::of(partner),
            nav: signed.nav(&state, "payouts", None),
            available: Money::new(balances.available, kassa_core::money::Currency::Usd).display(),
            rows: data
                .iter()
                .map(|p| PayoutRow {
                    id: p.id.to_string(),
                    created: super::when(p.created_at),
                    cutoff: super::when(p.cutoff_at),
                    status: status_label(p).to_string(),
                    amount: p.amount.display(),
                    items: p.items.len(),
                })
                .collect(),
            next,
        },
    )
}

struct ItemRow {
    kind: &'static str,
    /// Where the item comes from, and the page that shows it.
    source: String,
    href: Option<String>,
    amount: String,
    deduction: bool,
}

#[derive(Template)]
#[template(path = "dashboard/payout.html")]
struct StatementPage {
    brand: Brand,
    nav: Nav,
    id: String,
    status: String,
    created: String,
    cutoff: String,
    items: Vec<ItemRow>,
    payments: String,
    refunds: String,
    fees: String,
    carried: String,
    net: String,
    carried_forward: bool,
}

/// `GET /dashboard/payouts/{id}`: the statement.
pub async fn payout(
    State(state): State<AppState>,
    signed: Can<act::View>,
    params: PageParams,
) -> Response {
    let partner = signed.partner();
    let Some(id) = PayoutId::parse(params.id()).ok() else {
        return not_found(partner, "payout");
    };
    let payout = match state.store.payout(&partner.id, &id).await {
        Ok(Some(p)) => p,
        Ok(None) => return not_found(partner, "payout"),
        Err(e) => return internal_error_page(e),
    };
    let currency = payout.currency;
    let mut totals: HashMap<&'static str, i64> = HashMap::new();
    let mut items = Vec::with_capacity(payout.items.len());
    for item in &payout.items {
        let (kind, href) = match item.item_type {
            PayoutItemType::Payment => (
                "Payment",
                Some(format!("/dashboard/transactions/{}", item.source_id)),
            ),
            PayoutItemType::Fee => (
                "Fee",
                item.source_id
                    .starts_with("pay_")
                    .then(|| format!("/dashboard/transactions/{}", item.source_id)),
            ),
            PayoutItemType::Refund => {
                // A refund links to the payment it paid back.
                let payment = match RefundId::parse(&item.source_id) {
                    Ok(rid) => match state.store.refund(&partner.id, &rid).await {
                        Ok(r) => r.map(|r| r.payment_id),
                        Err(e) => return internal_error_page(e),
                    },
                    Err(_) => None,
                };
                (
                    "Refund",
                    payment.map(|p| format!("/dashboard/transactions/{p}")),
                )
            }
            PayoutItemType::CarriedBalance => (
                "Carried balance",
                Some(format!("/dashboard/payouts/{}", item.source_id)),
            ),
        };
        *totals.entry(item.item_type.as_str()).or_default() += item.amount.minor();
        items.push(ItemRow {
            kind,
            source: item.source_id.clone(),
            href,
            amount: item.amount.display(),
            deduction: item.amount.minor() < 0,
        });
    }
    let total = |k: &str| Money::new(totals.get(k).copied().unwrap_or(0), currency).display();
    render(
        StatusCode::OK,
        &StatementPage {
            brand: Brand::of(partner),
            nav: signed.nav(&state, "payouts", None),
            id: payout.id.to_string(),
            status: status_label(&payout).to_string(),
            created: super::when(payout.created_at),
            cutoff: super::when(payout.cutoff_at),
            payments: total("payment"),
            refunds: total("refund"),
            fees: total("fee"),
            carried: total("carried_balance"),
            net: payout.amount.display(),
            carried_forward: payout.amount.minor() <= 0,
            items,
        },
    )
}
