//! What holds for every operation and is said once here rather than on each handler: the API
//! key, `Idempotency-Key` on POST, the errors any operation can answer (400 for a POST's
//! `Idempotency-Key`, 403 for a key without the scope, 429, 500), and that a success answer
//! carries every field of its objects.

use std::collections::BTreeSet;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ArrayItems, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Required};
use utoipa::ToSchema;

use super::walk::operations_mut;
use crate::error::ErrorBody;

/// The security scheme, the idempotency header and the shared error answers, on every operation.
pub(super) fn apply(doc: &mut Document) {
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
    add_shared_error_components(components);
    for item in doc.paths.paths.values_mut() {
        // Every POST under /v1 passes the idempotency layer.
        if let Some(post) = &mut item.post {
            add_idempotency(post);
            optional_body_is_an_object(post);
        }
        for op in operations_mut(item) {
            add_shared_errors(op);
        }
    }
}

/// The errors any operation can answer whatever it does, by name among the components'
/// responses, with the status each has.
const SHARED_ERRORS: [(&str, &str, &str); 4] = [
    (
        "InvalidIdempotencyKey",
        "400",
        "An invalid `Idempotency-Key` (`invalid_value`), or a body that cannot be read \
         (`malformed_json`)",
    ),
    (
        "InsufficientScope",
        "403",
        "The API key lacks the scope this operation needs (`insufficient_scope`)",
    ),
    (
        "RateLimited",
        "429",
        "Too many requests with this key, or too many failed authentications from this address \
         (`rate_limited`); wait for `Retry-After` seconds",
    ),
    (
        "InternalError",
        "500",
        "Kassa failed inside (`internal_error`); the message says nothing internal. It does not \
         use up a POST's `Idempotency-Key`: retry with the same key.",
    ),
];

/// The shared error answers, once among the components.
fn add_shared_error_components(components: &mut utoipa::openapi::Components) {
    for (name, _, description) in SHARED_ERRORS {
        let mut response = error_response(description);
        if name == "RateLimited" {
            response.headers.insert("Retry-After".into(), retry_after());
        }
        components.responses.insert(name.into(), response.into());
    }
}

/// Each shared error an operation can answer, unless it says more about it itself: any request
/// can fail inside Kassa (500); a keyed one can be refused for its key's scope (403) or its rate
/// (429); a POST's `Idempotency-Key` can be invalid (400).
fn add_shared_errors(op: &mut Operation) {
    let keyed = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let is_post = op
        .parameters
        .iter()
        .flatten()
        .any(|p| p.name == "Idempotency-Key");
    for (name, status, _) in SHARED_ERRORS {
        let applies = match status {
            "400" => is_post,
            "403" | "429" => keyed,
            _ => true,
        };
        if applies {
            op.responses
                .responses
                .entry(status.to_string())
                .or_insert_with(|| Ref::new(format!("#/components/responses/{name}")).into());
        }
    }
    if let Some(RefOr::T(limited)) = op.responses.responses.get_mut("429") {
        limited
            .headers
            .entry("Retry-After".into())
            .or_insert_with(retry_after);
    }
}

fn retry_after() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        )
        .description(Some("Seconds to wait before trying again."))
        .build()
}

/// An error answer: the `Error` schema as JSON.
fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name(ErrorBody::name()))),
        )
        .build()
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
pub(super) fn require_every_property(doc: &mut Document) {
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
