//! `POST /v1/invoices/preview` (docs/api.md §3): the invoice math without charging anything.

use axum::extract::State;
use axum::Json;
use kassa_core::error::FieldErrors;
use kassa_core::id::{CustomerId, InvoiceId};
use kassa_core::invoice::{Invoice, InvoiceDraft, InvoiceInput};
use kassa_core::money::Currency;
use serde::Deserialize;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use super::{ApiAuth, ApiJson};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = InvoicePreviewBody)]
pub struct PreviewBody {
    #[schema(required = true, nullable = false)]
    invoice: Option<InvoiceInput>,
    /// Prices as for this customer (an `entityUseCode` on the customer exempts from tax).
    customer_id: Option<String>,
}

/// The answer of a preview in the OpenAPI document: an [`Invoice`] without its `id`. A schema
/// only; nothing is ever of this type.
pub enum InvoicePreview {}

impl PartialSchema for InvoicePreview {
    fn schema() -> RefOr<Schema> {
        let mut schema = Invoice::schema();
        if let RefOr::T(Schema::Object(invoice)) = &mut schema {
            invoice.properties.remove("id");
            invoice.required.retain(|name| name != "id");
            invoice.description = Some("An invoice priced without charging; it has no id.".into());
        }
        schema
    }
}

impl ToSchema for InvoicePreview {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        Invoice::schemas(schemas);
    }
}

#[utoipa::path(
    post,
    path = "/v1/invoices/preview",
    tag = "Invoices",
    operation_id = "previewInvoice",
    summary = "Preview an invoice",
    description = "Prices an invoice with your tax rates (none for a customer or invoice with an \
        `entityUseCode`) exactly as a sale would, without charging or storing anything.",
    request_body = PreviewBody,
    responses(
        (status = 200, description = "The priced invoice; it has no id", body = InvoicePreview),
        (status = 400, description = "Invalid fields (all listed in `errors`), malformed JSON, or \
            an unknown `customerId`", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`idempotency_key_reused` with another body", body = ErrorBody),
    ),
    security(("apiKey" = ["payments"])),
)]
pub async fn preview(
    State(state): State<AppState>,
    auth: ApiAuth,
    ApiJson(body): ApiJson<PreviewBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mut errors = FieldErrors::new();
    let mut exempt = false;
    if let Some(id) = body.customer_id.as_deref() {
        let found = match CustomerId::parse(id) {
            Ok(id) => state.store.customer(&auth.partner.id, &id).await?,
            Err(_) => None,
        };
        match found {
            Some(c) => exempt = c.is_tax_exempt(),
            None => errors.add("customerId", "not_found", "no such customer"),
        }
    }
    let draft = invoice_draft(&state, body.invoice, &mut errors);
    errors.finish().map_err(ApiError::validation)?;
    let rates = state.store.tax_rates(&auth.partner.id).await?;
    let invoice = draft
        .expect("validated")
        .price(InvoiceId::generate(), &rates, exempt);
    // A preview is not an invoice of record: it has no id.
    let mut shown = serde_json::to_value(&invoice).map_err(ApiError::internal)?;
    if let Some(obj) = shown.as_object_mut() {
        obj.remove("id");
    }
    Ok(Json(shown))
}

/// The request's `invoice`, required and validated (every problem recorded in `errors`).
pub(super) fn invoice_draft(
    state: &AppState,
    invoice: Option<InvoiceInput>,
    errors: &mut FieldErrors,
) -> Option<InvoiceDraft> {
    match invoice {
        None => {
            errors.add("invoice", "required", "is required");
            None
        }
        Some(input) => input.validate(
            "invoice",
            Currency::Usd,
            state.config.max_amount_minor,
            errors,
        ),
    }
}
