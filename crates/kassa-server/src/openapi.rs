//! `GET /v1/openapi.json` (and `kassa openapi`): the OpenAPI 3.1 document of the JSON API,
//! generated from the handlers' `#[utoipa::path]` annotations as the router registers them
//! (`api::operations`) and the schemas of the types they read and write, then put in the shape
//! client generators take: the shared conventions said on every operation, tagged unions with
//! discriminators, and the webhooks Kassa sends.

mod conventions;
mod unions;
mod walk;
mod webhooks;

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::OpenApi as Document;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kassa API",
        description = "Payment requests (payment links), one-time payments (sale, authorization and \
            capture), customers, payment methods and invoices, and your own settings, API keys and \
            dashboard users.\n\n\
            Authenticate with `Authorization: Bearer sk_…`. Field names are camelCase; amounts in \
            responses are decimal strings with two decimals (`\"250.00\"`); ids are prefixed \
            (`pr_`, `pay_`, `auth_`, `cus_`, `pm_`, `inv_`, `par_`, `key_`, `usr_`, `we_`, `whd_`); timestamps are RFC 3339 in UTC. \
            Lists take `limit` (1–100, default 20) and `startingAfter` and answer \
            `{\"data\": [...], \"hasMore\": bool}`, newest first.\n\n\
            Any POST may carry an `Idempotency-Key` header (at most 255 characters, kept at least \
            24 hours): a repeat with the same body returns the first answer again with \
            `Idempotent-Replayed: true`; the same key with another body is a 422 \
            `idempotency_key_reused`, and while the first request is still running a 409 \
            `idempotency_key_in_progress`.\n\n\
            Every error has the shape of the `Error` schema; a request that fails validation \
            lists every invalid field at once.",
    ),
    tags(
        (name = "Payment requests", description = "Payment links for a fixed amount under your own reference"),
        (name = "Payments", description = "Sale, authorization, capture and reverse; every payment attempt"),
        (name = "Invoices", description = "The invoice math, without charging"),
        (name = "Customers", description = "Who pays"),
        (name = "Payment methods", description = "Stored (tokenized) cards, bank accounts and Google Pay tokens"),
        (name = "Refunds", description = "Paying a payment back, in full or in part"),
        (name = "Payouts", description = "The balance, and the batches paid out from it"),
        (name = "Events", description = "What happened, as recorded with each change; what webhooks deliver"),
        (name = "Webhooks", description = "Endpoints that receive events as signed POSTs, their deliveries and attempts"),
        (name = "Settings", description = "Your name, branding and billing host; API keys; dashboard users"),
        (name = "Sandbox", description = "Drive the sandbox processor: clear or return a pending ACH debit now"),
        (name = "Meta", description = "This document"),
    ),
)]
struct ApiDoc;

/// The OpenAPI document of the JSON API: the operations as the router registers them, with
/// the conventions every operation shares, unions a generator can type, and the webhooks.
pub fn document() -> Document {
    let (_, mut doc) = documented().split_for_parts();
    conventions::apply(&mut doc);
    unions::apply(&mut doc);
    webhooks::add(&mut doc);
    conventions::require_every_property(&mut doc);
    doc
}

/// Every (method, path) the router serves under `/v1`, lowercase method first, as registered:
/// the OpenAPI test checks each is served and that the document covers exactly these.
pub fn routes() -> Vec<(String, String)> {
    let (_, doc) = documented().split_for_parts();
    doc.paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            [
                ("get", &item.get),
                ("put", &item.put),
                ("post", &item.post),
                ("delete", &item.delete),
                ("options", &item.options),
                ("head", &item.head),
                ("patch", &item.patch),
                ("trace", &item.trace),
            ]
            .into_iter()
            .filter(|(_, op)| op.is_some())
            .map(move |(method, _)| (method.to_string(), path.clone()))
        })
        .collect()
}

/// The documented routes together, with the document's title, description and tags.
fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(own_route())
        .merge(crate::api::operations())
}

/// `GET /v1/openapi.json`, registered like the operations so the document lists itself.
fn own_route() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(serve))
}

/// The route serving the document, for the application's router.
pub(crate) fn route() -> axum::Router<AppState> {
    let (router, _) = own_route().split_for_parts();
    router
}

#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "Meta",
    operation_id = "getOpenApi",
    summary = "This OpenAPI document",
    description = "This document. No API key needed.",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")),
)]
pub(crate) async fn serve() -> impl IntoResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| {
        document()
            .to_json()
            .expect("the OpenAPI document serializes")
    });
    ([(header::CONTENT_TYPE, "application/json")], json.as_str())
}
