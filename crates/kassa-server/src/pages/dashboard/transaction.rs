//! One payment's page: its details (who paid, how, what is left to refund), its timeline —
//! earlier attempts on the same link, clearing, refunds and the payouts it went out in — and its
//! refunds.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use kassa_core::audit::{Action, Actor, ActorKind};
use kassa_core::id::{PaymentId, PayoutId};
use kassa_core::payment::{Payment, PaymentStatus};
use kassa_core::refund::{check_refund, refundable, Refund};
use kassa_store::{PageRequest, Partner, PaymentFilter};
use time::OffsetDateTime;

use super::times::Times;
use super::{act, not_found, Can, Nav, Signed};
use crate::pages::{internal_error_page, render, Brand, PageParams};
use crate::state::AppState;

/// One moment in a payment's life, as the details page lists it.
struct Event {
    at: OffsetDateTime,
    text: String,
    link: Option<(String, String)>,
    bad: bool,
}

impl Event {
    fn new(at: OffsetDateTime, text: impl Into<String>) -> Event {
        Event {
            at,
            text: text.into(),
            link: None,
            bad: false,
        }
    }

    fn link(mut self, href: String, label: String) -> Event {
        self.link = Some((href, label));
        self
    }

    fn bad(mut self) -> Event {
        self.bad = true;
        self
    }
}

struct RefundRow {
    id: String,
    amount: String,
    status: String,
    reason: String,
    created: OffsetDateTime,
    payout: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/transaction.html")]
struct DetailsPage {
    brand: Brand,
    nav: Nav,
    times: Times,
    payment: Payment,
    refundable: String,
    can_refund: bool,
    timeline: Vec<Event>,
    refunds: Vec<RefundRow>,
    /// Whether "Resend receipt" is offered: email is on and the payment completed.
    may_resend_receipt: bool,
    email_off: bool,
}

impl DetailsPage {
    fn when(&self, t: &OffsetDateTime) -> String {
        self.times.when(*t)
    }
    fn iso(&self, t: &OffsetDateTime) -> String {
        self.times.iso(*t)
    }
    fn amount(&self) -> String {
        self.payment.amount.display()
    }
    fn reference(&self) -> String {
        self.payment.reference_id.clone().unwrap_or_default()
    }
    fn method(&self) -> String {
        self.payment.payment_method.describe()
    }
    fn status(&self) -> &'static str {
        self.payment.status.as_str()
    }
    fn status_label(&self) -> String {
        self.payment.status.as_str().replace('_', " ")
    }
}

/// Whether the payment takes a refund of all that is left now (the core's rule).
pub(super) fn refundable_now(p: &Payment) -> bool {
    check_refund(p, None).is_ok()
}

/// Loads one of the partner's payments from a path id; a dashboard 404 page otherwise.
pub(super) async fn load_payment(
    state: &AppState,
    signed: &Signed,
    id: &str,
) -> Result<Payment, Response> {
    let Ok(id) = PaymentId::parse(id) else {
        return Err(not_found(signed.partner(), "payment"));
    };
    match state.store.payment(&signed.partner().id, &id).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(not_found(signed.partner(), "payment")),
        Err(e) => Err(internal_error_page(e)),
    }
}

/// The payment's life in order: earlier attempts on the same payment request, the attempt
/// itself, clearing, refunds, and the payouts it went out (or was deducted) in.
async fn timeline(
    state: &AppState,
    partner: &Partner,
    p: &Payment,
    refunds: &[Refund],
) -> Result<Vec<Event>, kassa_store::StoreError> {
    let mut events = Vec::new();
    if let (Some(pr), Some(reference)) = (&p.payment_request_id, &p.reference_id) {
        events.push(
            Event::new(p.created_at, "Paid on a payment request link")
                .link(format!("/dashboard/payment-requests/{pr}"), pr.to_string()),
        );
        let filter = PaymentFilter {
            reference_id: Some(reference.clone()),
            source: Some(kassa_core::payment::PaymentSource::PaymentRequest),
            ..Default::default()
        };
        let page = PageRequest {
            limit: 100,
            starting_after: None,
        };
        if let kassa_store::Page::Items { data, .. } = state
            .store
            .list_payments(&partner.id, &filter, &page)
            .await?
        {
            for other in data
                .iter()
                .filter(|o| o.id != p.id && o.created_at <= p.created_at)
            {
                let what = match &other.failure_message {
                    Some(m) => format!(
                        "Earlier attempt with {} {}: {m}",
                        other.payment_method.describe(),
                        other.status.as_str()
                    ),
                    None => format!(
                        "Earlier attempt with {} ({})",
                        other.payment_method.describe(),
                        other.status.as_str()
                    ),
                };
                let mut e = Event::new(other.created_at, what).link(
                    format!("/dashboard/transactions/{}", other.id),
                    other.id.to_string(),
                );
                if other.status == PaymentStatus::Failed {
                    e = e.bad();
                }
                events.push(e);
            }
        }
    }
    let method = p.payment_method.describe();
    let ach = p.payment_method.type_str() == "ach";
    let started = if ach {
        format!(
            "Bank debit of {} submitted from {method}",
            p.amount.display()
        )
    } else if let Some(auth) = &p.authorization_id {
        events.push(Event::new(
            p.created_at,
            format!("Captured from authorization {auth}"),
        ));
        format!("Capture of {} on {method}", p.amount.display())
    } else {
        format!("Payment of {} by {method}", p.amount.display())
    };
    let started = match who_started(state, partner, p).await? {
        Some(who) => format!("{started} — by {who}"),
        None => started,
    };
    events.push(Event::new(p.created_at, started));
    if let Some(a) = &p.ach_authorization {
        let from = match (&a.ip, &a.user_agent) {
            (Some(ip), Some(ua)) => format!(" from {ip} ({ua})"),
            (Some(ip), None) => format!(" from {ip}"),
            _ => String::new(),
        };
        events.push(Event::new(
            a.accepted_at,
            format!(
                "The payer authorized the debit{from}, wording version {}",
                a.text_version
            ),
        ));
    }
    match p.status {
        PaymentStatus::Failed => {
            let why = p
                .failure_message
                .clone()
                .unwrap_or_else(|| "declined".to_string());
            let code = p.failure_code.clone().unwrap_or_default();
            events.push(
                Event::new(
                    p.completed_at.unwrap_or(p.created_at),
                    format!("Failed: {why} ({code})"),
                )
                .bad(),
            );
        }
        PaymentStatus::Pending if ach => events.push(Event::new(
            state.clock.now(),
            "Waiting for the bank to clear the debit (usually a few business days)",
        )),
        PaymentStatus::Pending => events.push(Event::new(
            state.clock.now(),
            "Waiting for the processor's answer",
        )),
        _ => {
            if let Some(done) = p.completed_at {
                let text = if ach {
                    format!("Cleared: {} collected", p.captured_amount.display())
                } else {
                    format!("Completed: {} captured", p.captured_amount.display())
                };
                events.push(Event::new(done, text));
            }
        }
    }
    for r in refunds.iter().rev() {
        let mut text = format!("Refund of {} {}", r.amount.display(), r.status.as_str());
        if let Some(reason) = &r.reason {
            text.push_str(&format!(" — {reason}"));
        }
        if let Some(by) = &r.created_by {
            text.push_str(&format!(" — by {}", actor_label(by)));
        }
        let mut e = Event::new(r.created_at, text);
        if r.status == kassa_core::refund::RefundStatus::Failed {
            e = e.bad();
        }
        events.push(e);
    }
    let mut payouts: Vec<(PayoutId, &'static str)> = Vec::new();
    if let Some(po) = state
        .store
        .payout_containing(&partner.id, p.id.as_str())
        .await?
    {
        payouts.push((po, "Paid out in payout"));
    }
    for r in refunds {
        if let Some(po) = &r.payout_id {
            if !payouts.iter().any(|(id, _)| id == po) {
                payouts.push((po.clone(), "Refund deducted in payout"));
            }
        }
    }
    for (id, text) in payouts {
        if let Some(po) = state.store.payout(&partner.id, &id).await? {
            events.push(Event::new(po.created_at, format!("{text} {id}")).link(
                format!("/dashboard/payouts/{id}"),
                "View statement".to_string(),
            ));
        }
    }
    events.sort_by_key(|e| e.at);
    Ok(events)
}

/// Who made an API payment or a capture, from the audit log: the actor of its
/// `payment.created`, or of the `authorization.captured` that made it. None for payments on a
/// payment request (the payer) and for payments made before the audit log.
async fn who_started(
    state: &AppState,
    partner: &Partner,
    p: &Payment,
) -> Result<Option<String>, kassa_store::StoreError> {
    let mut about = vec![p.id.as_str()];
    if let Some(auth) = &p.authorization_id {
        about.push(auth.as_str());
    }
    let events = state.store.audit_events_about(&partner.id, &about).await?;
    let made = events.iter().find(|e| match e.action {
        Action::PaymentCreated => e.object_id.as_deref() == Some(p.id.as_str()),
        Action::AuthorizationCaptured => e.details.contains(p.id.as_str()),
        _ => false,
    });
    Ok(made.map(|e| actor_label(&e.actor)))
}

/// "ada@acme.example (user)", "Bookkeeping (API key)", "ops (command line)".
fn actor_label(actor: &Actor) -> String {
    let kind = match actor.kind {
        ActorKind::ApiKey => "API key",
        ActorKind::User => "user",
        ActorKind::Cli => "command line",
        ActorKind::System => "Kassa",
    };
    format!("{} ({kind})", actor.name)
}

async fn refunds_of(
    state: &AppState,
    partner: &Partner,
    p: &Payment,
) -> Result<Vec<Refund>, kassa_store::StoreError> {
    let page = PageRequest {
        limit: 100,
        starting_after: None,
    };
    let filter = kassa_store::RefundFilter {
        payment_id: Some(p.id.clone()),
    };
    Ok(
        match state
            .store
            .list_refunds(&partner.id, &filter, &page)
            .await?
        {
            kassa_store::Page::Items { data, .. } => data,
            kassa_store::Page::UnknownCursor => Vec::new(),
        },
    )
}

/// `GET /dashboard/transactions/{id}`: the payment, its timeline and its refunds.
pub async fn transaction(
    State(state): State<AppState>,
    signed: Can<act::View>,
    params: PageParams,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let id = params.id();
    let payment = match load_payment(&state, &signed, id).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let partner = signed.partner();
    let refunds = match refunds_of(&state, partner, &payment).await {
        Ok(r) => r,
        Err(e) => return internal_error_page(e),
    };
    let mut timeline = match timeline(&state, partner, &payment, &refunds).await {
        Ok(t) => t,
        Err(e) => return internal_error_page(e),
    };
    let emails = match super::emails::about(&state, partner, Some(&payment.id), None).await {
        Ok(e) => e,
        Err(e) => return internal_error_page(e),
    };
    for row in &emails.rows {
        let event = Event::new(row.at, super::emails::Emails::timeline_text(row));
        timeline.push(if row.status_class == "failed" {
            event.bad()
        } else {
            event
        });
    }
    timeline.sort_by_key(|e| e.at);
    let emailed = query
        .contains_key("emailed")
        .then(|| emails.queued_notice("receipt"))
        .flatten();
    // The confirmation after the wizard names a refund of this payment; anything else is ignored.
    let flash = query
        .get("refund")
        .and_then(|id| refunds.iter().find(|r| r.id.as_str() == id))
        .map(|r| match r.status {
            kassa_core::refund::RefundStatus::Succeeded => {
                format!("Refund of {} applied.", r.amount.display())
            }
            kassa_core::refund::RefundStatus::Pending => format!(
                "Refund of {} sent; waiting for the processor to confirm it.",
                r.amount.display()
            ),
            kassa_core::refund::RefundStatus::Failed => format!(
                "The refund of {} failed. {}",
                r.amount.display(),
                r.failure_message.as_deref().unwrap_or(
                    "The processor could not make it; nothing was refunded. You can try again."
                )
            ),
        });
    render(
        StatusCode::OK,
        &DetailsPage {
            brand: Brand::of(partner),
            nav: signed.nav(&state, "transactions", flash.or(emailed)),
            times: Times::of(partner),
            refundable: refundable(&payment).display(),
            can_refund: refundable_now(&payment),
            may_resend_receipt: emails.configured
                && matches!(
                    payment.status,
                    PaymentStatus::Completed
                        | PaymentStatus::PartiallyRefunded
                        | PaymentStatus::Refunded
                ),
            email_off: !emails.configured,
            timeline,
            refunds: refunds
                .iter()
                .map(|r| RefundRow {
                    id: r.id.to_string(),
                    amount: r.amount.display(),
                    status: r.status.as_str().to_string(),
                    reason: r.reason.clone().unwrap_or_default(),
                    created: r.created_at,
                    payout: r.payout_id.as_ref().map(|p| p.to_string()),
                })
                .collect(),
            payment,
        },
    )
}
