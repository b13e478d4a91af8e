//! A stateful Stripe stand-in on wiremock for the server-level processor tests: it keeps
//! PaymentMethods, PaymentIntents and refunds in a mutex and answers a repeated Idempotency-Key
//! with what it first decided (another body with the same key is an `idempotency_error`), so it
//! remembers across a Kassa restart. Faults (`disrupt`) replace the answer actually sent without
//! changing what was decided, like a network that loses Stripe's reply.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const SECRET_KEY: &str = "sk_test_kassa_standin";
pub const WEBHOOK_SECRET: &str = "whsec_kassa_standin";

/// What the next matching request gets instead of its real answer.
#[derive(Clone)]
pub enum Fault {
    /// A 500 (the decision is still made and remembered).
    ServerError,
    /// A 200 whose body is not JSON.
    Garbage,
    /// The real answer, this late.
    Late(Duration),
}

#[derive(Default)]
pub struct State {
    /// Idempotency-Key → (body, status, answer).
    keys: HashMap<String, (Vec<u8>, u16, Value)>,
    pub methods: HashMap<String, Value>,
    /// In creation order.
    pub intents: Vec<Value>,
    pub refunds: Vec<Value>,
    /// (method, path, fault), applied in order to the first request that matches.
    faults: VecDeque<(String, String, Fault)>,
    counter: u64,
}

#[derive(Clone)]
pub struct StripeStandin {
    pub server: Arc<MockServer>,
    pub state: Arc<Mutex<State>>,
}

struct Responder(Arc<Mutex<State>>);

impl StripeStandin {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(wiremock::matchers::any())
            .respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        Self {
            server: Arc::new(server),
            state,
        }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The next `method` request to exactly `path` gets `fault`.
    pub fn disrupt(&self, method: &str, path: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push_back((method.into(), path.into(), fault));
    }

    pub fn intents(&self) -> Vec<Value> {
        self.state.lock().unwrap().intents.clone()
    }

    /// The PaymentIntents made for a Kassa id (fences excluded).
    pub fn intents_for(&self, kassa_id: &str) -> Vec<Value> {
        self.intents()
            .into_iter()
            .filter(|pi| {
                pi["metadata"]["kassa_id"] == kassa_id && pi["metadata"]["kassa_fence"].is_null()
            })
            .collect()
    }

    pub fn intent(&self, id: &str) -> Value {
        self.intents()
            .into_iter()
            .find(|pi| pi["id"] == id)
            .unwrap_or_else(|| panic!("the stand-in has no {id}"))
    }

    pub fn refunds(&self) -> Vec<Value> {
        self.state.lock().unwrap().refunds.clone()
    }

    /// Every request the stand-in received as (method, path).
    pub async fn calls(&self) -> Vec<(String, String)> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|r| (r.method.to_string(), r.url.path().to_string()))
            .collect()
    }

    /// How many requests were `method path`.
    pub async fn count(&self, method: &str, path: &str) -> usize {
        self.calls()
            .await
            .iter()
            .filter(|(m, p)| m == method && p == path)
            .count()
    }

    /// Changes a PaymentIntent the way Stripe would later (a bank debit clearing or failing).
    pub fn set_intent(&self, id: &str, edit: impl FnOnce(&mut Value)) -> Value {
        let mut state = self.state.lock().unwrap();
        let pi = state
            .intents
            .iter_mut()
            .find(|pi| pi["id"] == id)
            .unwrap_or_else(|| panic!("the stand-in has no {id}"));
        edit(pi);
        pi.clone()
    }
}

/// A signed event delivery: (body, Stripe-Signature header) at `unix` seconds.
pub fn event(id: &str, kind: &str, object: Value, unix: i64) -> (String, String) {
    let body = json!({"id": id, "object": "event", "type": kind, "api_version": "2024-06-20",
                      "created": unix, "data": {"object": object}})
    .to_string();
    let header = kassa_processor::stripe::sign_webhook(WEBHOOK_SECRET, unix, body.as_bytes());
    (body, header)
}

fn error(status: u16, error: Value) -> (u16, Value) {
    (status, json!({ "error": error }))
}

fn form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn metadata(fields: &HashMap<String, String>) -> Value {
    let mut meta = serde_json::Map::new();
    for (k, v) in fields {
        if let Some(name) = k
            .strip_prefix("metadata[")
            .and_then(|k| k.strip_suffix(']'))
        {
            meta.insert(name.to_string(), Value::String(v.clone()));
        }
    }
    Value::Object(meta)
}

impl State {
    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_standin{:06}", self.counter)
    }

    fn intent_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.intents.iter_mut().find(|pi| pi["id"] == id)
    }

    /// The intent with its payment method expanded.
    fn expanded(&self, pi: &Value) -> Value {
        let mut pi = pi.clone();
        if let Some(pm) = pi["payment_method"].as_str() {
            if let Some(method) = self.methods.get(pm) {
                pi["payment_method"] = method.clone();
            }
        }
        pi
    }

    fn decide(&mut self, method: &str, path: &str, query: &str, body: &[u8]) -> (u16, Value) {
        let fields = form(body);
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            ("POST", ["v1", "payment_methods"]) => self.create_method(&fields),
            ("POST", ["v1", "payment_intents"]) => self.create_intent(&fields),
            ("GET", ["v1", "payment_intents", "search"]) => {
                let q: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect();
                let query = q.get("query").cloned().unwrap_or_default();
                // metadata['field']:'value'
                let (field, value) = query
                    .strip_prefix("metadata['")
                    .and_then(|r| r.split_once("']:'"))
                    .map(|(f, v)| (f.to_string(), v.trim_end_matches('\'').to_string()))
                    .unwrap_or_default();
                let data: Vec<Value> = self
                    .intents
                    .iter()
                    .filter(|pi| pi["metadata"][&field] == value.as_str())
                    .map(|pi| self.expanded(pi))
                    .collect();
                (
                    200,
                    json!({"object": "search_result", "data": data, "has_more": false}),
                )
            }
            ("GET", ["v1", "payment_intents", id]) => {
                match self.intents.iter().find(|pi| pi["id"] == *id) {
                    Some(pi) => (200, self.expanded(pi)),
                    None => error(
                        404,
                        json!({"type": "invalid_request_error", "code": "resource_missing"}),
                    ),
                }
            }
            ("POST", ["v1", "payment_intents", id]) => match self.intent_mut(id) {
                Some(pi) => {
                    for (k, v) in metadata(&fields).as_object().unwrap() {
                        pi["metadata"][k] = v.clone();
                    }
                    (200, pi.clone())
                }
                None => error(
                    404,
                    json!({"type": "invalid_request_error", "code": "resource_missing"}),
                ),
            },
            ("POST", ["v1", "payment_intents", id, "capture"]) => {
                let Some(pi) = self.intent_mut(id) else {
                    return error(
                        404,
                        json!({"type": "invalid_request_error", "code": "resource_missing"}),
                    );
                };
                if pi["status"] != "requires_capture" {
                    return error(
                        400,
                        json!({"type": "invalid_request_error", "code": "payment_intent_unexpected_state"}),
                    );
                }
                let amount = fields
                    .get("amount_to_capture")
                    .and_then(|a| a.parse::<i64>().ok())
                    .unwrap_or_else(|| pi["amount"].as_i64().unwrap());
                if amount > pi["amount"].as_i64().unwrap() {
                    return error(
                        400,
                        json!({"type": "invalid_request_error", "param": "amount_to_capture"}),
                    );
                }
                pi["status"] = json!("succeeded");
                pi["amount_received"] = json!(amount);
                pi["amount_capturable"] = json!(0);
                (200, pi.clone())
            }
            ("POST", ["v1", "payment_intents", id, "cancel"]) => {
                let Some(pi) = self.intent_mut(id) else {
                    return error(
                        404,
                        json!({"type": "invalid_request_error", "code": "resource_missing"}),
                    );
                };
                if matches!(pi["status"].as_str(), Some("succeeded" | "canceled")) {
                    return error(
                        400,
                        json!({"type": "invalid_request_error", "code": "payment_intent_unexpected_state"}),
                    );
                }
                pi["status"] = json!("canceled");
                (200, pi.clone())
            }
            ("POST", ["v1", "refunds"]) => self.create_refund(&fields),
            ("GET", ["v1", "refunds"]) => {
                let q: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect();
                let data: Vec<Value> = self
                    .refunds
                    .iter()
                    .filter(|r| {
                        Some(r["payment_intent"].as_str().unwrap_or_default())
                            == q.get("payment_intent").map(String::as_str)
                    })
                    .cloned()
                    .collect();
                (
                    200,
                    json!({"object": "list", "data": data, "has_more": false}),
                )
            }
            _ => error(
                404,
                json!({"type": "invalid_request_error", "message": format!("no route {method} {path}")}),
            ),
        }
    }

    fn create_method(&mut self, f: &HashMap<String, String>) -> (u16, Value) {
        let id = self.next_id("pm");
        let method = match f.get("type").map(String::as_str) {
            Some("card") => {
                let number = f.get("card[number]").cloned().unwrap_or_default();
                json!({"id": id, "object": "payment_method", "type": "card",
                       "card": {"brand": "visa", "funding": if number == "4000056655665556" {"debit"} else {"credit"},
                                "last4": &number[number.len().saturating_sub(4)..], "number": number}})
            }
            Some("us_bank_account") => {
                let account = f
                    .get("us_bank_account[account_number]")
                    .cloned()
                    .unwrap_or_default();
                json!({"id": id, "object": "payment_method", "type": "us_bank_account",
                       "us_bank_account": {"last4": &account[account.len().saturating_sub(4)..], "routing_number": f.get("us_bank_account[routing_number]")}})
            }
            _ => {
                return error(
                    400,
                    json!({"type": "invalid_request_error", "param": "type"}),
                )
            }
        };
        self.methods.insert(id, method.clone());
        let mut shown = method;
        if let Some(card) = shown["card"].as_object_mut() {
            card.remove("number");
        }
        (200, shown)
    }

    fn create_intent(&mut self, f: &HashMap<String, String>) -> (u16, Value) {
        let id = self.next_id("pi");
        let amount: i64 = f.get("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
        let method_id = f.get("payment_method").cloned();
        let method = method_id
            .as_ref()
            .and_then(|m| self.methods.get(m))
            .cloned();
        let types: Vec<String> = f
            .get("payment_method_types[]")
            .map(|t| vec![t.clone()])
            .unwrap_or_else(|| vec!["card".into()]);
        let manual = f.get("capture_method").map(String::as_str) == Some("manual");
        let mut pi = json!({"id": id, "object": "payment_intent", "amount": amount, "amount_received": 0,
                            "amount_capturable": 0, "currency": f.get("currency"),
                            "capture_method": if manual {"manual"} else {"automatic"},
                            "metadata": metadata(f), "payment_method": method_id,
                            "payment_method_types": types, "last_payment_error": null,
                            "status": "requires_payment_method"});
        let confirm = f.get("confirm").map(String::as_str) == Some("true");
        let mut answer = None;
        if confirm {
            let Some(method) = method else {
                return error(
                    400,
                    json!({"type": "invalid_request_error", "param": "payment_method"}),
                );
            };
            if method["type"] == "us_bank_account" {
                pi["status"] = json!("processing");
            } else {
                let number = method["card"]["number"].as_str().unwrap_or_default();
                let decline = match number {
                    "4000000000000002" => Some(("card_declined", "generic_decline")),
                    "4000000000009995" => Some(("card_declined", "insufficient_funds")),
                    "4000000000000069" => Some(("expired_card", "expired_card")),
                    "4000000000000127" => Some(("incorrect_cvc", "incorrect_cvc")),
                    _ => None,
                };
                match decline {
                    Some((code, decline_code)) => {
                        let err = json!({"type": "card_error", "code": code, "decline_code": decline_code,
                                         "message": "Your card was declined."});
                        pi["last_payment_error"] = err.clone();
                        let mut e = err;
                        e["payment_intent"] = pi.clone();
                        answer = Some(error(402, e));
                    }
                    None if manual => {
                        pi["status"] = json!("requires_capture");
                        pi["amount_capturable"] = json!(amount);
                    }
                    None => {
                        pi["status"] = json!("succeeded");
                        pi["amount_received"] = json!(amount);
                    }
                }
            }
        }
        self.intents.push(pi.clone());
        answer.unwrap_or((200, pi))
    }

    fn create_refund(&mut self, f: &HashMap<String, String>) -> (u16, Value) {
        let intent_id = f.get("payment_intent").cloned().unwrap_or_default();
        let Some(pi) = self
            .intents
            .iter()
            .find(|pi| pi["id"] == intent_id.as_str())
            .cloned()
        else {
            return error(
                400,
                json!({"type": "invalid_request_error", "code": "resource_missing", "param": "payment_intent"}),
            );
        };
        let received = pi["amount_received"].as_i64().unwrap_or(0);
        let refunded: i64 = self
            .refunds
            .iter()
            .filter(|r| r["payment_intent"] == intent_id.as_str() && r["status"] == "succeeded")
            .map(|r| r["amount"].as_i64().unwrap())
            .sum();
        let amount: i64 = f
            .get("amount")
            .and_then(|a| a.parse().ok())
            .unwrap_or(received - refunded);
        if pi["status"] != "succeeded" {
            return error(
                400,
                json!({"type": "invalid_request_error", "code": "charge_not_captured"}),
            );
        }
        if refunded >= received {
            return error(
                400,
                json!({"type": "invalid_request_error", "code": "charge_already_refunded",
                                     "message": "Charge has already been refunded."}),
            );
        }
        if amount > received - refunded {
            return error(
                400,
                json!({"type": "invalid_request_error", "param": "amount",
                                     "message": format!("Refund amount ({amount}) is greater than unrefunded amount on charge ({})", received - refunded)}),
            );
        }
        let id = self.next_id("re");
        let refund = json!({"id": id, "object": "refund", "amount": amount, "payment_intent": intent_id,
                            "status": "succeeded", "metadata": metadata(f), "failure_reason": null});
        self.refunds.push(refund.clone());
        (200, refund)
    }
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        let method = request.method.to_string();
        let path = request.url.path().to_string();
        let query = request.url.query().unwrap_or("").to_string();
        let key = request
            .headers
            .get("Idempotency-Key")
            .map(|v| v.to_str().unwrap().to_string());
        let (status, body) = match key {
            Some(key) if method == "POST" => match state.keys.get(&key) {
                Some((body, _, _)) if *body != request.body => error(
                    400,
                    json!({"type": "idempotency_error",
                           "message": "Keys for idempotent requests can only be used with the same parameters they were first used with."}),
                ),
                Some((_, status, answer)) => (*status, answer.clone()),
                None => {
                    let (status, answer) = state.decide(&method, &path, &query, &request.body);
                    state
                        .keys
                        .insert(key, (request.body.clone(), status, answer.clone()));
                    (status, answer)
                }
            },
            _ => state.decide(&method, &path, &query, &request.body),
        };
        let fault = state
            .faults
            .iter()
            .position(|(m, p, _)| *m == method && *p == path)
            .and_then(|i| state.faults.remove(i));
        let real = ResponseTemplate::new(status).set_body_json(body);
        match fault.map(|(_, _, f)| f) {
            None => real,
            Some(Fault::ServerError) => ResponseTemplate::new(500)
                .set_body_json(json!({"error": {"type": "api_error", "message": "boom"}})),
            Some(Fault::Garbage) => ResponseTemplate::new(200).set_body_string("<html>not json"),
            Some(Fault::Late(by)) => real.set_delay(by),
        }
    }
}
