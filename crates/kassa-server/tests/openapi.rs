//! `GET /v1/openapi.json`: a sound OpenAPI 3 document that covers exactly the routes the router
//! serves under `/v1`, and whose schemas match what the API really answers and what its webhooks
//! really deliver (tests/openapi_generators.rs checks the document's shape for generators).

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{header, HeaderMap, Method, StatusCode};
use common::openapi::{operations, response_of};
use common::*;
use serde_json::{json, Value};

async fn fetch(app: &TestApp) -> Value {
    // No API key: the document is public.
    let r = app.get("/v1/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.header(header::CONTENT_TYPE.as_str()).as_deref(),
        Some("application/json")
    );
    r.json()
}

/// Every `$ref` anywhere in `value`, with where it was found.
fn refs<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push((at.clone(), r)),
                    _ => refs(v, format!("{at}/{k}"), out),
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                refs(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_sound_and_covers_every_route() {
    let app = TestApp::sqlite().await;
    let doc = fetch(&app).await;

    let version = doc["openapi"].as_str().expect("openapi is a string");
    assert!(version.starts_with("3."), "openapi {version}");
    assert!(doc["info"]["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(doc["info"]["version"]
        .as_str()
        .is_some_and(|v| !v.is_empty()));

    // Every reference names something that exists in the document.
    let mut found = Vec::new();
    refs(&doc, String::new(), &mut found);
    assert!(!found.is_empty());
    for (at, r) in &found {
        assert!(
            r.starts_with("#/components/") && doc.pointer(&r[1..]).is_some(),
            "{at}: $ref {r} does not resolve"
        );
    }

    // Exactly the routes the router serves, as it registers them.
    let routes = kassa_server::openapi::routes();
    assert!(!routes.is_empty());
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let served: BTreeSet<(String, String)> = routes.iter().cloned().collect();
    assert_eq!(served.len(), routes.len(), "a route is registered twice");
    for (method, path) in &routes {
        // The router knows each: without a key it answers 401, not 404 or 405.
        let uri = path.replace("{id}", "x");
        let req = axum::http::Request::builder()
            .method(method.to_uppercase().as_str())
            .uri(&uri)
            .body(axum::body::Body::empty())
            .unwrap();
        let status = app.send(req).await.status;
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}: {status}; is it still served?"
        );
    }
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "undocumented routes: {missing:?}; documented but not served: {extra:?}"
    );

    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    let mut operation_ids = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let name = format!("{} {path}", method.to_uppercase());
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no operationId"));
        assert!(
            operation_ids.insert(id.to_string()),
            "{name}: operationId {id} is used twice"
        );
        assert!(op["summary"].is_string(), "{name}: no summary");

        let responses = op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}: no responses"));
        assert!(!responses.is_empty(), "{name}: no responses");
        for (status, response) in responses {
            assert!(
                status.len() == 3 && status.parse::<u16>().is_ok_and(|s| (100..600).contains(&s)),
                "{name}: response {status}"
            );
            let response = response_of(&doc, response);
            assert!(
                response["description"].is_string(),
                "{name} {status}: no description"
            );
        }
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{name}: no success response"
        );

        // Each `{param}` of the path is declared, and required.
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        for segment in path.split('/').filter(|s| s.starts_with('{')) {
            let param = segment.trim_matches(|c| c == '{' || c == '}');
            assert!(
                params
                    .iter()
                    .any(|p| p["name"] == param && p["in"] == "path" && p["required"] == true),
                "{name}: path parameter {param} is not declared"
            );
        }
        for p in &params {
            assert!(
                p["name"].is_string() && p["in"].is_string() && p["schema"].is_object(),
                "{name}: {p}"
            );
        }

        // The API key: on everything but this document (and not document-wide, so not on it).
        if path == "/v1/openapi.json" {
            assert!(
                doc.get("security").is_none() && op.get("security").is_none(),
                "{name} needs no key"
            );
            continue;
        }
        let security = op["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no security"));
        assert!(!security.is_empty(), "{name}: no security");
        for requirement in security {
            for scheme in requirement.as_object().unwrap().keys() {
                assert!(
                    schemes.contains_key(scheme),
                    "{name}: unknown security scheme {scheme}"
                );
            }
        }
        assert!(responses.contains_key("401"), "{name}: no 401");
        if method == "post" {
            assert!(
                params
                    .iter()
                    .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"),
                "{name}: no Idempotency-Key"
            );
            assert!(
                responses.contains_key("422"),
                "{name}: no 422 (idempotency_key_reused)"
            );
        }
    }
    assert_eq!(schemes["apiKey"]["type"], "http");
    assert_eq!(schemes["apiKey"]["scheme"], "bearer");
}

/// Checks JSON values against the document's schemas, for the subset of JSON Schema that utoipa
/// writes: `$ref`, `type`, `enum`, `properties`/`required`, `additionalProperties`, `items`,
/// `oneOf` (with its `discriminator`), `anyOf`, `allOf`. A field the schema does not document
/// is an error too.
struct Schemas<'a> {
    doc: &'a Value,
}

impl<'a> Schemas<'a> {
    fn resolve(&self, mut schema: &'a Value) -> &'a Value {
        while let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            schema = self
                .doc
                .pointer(&r[1..])
                .unwrap_or_else(|| panic!("$ref {r}"));
        }
        schema
    }

    fn errors(&self, schema: &'a Value, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, value, "$", true, &mut errors);
        errors
    }

    fn fits(&self, schema: &'a Value, value: &Value, whole: bool) -> bool {
        let mut errors = Vec::new();
        self.check(schema, value, "$", whole, &mut errors);
        errors.is_empty()
    }

    /// `whole`: `schema` describes all of `value`, not one part of an `allOf`, so a field no
    /// part documents is reported.
    fn check(
        &self,
        schema: &'a Value,
        value: &Value,
        at: &str,
        whole: bool,
        errors: &mut Vec<String>,
    ) {
        let schema = self.resolve(schema);
        for part in schema["allOf"].as_array().into_iter().flatten() {
            self.check(part, value, at, false, errors);
        }
        if let Some(discriminator) = schema.get("discriminator") {
            // The tag names the alternative, and the value fits it.
            let tag = discriminator["propertyName"].as_str().unwrap();
            match value[tag]
                .as_str()
                .and_then(|t| discriminator["mapping"][t].as_str())
            {
                Some(r) => self.check(&json!({"$ref": r}), value, at, whole, errors),
                None => errors.push(format!("{at}: `{tag}` names no alternative: {value}")),
            }
        }
        if let Some(alternatives) = schema["anyOf"].as_array() {
            if !alternatives.iter().any(|s| self.fits(s, value, whole)) {
                errors.push(format!(
                    "{at}: matches none of the `anyOf` schemas: {value}"
                ));
                for alternative in alternatives.iter().filter(|s| s["type"] != "null") {
                    self.check(alternative, value, &format!("{at}(anyOf)"), whole, errors);
                }
            }
        }
        if let Some(alternatives) = schema["oneOf"].as_array() {
            let matching = alternatives
                .iter()
                .filter(|s| self.fits(s, value, whole))
                .count();
            if matching != 1 {
                errors.push(format!(
                    "{at}: matches {matching} of the `oneOf` schemas: {value}"
                ));
                if matching == 0 {
                    for alternative in alternatives.iter().filter(|s| s["type"] != "null") {
                        self.check(alternative, value, &format!("{at}(oneOf)"), whole, errors);
                    }
                }
            }
        }
        if let Some(ty) = schema.get("type") {
            let types: Vec<&str> = match ty {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                other => panic!("type {other}"),
            };
            let fits = types.iter().any(|t| match *t {
                "string" => value.is_string(),
                "number" => value.is_number(),
                "integer" => value.is_i64() || value.is_u64(),
                "boolean" => value.is_boolean(),
                "null" => value.is_null(),
                "object" => value.is_object(),
                "array" => value.is_array(),
                other => panic!("type {other}"),
            });
            if !fits {
                errors.push(format!("{at}: {value} is not {types:?}"));
                return;
            }
        }
        if let Some(allowed) = schema["enum"].as_array() {
            if !allowed.contains(value) {
                errors.push(format!("{at}: {value} is not one of {allowed:?}"));
            }
        }
        if let Some(object) = value.as_object() {
            let properties = schema["properties"].as_object();
            for name in schema["required"].as_array().into_iter().flatten() {
                if !object.contains_key(name.as_str().unwrap()) {
                    errors.push(format!("{at}: required field {name} is missing"));
                }
            }
            for (name, v) in object {
                let at = format!("{at}.{name}");
                match (
                    properties.and_then(|p| p.get(name)),
                    &schema["additionalProperties"],
                ) {
                    (Some(property), _) => self.check(property, v, &at, true, errors),
                    (None, more) if more.is_object() => self.check(more, v, &at, true, errors),
                    _ => {}
                }
            }
            if whole {
                if let Some(documented) = self.documented(schema, value) {
                    for name in object.keys().filter(|k| !documented.contains(*k)) {
                        errors.push(format!("{at}: field {name} is not in the schema"));
                    }
                }
            }
        }
        if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
            for (i, v) in values.iter().enumerate() {
                self.check(items, v, &format!("{at}[{i}]"), true, errors);
            }
        }
    }

    /// The field names `schema` documents for `value`, across `allOf` and the matching `oneOf`;
    /// None when it says nothing about fields (any are allowed).
    fn documented(&self, schema: &'a Value, value: &Value) -> Option<BTreeSet<String>> {
        let schema = self.resolve(schema);
        if schema["additionalProperties"].is_object() {
            return None;
        }
        let mut names: BTreeSet<String> = schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let mut said = schema.get("properties").is_some();
        for part in schema["allOf"].as_array().into_iter().flatten() {
            names.extend(self.documented(part, value)?);
            said = true;
        }
        let alternatives = schema["oneOf"].as_array().into_iter().flatten();
        for alternative in alternatives.chain(schema["anyOf"].as_array().into_iter().flatten()) {
            if self.fits(alternative, value, false) {
                names.extend(self.documented(alternative, value)?);
                said = true;
            }
        }
        said.then_some(names)
    }
}

/// Calls the API and checks the answer against the document: its status must be documented for
/// the operation, and its body must fit that response's schema.
struct Client<'a> {
    app: &'a TestApp,
    doc: &'a Value,
    key: String,
    /// (method, path, status) of every success answer checked.
    seen: BTreeSet<(String, String, String)>,
}

impl Client<'_> {
    async fn get(&mut self, uri: &str) -> Value {
        self.send(Method::GET, uri, None, &[]).await
    }

    async fn post(&mut self, uri: &str, body: Value) -> Value {
        self.send(Method::POST, uri, Some(body), &[]).await
    }

    /// A POST without a body.
    async fn post_nothing(&mut self, uri: &str) -> Value {
        self.send(Method::POST, uri, None, &[]).await
    }

    async fn patch(&mut self, uri: &str, body: Value) -> Value {
        self.send(Method::PATCH, uri, Some(body), &[]).await
    }

    async fn delete(&mut self, uri: &str) -> Value {
        self.send(Method::DELETE, uri, None, &[]).await
    }

    /// A PUT whose body is sent as it is, with its own type (an upload).
    async fn put_bytes(&mut self, uri: &str, content_type: &str, bytes: Vec<u8>) -> Value {
        let req = axum::http::Request::put(uri)
            .header("authorization", format!("Bearer {}", self.key))
            .header("content-type", content_type)
            .body(axum::body::Body::from(bytes))
            .unwrap();
        let r = self.app.send(req).await;
        self.check(&Method::PUT, uri, &r)
    }

    async fn send(
        &mut self,
        method: Method,
        uri: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Value {
        let r = self
            .app
            .api_with(&self.key, method.clone(), uri, body, headers)
            .await;
        self.check(&method, uri, &r)
    }

    /// The documented path `uri` is an instance of; a literal segment beats a `{param}`.
    fn template(&self, method: &str, uri: &str) -> String {
        let path = uri.split_once('?').map_or(uri, |(path, _query)| path);
        let segments: Vec<&str> = path.split('/').collect();
        let paths = self.doc["paths"].as_object().unwrap();
        paths
            .iter()
            .filter(|(_, item)| item.get(method).is_some())
            .map(|(template, _)| template.split('/').collect::<Vec<_>>())
            .filter(|t| {
                t.len() == segments.len()
                    && t.iter()
                        .zip(&segments)
                        .all(|(t, s)| t == s || t.starts_with('{'))
            })
            .max_by_key(|t| t.iter().filter(|t| !t.starts_with('{')).count())
            .unwrap_or_else(|| panic!("{method} {path} is not documented"))
            .join("/")
    }

    fn check(&mut self, method: &Method, uri: &str, r: &Resp) -> Value {
        let method = method.as_str().to_lowercase();
        let path = self.template(&method, uri);
        let status = r.status.as_u16().to_string();
        let response = response_of(
            self.doc,
            &self.doc["paths"][&path][&method]["responses"][&status],
        );
        assert!(
            response.is_object(),
            "{method} {uri} answered {status}, which is not documented for {path}: {}",
            r.body
        );
        // An answer that is not JSON (an image): its documented media type, and a body.
        let content = response["content"].as_object();
        if let Some(media) = content
            .filter(|c| !c.contains_key("application/json"))
            .and_then(|c| c.keys().next())
        {
            assert_eq!(
                r.header(header::CONTENT_TYPE.as_str()).as_deref(),
                Some(media.as_str()),
                "{method} {uri} {status}"
            );
            assert!(!r.body.is_empty(), "{method} {uri} {status}: an empty body");
            if r.status.is_success() {
                self.seen.insert((method, path, status));
            }
            return Value::Null;
        }
        let body = r.json();
        let schema = &response["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{method} {path} {status}: no schema");
        let errors = Schemas { doc: self.doc }.errors(schema, &body);
        assert!(
            errors.is_empty(),
            "{method} {uri} {status} does not fit its schema:\n{}\n{body:#}",
            errors.join("\n")
        );
        if r.status.is_success() {
            self.seen.insert((method, path, status));
        }
        body
    }
}

fn card(number: &str) -> Value {
    json!({"billingFirstName": "Ada", "billingLastName": "Lovelace",
           "billingAddress": {"addressLine1": "1 Main St", "city": "Springfield", "state": "il",
                              "postalCode": "62701", "country": "USA"},
           "creditCard": {"paymentAccountNumber": number, "expirationDate": "12/2030", "securityCode": "123"}})
}

fn bank(account: &str) -> Value {
    json!({"billingFirstName": "Ada", "billingLastName": "Lovelace",
           "ach": {"routingNumber": "110000000", "accountNumber": account, "accountType": "checking"}})
}

fn invoice(total: &str) -> Value {
    json!({"merchantInvoiceRefId": "INV-1", "invoiceLineItems": [
        {"name": "Consulting", "description": "Two hours", "value": total, "valueType": "Standard"},
        {"name": "Loyalty", "value": "10", "valueType": "DiscountPercentage"}]})
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

// On SQLite and PostgreSQL.
on_both_backends!(every_answer_fits_its_documented_schema, |app| {
    every_answer_fits(app).await;
});

/// Drives every operation through its success answers and many of its errors, on a real app,
/// and checks each answer and each webhook delivery against the document.
async fn every_answer_fits(app: TestApp) {
    let smtp = common::smtp::SmtpServer::start().await;
    let smtp_url = smtp.url();
    let app = app.reconfigured(move |c| {
        c.smtp.url = Some(kassa_core::secret::Secret::new(smtp_url));
    });
    let doc = fetch(&app).await;
    let p = app.partner().await;
    let mut api = Client {
        app: &app,
        doc: &doc,
        key: p.key.clone(),
        seen: BTreeSet::new(),
    };
    // Every event from here on is delivered here too, to be checked against `webhooks`.
    let (hooks, received) = receiver().await;
    api.post(
        "/v1/webhook-endpoints",
        json!({"url": hooks, "events": ["*"]}),
    )
    .await;

    // Payment requests: created (201), the same again (200), a conflict, invalid fields.
    let body = json!({"amount": "250.00", "referenceId": "QUOTE-1", "description": "Deposit",
        "redirectUrl": "https://acme.example/thanks", "payerEmail": "client@example.com",
        "metadata": {"quote": "1"}});
    let pr = id(&api.post("/v1/payment-requests", body.clone()).await);
    api.post("/v1/payment-requests", body).await;
    api.post(
        "/v1/payment-requests",
        json!({"amount": 1, "referenceId": "QUOTE-1"}),
    )
    .await;
    api.post(
        "/v1/payment-requests",
        json!({"amount": "1.001", "referenceId": ""}),
    )
    .await;
    api.get("/v1/payment-requests").await;
    api.get("/v1/payment-requests?status=open&limit=1").await;
    api.get("/v1/payment-requests?colour=red").await;
    api.get(&format!("/v1/payment-requests/{pr}")).await;
    api.get("/v1/payment-requests/pr_nope").await;
    api.get(&format!("/v1/payment-requests/{pr}/qr")).await;
    api.get("/v1/payment-requests/pr_nope/qr").await;
    // Its link emailed (202), then refused once it is canceled (409).
    api.post_nothing(&format!("/v1/payment-requests/{pr}/send"))
        .await;
    api.post_nothing(&format!("/v1/payment-requests/{pr}/cancel"))
        .await;
    api.post_nothing(&format!("/v1/payment-requests/{pr}/cancel"))
        .await;
    api.post_nothing(&format!("/v1/payment-requests/{pr}/send"))
        .await;

    // Customers.
    let cus = id(&api
        .post(
            "/v1/customers",
            json!({"firstName": "Ada", "lastName": "Lovelace",
        "email": "ada@example.com", "merchantCustomerRefId": "C-1"}),
        )
        .await);
    api.post("/v1/customers", json!({"firstName": ""})).await;
    api.get(&format!("/v1/customers/{cus}")).await;
    api.get("/v1/customers/cus_nope").await;
    api.patch(
        &format!("/v1/customers/{cus}"),
        json!({"email": null, "entityUseCode": "E"}),
    )
    .await;
    api.patch(
        &format!("/v1/customers/{cus}"),
        json!({"entityUseCode": null}),
    )
    .await;
    api.get("/v1/customers?merchantCustomerRefId=C-1").await;

    // Payment methods: a card, a bank account, Google Pay.
    let mut body = card("4242424242424242");
    body["customerId"] = json!(cus);
    let pm = id(&api.post("/v1/payment-methods", body).await);
    let token = json!({"paymentMethodData": {"info": {"cardNetwork": "VISA", "cardDetails": "1111"},
                                             "tokenizationData": {"token": "tok"}}});
    let gp = id(&api
        .post(
            "/v1/payment-methods",
            json!({"customerId": cus,
        "billingFirstName": "Ada", "billingLastName": "Lovelace",
        "googlePay": {"googlePayPaymentDataResponse": token.to_string()}}),
        )
        .await);
    let ach = id(&api.post("/v1/payment-methods", json!({"customerId": cus,
        "billingFirstName": "Ada", "billingLastName": "Lovelace",
        "ach": {"routingNumber": "110000000", "accountNumber": "000123456789", "accountType": "Savings"}})).await);
    api.get(&format!("/v1/payment-methods/{gp}")).await;
    api.get(&format!("/v1/payment-methods/{ach}")).await;
    api.get(&format!("/v1/payment-methods?customerId={cus}"))
        .await;
    api.post("/v1/payment-methods", json!({"customerId": "cus_nope"}))
        .await;

    // Sales: a stored card with a dynamic descriptor, a decline, Google Pay, bank accounts.
    let sale = api.post("/v1/payments/sale", json!({"customerId": cus, "paymentMethodId": pm,
        "invoice": invoice("121.00"),
        "dynamicDescriptor": {"subMerchantId": "SM1", "subMerchantName": "Acme*Plumbing",
                              "subMerchantPhone": "555-0100", "city": "Springfield", "countryCode": "US"}})).await;
    assert_eq!(sale["status"], "completed");
    let declined = api
        .post(
            "/v1/payments/sale",
            json!({"firstName": "Bo", "lastName": "Diddley",
        "paymentMethod": card("4000000000000002"), "invoice": invoice("5.00")}),
        )
        .await;
    assert_eq!(declined["status"], "failed");
    api.post(
        "/v1/payments/sale",
        json!({"customerId": cus, "paymentMethodId": gp,
        "invoice": invoice("7.00")}),
    )
    .await;
    let cleared = api
        .post(
            "/v1/payments/sale",
            json!({"firstName": "Bo", "lastName": "Diddley",
        "paymentMethod": bank("000123456789"), "invoice": invoice("20.00")}),
        )
        .await;
    assert_eq!(cleared["status"], "pending");
    let returned = id(&api
        .post(
            "/v1/payments/sale",
            json!({"customerId": cus,
        "paymentMethodId": ach, "invoice": invoice("20.00")}),
        )
        .await);
    api.post("/v1/payments/sale", json!({"invoice": {}})).await;
    let cleared = id(&cleared);
    api.post_nothing(&format!("/v1/sandbox/payments/{cleared}/settle"))
        .await;
    api.post_nothing(&format!("/v1/sandbox/payments/{cleared}/settle"))
        .await;
    api.post(
        &format!("/v1/sandbox/payments/{returned}/return"),
        json!({"code": "R03"}),
    )
    .await;
    api.post(
        &format!("/v1/sandbox/payments/{returned}/return"),
        json!({"code": "X"}),
    )
    .await;
    api.post_nothing("/v1/sandbox/payments/pay_nope/settle")
        .await;

    // Authorizations: captured in part, reversed, and a sale from one.
    let hold = api
        .post(
            "/v1/payments/authorization",
            json!({"customerId": cus,
        "paymentMethodId": pm, "invoice": invoice("50.00")}),
        )
        .await;
    assert_eq!(hold["status"], "authorized");
    let hold = id(&hold);
    api.get(&format!("/v1/payments/authorization/{hold}")).await;
    api.post(
        &format!("/v1/payments/capture/{hold}"),
        json!({"amount": "40.00"}),
    )
    .await;
    api.post_nothing(&format!("/v1/payments/capture/{hold}"))
        .await;
    api.post_nothing("/v1/payments/capture/auth_nope").await;
    api.get(&format!("/v1/payments/authorization/{hold}")).await;
    let other = id(&api.post("/v1/payments/authorization", json!({"firstName": "Bo",
        "lastName": "Diddley", "paymentMethod": card("4000056655665556"), "invoice": invoice("9.00")})).await);
    api.post_nothing(&format!("/v1/payments/authorization/{other}/reverse"))
        .await;
    api.post_nothing(&format!("/v1/payments/authorization/{other}/reverse"))
        .await;
    api.post(
        "/v1/payments/authorization",
        json!({"customerId": cus, "paymentMethodId": ach,
        "invoice": invoice("9.00")}),
    )
    .await;
    let third = id(&api
        .post(
            "/v1/payments/authorization",
            json!({"customerId": cus,
        "paymentMethodId": pm, "invoice": invoice("30.00")}),
        )
        .await);
    api.post(
        "/v1/payments/sale",
        json!({"customerId": cus,
        "paymentMethodAuthorizationId": third, "invoice": invoice("30.00")}),
    )
    .await;

    // Reading payments.
    api.get(&format!("/v1/payments/{}", id(&sale))).await;
    // Its receipt again, to an address given (202) or to a bad one (400).
    api.post(
        &format!("/v1/payments/{}/receipt", id(&sale)),
        json!({"email": "books@example.com"}),
    )
    .await;
    api.post(
        &format!("/v1/payments/{}/receipt", id(&sale)),
        json!({"email": "nope"}),
    )
    .await;
    api.get("/v1/payments/pay_nope").await;
    api.get("/v1/payments").await;
    api.get(&format!(
        "/v1/payments?customerId={cus}&status=completed&source=api"
    ))
    .await;
    api.get("/v1/payments?createdFrom=yesterday").await;

    // Invoice preview, and deleting a payment method.
    api.post(
        "/v1/invoices/preview",
        json!({"invoice": invoice("1.09"), "customerId": cus}),
    )
    .await;
    api.post(
        "/v1/invoices/preview",
        json!({"invoice": {"invoiceLineItems": []}}),
    )
    .await;
    api.delete(&format!("/v1/payment-methods/{ach}")).await;
    api.delete(&format!("/v1/payment-methods/{ach}")).await;

    // Refunds, balance and payouts.
    let sale_id = sale["id"].as_str().unwrap().to_string();
    let refund = api
        .post(
            &format!("/v1/payments/{sale_id}/refunds"),
            json!({"amount": "1.00", "reason": "Goodwill"}),
        )
        .await;
    api.post(
        &format!("/v1/payments/{sale_id}/refunds"),
        json!({"amount": "999.00"}),
    )
    .await;
    api.post("/v1/payments/pay_nope/refunds", json!({})).await;
    api.post(
        &format!("/v1/payments/{sale_id}/refunds"),
        json!({"amount": "x"}),
    )
    .await;
    api.get(&format!("/v1/refunds/{}", refund["id"].as_str().unwrap()))
        .await;
    api.get("/v1/refunds/re_nope").await;
    api.get(&format!("/v1/refunds?paymentId={sale_id}")).await;
    api.get("/v1/refunds?paymentId=nope").await;
    api.get("/v1/balance").await;
    let made = kassa_server::admin::run_payouts(
        app.store.as_ref(),
        None,
        start_time() + time::Duration::days(1),
        start_time() + time::Duration::days(1),
    )
    .await
    .unwrap();
    assert!(!made.is_empty());
    api.get("/v1/payouts").await;
    api.get(&format!("/v1/payouts/{}", made[0].id)).await;
    api.get("/v1/payouts/po_nope").await;

    // Events.
    let events = api.get("/v1/events?type=payout.paid").await;
    let event_id = events["data"][0]["id"].as_str().unwrap().to_string();
    api.get(&format!("/v1/events/{event_id}")).await;
    api.get("/v1/events?type=nope").await;
    api.get("/v1/events/evt_nope").await;
    api.get("/v1/audit-events?limit=5").await;
    api.get("/v1/audit-events?action=nope").await;

    // Idempotency: a replay is the same documented answer; another body under the key is 422.
    let key = [("Idempotency-Key", "k-1")];
    let body = json!({"firstName": "I", "lastName": "D"});
    let first = api
        .send(Method::POST, "/v1/customers", Some(body.clone()), &key)
        .await;
    let again = api
        .send(Method::POST, "/v1/customers", Some(body), &key)
        .await;
    assert_eq!(first, again);
    let other = json!({"firstName": "J", "lastName": "D"});
    api.send(Method::POST, "/v1/customers", Some(other), &key)
        .await;

    // Creation links.
    api.post(
        "/v1/creation-links",
        json!({"amount": "250.00", "referenceId": "LINK-1"}),
    )
    .await;
    api.post("/v1/creation-links", json!({"amount": "-1"}))
        .await;

    // Settings: the partner, its billing host, API keys, users.
    api.get("/v1/partner").await;
    api.post_nothing("/v1/partner/billing-host/verify").await;
    api.patch(
        "/v1/partner",
        json!({"name": "Acme Two", "billingHost": "pay.openapi.example",
        "logoUrl": "https://cdn.acme.example/logo.png",
        "defaultRedirectUrl": "https://acme.example/thanks", "requireSignedLinks": true}),
    )
    .await;
    api.patch("/v1/partner", json!({"brandColor": "red", "logoUrl": "x"}))
        .await;
    // The logo: uploaded (a PNG's header is all the check reads), refused, removed.
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
    png.extend_from_slice(b"IHDR");
    png.extend_from_slice(&[0, 0, 0, 64, 0, 0, 0, 32, 8, 6, 0, 0, 0, 0, 0, 0, 0]);
    api.put_bytes("/v1/partner/logo", "image/png", png).await;
    api.get("/v1/partner").await;
    api.put_bytes("/v1/partner/logo", "image/png", b"GIF89a".to_vec())
        .await;
    api.put_bytes("/v1/partner/logo", "image/gif", b"GIF89a".to_vec())
        .await;
    api.put_bytes("/v1/partner/logo", "image/png", vec![0; 300 * 1024])
        .await;
    api.delete("/v1/partner/logo").await;
    api.delete("/v1/partner/logo").await;
    // Nothing answers DNS in the tests (tests/billing_host.rs has a server): a failed lookup.
    api.post_nothing("/v1/partner/billing-host/verify").await;
    app.verify_host(&p).await;
    api.post_nothing("/v1/partner/billing-host/verify").await;
    app.partner_with(|i| i.billing_host = Some("pay.taken.example".into()))
        .await;
    api.patch("/v1/partner", json!({"billingHost": "pay.taken.example"}))
        .await;
    api.get("/v1/api-keys").await;
    let made = id(&api.post("/v1/api-keys", json!({"label": "ci"})).await);
    api.post("/v1/api-keys", json!({"label": ""})).await;
    let key = [("Idempotency-Key", "k-key")];
    let first = api
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(json!({"label": "ci"})),
            &key,
        )
        .await;
    let again = api
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(json!({"label": "ci"})),
            &key,
        )
        .await;
    assert_eq!(first["id"], again["id"]);
    assert!(again["key"].is_null());
    api.post_nothing(&format!("/v1/api-keys/{made}/revoke"))
        .await;
    api.post_nothing("/v1/api-keys/key_nope/revoke").await;
    api.get("/v1/api-keys?limit=2").await;
    let user = json!({"email": "ada@acme.example", "password": "correct horse battery"});
    let ada = id(&api.post("/v1/users", user.clone()).await);
    api.post("/v1/users", user).await;
    api.post("/v1/users", json!({"email": "nope"})).await;
    let bob = id(&api
        .post(
            "/v1/users",
            json!({"email": "bob@acme.example", "password": "correct horse battery"}),
        )
        .await);
    api.get("/v1/users").await;
    api.delete(&format!("/v1/users/{ada}")).await;
    api.delete(&format!("/v1/users/{bob}")).await;
    api.delete("/v1/users/usr_nope").await;

    // Webhooks: an endpoint for refunds (one was made above) where nothing listens (port 1 of
    // 127.0.0.1 refuses connections), so its delivery's attempt has an error and no status.
    let made = api
        .post(
            "/v1/webhook-endpoints",
            json!({"url": "http://127.0.0.1:1/hook", "events": ["refund.created"],
                   "description": "Bookkeeping"}),
        )
        .await;
    assert!(made["secret"].as_str().unwrap().starts_with("whsec_"));
    let we = id(&made);
    api.post(
        "/v1/webhook-endpoints",
        json!({"url": "http://hooks.example", "events": ["nope"]}),
    )
    .await;
    api.get("/v1/webhook-endpoints").await;
    api.get(&format!("/v1/webhook-endpoints/{we}")).await;
    api.get("/v1/webhook-endpoints/we_nope").await;
    api.post_nothing(&format!("/v1/webhook-endpoints/{we}/rotate-secret"))
        .await;
    api.post_nothing(&format!("/v1/webhook-endpoints/{we}/enable"))
        .await;
    app.run_jobs().await;
    let sent = api
        .get(&format!("/v1/webhook-endpoints/{we}/deliveries"))
        .await;
    assert!(sent["data"][0]["attempts"][0]["error"].is_string());
    let whd = id(&sent["data"][0]);
    api.get(&format!(
        "/v1/webhook-endpoints/{we}/deliveries?status=pending&limit=5"
    ))
    .await;
    api.get(&format!(
        "/v1/webhook-endpoints/{we}/deliveries?status=lost"
    ))
    .await;
    api.post_nothing(&format!("/v1/webhook-deliveries/{whd}/retry"))
        .await;
    api.post_nothing("/v1/webhook-deliveries/whd_nope/retry")
        .await;
    api.delete(&format!("/v1/webhook-endpoints/{we}")).await;
    api.delete(&format!("/v1/webhook-endpoints/{we}")).await;

    // Each delivery is what the `webhooks` entry of its event type says: the documented headers,
    // and a body that fits, carrying the object the type names.
    let deliveries = received.lock().unwrap().clone();
    let mut types = BTreeSet::new();
    for (headers, body) in &deliveries {
        let event: Value = serde_json::from_slice(body).unwrap();
        let event_type = event["type"].as_str().unwrap();
        let hook = &doc["webhooks"][event_type]["post"];
        assert!(hook.is_object(), "no webhook documented for {event_type}");
        for parameter in hook["parameters"].as_array().unwrap() {
            assert_eq!(parameter["in"], "header");
            let name = parameter["name"].as_str().unwrap();
            assert!(headers.contains_key(name), "{event_type}: no {name} header");
        }
        let schema = &hook["requestBody"]["content"]["application/json"]["schema"];
        let errors = Schemas { doc: &doc }.errors(schema, &event);
        assert!(errors.is_empty(), "{event_type}: {errors:?}\n{event:#}");
        let expected = kassa_core::event::EventType::parse_str(event_type)
            .unwrap()
            .data_object();
        assert_eq!(event["data"]["object"], expected, "{event_type}");
        types.insert(event_type.to_string());
    }
    // Every kind of object an event carries was delivered and checked.
    let objects: BTreeSet<&str> = types.iter().map(|t| t.split_once('.').unwrap().0).collect();
    assert_eq!(
        objects,
        BTreeSet::from([
            "authorization",
            "payment",
            "payment_request",
            "payout",
            "refund"
        ]),
        "{types:?}"
    );

    // A wrong key.
    let r = app.api("sk_nope", Method::GET, "/v1/payments", None).await;
    api.check(&Method::GET, "/v1/payments", &r);

    // Every success answer of every operation was checked.
    let mut unchecked = Vec::new();
    for (method, path, op) in operations(&doc) {
        for status in op["responses"].as_object().unwrap().keys() {
            let key = (method.clone(), path.clone(), status.clone());
            if status.starts_with('2') && path != "/v1/openapi.json" && !api.seen.contains(&key) {
                unchecked.push(key);
            }
        }
    }
    assert!(
        unchecked.is_empty(),
        "success answers not exercised: {unchecked:?}"
    );
}

/// What the receiver got: each request's headers and body.
type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// An HTTP server on 127.0.0.1 that answers 200 to everything and keeps what it got.
async fn receiver() -> (String, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let received = Received::default();
    let kept = received.clone();
    let router = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let kept = kept.clone();
        async move {
            kept.lock().unwrap().push((headers, body));
            StatusCode::OK
        }
    });
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, received)
}
