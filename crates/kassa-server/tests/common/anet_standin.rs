//! A stateful Authorize.net stand-in on wiremock for the server-level processor tests: one JSON
//! endpoint (`/xml/v1/request.api`) whose answers start with a UTF-8 byte-order mark, keeping
//! every transaction (status, amounts, invoice number and description) so the reporting calls
//! (`getTransactionDetailsRequest`, the unsettled and settled lists) answer what the
//! transactions made. Authorize.net has no idempotency key: every transaction sent is counted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha512;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TRANSACTION_KEY: &str = "standin-transaction-key";
pub const SIGNATURE_KEY: &str = "9F6B2A1C9D8E7F6A5B4C3D2E1F0A9B8C7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F2A1B0C9D8E7F6A5B4C3D2E1F0A9B8C7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F2A1B";

/// What the next `createTransactionRequest` gets.
#[derive(Clone)]
pub enum Fault {
    /// A 500 after the transaction was made.
    ServerError,
    /// Made, but held by the fraud filters: responseCode 4, status `FDSPendingReview`.
    HeldForReview,
}

#[derive(Clone, Debug)]
pub struct Tx {
    pub trans_id: String,
    pub kind: String,
    pub status: String,
    pub auth_amount: i64,
    pub settle_amount: i64,
    pub invoice: String,
    pub description: String,
    pub echeck: bool,
    pub ref_trans_id: Option<String>,
}

#[derive(Default)]
pub struct State {
    pub transactions: Vec<Tx>,
    faults: VecDeque<Fault>,
    next: u64,
}

#[derive(Clone)]
pub struct AnetStandin {
    pub server: Arc<MockServer>,
    pub state: Arc<Mutex<State>>,
}

struct Responder(Arc<Mutex<State>>);

fn minor(v: &Value) -> i64 {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    kassa_core::money::parse_amount(&text).unwrap()
}

fn amount(minor: i64) -> Value {
    serde_json::from_str(&kassa_core::money::format_minor(minor)).unwrap()
}

impl AnetStandin {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            next: 60_000,
            ..Default::default()
        }));
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

    pub fn disrupt(&self, fault: Fault) {
        self.state.lock().unwrap().faults.push_back(fault);
    }

    pub fn tx(&self, trans_id: &str) -> Tx {
        self.state
            .lock()
            .unwrap()
            .transactions
            .iter()
            .find(|t| t.trans_id == trans_id)
            .cloned()
            .unwrap_or_else(|| panic!("the stand-in has no transaction {trans_id}"))
    }

    /// Transactions whose order describes `kassa_id`.
    pub fn txs_for(&self, kassa_id: &str) -> Vec<Tx> {
        self.state
            .lock()
            .unwrap()
            .transactions
            .iter()
            .filter(|t| t.description == kassa_id)
            .cloned()
            .collect()
    }

    pub fn set_status(&self, trans_id: &str, status: &str) {
        let mut state = self.state.lock().unwrap();
        let tx = state
            .transactions
            .iter_mut()
            .find(|t| t.trans_id == trans_id)
            .unwrap();
        tx.status = status.into();
    }

    /// The request names (and transaction types) received, in order.
    pub async fn calls(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter_map(|r| {
                let body: Value = serde_json::from_slice(&r.body).ok()?;
                let (name, inner) = body.as_object()?.iter().next()?;
                Some(
                    match inner["transactionRequest"]["transactionType"].as_str() {
                        Some(t) => format!("{name}/{t}"),
                        None => name.clone(),
                    },
                )
            })
            .collect()
    }

    pub async fn count(&self, call: &str) -> usize {
        self.calls().await.iter().filter(|c| *c == call).count()
    }
}

/// A signed notification: (body, X-ANET-Signature).
pub fn notification(
    id: &str,
    event_type: &str,
    response_code: u8,
    trans_id: &str,
) -> (String, String) {
    let body = json!({"notificationId": id, "eventType": event_type, "eventDate": "2026-11-21T12:00:00.000Z",
                      "webhookId": "w-1", "payload": {"responseCode": response_code, "entityName": "transaction", "id": trans_id}})
    .to_string();
    (body.clone(), sign(SIGNATURE_KEY, &body))
}

pub fn sign(key: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha512={}", hex::encode_upper(mac.finalize().into_bytes()))
}

const OK: &str = "I00001";

fn messages(ok: bool, code: &str, text: &str) -> Value {
    json!({"resultCode": if ok {"Ok"} else {"Error"}, "message": [{"code": code, "text": text}]})
}

fn tx_answer(response_code: &str, reason: u32, trans_id: &str) -> Value {
    let mut tr = json!({"responseCode": response_code, "authCode": "ABC123", "transId": trans_id,
                        "refTransID": "", "accountNumber": "XXXX1111", "accountType": "Visa"});
    if response_code == "1" {
        tr["messages"] = json!([{"code": reason.to_string(), "description": "This transaction has been approved."}]);
    } else {
        tr["errors"] =
            json!([{"errorCode": reason.to_string(), "errorText": format!("Refused ({reason}).")}]);
    }
    json!({"transactionResponse": tr, "messages": messages(response_code == "1" || response_code == "4", OK, "Successful.")})
}

impl State {
    fn new_id(&mut self) -> String {
        self.next += 1;
        self.next.to_string()
    }

    fn find_mut(&mut self, id: &str) -> Option<&mut Tx> {
        self.transactions.iter_mut().find(|t| t.trans_id == id)
    }

    fn details(&self, t: &Tx) -> Value {
        let payment = if t.echeck {
            json!({"bankAccount": {"routingNumber": "XXXX0000", "accountNumber": "XXXX6789", "nameOnAccount": "Ada Lovelace", "echeckType": "WEB"}})
        } else {
            json!({"creditCard": {"cardNumber": "XXXX1111", "expirationDate": "XXXX", "cardType": "Visa"}})
        };
        json!({"transId": t.trans_id, "submitTimeUTC": "2026-11-21T12:00:00Z", "transactionType": t.kind,
               "transactionStatus": t.status, "responseCode": 1, "responseReasonCode": 1,
               "order": {"invoiceNumber": t.invoice, "description": t.description},
               "authAmount": amount(t.auth_amount), "settleAmount": amount(t.settle_amount), "payment": payment})
    }

    fn listed(&self, t: &Tx) -> Value {
        json!({"transId": t.trans_id, "submitTimeUTC": "2026-11-21T12:00:00Z", "transactionStatus": t.status,
               "invoiceNumber": t.invoice, "accountType": "Visa", "settleAmount": amount(t.settle_amount)})
    }

    fn answer(&mut self, body: &Value) -> (u16, Value) {
        let Some((name, inner)) = body.as_object().and_then(|o| o.iter().next()) else {
            return (
                200,
                json!({"messages": messages(false, "E00003", "unreadable")}),
            );
        };
        if inner["merchantAuthentication"]["transactionKey"] != TRANSACTION_KEY {
            return (
                200,
                json!({"messages": messages(false, "E00007", "User authentication failed due to invalid authentication values.")}),
            );
        }
        let settled = |s: &str| s == "settledSuccessfully" || s == "refundSettledSuccessfully";
        match name.as_str() {
            "createTransactionRequest" => self.transact(&inner["transactionRequest"]),
            "getTransactionDetailsRequest" => {
                let id = inner["transId"].as_str().unwrap_or_default();
                match self.transactions.iter().find(|t| t.trans_id == id) {
                    Some(t) => (
                        200,
                        json!({"transaction": self.details(t), "messages": messages(true, OK, "Successful.")}),
                    ),
                    None => (
                        200,
                        json!({"messages": messages(false, "E00040", "The record cannot be found.")}),
                    ),
                }
            }
            "getUnsettledTransactionListRequest" => {
                let list: Vec<Value> = self
                    .transactions
                    .iter()
                    .rev()
                    .filter(|t| !settled(&t.status))
                    .map(|t| self.listed(t))
                    .collect();
                (
                    200,
                    json!({"transactions": list, "totalNumInResultSet": list.len(), "messages": messages(true, OK, "Successful.")}),
                )
            }
            "getSettledBatchListRequest" => {
                if self.transactions.iter().any(|t| settled(&t.status)) {
                    (
                        200,
                        json!({"batchList": [{"batchId": "b1", "settlementState": "settledSuccessfully"}], "messages": messages(true, OK, "Successful.")}),
                    )
                } else {
                    (
                        200,
                        json!({"messages": messages(true, "I00004", "No records found.")}),
                    )
                }
            }
            "getTransactionListRequest" => {
                let list: Vec<Value> = self
                    .transactions
                    .iter()
                    .rev()
                    .filter(|t| settled(&t.status))
                    .map(|t| self.listed(t))
                    .collect();
                (
                    200,
                    json!({"transactions": list, "totalNumInResultSet": list.len(), "messages": messages(true, OK, "Successful.")}),
                )
            }
            other => (
                200,
                json!({"messages": messages(false, "E00003", &format!("unknown request {other}"))}),
            ),
        }
    }

    fn transact(&mut self, tr: &Value) -> (u16, Value) {
        let kind = tr["transactionType"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let fault = self.faults.pop_front();
        let order = (
            tr["order"]["invoiceNumber"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            tr["order"]["description"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        let value = tr.get("amount").map(minor).unwrap_or(0);
        let ref_id = tr["refTransId"].as_str().map(str::to_string);
        let (code, reason, id) = match kind.as_str() {
            "authCaptureTransaction" | "authOnlyTransaction" => {
                let echeck = tr["payment"].get("bankAccount").is_some();
                let number = tr["payment"]["creditCard"]["cardNumber"]
                    .as_str()
                    .unwrap_or_default();
                let declined = number == "4000000000000002";
                let review = matches!(fault, Some(Fault::HeldForReview));
                let status = match (declined, review, kind.as_str()) {
                    (true, _, _) => "declined",
                    (_, true, _) => "FDSPendingReview",
                    (_, _, "authOnlyTransaction") => "authorizedPendingCapture",
                    _ => "capturedPendingSettlement",
                };
                let id = self.new_id();
                self.transactions.push(Tx {
                    trans_id: id.clone(),
                    kind: kind.clone(),
                    status: status.into(),
                    auth_amount: value,
                    settle_amount: if status == "capturedPendingSettlement" {
                        value
                    } else {
                        0
                    },
                    invoice: order.0,
                    description: order.1,
                    echeck,
                    ref_trans_id: None,
                });
                match (declined, review) {
                    (true, _) => ("2", 2, id),
                    (_, true) => ("4", 252, id),
                    _ => ("1", 1, id),
                }
            }
            "priorAuthCaptureTransaction" => {
                let id = ref_id.clone().unwrap_or_default();
                match self.find_mut(&id) {
                    Some(t) if t.status == "authorizedPendingCapture" && value <= t.auth_amount => {
                        t.status = "capturedPendingSettlement".into();
                        t.settle_amount = value;
                        ("1", 1, id)
                    }
                    Some(t) if t.status == "capturedPendingSettlement" => ("3", 311, id),
                    _ => ("3", 16, id),
                }
            }
            "voidTransaction" => {
                let id = ref_id.clone().unwrap_or_default();
                match self.find_mut(&id) {
                    Some(t) if t.status == "voided" => ("3", 310, id),
                    Some(t)
                        if matches!(
                            t.status.as_str(),
                            "authorizedPendingCapture" | "capturedPendingSettlement"
                        ) =>
                    {
                        t.status = "voided".into();
                        ("1", 1, id)
                    }
                    _ => ("3", 16, id),
                }
            }
            "refundTransaction" => {
                let target = ref_id.clone().unwrap_or_default();
                let refunded: i64 = self
                    .transactions
                    .iter()
                    .filter(|t| t.ref_trans_id.as_deref() == Some(&target))
                    .map(|t| t.settle_amount)
                    .sum();
                match self
                    .transactions
                    .iter()
                    .find(|t| t.trans_id == target)
                    .cloned()
                {
                    Some(t) if t.status != "settledSuccessfully" => ("3", 54, "0".to_string()),
                    Some(t) if value > t.settle_amount - refunded => ("3", 55, "0".to_string()),
                    Some(_) => {
                        let id = self.new_id();
                        self.transactions.push(Tx {
                            trans_id: id.clone(),
                            kind: kind.clone(),
                            status: "refundPendingSettlement".into(),
                            auth_amount: value,
                            settle_amount: value,
                            invoice: order.0,
                            description: order.1,
                            echeck: false,
                            ref_trans_id: Some(target),
                        });
                        ("1", 1, id)
                    }
                    None => ("3", 16, "0".to_string()),
                }
            }
            _ => ("3", 3, "0".to_string()),
        };
        if matches!(fault, Some(Fault::ServerError)) {
            return (500, json!({"error": "internal"}));
        }
        (200, tx_answer(code, reason, &id))
    }
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if request.url.path() != "/xml/v1/request.api" {
            return ResponseTemplate::new(404);
        }
        let (status, body) = match serde_json::from_slice::<Value>(&request.body) {
            Ok(body) => self.0.lock().unwrap().answer(&body),
            Err(_) => (
                200,
                json!({"messages": messages(false, "E00003", "not JSON")}),
            ),
        };
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice(body.to_string().as_bytes());
        ResponseTemplate::new(status).set_body_raw(bytes, "application/json")
    }
}
