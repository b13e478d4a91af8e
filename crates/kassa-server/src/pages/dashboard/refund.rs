//! Transactions: the filtered list, its CSV export, a payment's details with its timeline, and
//! the refund wizard.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kassa_core::audit::{Action, Actor, ActorKind};
use kassa_core::clock::format_rfc3339;
use kassa_core::id::{random_base62, PaymentId, PayoutId, RefundId};
use kassa_core::money::Money;
use kassa_core::payment::{Payment, PaymentStatus};
use kassa_core::refund::{check_refund, refundable, Refund, RefundError, RefundInput};
use kassa_store::{NewRefund, PageRequest, Partner, PaymentFilter};

use super::{act, field, not_found, Can, Nav, Signed};
use crate::pages::{internal_error_page, render, Brand, PageParams};
use crate::state::AppState;

/// The transactions filters, read from the query string; the same for the page and its CSV.
struct TransactionsQuery {
    raw: HashMap<String, String>,
    filter: PaymentFilter,
    problems: Vec<String>,
}

fn transactions_query(params: HashMap<String, String>) -> TransactionsQuery {
    let get = |k: &str| params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut problems = Vec::new();
    let mut filter = PaymentFilter::default();
    if let Some(s) = get("status") {
        match kassa_core::payment::PaymentStatus::parse_str(s) {
            Some(st) => filter.status = Some(st),
            None => problems.push("Unknown status.".to_string()),
        }
    }
    if let Some(s) = get("source") {
        match kassa_core::payment::PaymentSource::parse_str(s) {
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
    (filter.created_from, filter.created_to) =
        super::day_range(get("from"), get("to"), &mut problems);
    filter.reference_contains = get("q").map(|q| q.chars().take(100).collect());
    TransactionsQuery {
        raw: params,
        filter,
        problems,
    }
}

impl TransactionsQuery {
    fn value(&self, k: &str) -> String {
        self.raw.get(k).cloned().unwrap_or_default()
    }

    /// The filters as a query string (without the page cursor).
    fn query_string(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for k in ["q", "status", "method", "source", "from", "to"] {
            if let Some(v) = self.raw.get(k).filter(|v| !v.trim().is_empty()) {
                q.append_pair(k, v.trim());
            }
        }
        q.finish()
    }
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

pub(super) struct TxRow {
    pub id: String,
    pub status: String,
    /// The status for people ("partially refunded").
    pub label: String,
    pub amount: String,
    pub reference: String,
    pub method: String,
    pub created: String,
    pub completed: String,
}

pub(super) fn tx_row(p: &kassa_core::payment::Payment) -> TxRow {
    TxRow {
        id: p.id.to_string(),
        status: p.status.as_str().to_string(),
        label: p.status.as_str().replace('_', " "),
        amount: p.amount.display(),
        reference: p.reference_id.clone().unwrap_or_default(),
        method: p.payment_method.describe(),
        created: super::when(p.created_at),
        completed: p.completed_at.map(super::when).unwrap_or_default(),
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
    statuses: Vec<Choice>,
    methods: Vec<Choice>,
    sources: Vec<Choice>,
    query: String,
    payments: Vec<TxRow>,
    next: Option<String>,
}

/// `GET /dashboard/transactions`: every payment of the partner, filtered, 50 a page.
pub async fn transactions(
    State(state): State<AppState>,
    signed: Can<act::View>,
    axum::extract::Query(params): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let partner = &signed.session.partner;
    let tq = transactions_query(params);
    let after = tq
        .raw
        .get("after")
        .filter(|a| a.len() <= 64 && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .cloned();
    let (payments, next) = if tq.problems.is_empty() {
        let page = PageRequest {
            limit: 50,
            starting_after: after,
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
                (data.iter().map(tx_row).collect(), next)
            }
            Ok(kassa_store::Page::UnknownCursor) => (Vec::new(), None),
            Err(e) => return internal_error_page(e),
        }
    } else {
        (Vec::new(), None)
    };
    let status = if tq.problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    render(
        status,
        &TransactionsPage {
            brand: Brand::of(partner),
            nav: signed.nav(&state, "transactions", None),
            notice: (!tq.problems.is_empty()).then(|| tq.problems.join(" ")),
            q: tq.value("q"),
            from: tq.value("from"),
            to: tq.value("to"),
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
            payments,
            next,
        },
    )
}

/// `GET /dashboard/transactions.csv`: exactly what the same filters show, every page.
pub async fn transactions_csv(
    State(state): State<AppState>,
    signed: Can<act::View>,
    axum::extract::Query(params): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let partner = &signed.session.partner;
    let tq = transactions_query(params);
    if !tq.problems.is_empty() {
        return (StatusCode::BAD_REQUEST, tq.problems.join(" ")).into_response();
    }
    let store = &state.store;
    let filter = &tq.filter;
    super::csv::export(
        "transactions.csv",
        "id,status,amount,currency,reference_id,method,source,created_at,completed_at",
        |page| async move { store.list_payments(&partner.id, filter, &page).await },
        |p| {
            vec![
                p.id.to_string(),
                p.status.as_str().to_string(),
                kassa_core::money::format_minor(p.amount.minor()),
                p.currency.as_str().to_string(),
                p.reference_id.clone().unwrap_or_default(),
                p.payment_method.type_str().to_string(),
                p.source.as_str().to_string(),
                format_rfc3339(p.created_at),
                p.completed_at.map(format_rfc3339).unwrap_or_default(),
            ]
        },
        |p| p.id.to_string(),
    )
    .await
}

/// One moment in a payment's life, as the details page lists it.
struct Event {
    at: time::OffsetDateTime,
    text: String,
    link: Option<(String, String)>,
    bad: bool,
}

impl Event {
    fn new(at: time::OffsetDateTime, text: impl Into<String>) -> Event {
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

    fn datetime(&self) -> String {
        format_rfc3339(self.at)
    }

    fn when(&self) -> String {
        super::when(self.at)
    }
}

struct RefundRow {
    id: String,
    amount: String,
    status: String,
    reason: String,
    created: String,
    payout: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/transaction.html")]
struct DetailsPage {
    brand: Brand,
    nav: Nav,
    payment: Payment,
    refundable: String,
    can_refund: bool,
    timeline: Vec<Event>,
    refunds: Vec<RefundRow>,
}

impl DetailsPage {
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
fn refundable_now(p: &Payment) -> bool {
    check_refund(p, None).is_ok()
}

/// Loads one of the partner's payments from a path id; a dashboard 404 page otherwise.
async fn load_payment(state: &AppState, signed: &Signed, id: &str) -> Result<Payment, Response> {
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
    let timeline = match timeline(&state, partner, &payment, &refunds).await {
        Ok(t) => t,
        Err(e) => return internal_error_page(e),
    };
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
            nav: signed.nav(&state, "transactions", flash),
            refundable: refundable(&payment).display(),
            can_refund: refundable_now(&payment),
            timeline,
            refunds: refunds
                .iter()
                .map(|r| RefundRow {
                    id: r.id.to_string(),
                    amount: r.amount.display(),
                    status: r.status.as_str().to_string(),
                    reason: r.reason.clone().unwrap_or_default(),
                    created: super::when(r.created_at),
                    payout: r.payout_id.as_ref().map(|p| p.to_string()),
                })
                .collect(),
            payment,
        },
    )
}

#[derive(Template)]
#[template(path = "dashboard/refund.html")]
struct RefundPage {
    brand: Brand,
    nav: Nav,
    id: String,
    payment_amount: String,
    reference: String,
    refundable: String,
    /// Why the payment cannot be refunded now, instead of the form.
    blocked: Option<String>,
    /// A refusal of the whole request (the API's message).
    notice: Option<String>,
    amount: String,
    reason: String,
    amount_error: Option<String>,
    reason_error: Option<String>,
    /// The review step: the exact amount, and the key that makes "Apply Refund" happen once.
    review: Option<Review>,
}

struct Review {
    amount: String,
    after: String,
    key: String,
}

impl RefundPage {
    fn new(state: &AppState, signed: &Signed, p: &Payment) -> RefundPage {
        let blocked = match p.status {
            _ if refundable_now(p) => None,
            PaymentStatus::Pending => Some(
                "This payment has not cleared yet. A bank payment can be refunded once it has cleared."
                    .to_string(),
            ),
            PaymentStatus::Failed => {
                Some("This payment failed; nothing was collected to refund.".to_string())
            }
            _ => Some("This payment has been refunded in full.".to_string()),
        };
        RefundPage {
            brand: Brand::of(signed.partner()),
            nav: signed.nav(state, "transactions", None),
            id: p.id.to_string(),
            payment_amount: p.amount.display(),
            reference: p.reference_id.clone().unwrap_or_default(),
            refundable: refundable(p).display(),
            blocked,
            notice: None,
            amount: kassa_core::money::format_minor(refundable(p).minor()),
            reason: String::new(),
            amount_error: None,
            reason_error: None,
            review: None,
        }
    }
}

/// `GET /dashboard/transactions/{id}/refund`: the wizard's first step, the refund's details.
pub async fn refund_form(
    State(state): State<AppState>,
    signed: Can<act::Refund>,
    params: PageParams,
) -> Response {
    let id = params.id();
    let payment = match load_payment(&state, &signed, id).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let page = RefundPage::new(&state, &signed, &payment);
    let status = if page.blocked.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(status, &page)
}

/// `POST /dashboard/transactions/{id}/refund`: `step=review` checks the details and shows them
/// for review; `step=edit` goes back to them; `step=apply` makes the refund (once per review,
/// however often the button is pressed), with the API's rules and messages.
pub async fn refund_submit(
    State(state): State<AppState>,
    signed: Can<act::Refund>,
    params: PageParams,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    let id = params.id();
    let payment = match load_payment(&state, &signed, id).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let mut page = RefundPage::new(&state, &signed, &payment);
    page.amount = field(&form, "amount");
    page.reason = form.get("reason").cloned().unwrap_or_default();
    let step = field(&form, "step");
    if step == "edit" {
        return render(StatusCode::OK, &page);
    }
    // Applying asks the store straight away: it answers a repeat of the same review with the
    // refund already made (whatever is left now), and refuses what is no longer possible.
    let applying = step == "apply";
    if let (false, Some(why)) = (applying, &page.blocked) {
        page.notice = Some(why.clone());
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let mut errors = kassa_core::error::FieldErrors::new();
    let validated = RefundInput::from_form(&page.amount, &page.reason).validate(
        payment.currency,
        state.config.max_amount_minor,
        &mut errors,
    );
    let Some((amount, reason)) = validated else {
        for e in errors.into_vec() {
            match e.field.as_str() {
                "amount" => page.amount_error = Some(format!("Amount {}.", e.message)),
                _ => page.reason_error = Some(format!("Reason {}.", e.message)),
            }
        }
        return render(StatusCode::BAD_REQUEST, &page);
    };
    // What is reviewed is what is applied: a blank amount becomes all that is left now.
    let amount = match amount {
        Some(amount) => amount,
        None if !applying => refundable(&payment),
        None => {
            page.notice = Some("Please review the refund again before applying it.".into());
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    if !applying {
        // Not blocked, so the payment is settled: only too much can be refused here.
        if let Err(RefundError::ExceedsAvailable { available }) =
            check_refund(&payment, Some(amount))
        {
            page.amount_error = Some(format!(
                "At most {} of this payment is left to refund.",
                available.display()
            ));
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    }
    page.amount = kassa_core::money::format_minor(amount.minor());
    page.reason = reason.clone().unwrap_or_default();
    match step.as_str() {
        "review" => {
            page.review = Some(Review {
                amount: amount.display(),
                after: Money::new(
                    refundable(&payment).minor() - amount.minor(),
                    amount.currency(),
                )
                .display(),
                key: random_base62(24),
            });
            render(StatusCode::OK, &page)
        }
        "apply" => {
            let key = field(&form, "key");
            if key.len() != 24 || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
                page.notice = Some("Please review the refund again before applying it.".into());
                return render(StatusCode::BAD_REQUEST, &page);
            }
            let new = NewRefund {
                id: RefundId::generate(),
                amount: Some(amount),
                reason,
                // Bound to this payment: a key replayed on another one refunds nothing here.
                idempotency_key: Some(format!("dashboard_{}_{key}", payment.id)),
            };
            let begun = match crate::money::refund(
                &state,
                signed.partner(),
                &signed.caller,
                payment.id.clone(),
                new,
            )
            .await
            {
                Ok(b) => b,
                Err(e) => return internal_error_page(e),
            };
            match crate::money::refund_outcome(begun) {
                Ok(refund) => Redirect::to(&format!(
                    "/dashboard/transactions/{}?refund={}",
                    payment.id, refund.id
                ))
                .into_response(),
                Err(e) if e.is_internal() => internal_error_page(e.into_cause()),
                Err(e) => {
                    page.notice = Some(sentence(e.message()));
                    render(e.status(), &page)
                }
            }
        }
        _ => render(StatusCode::BAD_REQUEST, &page),
    }
}

/// An API message as a sentence on a page.
pub(super) fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}
