//! The Stripe connector against a wiremock stand-in: what it sends (paths, keys, fields) and how
//! it reads every kind of answer, including the failures a real Stripe rarely shows on demand
//! (5xx, timeouts, garbage, unknown statuses) and the recovery fence.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kassa_core::ach::{AccountNumber, AccountType, RoutingNumber};
use kassa_core::card::{CardBrand, CardNumber, Cvc, Expiry};
use kassa_core::id::{AuthorizationId, PaymentId, RefundId};
use kassa_core::money::{Currency, Money};
use kassa_core::payment::{DeclineCode, Funding, MaskedMethod};
use kassa_processor::stripe::{sign_webhook, StripeConfig, StripeProcessor};
use kassa_processor::{
    AuthorizeRequest, CaptureRequest, Captured, Change, ChargeOutcome, ChargeRequest, DebitMandate,
    Delivery, Held, Instrument, NotificationError, PaymentLookup, Processor, ProcessorError,
    RefundOutcome, RefundRequest,
};
use serde_json::{json, Value};
use time::OffsetDateTime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SECRET_KEY: &str = "sk_test_standin_secret";
const WEBHOOK_SECRET: &str = "whsec_standin_secret";

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::Usd)
}

fn processor(server: &MockServer) -> StripeProcessor {
    StripeProcessor::new(
        reqwest::Client::new(),
        StripeConfig {
            secret_key: SECRET_KEY.into(),
            webhook_secret: Some(WEBHOOK_SECRET.into()),
            // The trailing slash must not double up in paths.
            api_base: format!("{}/", server.uri()),
        },
    )
    .with_timing(Duration::from_millis(300), Duration::from_millis(10))
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/stripe/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// A PaymentIntent from Stripe's example object with the given fields replaced.
fn intent(fields: Value) -> Value {
    let mut intent = fixture("payment_intent_succeeded.json");
    for (k, v) in fields.as_object().unwrap() {
        intent[k] = v.clone();
    }
    intent
}

fn card_method() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(fixture("payment_method_card.json"))
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn error(status: u16, error: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({ "error": error }))
}

fn form(request: &Request) -> HashMap<String, String> {
    form_urlencoded::parse(&request.body).into_owned().collect()
}

fn key(request: &Request) -> Option<String> {
    request
        .headers
        .get("Idempotency-Key")
        .map(|v| v.to_str().unwrap().to_string())
}

async fn requests_to(server: &MockServer, verb: &str, to: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == verb && r.url.path() == to)
        .collect()
}

async fn mount(server: &MockServer, verb: &str, to: &str, response: impl Respond + 'static) {
    Mock::given(method(verb))
        .and(path(to))
        .respond_with(response)
        .mount(server)
        .await;
}

/// Like Stripe: the first request with a key is decided (and counted), a repeat with the same
/// body gets the same answer, a repeat with another body an `idempotency_error`. `disruptions`
/// replace the answers actually sent, in order, without changing what was decided.
#[derive(Clone)]
struct Remembering(Arc<RememberingState>);

struct RememberingState {
    answer: ResponseTemplate,
    disruptions: Mutex<VecDeque<ResponseTemplate>>,
    seen: Mutex<HashMap<String, Vec<u8>>>,
    decided: AtomicUsize,
}

impl Remembering {
    fn new(answer: ResponseTemplate, disruptions: Vec<ResponseTemplate>) -> Self {
        Self(Arc::new(RememberingState {
            answer,
            disruptions: Mutex::new(disruptions.into()),
            seen: Mutex::default(),
            decided: AtomicUsize::new(0),
        }))
    }

    fn decided(&self) -> usize {
        self.0.decided.load(Ordering::SeqCst)
    }
}

impl Respond for Remembering {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let key = key(request).unwrap_or_default();
        {
            let mut seen = self.0.seen.lock().unwrap();
            match seen.get(&key) {
                Some(body) if *body != request.body => {
                    return error(
                        400,
                        json!({"type": "idempotency_error",
                               "message": "Keys for idempotent requests can only be used with the same parameters they were first used with."}),
                    )
                }
                Some(_) => {}
                None => {
                    seen.insert(key, request.body.clone());
                    self.0.decided.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        if let Some(disruption) = self.0.disruptions.lock().unwrap().pop_front() {
            return disruption;
        }
        self.0.answer.clone()
    }
}

struct Card {
    number: CardNumber,
    cvc: Cvc,
}

impl Card {
    fn new(number: &str) -> Self {
        Self {
            number: CardNumber::parse(number).unwrap(),
            cvc: Cvc::parse("123", None).unwrap(),
        }
    }

    fn instrument(&self) -> Instrument<'_> {
        Instrument::Card {
            number: &self.number,
            expiry: Expiry {
                month: 12,
                year: 2040,
            },
            cvc: Some(&self.cvc),
            postal_code: Some("94102"),
        }
    }
}

fn sale<'a>(id: &'a PaymentId, card: &'a Card, amount: i64) -> ChargeRequest<'a> {
    ChargeRequest {
        payment_id: id,
        amount: usd(amount),
        instrument: card.instrument(),
        holder_name: Some("Pat Payer"),
        mandate: None,
    }
}

const PI: &str = "pi_1PgafyB7WZ01zgkWSjxsAJo3";

#[tokio::test]
async fn an_approved_sale_sends_the_card_then_the_intent() {
    let server = MockServer::start().await;
    mount(&server, "POST", "/v1/payment_methods", card_method()).await;
    mount(
        &server,
        "POST",
        "/v1/payment_intents",
        ok(intent(json!({"status": "succeeded"}))),
    )
    .await;
    let id = PaymentId::generate();
    let card = Card::new("4242424242424242");
    let answer = processor(&server)
        .charge(sale(&id, &card, 1099))
        .await
        .unwrap();
    assert_eq!(
        answer.outcome,
        ChargeOutcome::Approved {
            funding: Funding::Debit
        }
    );
    assert_eq!(answer.reference.as_deref(), Some(PI));

    let methods = requests_to(&server, "POST", "/v1/payment_methods").await;
    assert_eq!(methods.len(), 1);
    let m = &methods[0];
    assert_eq!(
        m.headers.get("Authorization").unwrap(),
        &format!("Bearer {SECRET_KEY}")
    );
    assert_eq!(m.headers.get("Stripe-Version").unwrap(), "2024-06-20");
    assert_eq!(
        m.headers.get("Content-Type").unwrap(),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(key(m), Some(format!("{id}-pm")));
    let fields = form(m);
    assert_eq!(fields["type"], "card");
    assert_eq!(fields["card[number]"], "4242424242424242");
    assert_eq!(fields["card[cvc]"], "123");
    assert_eq!(fields["billing_details[name]"], "Pat Payer");

    let intents = requests_to(&server, "POST", "/v1/payment_intents").await;
    assert_eq!(intents.len(), 1);
    assert_eq!(key(&intents[0]), Some(id.to_string()));
    let fields = form(&intents[0]);
    assert_eq!(fields["amount"], "1099");
    assert_eq!(fields["currency"], "usd");
    assert_eq!(fields["payment_method"], "pm_1Pgc75B7WZ01zgkWlHVgdEGJ");
    assert_eq!(fields["confirm"], "true");
    assert_eq!(fields["metadata[kassa_id]"], id.as_str());
    assert_eq!(fields["payment_method_types[]"], "card");
}

#[tokio::test]
async fn a_402_is_a_decline_with_the_intents_id() {
    let server = MockServer::start().await;
    mount(&server, "POST", "/v1/payment_methods", card_method()).await;
    mount(
        &server,
        "POST",
        "/v1/payment_intents",
        error(
            402,
            json!({"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
                   "message": "Your card has insufficient funds.",
                   "payment_intent": {"id": "pi_declined", "object": "payment_intent", "status": "requires_payment_method"}}),
        ),
    )
    .await;
    let id = PaymentId::generate();
    let card = Card::new("4000000000009995");
    let answer = processor(&server)
        .charge(sale(&id, &card, 500))
        .await
        .unwrap();
    assert_eq!(
        answer.outcome,
        ChargeOutcome::Declined {
            code: DeclineCode::InsufficientFunds
        }
    );
    assert_eq!(answer.reference.as_deref(), Some("pi_declined"));
    // A decline is an answer, not a failure: no retry.
    assert_eq!(
        requests_to(&server, "POST", "/v1/payment_intents")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn an_invalid_card_number_is_declined_at_the_payment_method() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/v1/payment_methods",
        error(
            402,
            json!({"type": "card_error", "code": "incorrect_number", "param": "card[number]"}),
        ),
    )
    .await;
    let id = PaymentId::generate();
    let card = Card::new("4242424242424242");
    let answer = processor(&server)
        .charge(sale(&id, &card, 500))
        .await
        .unwrap();
    assert_eq!(
        answer.outcome,
        ChargeOutcome::Declined {
            code: DeclineCode::CardDeclined
        }
    );
    assert_eq!(answer.reference, None);
}

async fn retried_once_charged(disruption: ResponseTemplate) {
    let server = MockServer::start().await;
    mount(&server, "POST", "/v1/payment_methods", card_method()).await;
    let stripe = Remembering::new(ok(intent(json!({"status": "succeeded"}))), vec![disruption]);
    mount(&server, "POST", "/v1/payment_intents", stripe.clone()).await;
    let id = PaymentId::generate();
    let card = Card::new("4242424242424242");
    let answer = processor(&server)
        .charge(sale(&id, &card, 1099))
        .await
        .unwrap();
    assert_eq!(
        answer.outcome,
        ChargeOutcome::Approved {
            funding: Funding::Debit
        }
    );
    let intents = requests_to(&server, "POST", "/v1/payment_intents").await;
    assert_eq!(intents.len(), 2);
    assert!(intents
        .iter()
        .all(|r| key(r) == Some(id.to_string()) && r.body == intents[0].body));
    assert_eq!(stripe.decided(), 1, "charged once");
}

#[tokio::test]
async fn a_5xx_is_retried_with_the_same_key_and_charges_once() {
    retried_once_charged(error(500, json!({"type": "api_error"}))).await;
}

#[tokio::test]
async fn a_timeout_is_retried_with_the_same_key_and_charges_once() {
    retried_once_charged(
        ok(intent(json!({"status": "succeeded"}))).set_delay(Duration::from_secs(2)),
    )
    .await;
}

#[tokio::test]
async fn repeated_5xx_is_unknown_never_success() {
    let server = MockServer::start().await;
    mount(&server, "POST", "/v1/payment_methods", card_method()).await;
    mount(
        &server,
        "POST",
        "/v1/payment_intents",
        error(503, json!({"type": "api_error"})),
    )
    .await;
    let id = PaymentId::generate();
    let card = Card::new("4242424242424242");
    let result = processor(&server).charge(sale(&id, &card, 100)).await;
    assert!(
        matches!(result, Err(ProcessorError::Unknown(_))),
        "{result:?}"
    );
    assert_eq!(
        requests_to(&server, "POST", "/v1/payment_intents")
            .await
            .len(),
        3
    );
}

#[tokio::test]
async fn a_malformed_body_is_unknown() {
    let server = MockServer::start().await;
    mount(&server, "POST", "/v1/payment_methods", card_method()).await;
    mount(
        &server,
        "POST",
        "/v1/payment_intents",
        ResponseTemplate::new(200).set_body_string("{\"id\": \"pi_1\", \"status\""),
    )
    .await;
    let id = PaymentId::generate();
    let card = Card::new("4242424242424242");
    let result = processor(&server).charge(sale(&id, &card, 100)).await;
    match result {
        Err(ProcessorError::Unknown(message)) => {
            assert!(!message.contains("4242424242424242"));
            assert!(!message.contains(SECRET_KEY));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        requests_to(&server, "POST", "/v1/payment_intents")
            .await
            .len(),
        3
    );
}

#[tokio::test]
async fn an_unknown_status_is_unknown() {
    let server = MockServer::start().await;
    mount(&server, "POST", "/v1/payment_methods", card_method()).await;
    mount(
        &server,
        "POST",
        "/v1/payment_intents",
        ok(intent(json!({"status": "requires_reconsideration"}))),
    )
    .await;
    let id = PaymentId::generate();
    let card = Card::new("4242424242424242");
    let result = processor(&server).charge(sale(&id, &card, 100)).await;
    assert!(
        matches!(result, Err(ProcessorError::Unknown(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_bad_key_is_not_sent_and_not_retried() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/v1/payment_methods",
        error(
            401,
            json!({"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****cret"}),
        ),
    )
    .await;
    let id = PaymentId::generate();
    let card = Card::new("4242424242424242");
    let result = processor(&server).charge(sale(&id, &card, 100)).await;
    match result {
        Err(ProcessorError::NotSent(message)) => assert!(!message.contains(SECRET_KEY)),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_rate_limit_is_retried_then_not_sent() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/v1/payment_methods",
        error(
            429,
            json!({"type": "invalid_request_error", "code": "rate_limit"}),
        ),
    )
    .await;
    let id = PaymentId::generate();
    let card = Card::new("4242424242424242");
    let result = processor(&server).charge(sale(&id, &card, 100)).await;
    assert!(
        matches!(result, Err(ProcessorError::NotSent(_))),
        "{result:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn an_invalid_request_is_not_sent() {
    let server = MockServer::start().await;
    mount(&server, "POST", "/v1/payment_methods", card_method()).await;
    mount(
        &server,
        "POST",
        "/v1/payment_intents",
        error(
            400,
            json!({"type": "invalid_request_error", "code": "parameter_unknown", "param": "foo"}),
        ),
    )
    .await;
    let id = PaymentId::generate();
    let card = Card::new("4242424242424242");
    let result = processor(&server).charge(sale(&id, &card, 100)).await;
    assert!(
        matches!(result, Err(ProcessorError::NotSent(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_not_sent() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = unused.local_addr().unwrap().port();
    drop(unused);
    let stripe = StripeProcessor::new(
        reqwest::Client::new(),
        StripeConfig {
            api_base: format!("http://127.0.0.1:{port}"),
            ..StripeConfig::new(SECRET_KEY)
        },
    )
    .with_timing(Duration::from_millis(300), Duration::from_millis(10));
    let id = PaymentId::generate();
    let card = Card::new("4242424242424242");
    let result = stripe.charge(sale(&id, &card, 100)).await;
    assert!(
        matches!(result, Err(ProcessorError::NotSent(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_payment_waiting_on_the_payer_is_declined_and_canceled() {
    let server = MockServer::start().await;
    mount(&server, "POST", "/v1/payment_methods", card_method()).await;
    mount(
        &server,
        "POST",
        "/v1/payment_intents",
        ok(intent(
            json!({"status": "requires_action", "next_action": {"type": "use_stripe_sdk"}}),
        )),
    )
    .await;
    let cancel = format!("/v1/payment_intents/{PI}/cancel");
    mount(
        &server,
        "POST",
        &cancel,
        ok(intent(json!({"status": "canceled"}))),
    )
    .await;
    let id = PaymentId::generate();
    let card = Card::new("4000002500003155");
    let answer = processor(&server)
        .charge(sale(&id, &card, 100))
        .await
        .unwrap();
    assert_eq!(
        answer.outcome,
        ChargeOutcome::Declined {
            code: DeclineCode::CardDeclined
        }
    );
    assert_eq!(answer.reference.as_deref(), Some(PI));
    assert_eq!(requests_to(&server, "POST", &cancel).await.len(), 1);
}

struct Bank {
    routing: RoutingNumber,
    account: AccountNumber,
}

impl Bank {
    fn new() -> Self {
        Self {
            routing: RoutingNumber::parse("110000000").unwrap(),
            account: AccountNumber::parse("000123456789").unwrap(),
        }
    }

    fn instrument(&self) -> Instrument<'_> {
        Instrument::Ach {
            routing_number: &self.routing,
            account_number: &self.account,
            account_type: AccountType::Checking,
        }
    }
}

#[tokio::test]
async fn a_bank_debit_in_processing_is_submitted() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/v1/payment_methods",
        ok(
            json!({"id": "pm_bank", "object": "payment_method", "type": "us_bank_account",
                  "us_bank_account": {"last4": "6789"}}),
        ),
    )
    .await;
    mount(
        &server,
        "POST",
        "/v1/payment_intents",
        ok(intent(
            json!({"id": "pi_bank", "status": "processing", "payment_method": "pm_bank",
                          "payment_method_types": ["us_bank_account"]}),
        )),
    )
    .await;
    let id = PaymentId::generate();
    let bank = Bank::new();
    let answer = processor(&server)
        .charge(ChargeRequest {
            payment_id: &id,
            amount: usd(2500),
            instrument: bank.instrument(),
            holder_name: Some("Pat Payer"),
            mandate: Some(DebitMandate {
                accepted_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
                ip: Some("203.0.113.9"),
                user_agent: Some("Firefox/130"),
            }),
        })
        .await
        .unwrap();
    assert_eq!(
        answer.outcome,
        ChargeOutcome::AchSubmitted { expected: None }
    );
    assert_eq!(answer.reference.as_deref(), Some("pi_bank"));
    let method = form(&requests_to(&server, "POST", "/v1/payment_methods").await[0]);
    assert_eq!(method["type"], "us_bank_account");
    assert_eq!(method["us_bank_account[account_number]"], "000123456789");
    assert_eq!(method["us_bank_account[routing_number]"], "110000000");
    assert_eq!(method["us_bank_account[account_type]"], "checking");
    assert_eq!(method["billing_details[name]"], "Pat Payer");
    let intent = form(&requests_to(&server, "POST", "/v1/payment_intents").await[0]);
    assert_eq!(intent["payment_method_types[]"], "us_bank_account");
    assert_eq!(intent["mandate_data[customer_acceptance][type]"], "online");
    assert_eq!(
        intent["mandate_data[customer_acceptance][online][ip_address]"],
        "203.0.113.9"
    );
    assert_eq!(
        intent["mandate_data[customer_acceptance][accepted_at]"],
        "1800000000"
    );
}

#[tokio::test]
async fn a_bank_debit_without_a_name_or_google_pay_is_not_sent() {
    let server = MockServer::start().await;
    let id = PaymentId::generate();
    let bank = Bank::new();
    let stripe = processor(&server);
    let result = stripe
        .charge(ChargeRequest {
            payment_id: &id,
            amount: usd(2500),
            instrument: bank.instrument(),
            holder_name: None,
            mandate: None,
        })
        .await;
    assert!(matches!(result, Err(ProcessorError::NotSent(m)) if m.contains("name")));
    let result = stripe
        .charge(ChargeRequest {
            payment_id: &id,
            amount: usd(2500),
            instrument: Instrument::GooglePay {
                token: Some("{\"signature\":\"…\"}"),
                brand: Some(CardBrand::Visa),
            },
            holder_name: None,
            mandate: None,
        })
        .await;
    assert!(matches!(result, Err(ProcessorError::NotSent(m)) if m.contains("Google Pay")));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_authorization_holds_with_manual_capture() {
    let server = MockServer::start().await;
    mount(&server, "POST", "/v1/payment_methods", card_method()).await;
    mount(
        &server,
        "POST",
        "/v1/payment_intents",
        ok(intent(
            json!({"status": "requires_capture", "capture_method": "manual"}),
        )),
    )
    .await;
    let id = AuthorizationId::generate();
    let card = Card::new("4242424242424242");
    let answer = processor(&server)
        .authorize(AuthorizeRequest {
            authorization_id: &id,
            amount: usd(1000),
            instrument: card.instrument(),
            holder_name: None,
        })
        .await
        .unwrap();
    assert_eq!(
        answer.outcome,
        ChargeOutcome::Approved {
            funding: Funding::Debit
        }
    );
    let request = &requests_to(&server, "POST", "/v1/payment_intents").await[0];
    assert_eq!(key(request), Some(id.to_string()));
    let fields = form(request);
    assert_eq!(fields["capture_method"], "manual");
    assert_eq!(fields["metadata[kassa_id]"], id.as_str());
}

#[tokio::test]
async fn a_partial_capture_marks_then_captures() {
    let server = MockServer::start().await;
    let one = format!("/v1/payment_intents/{PI}");
    let capture = format!("{one}/capture");
    mount(
        &server,
        "GET",
        &one,
        ok(intent(
            json!({"status": "requires_capture", "amount": 1000, "amount_received": 0}),
        )),
    )
    .await;
    mount(
        &server,
        "POST",
        &one,
        ok(intent(json!({"status": "requires_capture"}))),
    )
    .await;
    mount(
        &server,
        "POST",
        &capture,
        ok(intent(
            json!({"status": "succeeded", "amount": 1000, "amount_received": 600}),
        )),
    )
    .await;
    let auth = AuthorizationId::generate();
    let payment = PaymentId::generate();
    let answer = processor(&server)
        .capture(CaptureRequest {
            hold: Held {
                authorization_id: &auth,
                reference: Some(PI),
                amount: usd(1000),
            },
            payment_id: &payment,
            amount: usd(600),
        })
        .await
        .unwrap();
    assert!(matches!(answer.outcome, ChargeOutcome::Approved { .. }));
    assert_eq!(answer.reference.as_deref(), Some(PI));
    let mark = &requests_to(&server, "POST", &one).await[0];
    assert_eq!(form(mark)["metadata[kassa_capture_id]"], payment.as_str());
    let captured = &requests_to(&server, "POST", &capture).await[0];
    assert_eq!(key(captured), Some(payment.to_string()));
    assert_eq!(form(captured)["amount_to_capture"], "600");
}

#[tokio::test]
async fn a_hold_already_captured_by_another_payment_declines_the_capture() {
    let server = MockServer::start().await;
    let one = format!("/v1/payment_intents/{PI}");
    mount(
        &server,
        "GET",
        &one,
        ok(intent(json!({"status": "succeeded", "metadata": {"kassa_id": "auth_x", "kassa_capture_id": "pay_other"}}))),
    )
    .await;
    let auth = AuthorizationId::generate();
    let payment = PaymentId::generate();
    let answer = processor(&server)
        .capture(CaptureRequest {
            hold: Held {
                authorization_id: &auth,
                reference: Some(PI),
                amount: usd(1000),
            },
            payment_id: &payment,
            amount: usd(600),
        })
        .await
        .unwrap();
    assert_eq!(
        answer.outcome,
        ChargeOutcome::Declined {
            code: DeclineCode::ProcessingError
        }
    );
    assert!(requests_to(&server, "POST", &format!("{one}/capture"))
        .await
        .is_empty());
}

#[tokio::test]
async fn release_cancels_and_an_already_canceled_hold_is_released() {
    let server = MockServer::start().await;
    let one = format!("/v1/payment_intents/{PI}");
    let cancel = format!("{one}/cancel");
    mount(
        &server,
        "POST",
        &cancel,
        ok(intent(json!({"status": "canceled"}))),
    )
    .await;
    let auth = AuthorizationId::generate();
    let hold = Held {
        authorization_id: &auth,
        reference: Some(PI),
        amount: usd(1000),
    };
    processor(&server).release(hold).await.unwrap();
    assert_eq!(
        key(&requests_to(&server, "POST", &cancel).await[0]),
        Some(format!("{auth}-cancel"))
    );

    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        &cancel,
        error(
            400,
            json!({"type": "invalid_request_error", "code": "payment_intent_unexpected_state"}),
        ),
    )
    .await;
    mount(
        &server,
        "GET",
        &one,
        ok(intent(json!({"status": "canceled"}))),
    )
    .await;
    processor(&server).release(hold).await.unwrap();
}

fn masked() -> MaskedMethod {
    MaskedMethod::Card {
        brand: CardBrand::Visa,
        funding: Funding::Credit,
        last4: "4242".into(),
        exp_month: 12,
        exp_year: 2040,
    }
}

#[tokio::test]
async fn a_refund_succeeds_and_one_too_large_is_refused() {
    let server = MockServer::start().await;
    let stripe = Remembering::new(ok(fixture("refund_succeeded.json")), vec![]);
    mount(&server, "POST", "/v1/refunds", stripe.clone()).await;
    let payment = PaymentId::generate();
    let refund_id = RefundId::generate();
    let method = masked();
    let request = RefundRequest {
        payment: Captured {
            payment_id: &payment,
            reference: Some(PI),
            method: &method,
            holder_name: None,
        },
        refund_id: &refund_id,
        amount: usd(100),
    };
    let outcome = processor(&server).refund(request).await.unwrap();
    assert_eq!(
        outcome,
        RefundOutcome::Succeeded {
            reference: Some("re_1Pgc72B7WZ01zgkWqPvrRrPE".into())
        }
    );
    let sent = &requests_to(&server, "POST", "/v1/refunds").await[0];
    assert_eq!(key(sent), Some(refund_id.to_string()));
    let fields = form(sent);
    assert_eq!(fields["payment_intent"], PI);
    assert_eq!(fields["amount"], "100");
    assert_eq!(fields["metadata[kassa_id]"], refund_id.as_str());

    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/v1/refunds",
        error(
            400,
            json!({"type": "invalid_request_error", "param": "amount",
                   "message": "Refund amount ($20.00) is greater than unrefunded amount on charge ($10.00)"}),
        ),
    )
    .await;
    let outcome = processor(&server)
        .refund(RefundRequest {
            amount: usd(2000),
            ..request
        })
        .await
        .unwrap();
    assert!(
        matches!(outcome, RefundOutcome::Refused { reason } if reason.contains("greater than"))
    );
}

#[tokio::test]
async fn a_pending_refund_is_unknown() {
    let server = MockServer::start().await;
    let mut pending = fixture("refund_succeeded.json");
    pending["status"] = json!("pending");
    mount(&server, "POST", "/v1/refunds", ok(pending)).await;
    let payment = PaymentId::generate();
    let refund_id = RefundId::generate();
    let method = masked();
    let result = processor(&server)
        .refund(RefundRequest {
            payment: Captured {
                payment_id: &payment,
                reference: Some(PI),
                method: &method,
                holder_name: None,
            },
            refund_id: &refund_id,
            amount: usd(100),
        })
        .await;
    assert!(
        matches!(result, Err(ProcessorError::Unknown(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn lookup_finds_a_payment_by_search() {
    let server = MockServer::start().await;
    let id = PaymentId::generate();
    mount(
        &server,
        "GET",
        "/v1/payment_intents/search",
        ok(
            json!({"object": "search_result", "has_more": false, "data": [
                intent(json!({"status": "succeeded", "metadata": {"kassa_id": id.as_str()},
                              "payment_method": fixture("payment_method_card.json")}))
            ]}),
        ),
    )
    .await;
    let answer = processor(&server)
        .lookup(PaymentLookup {
            payment_id: &id,
            reference: None,
            amount: usd(1099),
            capture_of: None,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        answer.outcome,
        ChargeOutcome::Approved {
            funding: Funding::Debit
        }
    );
    assert_eq!(answer.reference.as_deref(), Some(PI));
    let search = &requests_to(&server, "GET", "/v1/payment_intents/search").await[0];
    let query: HashMap<String, String> = search.url.query_pairs().into_owned().collect();
    assert_eq!(query["query"], format!("metadata['kassa_id']:'{id}'"));
    // No fence when search finds it.
    assert!(requests_to(&server, "POST", "/v1/payment_intents")
        .await
        .is_empty());
}

#[tokio::test]
async fn lookup_by_reference_reads_the_intent() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GET",
        &format!("/v1/payment_intents/{PI}"),
        ok(intent(json!({"status": "requires_payment_method",
                          "last_payment_error": {"type": "card_error", "code": "expired_card"}}))),
    )
    .await;
    let id = PaymentId::generate();
    let answer = processor(&server)
        .lookup(PaymentLookup {
            payment_id: &id,
            reference: Some(PI),
            amount: usd(1099),
            capture_of: None,
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        answer.outcome,
        ChargeOutcome::Declined {
            code: DeclineCode::ExpiredCard
        }
    );
}

async fn empty_search(server: &MockServer) {
    mount(
        server,
        "GET",
        "/v1/payment_intents/search",
        ok(json!({"object": "search_result", "has_more": false, "data": []})),
    )
    .await;
}

#[tokio::test]
async fn lookup_fences_an_id_stripe_never_received() {
    let server = MockServer::start().await;
    empty_search(&server).await;
    let id = PaymentId::generate();
    let fenced = |status: &str| {
        intent(
            json!({"id": "pi_fence", "status": status, "payment_method": null,
                      "amount_received": 0,
                      "metadata": {"kassa_id": id.as_str(), "kassa_fence": "true"}}),
        )
    };
    let stripe = Remembering::new(ok(fenced("requires_payment_method")), vec![]);
    mount(&server, "POST", "/v1/payment_intents", stripe.clone()).await;
    mount(
        &server,
        "POST",
        "/v1/payment_intents/pi_fence/cancel",
        ok(fenced("canceled")),
    )
    .await;
    let found = processor(&server)
        .lookup(PaymentLookup {
            payment_id: &id,
            reference: None,
            amount: usd(1099),
            capture_of: None,
        })
        .await
        .unwrap();
    assert_eq!(found, None);
    let fence = &requests_to(&server, "POST", "/v1/payment_intents").await[0];
    assert_eq!(key(fence), Some(id.to_string()));
    let fields = form(fence);
    assert_eq!(fields.len(), 4);
    assert_eq!(fields["amount"], "1099");
    assert_eq!(fields["metadata[kassa_id]"], id.as_str());
    assert_eq!(fields["metadata[kassa_fence]"], "true");
    assert!(!fields.contains_key("confirm") && !fields.contains_key("payment_method"));
    assert_eq!(
        requests_to(&server, "POST", "/v1/payment_intents/pi_fence/cancel")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_fence_answered_with_an_idempotency_error_is_unknown() {
    let server = MockServer::start().await;
    empty_search(&server).await;
    // The original charge used the key: the stand-in remembers it, and refuses the fence.
    mount(&server, "POST", "/v1/payment_methods", card_method()).await;
    let stripe = Remembering::new(
        ResponseTemplate::new(500),
        vec![ResponseTemplate::new(200).set_delay(Duration::from_secs(2))],
    );
    mount(&server, "POST", "/v1/payment_intents", stripe.clone()).await;
    let id = PaymentId::generate();
    let card = Card::new("4242424242424242");
    let stripe_processor = processor(&server);
    let lost = stripe_processor.charge(sale(&id, &card, 1099)).await;
    assert!(matches!(lost, Err(ProcessorError::Unknown(_))), "{lost:?}");
    let result = stripe_processor
        .lookup(PaymentLookup {
            payment_id: &id,
            reference: None,
            amount: usd(1099),
            capture_of: None,
        })
        .await;
    assert!(
        matches!(result, Err(ProcessorError::Unknown(_))),
        "{result:?}"
    );
    assert_eq!(stripe.decided(), 1);
}

#[tokio::test]
async fn a_capture_lookup_reads_the_hold() {
    let server = MockServer::start().await;
    let auth = AuthorizationId::generate();
    let payment = PaymentId::generate();
    let lookup = |reference| PaymentLookup {
        payment_id: &payment,
        reference: None,
        amount: usd(600),
        capture_of: Some(Held {
            authorization_id: &auth,
            reference,
            amount: usd(1000),
        }),
    };
    let one = format!("/v1/payment_intents/{PI}");
    let guard = Mock::given(method("GET"))
        .and(path(&one))
        .respond_with(ok(intent(json!({"status": "requires_capture"}))))
        .mount_as_scoped(&server)
        .await;
    let stripe = processor(&server);
    assert_eq!(stripe.lookup(lookup(Some(PI))).await.unwrap(), None);
    drop(guard);
    let guard = Mock::given(method("GET"))
        .and(path(&one))
        .respond_with(ok(intent(
            json!({"status": "succeeded", "amount_received": 600,
            "metadata": {"kassa_id": auth.as_str(), "kassa_capture_id": payment.as_str()}}),
        )))
        .mount_as_scoped(&server)
        .await;
    let answer = stripe.lookup(lookup(Some(PI))).await.unwrap().unwrap();
    assert!(matches!(answer.outcome, ChargeOutcome::Approved { .. }));
    drop(guard);
    mount(
        &server,
        "GET",
        &one,
        ok(intent(json!({"status": "canceled"}))),
    )
    .await;
    let answer = stripe.lookup(lookup(Some(PI))).await.unwrap().unwrap();
    assert_eq!(
        answer.outcome,
        ChargeOutcome::Declined {
            code: DeclineCode::ProcessingError
        }
    );
}

#[tokio::test]
async fn lookup_refund_finds_it_by_metadata() {
    let server = MockServer::start().await;
    let refund_id = RefundId::generate();
    let mut mine = fixture("refund_succeeded.json");
    mine["metadata"] = json!({"kassa_id": refund_id.as_str()});
    let mut other = mine.clone();
    other["id"] = json!("re_other");
    other["metadata"] = json!({"kassa_id": "re_someoneelse"});
    mount(
        &server,
        "GET",
        "/v1/refunds",
        ok(json!({"object": "list", "has_more": false, "data": [other, mine]})),
    )
    .await;
    let payment = PaymentId::generate();
    let method = masked();
    let request = |refund_id| RefundRequest {
        payment: Captured {
            payment_id: &payment,
            reference: Some(PI),
            method: &method,
            holder_name: None,
        },
        refund_id,
        amount: usd(100),
    };
    let stripe = processor(&server);
    assert_eq!(
        stripe.lookup_refund(request(&refund_id)).await.unwrap(),
        Some(RefundOutcome::Succeeded {
            reference: Some("re_1Pgc72B7WZ01zgkWqPvrRrPE".into())
        })
    );
    let never = RefundId::generate();
    assert_eq!(stripe.lookup_refund(request(&never)).await.unwrap(), None);
    let list = &requests_to(&server, "GET", "/v1/refunds").await[0];
    let query: HashMap<String, String> = list.url.query_pairs().into_owned().collect();
    assert_eq!(query["payment_intent"], PI);
    assert_eq!(query["limit"], "100");
}

#[tokio::test]
async fn notifications_are_verified_and_read() {
    let server = MockServer::start().await;
    let stripe = processor(&server);
    let body = serde_json::to_vec(&fixture("event_payment_intent_succeeded.json")).unwrap();
    let now = OffsetDateTime::now_utc();
    let header = sign_webhook(WEBHOOK_SECRET, now.unix_timestamp(), &body);
    let headers = [("stripe-signature", header.as_str())];
    let notification = stripe
        .read_notification(Delivery {
            headers: &headers,
            body: &body,
            received_at: now,
        })
        .await
        .unwrap();
    assert_eq!(notification.event_id, "evt_1PgbSucceededEvent000001");
    assert!(matches!(
        notification.change,
        Some(Change::PaymentSucceeded { .. })
    ));
    let unsigned = stripe
        .read_notification(Delivery {
            headers: &[],
            body: &body,
            received_at: now,
        })
        .await;
    assert_eq!(unsigned, Err(NotificationError::BadSignature));
    let without_secret =
        StripeProcessor::new(reqwest::Client::new(), StripeConfig::new(SECRET_KEY));
    let result = without_secret
        .read_notification(Delivery {
            headers: &headers,
            body: &body,
            received_at: now,
        })
        .await;
    assert_eq!(result, Err(NotificationError::BadSignature));
}

#[tokio::test]
async fn a_later_lookup_that_finds_the_fence_still_answers_none() {
    let server = MockServer::start().await;
    let id = PaymentId::generate();
    mount(
        &server,
        "GET",
        "/v1/payment_intents/search",
        ok(
            json!({"object": "search_result", "has_more": false, "data": [
                intent(json!({"id": "pi_fence", "status": "canceled", "payment_method": null,
                              "metadata": {"kassa_id": id.as_str(), "kassa_fence": "true"}}))
            ]}),
        ),
    )
    .await;
    let found = processor(&server)
        .lookup(PaymentLookup {
            payment_id: &id,
            reference: None,
            amount: usd(1099),
            capture_of: None,
        })
        .await
        .unwrap();
    assert_eq!(found, None);
    assert!(requests_to(&server, "POST", "/v1/payment_intents")
        .await
        .is_empty());
}

#[tokio::test]
async fn a_call_over_its_budget_is_unknown() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/v1/payment_methods",
        card_method().set_delay(Duration::from_millis(250)),
    )
    .await;
    mount(
        &server,
        "POST",
        "/v1/payment_intents",
        ok(intent(json!({"status": "succeeded"}))).set_delay(Duration::from_millis(250)),
    )
    .await;
    let id = PaymentId::generate();
    let card = Card::new("4242424242424242");
    let result = processor(&server)
        .with_call_budget(Duration::from_millis(400))
        .charge(sale(&id, &card, 100))
        .await;
    assert!(
        matches!(result, Err(ProcessorError::Unknown(_))),
        "{result:?}"
    );
}
