//! `GET /v1/openapi.json`: the OpenAPI 3.1 document of the JSON API, generated from the handlers'
//! `#[utoipa::path]` annotations as the router registers them (`api::operations`), and the
//! schemas of the types they read and write.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ArrayItems, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr, Required};
use utoipa::{Modify, OpenApi};
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
/// the conventions every operation shares.
pub fn document() -> Document {
    let (_, mut doc) = documented().split_for_parts();
    Conventions.modify(&mut doc);
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

/// What holds for every operation and is said once here: the API key, `Idempotency-Key` on
/// POST, and that a success answer carries every field of its objects.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sk_…")
                    .description(Some(
                        "An API key: `sk_` and 32 base62 characters, sent as \
                         `Authorization: Bearer sk_…`.",
                    ))
                    .build(),
            ),
        );
        for item in doc.paths.paths.values_mut() {
            // Every POST under /v1 passes the idempotency layer.
            if let Some(post) = &mut item.post {
                add_idempotency(post);
                optional_body_is_an_object(post);
            }
        }
        require_every_property(doc);
    }
}

fn add_idempotency(post: &mut Operation) {
    post.parameters.get_or_insert_with(Vec::new).push(
        ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Makes a retry safe: a repeat with the same key and body returns the first answer \
                 (same status and body) with `Idempotent-Replayed: true`. At most 255 visible \
                 ASCII characters; kept at least 24 hours.",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(255)),
            ))
            .build(),
    );
    for (status, response) in &mut post.responses.responses {
        if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
            response.headers.insert(
                "Idempotent-Replayed".into(),
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["true"])))
                    .description(Some("Present when this is the stored answer to an earlier request with the same `Idempotency-Key`."))
                    .build(),
            );
        }
    }
}

/// utoipa shows an optional body (`Option<T>`) as "`null` or T", but an API body is never `null`:
/// an empty body is read as `{}`. Not required, and T.
fn optional_body_is_an_object(op: &mut Operation) {
    let Some(body) = &mut op.request_body else {
        return;
    };
    for content in body.content.values_mut() {
        if let Some(RefOr::T(Schema::OneOf(one))) = &content.schema {
            if let [RefOr::T(Schema::Object(null)), other] = one.items.as_slice() {
                if null.schema_type == SchemaType::Type(Type::Null) {
                    content.schema = Some(other.clone());
                }
            }
        }
    }
}

/// The API's objects are serialized whole: a field without a value is `null`, never left out.
/// utoipa marks an `Option` field as not required, which is right for requests; this marks every
/// property of the schemas a success answer reaches as required (the error body, which does
/// leave out an empty `errors`, is only reached by error answers).
fn require_every_property(doc: &mut Document) {
    let Some(components) = &mut doc.components else {
        return;
    };
    let mut pending: Vec<String> = Vec::new();
    for item in doc.paths.paths.values() {
        for op in [&item.get, &item.post, &item.put, &item.patch, &item.delete]
            .into_iter()
            .flatten()
        {
            for (status, response) in &op.responses.responses {
                if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
                    for content in response.content.values() {
                        refs_in(&content.schema, &mut pending);
                    }
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = components.schemas.get_mut(&name) {
            refs_in(&Some(schema.clone()), &mut pending);
            require_all(schema);
        }
    }
}

/// The names of the component schemas `schema` refers to.
fn refs_in(schema: &Option<RefOr<Schema>>, out: &mut Vec<String>) {
    fn walk(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(name) = map
                    .get("$ref")
                    .and_then(|r| r.as_str())
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                {
                    out.push(name.to_string());
                }
                map.values().for_each(|v| walk(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    if let Ok(value) = serde_json::to_value(schema) {
        walk(&value, out);
    }
}

fn require_all(schema: &mut RefOr<Schema>) {
    let RefOr::T(schema) = schema else {
        return;
    };
    match schema {
        Schema::Object(object) => {
            object.required = object.properties.keys().cloned().collect();
            object.properties.values_mut().for_each(require_all);
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                require_all(items);
            }
        }
        Schema::AllOf(all) => all.items.iter_mut().for_each(require_all),
        Schema::OneOf(one) => one.items.iter_mut().for_each(require_all),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(require_all),
        _ => {}
    }
}
