//! `POST /v1/invoices/preview` (API.md §3): the invoice math without charging anything.

use axum::extract::State;
use axum::Json;
use kassa_core::error::FieldErrors;
use kassa_core::id::{CustomerId, InvoiceId};
use kassa_core::invoice::InvoiceInput;
use kassa_core::money::Currency;
use serde::Deserialize;

use super::{ApiAuth, ApiJson};
use crate::app::AppState;
use crate::error::ApiError;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreviewBody {
    invoice: Option<InvoiceInput>,
    /// Prices as for this customer (an `entityUseCode` on the customer exempts from tax).
    customer_id: Option<String>,
}

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
    let draft = match body.invoice {
        None => {
            errors.add("invoice", "required", "is required");
            None
        }
        Some(input) => input.validate(
            "invoice",
            Currency::Usd,
            state.config.max_amount_minor,
            &mut errors,
        ),
    };
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
