//! Payment requests: the list with search, a form to make one and copy its link, one request's
//! page (with cancel), and the creation-link builder.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kassa_core::id::PaymentRequestId;
use kassa_core::payment_request::{PaymentRequest, PaymentRequestStatus};
use kassa_store::{CreateOutcome, PageRequest, PaymentRequestFilter};

use super::times::Times;
use super::{act, field, not_found, Can, Nav, Signed};
use crate::new_request::{build_creation_link, cancel_request, reference_conflict, CreateBody};
use crate::pages::{internal_error_page, render, Brand, PageParams};
use crate::state::AppState;

struct PrRow {
    id: String,
    reference: String,
    amount: String,
    status: String,
    created: String,
    completed: String,
}

fn pr_row(pr: &PaymentRequest, times: &Times) -> PrRow {
    PrRow {
        id: pr.id.to_string(),
        reference: pr.reference_id.as_str().to_string(),
        amount: pr.amount.display(),
        status: pr.status.as_str().to_string(),
        created: times.when(pr.created_at),
        completed: pr.completed_at.map(|t| times.when(t)).unwrap_or_default(),
    }
}

struct Choice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "dashboard/payment_requests.html")]
struct ListPage {
    brand: Brand,
    nav: Nav,
    notice: Option<String>,
    q: String,
    statuses: Vec<Choice>,
    rows: Vec<PrRow>,
    next: Option<String>,
}

/// `GET /dashboard/payment-requests`: newest first, 50 a page, by status and reference.
pub async fn payment_requests(
    State(state): State<AppState>,
    signed: Can<act::View>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| params.get(k).map(|v| v.trim()).unwrap_or("");
    let (q, status) = (get("q"), get("status"));
    let mut notice = None;
    let status_filter = match status {
        "" => None,
        s => {
            let parsed = PaymentRequestStatus::parse_str(s);
            if parsed.is_none() {
                notice = Some("Unknown status.".to_string());
            }
            parsed
        }
    };
    let after = Some(get("after"))
        .filter(|a| a.starts_with("pr_") && PaymentRequestId::parse(a).is_ok())
        .map(str::to_string);
    let (rows, next) = if notice.is_none() {
        let filter = PaymentRequestFilter {
            status: status_filter,
            reference_contains: Some(q.chars().take(100).collect::<String>())
                .filter(|q| !q.is_empty()),
            as_of: Some(state.clock.now()),
            ..Default::default()
        };
        let page = PageRequest {
            limit: 50,
            starting_after: after,
        };
        match state
            .store
            .list_payment_requests(&signed.partner().id, &filter, &page)
            .await
        {
            Ok(kassa_store::Page::Items { data, has_more }) => {
                let now = state.clock.now();
                let times = signed.times();
                let next = has_more.then(|| {
                    let mut query = form_urlencoded::Serializer::new(String::new());
                    query.append_pair("q", q).append_pair("status", status);
                    if let Some(last) = data.last() {
                        query.append_pair("after", last.id.as_str());
                    }
                    query.finish()
                });
                let rows = data
                    .into_iter()
                    .map(|pr| pr_row(&pr.seen_at(now), &times))
                    .collect();
                (rows, next)
            }
            Ok(kassa_store::Page::UnknownCursor) => (Vec::new(), None),
            Err(e) => return internal_error_page(e),
        }
    } else {
        (Vec::new(), None)
    };
    let statuses = [
        ("", "Any"),
        ("open", "Open"),
        ("processing", "Processing"),
        ("completed", "Completed"),
        ("canceled", "Canceled"),
        ("expired", "Expired"),
    ]
    .into_iter()
    .map(|(value, label)| Choice {
        value,
        label,
        selected: value == status,
    })
    .collect();
    let code = if notice.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        code,
        &ListPage {
            brand: Brand::of(signed.partner()),
            nav: signed.nav(&state, "payment_requests", None),
            notice,
            q: q.to_string(),
            statuses,
            rows,
            next,
        },
    )
}

/// The new-request form's values and what is wrong with them, per field.
#[derive(Default)]
struct NewForm {
    amount: String,
    reference_id: String,
    description: String,
    payer_email: String,
    redirect_url: String,
    errors: HashMap<String, String>,
}

impl NewForm {
    fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
}

#[derive(Template)]
#[template(path = "dashboard/payment_request_new.html")]
struct NewPage {
    brand: Brand,
    nav: Nav,
    notice: Option<String>,
    form: NewForm,
}

/// `GET /dashboard/payment-requests/new`.
pub async fn new_payment_request(
    State(state): State<AppState>,
    signed: Can<act::CreatePaymentRequest>,
) -> Response {
    render(
        StatusCode::OK,
        &NewPage {
            brand: Brand::of(signed.partner()),
            nav: signed.nav(&state, "payment_requests", None),
            notice: None,
            form: NewForm::default(),
        },
    )
}

/// `POST /dashboard/payment-requests`: the API's rules; the same reference and amount again
/// opens the existing request instead of making a second one.
pub async fn create_payment_request(
    State(state): State<AppState>,
    signed: Can<act::CreatePaymentRequest>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    let mut values = NewForm {
        amount: field(&form, "amount"),
        reference_id: form.get("referenceId").cloned().unwrap_or_default(),
        description: field(&form, "description"),
        payer_email: field(&form, "payerEmail"),
        redirect_url: field(&form, "redirectUrl"),
        errors: HashMap::new(),
    };
    let again = |values: NewForm, status: StatusCode, notice: Option<String>| {
        render(
            status,
            &NewPage {
                brand: Brand::of(signed.partner()),
                nav: signed.nav(&state, "payment_requests", None),
                notice,
                form: values,
            },
        )
    };
    let body = CreateBody::from_form(
        &values.amount,
        &values.reference_id,
        &values.description,
        &values.payer_email,
        &values.redirect_url,
    );
    let fields = match body.validate(state.config.max_amount_minor, state.clock.now()) {
        Ok(f) => f,
        Err(e) => {
            for fe in e.field_errors() {
                values
                    .errors
                    .entry(fe.field.clone())
                    .or_insert_with(|| fe.message.clone());
            }
            return again(values, StatusCode::BAD_REQUEST, None);
        }
    };
    match crate::new_request::create_or_get(&state, signed.partner(), &signed.caller, fields).await
    {
        Ok(CreateOutcome::Created(pr)) => {
            Redirect::to(&format!("/dashboard/payment-requests/{}?created=1", pr.id))
                .into_response()
        }
        Ok(CreateOutcome::Existing(pr)) => {
            Redirect::to(&format!("/dashboard/payment-requests/{}?existing=1", pr.id))
                .into_response()
        }
        Ok(CreateOutcome::Conflict(pr)) => {
            let e = reference_conflict(&pr);
            values.errors.insert(
                "referenceId".into(),
                format!(
                    "This reference ID is already used by a request for {}.",
                    pr.amount.display()
                ),
            );
            again(values, e.status(), None)
        }
        Err(e) => internal_error_page(e),
    }
}

#[derive(Template)]
#[template(path = "dashboard/payment_request.html")]
struct DetailPage {
    brand: Brand,
    nav: Nav,
    times: Times,
    pr: PaymentRequest,
    payments: Vec<super::transactions::TxRow>,
    emails: super::emails::Emails,
    /// "Email link": its form's action and words, when it may be sent.
    email_action: Option<(String, String)>,
    /// Said after "Email link".
    emailed: Option<String>,
}

impl DetailPage {
    fn status(&self) -> &'static str {
        self.pr.status.as_str()
    }
    fn created(&self) -> String {
        self.times.when(self.pr.created_at)
    }
    fn when(&self, at: Option<&time::OffsetDateTime>) -> String {
        at.map(|t| self.times.when(*t)).unwrap_or_default()
    }
    fn can_cancel(&self) -> bool {
        self.pr.status == PaymentRequestStatus::Open
    }
}

pub(super) async fn load_request(
    state: &AppState,
    signed: &Signed,
    params: &PageParams,
) -> Result<PaymentRequest, Response> {
    let id = params.id();
    let Ok(id) = PaymentRequestId::parse(id) else {
        return Err(not_found(signed.partner(), "payment request"));
    };
    match state.store.payment_request(&signed.partner().id, &id).await {
        Ok(Some(pr)) => Ok(pr.seen_at(state.clock.now())),
        Ok(None) => Err(not_found(signed.partner(), "payment request")),
        Err(e) => Err(internal_error_page(e)),
    }
}

/// `GET /dashboard/payment-requests/{id}`: the link to copy, the state, and every attempt.
pub async fn payment_request(
    State(state): State<AppState>,
    signed: Can<act::View>,
    params: PageParams,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let pr = match load_request(&state, &signed, &params).await {
        Ok(pr) => pr,
        Err(resp) => return resp,
    };
    let times = signed.times();
    let filter = kassa_store::PaymentFilter {
        reference_id: Some(pr.reference_id.as_str().to_string()),
        source: Some(kassa_core::payment::PaymentSource::PaymentRequest),
        ..Default::default()
    };
    let page = PageRequest {
        limit: 100,
        starting_after: None,
    };
    let payments = match state
        .store
        .list_payments(&signed.partner().id, &filter, &page)
        .await
    {
        Ok(kassa_store::Page::Items { data, .. }) => data
            .iter()
            .filter(|p| p.payment_request_id.as_ref() == Some(&pr.id))
            .map(|p| super::transactions::tx_row(p, &times))
            .collect(),
        Ok(kassa_store::Page::UnknownCursor) => Vec::new(),
        Err(e) => return internal_error_page(e),
    };
    let emails = match super::emails::about(&state, signed.partner(), None, Some(&pr.id)).await {
        Ok(e) => e,
        Err(e) => return internal_error_page(e),
    };
    let emailed = query
        .contains_key("emailed")
        .then(|| emails.queued_notice("link"))
        .flatten();
    let email_action =
        (pr.status == PaymentRequestStatus::Open && pr.payer_email.is_some()).then(|| {
            (
                format!("/dashboard/payment-requests/{}/send", pr.id),
                "Email link".to_string(),
            )
        });
    let flash = if query.contains_key("created") {
        Some("Payment request created. Send the link below to your client.".to_string())
    } else if query.contains_key("existing") {
        Some(
            "A payment request with this reference ID and amount already exists; here it is."
                .to_string(),
        )
    } else if query.contains_key("canceled") && pr.status == PaymentRequestStatus::Canceled {
        Some("Payment request canceled. Its link no longer takes payments.".to_string())
    } else {
        None
    };
    render(
        StatusCode::OK,
        &DetailPage {
            brand: Brand::of(signed.partner()),
            nav: signed.nav(&state, "payment_requests", flash),
            times,
            pr,
            payments,
            emails,
            email_action,
            emailed,
        },
    )
}

/// `POST /dashboard/payment-requests/{id}/cancel` from its confirmation page (`confirm=yes`):
/// only while open (the API's rule).
pub async fn cancel_payment_request(
    State(state): State<AppState>,
    signed: Can<act::CancelPaymentRequest>,
    params: PageParams,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    let pr = match load_request(&state, &signed, &params).await {
        Ok(pr) => pr,
        Err(resp) => return resp,
    };
    let confirm_at = format!("/dashboard/payment-requests/{}/cancel", pr.id);
    if let Some(resp) = super::confirm::unconfirmed(&form, &confirm_at) {
        return resp;
    }
    match cancel_request(&state, signed.partner(), &signed.caller, &pr.id).await {
        Ok(pr) => Redirect::to(&format!("/dashboard/payment-requests/{}?canceled=1", pr.id))
            .into_response(),
        Err(e) if e.is_internal() => internal_error_page(e.into_cause()),
        Err(e) => crate::pages::message(
            e.status(),
            Brand::of(signed.partner()),
            "Not canceled",
            "This payment request was not canceled",
            &super::sentence(e.message()),
        ),
    }
}

/// `GET /dashboard/payment-requests/{id}/qr.svg`: the payment link as a QR code, for the
/// request's page (the session's partner; `GET /v1/payment-requests/{id}/qr` is the API's).
pub async fn qr_code(
    State(state): State<AppState>,
    signed: Can<act::View>,
    params: PageParams,
) -> Response {
    let pr = match load_request(&state, &signed, &params).await {
        Ok(pr) => pr,
        Err(resp) => return resp,
    };
    crate::link_qr::svg_response(&pr.url)
}

#[derive(Template)]
#[template(path = "dashboard/creation_link.html")]
struct LinkPage {
    brand: Brand,
    nav: Nav,
    signed_links: bool,
    form: NewForm,
    link: Option<String>,
}

/// `GET /dashboard/payment-requests/link`: builds a creation link (signed when the partner
/// requires it) from an amount, a reference and an optional redirect URL, checked by the same
/// rules the link itself is.
pub async fn creation_link_builder(
    State(state): State<AppState>,
    signed: Can<act::CreatePaymentRequest>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let partner = signed.partner();
    let mut form = NewForm {
        amount: field(&params, "amount"),
        reference_id: params.get("referenceId").cloned().unwrap_or_default(),
        redirect_url: field(&params, "redirectUrl"),
        ..Default::default()
    };
    let mut link = None;
    let mut status = StatusCode::OK;
    if params.contains_key("amount") || params.contains_key("referenceId") {
        match build_creation_link(
            &state,
            partner,
            Some(form.amount.as_str()),
            &form.reference_id,
            Some(form.redirect_url.as_str()),
        ) {
            Ok(url) => link = Some(url),
            Err(e) if e.is_internal() => return internal_error_page(e.into_cause()),
            Err(e) => {
                status = e.status();
                for fe in e.field_errors() {
                    form.errors
                        .insert(fe.field.clone(), super::sentence(&fe.message));
                }
            }
        }
    }
    render(
        status,
        &LinkPage {
            brand: Brand::of(partner),
            nav: signed.nav(&state, "payment_requests", None),
            signed_links: partner.require_signed_links,
            form,
            link,
        },
    )
}
