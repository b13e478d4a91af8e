//! The home page: the balance, the volume completed in the last 7 and 30 days (a bar chart per
//! day of the partner's timezone), what needs attention — bank debits returned, webhook
//! endpoints switched off, challenge mode — each with a link to where to act, and the latest
//! payments.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use kassa_core::money::{Currency, Money};
use kassa_core::webhook::EndpointStatus;
use kassa_store::{PageRequest, PaymentFilter};
use time::Duration;

use super::chart::{self, Bar, Day};
use super::times::Times;
use super::{act, transactions, Can, Nav, Signed};
use crate::pages::{internal_error_page, render, Brand};
use crate::state::AppState;

/// Days the chart shows, and how many of the latest are "recent".
const CHART_DAYS: i64 = 30;
const RECENT_DAYS: usize = 7;

/// The chart sums payments per quarter hour, so each slice falls in one day of any zone (every
/// UTC offset is a multiple of 15 minutes).
const SLICE: Duration = Duration::minutes(15);

/// Something the partner should look at, and where to act on it.
pub(super) struct Attention {
    pub text: String,
    pub href: &'static str,
    pub link: &'static str,
}

/// The volume of the last days, for the chart and its table.
struct Volume {
    days: Vec<Day>,
    bars: Vec<Bar>,
    week: String,
    week_count: i64,
    month: String,
    month_count: i64,
}

impl Volume {
    fn amount(&self, minor: &i64) -> String {
        usd(*minor)
    }
}

#[derive(Template)]
#[template(path = "dashboard/home.html")]
struct HomePage {
    brand: Brand,
    partner_name: String,
    email: String,
    available: String,
    pending: String,
    paid_out: String,
    volume: Volume,
    attention: Vec<Attention>,
    payments: Vec<transactions::TxRow>,
    nav: Nav,
    /// Until when the pay pages are in challenge mode (docs/api.md §8), when they are.
    challenge_until: Option<String>,
    chart_width: u32,
    chart_height: u32,
    /// Whether Kassa can send email (docs/api.md §11: "the dashboard says so" when not).
    email_on: bool,
}

fn usd(minor: i64) -> String {
    Money::new(minor, Currency::Usd).display()
}

/// Completed payments per day over the last [`CHART_DAYS`] days of the partner's zone.
async fn volume(state: &AppState, signed: &Signed, times: &Times) -> anyhow::Result<Volume> {
    let today = times.date(state.clock.now());
    let first = today - Duration::days(CHART_DAYS - 1);
    let (from, to) = times.span(first, today);
    let slices = state
        .store
        .completed_volume(&signed.partner().id, from, to, SLICE)
        .await?;
    let mut per_day: BTreeMap<time::Date, (i64, i64)> = BTreeMap::new();
    for s in &slices {
        let day = per_day.entry(times.date(s.start)).or_default();
        day.0 += s.count;
        day.1 += s.amount;
    }
    let days: Vec<Day> = (0..CHART_DAYS)
        .map(|i| {
            let date = first + Duration::days(i);
            let (count, minor) = per_day.get(&date).copied().unwrap_or_default();
            Day {
                label: times.short_day(date),
                count,
                minor,
            }
        })
        .collect();
    let sum = |d: &[Day]| {
        (
            d.iter().map(|d| d.minor).sum::<i64>(),
            d.iter().map(|d| d.count).sum::<i64>(),
        )
    };
    let (month, month_count) = sum(&days);
    let (week, week_count) = sum(&days[days.len() - RECENT_DAYS..]);
    Ok(Volume {
        bars: chart::bars(&days, RECENT_DAYS, usd),
        days,
        week: usd(week),
        week_count,
        month: usd(month),
        month_count,
    })
}

/// What needs the partner's attention: bank debits returned in the last 30 days, webhook
/// endpoints switched off, challenge mode.
async fn attention(
    state: &AppState,
    signed: &Signed,
    challenge_until: Option<&str>,
) -> anyhow::Result<Vec<Attention>> {
    let partner = signed.partner();
    let mut items = Vec::new();
    let returns = state
        .store
        .ach_returns_since(&partner.id, state.clock.now() - Duration::days(30))
        .await?;
    if returns > 0 {
        items.push(Attention {
            text: format!(
                "{returns} bank payment{} returned in the last 30 days.",
                if returns == 1 { " was" } else { "s were" }
            ),
            href: "/dashboard/transactions?method=ach&status=failed&period=30d",
            link: "See returned bank payments",
        });
    }
    let page = PageRequest {
        limit: 100,
        starting_after: None,
    };
    let endpoints = match crate::webhooks::list(state, partner, &page).await {
        Ok(kassa_store::Page::Items { data, .. }) => data,
        Ok(kassa_store::Page::UnknownCursor) => Vec::new(),
        Err(e) => return Err(e.into_cause()),
    };
    let disabled = endpoints
        .iter()
        .filter(|e| e.status != EndpointStatus::Enabled)
        .count();
    if disabled > 0 {
        items.push(Attention {
            text: format!(
                "{disabled} webhook endpoint{} switched off: events are not sent to {}.",
                if disabled == 1 { " is" } else { "s are" },
                if disabled == 1 { "it" } else { "them" }
            ),
            href: "/dashboard/webhooks",
            link: "Review webhook endpoints",
        });
    }
    if let Some(until) = challenge_until {
        items.push(Attention {
            text: format!(
                "Challenge mode is on until {until}: many declined payments on your pay pages."
            ),
            href: "/dashboard/transactions?status=failed&period=today",
            link: "See today's declined payments",
        });
    }
    // Email (docs/api.md §11): "Email is not configured" is one more item, added here.
    Ok(items)
}

/// `GET /dashboard`: the balance, the volume of the last days, what needs attention, and the
/// latest payments.
pub async fn home(State(state): State<AppState>, signed: Can<act::View>) -> Response {
    let partner = &signed.session.partner;
    let times = signed.times();
    let balances = match state.store.balances(&partner.id).await {
        Ok(b) => b,
        Err(e) => return internal_error_page(e),
    };
    let page = PageRequest {
        limit: 10,
        starting_after: None,
    };
    let payments = match state
        .store
        .list_payments(&partner.id, &PaymentFilter::default(), &page)
        .await
    {
        Ok(kassa_store::Page::Items { data, .. }) => data,
        Ok(kassa_store::Page::UnknownCursor) => Vec::new(),
        Err(e) => return internal_error_page(e),
    };
    let challenge_until = match crate::challenge_mode::active_until(&state, &partner.id).await {
        Ok(until) => until.map(|t| times.when(t)),
        Err(e) => return internal_error_page(e),
    };
    let volume = match volume(&state, &signed, &times).await {
        Ok(v) => v,
        Err(e) => return internal_error_page(e),
    };
    let attention = match attention(&state, &signed, challenge_until.as_deref()).await {
        Ok(a) => a,
        Err(e) => return internal_error_page(e),
    };
    render(
        StatusCode::OK,
        &HomePage {
            email_on: state.mailer.is_some(),
            brand: Brand::of(partner),
            partner_name: partner.name.clone(),
            email: signed.session.user.email.clone(),
            available: usd(balances.available),
            pending: usd(balances.pending),
            paid_out: usd(balances.paid_out),
            volume,
            attention,
            payments: payments
                .iter()
                .map(|p| transactions::tx_row(p, &times))
                .collect(),
            nav: signed.nav(&state, "home", None),
            challenge_until,
            chart_width: chart::WIDTH,
            chart_height: chart::HEIGHT,
        },
    )
}
