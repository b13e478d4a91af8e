//! Payouts: the list, and each payout's statement — the payments it pays out, with refunds and
//! fees shown as deductions — on a page and as CSV (a line per payment or refund with its fee
//! and net; times in the partner's timezone).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kassa_core::id::PayoutId;
use kassa_core::money::{format_minor, Money};
use kassa_core::payout::{Payout, PayoutItemType};
use kassa_store::{PageRequest, StatementLine};

use super::{act, not_found, Can, Nav, Signed};
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
    let times = signed.times();
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
                    created: times.when(p.created_at),
                    cutoff: times.when(p.cutoff_at),
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
    reference: String,
    payer: String,
    amount: String,
    deduction: bool,
}

fn kind_label(t: PayoutItemType) -> &'static str {
    match t {
        PayoutItemType::Payment => "Payment",
        PayoutItemType::Refund => "Refund",
        PayoutItemType::Fee => "Fee",
        PayoutItemType::CarriedBalance => "Carried balance",
    }
}

fn item_row(line: &StatementLine, currency: kassa_core::money::Currency) -> ItemRow {
    let href = match line.item_type {
        PayoutItemType::CarriedBalance => Some(format!("/dashboard/payouts/{}", line.source_id)),
        // A refund or a fee links to the payment it is about.
        _ => line
            .payment_id
            .as_ref()
            .map(|p| format!("/dashboard/transactions/{p}")),
    };
    ItemRow {
        kind: kind_label(line.item_type),
        source: line.source_id.clone(),
        href,
        reference: line.reference_id.clone().unwrap_or_default(),
        payer: line
            .payer_name
            .clone()
            .or_else(|| line.payer_email.clone())
            .unwrap_or_default(),
        amount: Money::new(line.amount, currency).display(),
        deduction: line.amount < 0,
    }
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

/// The partner's payout of a path id and its statement lines; a dashboard 404 page otherwise.
async fn load(
    state: &AppState,
    signed: &Signed,
    id: &str,
) -> Result<(Payout, Vec<StatementLine>), Response> {
    let partner = signed.partner();
    let Some(id) = PayoutId::parse(id).ok() else {
        return Err(not_found(partner, "payout"));
    };
    let payout = match state.store.payout(&partner.id, &id).await {
        Ok(Some(p)) => p,
        Ok(None) => return Err(not_found(partner, "payout")),
        Err(e) => return Err(internal_error_page(e)),
    };
    match state.store.payout_statement(&partner.id, &id).await {
        Ok(lines) => Ok((payout, lines)),
        Err(e) => Err(internal_error_page(e)),
    }
}

/// `GET /dashboard/payouts/{id}`: the statement.
pub async fn payout(
    State(state): State<AppState>,
    signed: Can<act::View>,
    params: PageParams,
) -> Response {
    let (payout, lines) = match load(&state, &signed, params.id()).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    let times = signed.times();
    let currency = payout.currency;
    let mut totals: HashMap<&'static str, i64> = HashMap::new();
    for line in &lines {
        *totals.entry(line.item_type.as_str()).or_default() += line.amount;
    }
    let total = |k: &str| Money::new(totals.get(k).copied().unwrap_or(0), currency).display();
    render(
        StatusCode::OK,
        &StatementPage {
            brand: Brand::of(signed.partner()),
            nav: signed.nav(&state, "payouts", None),
            id: payout.id.to_string(),
            status: status_label(&payout).to_string(),
            created: times.when(payout.created_at),
            cutoff: times.when(payout.cutoff_at),
            payments: total("payment"),
            refunds: total("refund"),
            fees: total("fee"),
            carried: total("carried_balance"),
            net: payout.amount.display(),
            carried_forward: payout.amount.minor() <= 0,
            items: lines.iter().map(|l| item_row(l, currency)).collect(),
        },
    )
}

/// A line of the statement's CSV: a payment or refund with the fees on it, or an item that
/// stands alone (a fee on something outside this payout, a carried balance).
#[derive(Debug, PartialEq)]
struct CsvLine {
    item_type: PayoutItemType,
    id: String,
    payment_id: String,
    reference_id: String,
    payer_name: String,
    payer_email: String,
    amount: i64,
    fee: i64,
    at: Option<time::OffsetDateTime>,
}

/// The statement's lines for CSV: each fee joins the line of the payment or refund it was taken
/// on, so a line's net is what it added to the payout.
fn csv_lines(lines: &[StatementLine]) -> Vec<CsvLine> {
    let mut out: Vec<CsvLine> = Vec::with_capacity(lines.len());
    let line_of = |l: &StatementLine| CsvLine {
        item_type: l.item_type,
        id: l.source_id.clone(),
        payment_id: l.payment_id.clone().unwrap_or_default(),
        reference_id: l.reference_id.clone().unwrap_or_default(),
        payer_name: l.payer_name.clone().unwrap_or_default(),
        payer_email: l.payer_email.clone().unwrap_or_default(),
        amount: 0,
        fee: 0,
        at: l.at,
    };
    for l in lines.iter().filter(|l| l.item_type != PayoutItemType::Fee) {
        let mut line = line_of(l);
        line.amount = l.amount;
        out.push(line);
    }
    for fee in lines.iter().filter(|l| l.item_type == PayoutItemType::Fee) {
        match out
            .iter_mut()
            .find(|o| o.id == fee.source_id && o.item_type != PayoutItemType::CarriedBalance)
        {
            Some(line) => line.fee += fee.amount,
            None => {
                let mut line = line_of(fee);
                line.fee = fee.amount;
                out.push(line);
            }
        }
    }
    out
}

/// `GET /dashboard/payouts/{id}/statement.csv`: every item of the statement with its reference,
/// amount, fee and net, times in the partner's timezone (ISO 8601 with the offset).
pub async fn payout_csv(
    State(state): State<AppState>,
    signed: Can<act::View>,
    params: PageParams,
) -> Response {
    let (payout, lines) = match load(&state, &signed, params.id()).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    let times = signed.times();
    let currency = payout.currency.as_str();
    let rows = csv_lines(&lines)
        .iter()
        .map(|l| {
            vec![
                l.item_type.as_str().to_string(),
                l.id.clone(),
                l.payment_id.clone(),
                l.reference_id.clone(),
                l.payer_name.clone(),
                l.payer_email.clone(),
                format_minor(l.amount),
                format_minor(l.fee),
                format_minor(l.amount + l.fee),
                currency.to_string(),
                l.at.map(|t| times.iso(t)).unwrap_or_default(),
            ]
        })
        .collect::<Vec<_>>();
    super::csv::download(
        &format!("payout-{}.csv", payout.id),
        "type,id,payment_id,reference_id,payer_name,payer_email,amount,fee,net,currency,time",
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(t: PayoutItemType, source: &str, amount: i64, payment: Option<&str>) -> StatementLine {
        StatementLine {
            item_type: t,
            source_id: source.into(),
            amount,
            payment_id: payment.map(str::to_string),
            reference_id: Some("QUOTE-7".into()),
            payer_name: Some("Jo Payer".into()),
            payer_email: None,
            at: None,
        }
    }

    #[test]
    fn fees_join_the_line_they_were_taken_on() {
        let lines = [
            line(PayoutItemType::Payment, "pay_1", 25_000, Some("pay_1")),
            line(PayoutItemType::Fee, "pay_1", -755, Some("pay_1")),
            line(PayoutItemType::Refund, "re_1", -1_000, Some("pay_1")),
            line(PayoutItemType::Fee, "pay_9", -30, Some("pay_9")),
            line(PayoutItemType::CarriedBalance, "po_1", -500, None),
        ];
        let out = csv_lines(&lines);
        let summary: Vec<(&str, &str, i64, i64)> = out
            .iter()
            .map(|l| (l.item_type.as_str(), l.id.as_str(), l.amount, l.fee))
            .collect();
        assert_eq!(
            summary,
            [
                ("payment", "pay_1", 25_000, -755),
                ("refund", "re_1", -1_000, 0),
                ("carried_balance", "po_1", -500, 0),
                ("fee", "pay_9", 0, -30),
            ]
        );
        // The nets add up to the payout.
        let net: i64 = out.iter().map(|l| l.amount + l.fee).sum();
        assert_eq!(net, lines.iter().map(|l| l.amount).sum::<i64>());
    }
}
