//! The OpenAPI document is fit for client generators (openapi-python-client, run by
//! `.ci/python-client`): every union a `oneOf` of named objects with a discriminator and none
//! wrapped in an `allOf`, the event types and the `webhooks` section taken from the code's one
//! list, and the errors of every operation documented. Reads the document as `kassa openapi`
//! prints it, without a database.

mod common;

use std::collections::BTreeSet;

use common::openapi::{operations, response_of};
use serde_json::{json, Value};

/// The document as `kassa openapi` prints it (no database needed).
fn document() -> Value {
    serde_json::to_value(kassa_server::openapi::document()).unwrap()
}

/// Every schema object anywhere in `value`, with where it stands.
fn schemas<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            if map.contains_key("oneOf") || map.contains_key("allOf") {
                out.push((at.clone(), value));
            }
            for (k, v) in map {
                schemas(v, format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                schemas(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The schema `schema` names, or itself.
fn resolved<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => doc.pointer(&r[1..]).unwrap_or_else(|| panic!("$ref {r}")),
        None => schema,
    }
}

/// Client generators (openapi-python-client) drop an `allOf` over a `oneOf` and type a union
/// without a discriminator loosely: every union here is a `oneOf` of named objects told apart
/// by a tag, and no `allOf` wraps one.
#[test]
fn every_union_is_discriminated_and_none_is_wrapped() {
    let doc = document();
    let mut found = Vec::new();
    schemas(&doc, String::new(), &mut found);
    let mut unions = 0;
    for (at, schema) in found {
        for part in schema["allOf"].as_array().into_iter().flatten() {
            assert!(
                resolved(&doc, part).get("oneOf").is_none(),
                "{at}: an allOf wraps a oneOf"
            );
        }
        let Some(alternatives) = schema["oneOf"].as_array() else {
            continue;
        };
        unions += 1;
        let discriminator = &schema["discriminator"];
        let tag = discriminator["propertyName"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: a oneOf without a discriminator"));
        let mapping = discriminator["mapping"]
            .as_object()
            .unwrap_or_else(|| panic!("{at}: a discriminator without a mapping"));
        assert_eq!(mapping.len(), alternatives.len(), "{at}");
        for (value, location) in mapping {
            assert!(
                alternatives.iter().any(|a| a["$ref"] == *location),
                "{at}: {value} maps to {location}, which is not an alternative"
            );
            let variant = resolved(&doc, &json!({"$ref": location})).clone();
            assert_eq!(variant["type"], "object", "{at}: {location}");
            assert!(
                variant["required"]
                    .as_array()
                    .is_some_and(|r| r.contains(&json!(tag))),
                "{at}: {location} does not require {tag}"
            );
            assert_eq!(
                variant["properties"][tag]["enum"],
                json!([value]),
                "{at}: {location}'s {tag}"
            );
        }
    }
    assert!(unions >= 3, "{unions} unions");

    // The payment methods: one named schema per kind, stored and as a payment shows it.
    let schemas = &doc["components"]["schemas"];
    for (union, kinds) in [
        (
            "PaymentMethod",
            [
                "CardPaymentMethod",
                "AchPaymentMethod",
                "GooglePayPaymentMethod",
            ],
        ),
        (
            "MaskedMethod",
            [
                "CardMaskedMethod",
                "AchMaskedMethod",
                "GooglePayMaskedMethod",
            ],
        ),
    ] {
        let refs: BTreeSet<&str> = schemas[union]["oneOf"]
            .as_array()
            .unwrap_or_else(|| panic!("{union} is not a oneOf"))
            .iter()
            .filter_map(|a| a["$ref"].as_str())
            .collect();
        let expected: BTreeSet<String> = kinds
            .iter()
            .map(|k| format!("#/components/schemas/{k}"))
            .collect();
        assert_eq!(
            refs,
            expected.iter().map(String::as_str).collect(),
            "{union}"
        );
    }
    assert_eq!(
        schemas["CardPaymentMethod"]["properties"]["object"]["enum"],
        json!(["payment_method"])
    );
    assert!(schemas["AchPaymentMethod"]["properties"]["routingNumber"].is_object());
}

/// The event types are the code's one list, and `webhooks` describes the delivery of each.
#[test]
fn event_types_and_webhooks_are_the_code_s() {
    let doc = document();
    let listed = &doc["components"]["schemas"]["EventType"]["enum"];
    assert_eq!(*listed, json!(kassa_core::event::EVENT_TYPES));
    let event = &doc["components"]["schemas"]["Event"];
    assert_eq!(
        event["properties"]["type"]["$ref"],
        "#/components/schemas/EventType"
    );
    let data = resolved(&doc, &event["properties"]["data"]);
    assert_eq!(data["discriminator"]["propertyName"], "object");
    let carried: BTreeSet<&str> = data["discriminator"]["mapping"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();

    let webhooks = doc["webhooks"].as_object().expect("a webhooks section");
    let names: Vec<&str> = webhooks.keys().map(String::as_str).collect();
    let mut expected = kassa_core::event::EVENT_TYPES.to_vec();
    expected.sort();
    assert_eq!(names, expected);
    for event_type in kassa_core::event::EventType::ALL {
        let name = event_type.as_str();
        let hook = &webhooks[name]["post"];
        assert!(carried.contains(event_type.data_object()), "{name}");
        assert_eq!(
            hook["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Event",
            "{name}"
        );
        assert_eq!(hook["requestBody"]["required"], true, "{name}");
        let signature = hook["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "Kassa-Signature")
            .unwrap_or_else(|| panic!("{name}: no Kassa-Signature"));
        assert_eq!(
            (&signature["in"], &signature["required"]),
            (&json!("header"), &json!(true))
        );
        assert!(hook["responses"]["2XX"].is_object(), "{name}");
        assert!(hook["operationId"].is_string() && hook["summary"].is_string());
    }
    // The events list filters by the same enum.
    let list = &doc["paths"]["/v1/events"]["get"]["parameters"];
    let filter = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "type")
        .unwrap();
    assert_eq!(filter["schema"]["$ref"], "#/components/schemas/EventType");
}

/// Every operation documents the errors it can answer: 500 always, 400 when it takes input
/// (a body, a query or an `Idempotency-Key`), 403 and 429 when it needs a key, each with the
/// `Error` schema.
#[test]
fn every_operation_documents_its_errors() {
    let doc = document();
    for (method, path, op) in operations(&doc) {
        let name = format!("{} {path}", method.to_uppercase());
        let responses = op["responses"].as_object().unwrap();
        let takes_input = op.get("requestBody").is_some()
            || op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["in"] != "path");
        let keyed = op.get("security").is_some();
        let mut needed = vec!["500"];
        if takes_input {
            needed.push("400");
        }
        if keyed {
            needed.extend(["401", "403", "429"]);
        }
        for status in needed {
            assert!(responses.contains_key(status), "{name}: no {status}");
        }
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                let response = response_of(&doc, response);
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Error",
                    "{name} {status}"
                );
            }
        }
        if let Some(limited) = responses.get("429") {
            assert!(
                response_of(&doc, limited)["headers"]["Retry-After"].is_object(),
                "{name}: 429 without Retry-After"
            );
        }
    }
}
