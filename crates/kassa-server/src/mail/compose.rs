//! What each email says: the subject and one body, written once as data ([`Body`]) and
//! rendered by two templates (`templates/email/message.txt` and `.html`), branded with the
//! partner's name and colour. An email names a payment's method only as the masked method does
//! (brand or account type, and last 4): a card number never reaches this file.

use askama::Template;
use kassa_core::contrast::Palette;
use kassa_core::email::Email;
use kassa_core::mail::EmailKind;
use kassa_core::payment::Payment;
use kassa_core::processor::Connector;
use kassa_core::timezone::format_datetime;
use kassa_store::{EmailRecord, Partner};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;

use super::Mailer;
use crate::state::AppState;

/// An email ready to render: whom it is for, its subject and its body.
pub struct Composed {
    pub subject: String,
    /// Where a payer's answer goes: the partner's support email.
    pub reply_to: Option<Email>,
    pub body: Body,
}

/// One email's content, for both templates.
pub struct Body {
    pub partner: String,
    /// The partner's colour and the text colour readable on it.
    pub brand: String,
    pub on_brand: String,
    pub heading: String,
    pub paragraphs: Vec<String>,
    /// Label and value, in order.
    pub details: Vec<(String, String)>,
    /// A button: its words and where it leads.
    pub action: Option<(String, String)>,
    /// How to reach the partner: label and value (payer emails only).
    pub contact: Vec<(String, String)>,
    /// Said when the payment went through the sandbox: nothing was charged.
    pub test_mode: bool,
}

#[derive(Template)]
#[template(path = "email/message.txt")]
struct TextBody<'a> {
    b: &'a Body,
}

#[derive(Template)]
#[template(path = "email/message.html")]
struct HtmlBody<'a> {
    b: &'a Body,
}

/// Why an email cannot be written: what it is about is gone, or its address is unusable. Never
/// worth another try.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unwritable(pub String);

/// Reads what the email is about and writes it.
pub async fn compose(state: &AppState, email: &EmailRecord) -> anyhow::Result<Composed> {
    let partner = state
        .store
        .partner_by_id(&email.partner_id)
        .await?
        .ok_or_else(|| Unwritable("its partner is gone".into()))?;
    let palette = Palette::of(&partner.brand_color);
    let mut body = Body {
        partner: partner.name.clone(),
        brand: palette.brand.to_string(),
        on_brand: palette.on_brand.to_string(),
        heading: String::new(),
        paragraphs: Vec::new(),
        details: Vec::new(),
        action: None,
        contact: if email.kind.to_partner() {
            Vec::new()
        } else {
            contact_lines(&partner)
        },
        test_mode: false,
    };
    let subject = match email.kind {
        EmailKind::Receipt
        | EmailKind::PaymentPending
        | EmailKind::PaymentCompleted
        | EmailKind::DebitReturned => {
            let id = email
                .payment_id
                .as_ref()
                .ok_or_else(|| Unwritable("it names no payment".into()))?;
            let payment = state
                .store
                .payment(&partner.id, id)
                .await?
                .ok_or_else(|| Unwritable(format!("payment {id} is gone")))?;
            body.test_mode = payment.processor.connector == Connector::Sandbox;
            about_payment(state, &partner, &payment, email.kind, &mut body)
        }
        EmailKind::PaymentLink => {
            let id = email
                .payment_request_id
                .as_ref()
                .ok_or_else(|| Unwritable("it names no payment request".into()))?;
            let request = state
                .store
                .payment_request(&partner.id, id)
                .await?
                .ok_or_else(|| Unwritable(format!("payment request {id} is gone")))?;
            let amount = request.amount.display();
            body.heading = format!("{} requests {amount}", partner.name);
            body.paragraphs.push(format!(
                "{} has sent you a request for payment. You can pay by card or bank account; no account or sign-in is needed.",
                partner.name
            ));
            body.details = vec![
                ("Amount".into(), amount.clone()),
                ("Reference".into(), request.reference_id.to_string()),
            ];
            if let Some(d) = &request.description {
                body.details.push(("Description".into(), d.clone()));
            }
            if let Some(expires) = request.expires_at {
                body.details
                    .push(("Pay by".into(), format_datetime(&partner.timezone, expires)));
            }
            body.action = Some((
                format!("Pay {amount}"),
                crate::links::pay_url(&state.config.public_base(), &partner, &request.id),
            ));
            format!(
                "{} requests {amount} ({})",
                partner.name, request.reference_id
            )
        }
        EmailKind::EndpointDisabled => {
            let id = email
                .webhook_endpoint_id
                .as_ref()
                .ok_or_else(|| Unwritable("it names no webhook endpoint".into()))?;
            let endpoint = state
                .store
                .webhook_endpoint(&partner.id, id)
                .await?
                .ok_or_else(|| Unwritable(format!("webhook endpoint {id} is gone")))?;
            body.heading = "A webhook endpoint was disabled".into();
            body.paragraphs.push(
                "Kassa stopped sending events to this endpoint because its deliveries kept failing. Fix the endpoint, then enable it again in the dashboard; events from now on will be delivered."
                    .into(),
            );
            body.details = vec![("Endpoint".into(), endpoint.url.to_string())];
            if let Some(reason) = &endpoint.disabled_reason {
                body.details.push(("Why".into(), reason.clone()));
            }
            if let Some(at) = endpoint.disabled_at {
                body.details
                    .push(("Disabled".into(), format_datetime(&partner.timezone, at)));
            }
            body.action = Some((
                "Open the endpoint".into(),
                format!("{}/dashboard/webhooks/{id}", state.config.public_base()),
            ));
            format!("Webhook endpoint disabled: {}", endpoint.url)
        }
    };
    Ok(Composed {
        subject,
        reply_to: if email.kind.to_partner() {
            None
        } else {
            partner.contact.support_email.clone()
        },
        body,
    })
}

/// The receipt, the pending notice and the partner's notices about one payment.
fn about_payment(
    state: &AppState,
    partner: &Partner,
    payment: &Payment,
    kind: EmailKind,
    body: &mut Body,
) -> String {
    let amount = payment.amount.display();
    let reference = payment.reference_id.clone().unwrap_or_default();
    let when = format_datetime(
        &partner.timezone,
        payment.completed_at.unwrap_or(payment.created_at),
    );
    let method = payment.payment_method.describe();
    body.details = vec![
        ("Amount".into(), amount.clone()),
        ("Paid to".into(), partner.name.clone()),
    ];
    if !reference.is_empty() {
        body.details.push(("Reference".into(), reference.clone()));
    }
    body.details.push(("Date".into(), when));
    body.details.push(("Method".into(), method));
    body.details
        .push(("Receipt number".into(), payment.receipt_number()));
    let dashboard = format!(
        "{}/dashboard/transactions/{}",
        state.config.public_base(),
        payment.id
    );
    let about = if reference.is_empty() {
        String::new()
    } else {
        format!(" ({reference})")
    };
    match kind {
        EmailKind::Receipt => {
            body.heading = "Payment received".into();
            body.paragraphs.push(format!(
                "Thank you. {} has received your payment of {amount}. Keep this email as your receipt.",
                partner.name
            ));
            format!("Receipt from {}: {amount}{about}", partner.name)
        }
        EmailKind::PaymentPending => {
            body.heading = "Your bank payment is on its way".into();
            body.paragraphs.push(format!(
                "Your payment of {amount} to {} has been submitted to your bank. Bank payments take a few business days to clear; we will email your receipt when it does.",
                partner.name
            ));
            format!("Payment pending: {amount} to {}{about}", partner.name)
        }
        EmailKind::PaymentCompleted => {
            body.heading = format!("Payment received: {amount}");
            body.paragraphs
                .push(format!("A payment of {amount}{about} has completed."));
            payer_lines(payment, body);
            body.action = Some(("View the payment".into(), dashboard));
            format!("Payment received: {amount}{about}")
        }
        _ => {
            body.heading = format!("Bank debit returned: {amount}");
            body.paragraphs.push(format!(
                "The payer's bank returned this debit of {amount}{about}: the money did not arrive. The payment request, if any, is open again for another payment."
            ));
            if let Some(code) = &payment.failure_code {
                let why = payment
                    .failure_message
                    .as_deref()
                    .map(|m| format!("{code}: {m}"))
                    .unwrap_or_else(|| code.clone());
                body.details.push(("Return reason".into(), why));
            }
            payer_lines(payment, body);
            body.action = Some(("View the payment".into(), dashboard));
            format!("Bank debit returned: {amount}{about}")
        }
    }
}

fn payer_lines(payment: &Payment, body: &mut Body) {
    if let Some(name) = &payment.payer.name {
        body.details.push(("Payer".into(), name.clone()));
    }
    if let Some(email) = &payment.payer.email {
        body.details.push(("Payer email".into(), email.to_string()));
    }
}

/// The partner's contact and policy links, for payers.
fn contact_lines(partner: &Partner) -> Vec<(String, String)> {
    let c = &partner.contact;
    [
        ("Email", c.support_email.as_ref().map(ToString::to_string)),
        ("Phone", c.support_phone.as_ref().map(ToString::to_string)),
        ("Help", c.support_url.as_ref().map(ToString::to_string)),
        ("Terms", c.terms_url.as_ref().map(ToString::to_string)),
        ("Privacy", c.privacy_url.as_ref().map(ToString::to_string)),
    ]
    .into_iter()
    .filter_map(|(label, value)| value.map(|v| (label.to_owned(), v)))
    .collect()
}

/// The message as sent: plain text and HTML alternatives, from Kassa's address in the
/// partner's name.
pub fn message(
    mailer: &Mailer,
    email: &EmailRecord,
    composed: &Composed,
) -> anyhow::Result<Message> {
    let to: Mailbox = email
        .to
        .as_str()
        .parse()
        .map_err(|_| Unwritable(format!("{} is not an address mail can go to", email.to)))?;
    let from = Mailbox::new(
        Some(format!("{} via Kassa", composed.body.partner)),
        mailer.from().email.clone(),
    );
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(&composed.subject)
        .message_id(Some(mailer.message_id(email.id.as_str())));
    if let Some(reply) = &composed.reply_to {
        if let Ok(reply) = reply.as_str().parse::<Mailbox>() {
            builder = builder.reply_to(reply);
        }
    }
    let text = TextBody { b: &composed.body }.render()?;
    let html = HtmlBody { b: &composed.body }.render()?;
    Ok(builder.multipart(
        MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .header(ContentTransferEncoding::QuotedPrintable)
                    .body(text),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .header(ContentTransferEncoding::QuotedPrintable)
                    .body(html),
            ),
    )?)
}
