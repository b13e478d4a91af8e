//! The OpenAPI 3.1 `webhooks` section: one entry per event type (`EventType::ALL`, so none is
//! missed), each the signed POST Kassa makes to an endpoint (`crate::webhooks::send`) with the
//! `Event` as its body and the headers a receiver checks, and what Kassa does with each answer.

use std::collections::BTreeMap;

use kassa_core::event::{Event, EventData, EventType};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{Content, OpenApi, PathItem, Ref, RefOr, Required};
use utoipa::ToSchema;

use super::unions::pascal_case;

/// The headers of every delivery, as `crate::webhooks::send` sets them.
const HEADERS: [(&str, &str); 3] = [
    (
        "Kassa-Signature",
        "`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")>`, with a second `v1` \
         while a rotated secret still overlaps. Compute it over the raw body before parsing it, \
         compare in constant time, and refuse a `t` far from now.",
    ),
    (
        "Kassa-Event-Id",
        "The event's id (`evt_…`), the same in every delivery of it: Kassa delivers at least \
         once, so skip an event already handled.",
    ),
    (
        "Kassa-Delivery-Id",
        "This delivery's id (`whd_…`), as `GET /v1/webhook-endpoints/{id}/deliveries` lists it.",
    ),
];

/// Adds the `webhooks` section. utoipa 5 has no field for it, so it goes in as the document's
/// own top-level member.
pub(super) fn add(doc: &mut OpenApi) {
    let objects = data_schemas(doc);
    let mut webhooks = BTreeMap::new();
    for event_type in EventType::ALL {
        let object = event_type.data_object();
        let schema = objects.get(object).unwrap_or_else(|| {
            panic!("no schema in EventData has \"object\": \"{object}\" for {event_type}")
        });
        webhooks.insert(event_type.as_str(), delivery(event_type, schema));
    }
    let webhooks = serde_json::to_value(webhooks).expect("the webhooks section serializes as JSON");
    doc.extensions
        .get_or_insert_with(Default::default)
        .insert("webhooks".into(), webhooks);
}

/// Each `object` value `EventData` can carry, and the schema it names.
fn data_schemas(doc: &OpenApi) -> BTreeMap<String, String> {
    let data = doc
        .components
        .as_ref()
        .and_then(|c| c.schemas.get(EventData::name().as_ref()));
    let Some(RefOr::T(Schema::OneOf(one))) = data else {
        panic!("EventData is not a oneOf in the document");
    };
    let discriminator = one
        .discriminator
        .as_ref()
        .expect("EventData has a discriminator");
    discriminator
        .mapping
        .iter()
        .map(|(object, location)| {
            let name = location.rsplit('/').next().unwrap_or(location);
            (object.clone(), name.to_string())
        })
        .collect()
}

/// The POST that delivers an event of `event_type`, whose `data` is a `schema`.
fn delivery(event_type: EventType, schema: &str) -> PathItem {
    let name = event_type.as_str();
    let object = event_type.data_object();
    let mut operation = OperationBuilder::new()
        .tag("Webhooks")
        .operation_id(Some(format!("webhook{}", pascal_case(name))))
        .summary(Some(format!("`{name}`")))
        .description(Some(format!(
            "Sent to every enabled endpoint subscribed to `{name}` (or to `*`): the event as \
             `GET /v1/events/{{id}}` shows it, `type` `{name}` and `data` the `{schema}` \
             (`\"object\": \"{object}\"`) right after the change."
        )))
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/json",
                    Content::new(Some(Ref::from_schema_name(Event::name()))),
                )
                .build(),
        ))
        .response(
            "2XX",
            ResponseBuilder::new().description("Delivered: this event is not sent again here."),
        );
    for status in ["408", "429", "5XX"] {
        operation = operation.response(
            status,
            ResponseBuilder::new().description(
                "Tried again later, with exponential backoff and jitter, for about three days \
                 (as are network errors and timeouts); an endpoint failing for days is disabled.",
            ),
        );
    }
    operation = operation.response(
        "default",
        ResponseBuilder::new().description(
            "Any other answer (a redirect, which is not followed, or another 4xx): the delivery \
             fails and is not tried again.",
        ),
    );
    for (header, description) in HEADERS {
        operation = operation.parameter(
            ParameterBuilder::new()
                .name(header)
                .parameter_in(ParameterIn::Header)
                .required(Required::True)
                .description(Some(description))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
        );
    }
    PathItem::new(HttpMethod::Post, operation)
}
