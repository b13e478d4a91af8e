//! The Authorize.net connector against a local stand-in of its API (wiremock): what each answer
//! becomes, that a transaction is never sent twice, and the reporting lookups. Answers carry the
//! byte-order mark Authorize.net puts before its JSON unless a test says otherwise.

use std::time::Duration;

use hmac::{Hmac, Mac};
use kassa_core::ach::{AccountNumber, AccountType, RoutingNumber};
use kassa_core::card::{CardBrand, CardNumber, Expiry};
use kassa_core::id::{AuthorizationId, PaymentId, RefundId};
use kassa_core::money::{Currency, Money};
use kassa_core::payment::{AchResolution, AchReturnCode, DeclineCode, Funding, MaskedMethod};
use kassa_processor::authorize_net::{short_id, AuthorizeNetConfig, AuthorizeNetProcessor};
use kassa_processor::{
    About, Answer, CaptureRequest, Captured, Change, ChargeOutcome, ChargeRequest, DebitMandate,
    Delivery, Held, Instrument, NotificationError, PaymentLookup, Processor, ProcessorError,
    RefundOutcome, RefundRequest,
};
use serde_json::Value;
use sha2::Sha512;
use wiremock::matchers::{method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const PAY: &str = "pay_0123456789ABCDEFGHIJabcd";
const AUTH: &str = "auth_0123456789ABCDEFGHIJabcd";
const REFUND: &str = "re_zyxwvutsrqponmlkjihgfedc";
const SIGNATURE_KEY: &str = "4F6B2A1C9D8E7F6A5B4C3D2E1F0A9B8C7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F2A1B0C9D8E7F6A5B4C3D2E1F0A9B8C7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F2A1B";

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::Usd)
}

fn processor(server: &MockServer) -> AuthorizeNetProcessor {
    AuthorizeNetProcessor::new(
        reqwest::Client::new(),
        AuthorizeNetConfig {
            login_id: "login-1".into(),
            transaction_key: "secret-transaction-key".into(),
            signature_key: Some(SIGNATURE_KEY.into()),
            api_base: server.uri(),
        },
    )
}

/// Matches a call by its request name and, for transactions, its `transactionType`.
struct Call {
    name: &'static str,
    transaction_type: Option<&'static str>,
}

fn call(name: &'static str) -> Call {
    Call {
        name,
        transaction_type: None,
    }
}

fn transaction(transaction_type: &'static str) -> Call {
    Call {
        name: "createTransactionRequest",
        transaction_type: Some(transaction_type),
    }
}

impl Match for Call {
    fn matches(&self, request: &Request) -> bool {
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return false;
        };
        let Some(inner) = body.get(self.name) else {
            return false;
        };
        match self.transaction_type {
            None => true,
            Some(t) => inner["transactionRequest"]["transactionType"] == t,
        }
    }
}

/// An answer as Authorize.net sends it: a byte-order mark, then the JSON.
fn anet(body: &str) -> ResponseTemplate {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(body.as_bytes());
    ResponseTemplate::new(200).set_body_raw(bytes, "application/json")
}

fn tx_answer(response_code: &str, reason: &str, trans_id: &str) -> String {
    let (result, detail) = if response_code == "1" {
        (
            "Ok",
            format!(
                r#""messages":[{{"code":"{reason}","description":"This transaction has been approved."}}]"#
            ),
        )
    } else {
        (
            "Error",
            format!(r#""errors":[{{"errorCode":"{reason}","errorText":"Refused ({reason})."}}]"#),
        )
    };
    format!(
        r#"{{"transactionResponse":{{"responseCode":"{response_code}","authCode":"ABC123","avsResultCode":"Y",
          "cvvResultCode":"P","transId":"{trans_id}","refTransID":"","accountNumber":"XXXX1111","accountType":"Visa",{detail}}},
          "refId":"x","messages":{{"resultCode":"{result}","message":[{{"code":"I00001","text":"Successful."}}]}}}}"#
    )
}

const OK: &str =
    r#""messages":{"resultCode":"Ok","message":[{"code":"I00001","text":"Successful."}]}"#;

fn details(
    trans_id: &str,
    status: &str,
    kassa_id: &str,
    amount: &str,
    bank: bool,
    returned: Option<&str>,
) -> String {
    let payment = if bank {
        r#"{"bankAccount":{"routingNumber":"XXXX0000","accountNumber":"XXXX6789","nameOnAccount":"Pat Payer","echeckType":"WEB"}}"#
    } else {
        r#"{"creditCard":{"cardNumber":"XXXX1111","expirationDate":"XXXX","cardType":"Visa"}}"#
    };
    let returned = returned
        .map(|code| format!(r#","returnedItems":[{{"id":"1","dateUTC":"2026-12-05T10:00:00Z","code":"{code}","description":"Returned"}}]"#))
        .unwrap_or_default();
    format!(
        r#"{{"transaction":{{"transId":"{trans_id}","submitTimeUTC":"2026-12-05T10:00:00Z","transactionType":"authCaptureTransaction",
          "transactionStatus":"{status}","responseCode":1,"responseReasonCode":1,"responseReasonDescription":"Approval",
          "order":{{"invoiceNumber":"{}","description":"{kassa_id}"}},"authAmount":{amount},"settleAmount":{amount},
          "payment":{payment}{returned}}},{OK}}}"#,
        short_id(kassa_id)
    )
}

fn list(entries: &[(&str, &str)]) -> String {
    let items: Vec<String> = entries
        .iter()
        .map(|(trans_id, invoice)| {
            format!(r#"{{"transId":"{trans_id}","submitTimeUTC":"2026-12-05T10:00:00Z","transactionStatus":"x","invoiceNumber":"{invoice}","accountType":"Visa","settleAmount":1.00}}"#)
        })
        .collect();
    format!(
        r#"{{"transactions":[{}],"totalNumInResultSet":{},{OK}}}"#,
        items.join(","),
        entries.len()
    )
}

const NO_RECORDS: &str =
    r#"{"messages":{"resultCode":"Ok","message":[{"code":"I00004","text":"No records found."}]}}"#;

async fn mount(server: &MockServer, matcher: Call, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/xml/v1/request.api"))
        .and(matcher)
        .respond_with(response)
        .mount(server)
        .await;
}

async fn mount_once(server: &MockServer, matcher: Call, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/xml/v1/request.api"))
        .and(matcher)
        .respond_with(response)
        .expect(1)
        .mount(server)
        .await;
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn pay_id() -> PaymentId {
    PaymentId::parse(PAY).unwrap()
}

async fn charge_card(p: &AuthorizeNetProcessor, number: &str) -> Result<Answer, ProcessorError> {
    let number = CardNumber::parse(number).unwrap();
    let id = pay_id();
    p.charge(ChargeRequest {
        payment_id: &id,
        amount: usd(2500),
        instrument: Instrument::Card {
            number: &number,
            expiry: Expiry {
                month: 12,
                year: 2030,
            },
            cvc: None,
            postal_code: Some("94105"),
        },
        holder_name: Some("Pat Payer"),
        mandate: None,
    })
    .await
}

#[tokio::test]
async fn an_approved_charge_is_approved_with_its_transaction_id() {
    let server = MockServer::start().await;
    mount_once(
        &server,
        transaction("authCaptureTransaction"),
        anet(&tx_answer("1", "1", "60001")),
    )
    .await;
    let answer = charge_card(&processor(&server), "4111111111111111")
        .await
        .unwrap();
    assert_eq!(
        answer,
        Answer::new(
            ChargeOutcome::Approved {
                funding: Funding::Unknown
            },
            Some("60001".into())
        )
    );
    let sent = &bodies(&server).await[0]["createTransactionRequest"];
    assert_eq!(sent["refId"], short_id(PAY));
    assert_eq!(sent["transactionRequest"]["amount"], "25.00");
    assert_eq!(sent["transactionRequest"]["order"]["description"], PAY);
    assert_eq!(sent["transactionRequest"]["billTo"]["zip"], "94105");
}

#[tokio::test]
async fn answers_are_read_with_or_without_the_byte_order_mark() {
    let server = MockServer::start().await;
    mount(
        &server,
        transaction("authCaptureTransaction"),
        ResponseTemplate::new(200).set_body_raw(tx_answer("1", "1", "60002"), "application/json"),
    )
    .await;
    let answer = charge_card(&processor(&server), "4111111111111111")
        .await
        .unwrap();
    assert_eq!(answer.reference.as_deref(), Some("60002"));
}

#[tokio::test]
async fn a_decline_is_declined_with_its_reason() {
    let server = MockServer::start().await;
    mount(
        &server,
        transaction("authCaptureTransaction"),
        anet(&tx_answer("2", "2", "60003")),
    )
    .await;
    let answer = charge_card(&processor(&server), "4000000000000002")
        .await
        .unwrap();
    assert_eq!(
        answer,
        Answer::new(
            ChargeOutcome::Declined {
                code: DeclineCode::CardDeclined
            },
            Some("60003".into())
        )
    );
}

#[tokio::test]
async fn an_error_is_declined_but_a_duplicate_is_unknown() {
    let server = MockServer::start().await;
    mount(
        &server,
        transaction("authCaptureTransaction"),
        anet(&tx_answer("3", "6", "0")),
    )
    .await;
    let answer = charge_card(&processor(&server), "4111111111111111")
        .await
        .unwrap();
    assert_eq!(
        answer,
        Answer::new(
            ChargeOutcome::Declined {
                code: DeclineCode::CardDeclined
            },
            None
        )
    );
    let server = MockServer::start().await;
    mount(
        &server,
        transaction("authCaptureTransaction"),
        anet(&tx_answer("3", "11", "0")),
    )
    .await;
    assert!(matches!(
        charge_card(&processor(&server), "4111111111111111").await,
        Err(ProcessorError::Unknown(_))
    ));
}

#[tokio::test]
async fn held_for_review_is_unknown() {
    let server = MockServer::start().await;
    mount(
        &server,
        transaction("authCaptureTransaction"),
        anet(&tx_answer("4", "252", "60004")),
    )
    .await;
    assert!(matches!(
        charge_card(&processor(&server), "4111111111111111").await,
        Err(ProcessorError::Unknown(_))
    ));
}

#[tokio::test]
async fn a_server_error_is_unknown_and_never_resent() {
    let server = MockServer::start().await;
    mount_once(
        &server,
        transaction("authCaptureTransaction"),
        ResponseTemplate::new(503),
    )
    .await;
    assert!(matches!(
        charge_card(&processor(&server), "4111111111111111").await,
        Err(ProcessorError::Unknown(_))
    ));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_timeout_is_unknown_and_never_resent() {
    let server = MockServer::start().await;
    mount_once(
        &server,
        transaction("authCaptureTransaction"),
        anet(&tx_answer("1", "1", "60005")).set_delay(Duration::from_secs(3)),
    )
    .await;
    let p = processor(&server).with_timeout(Duration::from_millis(300));
    assert!(matches!(
        charge_card(&p, "4111111111111111").await,
        Err(ProcessorError::Unknown(_))
    ));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_malformed_answer_is_unknown() {
    let server = MockServer::start().await;
    mount(
        &server,
        transaction("authCaptureTransaction"),
        anet("<html>gateway busy</html>"),
    )
    .await;
    assert!(matches!(
        charge_card(&processor(&server), "4111111111111111").await,
        Err(ProcessorError::Unknown(_))
    ));
}

#[tokio::test]
async fn bad_credentials_are_not_sent_and_say_nothing_secret() {
    let server = MockServer::start().await;
    mount(
        &server,
        transaction("authCaptureTransaction"),
        anet(r#"{"messages":{"resultCode":"Error","message":[{"code":"E00007","text":"User authentication failed due to invalid authentication values."}]}}"#),
    )
    .await;
    match charge_card(&processor(&server), "4111111111111111").await {
        Err(ProcessorError::NotSent(reason)) => {
            assert!(reason.contains("E00007"), "{reason}");
            assert!(!reason.contains("secret-transaction-key"));
            assert!(!reason.contains("4111111111111111"));
        }
        other => panic!("expected NotSent, got {other:?}"),
    }
}

#[tokio::test]
async fn no_connection_is_not_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let p = AuthorizeNetProcessor::new(
        reqwest::Client::new(),
        AuthorizeNetConfig {
            login_id: "login-1".into(),
            transaction_key: "secret-transaction-key".into(),
            signature_key: None,
            api_base: format!("http://{address}"),
        },
    );
    assert!(matches!(
        charge_card(&p, "4111111111111111").await,
        Err(ProcessorError::NotSent(_))
    ));
    assert!(!format!("{p:?}").contains("secret-transaction-key"));
}

#[tokio::test]
async fn an_echeck_is_submitted_not_cleared() {
    let server = MockServer::start().await;
    mount(
        &server,
        transaction("authCaptureTransaction"),
        anet(&tx_answer("1", "1", "60006")),
    )
    .await;
    let routing = RoutingNumber::parse("110000000").unwrap();
    let account = AccountNumber::parse("000123456789").unwrap();
    let id = pay_id();
    let answer = processor(&server)
        .charge(ChargeRequest {
            payment_id: &id,
            amount: usd(1000),
            instrument: Instrument::Ach {
                routing_number: &routing,
                account_number: &account,
                account_type: AccountType::Checking,
            },
            holder_name: Some("Pat Payer"),
            mandate: Some(DebitMandate {
                accepted_at: time::OffsetDateTime::UNIX_EPOCH,
                ip: Some("198.51.100.7"),
                user_agent: Some("test"),
            }),
        })
        .await
        .unwrap();
    assert_eq!(
        answer,
        Answer::new(
            ChargeOutcome::AchSubmitted { expected: None },
            Some("60006".into())
        )
    );
    let sent = &bodies(&server).await[0]["createTransactionRequest"]["transactionRequest"];
    assert_eq!(sent["payment"]["bankAccount"]["echeckType"], "WEB");
    assert_eq!(sent["customerIP"], "198.51.100.7");
}

#[tokio::test]
async fn an_echeck_without_a_name_and_google_pay_are_not_sent() {
    let server = MockServer::start().await;
    let p = processor(&server);
    let routing = RoutingNumber::parse("110000000").unwrap();
    let account = AccountNumber::parse("000123456789").unwrap();
    let id = pay_id();
    let nameless = p
        .charge(ChargeRequest {
            payment_id: &id,
            amount: usd(1000),
            instrument: Instrument::Ach {
                routing_number: &routing,
                account_number: &account,
                account_type: AccountType::Checking,
            },
            holder_name: None,
            mandate: None,
        })
        .await;
    assert!(matches!(nameless, Err(ProcessorError::NotSent(_))));
    let gpay = p
        .charge(ChargeRequest {
            payment_id: &id,
            amount: usd(1000),
            instrument: Instrument::GooglePay {
                token: Some("{}"),
                brand: Some(CardBrand::Visa),
            },
            holder_name: None,
            mandate: None,
        })
        .await;
    assert!(matches!(gpay, Err(ProcessorError::NotSent(r)) if r.contains("Google Pay")));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_partial_capture_captures_the_amount_from_the_hold() {
    let server = MockServer::start().await;
    mount_once(
        &server,
        transaction("priorAuthCaptureTransaction"),
        anet(&tx_answer("1", "1", "70001")),
    )
    .await;
    let auth = AuthorizationId::parse(AUTH).unwrap();
    let id = pay_id();
    let answer = processor(&server)
        .capture(CaptureRequest {
            hold: Held {
                authorization_id: &auth,
                reference: Some("70001"),
                amount: usd(10_000),
            },
            payment_id: &id,
            amount: usd(4000),
        })
        .await
        .unwrap();
    assert_eq!(
        answer,
        Answer::new(
            ChargeOutcome::Approved {
                funding: Funding::Unknown
            },
            Some("70001".into())
        )
    );
    let sent = &bodies(&server).await[0]["createTransactionRequest"]["transactionRequest"];
    assert_eq!(sent["amount"], "40.00");
    assert_eq!(sent["refTransId"], "70001");
}

#[tokio::test]
async fn a_capture_without_a_recorded_hold_finds_it_first() {
    let server = MockServer::start().await;
    mount(
        &server,
        call("getUnsettledTransactionListRequest"),
        anet(&list(&[("70002", &short_id(AUTH))])),
    )
    .await;
    mount(
        &server,
        call("getTransactionDetailsRequest"),
        anet(&details(
            "70002",
            "authorizedPendingCapture",
            AUTH,
            "100.00",
            false,
            None,
        )),
    )
    .await;
    mount_once(
        &server,
        transaction("priorAuthCaptureTransaction"),
        anet(&tx_answer("1", "1", "70002")),
    )
    .await;
    let auth = AuthorizationId::parse(AUTH).unwrap();
    let id = pay_id();
    let answer = processor(&server)
        .capture(CaptureRequest {
            hold: Held {
                authorization_id: &auth,
                reference: None,
                amount: usd(10_000),
            },
            payment_id: &id,
            amount: usd(10_000),
        })
        .await
        .unwrap();
    assert_eq!(answer.reference.as_deref(), Some("70002"));
}

#[tokio::test]
async fn releasing_voids_the_hold_and_an_earlier_void_is_fine() {
    let auth = AuthorizationId::parse(AUTH).unwrap();
    let hold = Held {
        authorization_id: &auth,
        reference: Some("70003"),
        amount: usd(10_000),
    };
    let server = MockServer::start().await;
    mount_once(
        &server,
        transaction("voidTransaction"),
        anet(&tx_answer("1", "1", "70003")),
    )
    .await;
    processor(&server).release(hold).await.unwrap();
    let server = MockServer::start().await;
    mount_once(
        &server,
        transaction("voidTransaction"),
        anet(&tx_answer("3", "310", "0")),
    )
    .await;
    processor(&server).release(hold).await.unwrap();
}

fn card_method() -> MaskedMethod {
    MaskedMethod::Card {
        brand: CardBrand::Visa,
        funding: Funding::Unknown,
        last4: "1111".into(),
        exp_month: 12,
        exp_year: 2030,
    }
}

async fn refund(p: &AuthorizeNetProcessor, amount: i64) -> Result<RefundOutcome, ProcessorError> {
    let method = card_method();
    let id = pay_id();
    let refund_id = RefundId::parse(REFUND).unwrap();
    p.refund(RefundRequest {
        payment: Captured {
            payment_id: &id,
            reference: Some("60010"),
            method: &method,
            holder_name: None,
        },
        refund_id: &refund_id,
        amount: usd(amount),
    })
    .await
}

#[tokio::test]
async fn a_settled_payment_is_refunded() {
    let server = MockServer::start().await;
    mount_once(
        &server,
        transaction("refundTransaction"),
        anet(&tx_answer("1", "1", "60011")),
    )
    .await;
    assert_eq!(
        refund(&processor(&server), 1000).await.unwrap(),
        RefundOutcome::Succeeded {
            reference: Some("60011".into())
        }
    );
    let sent = &bodies(&server).await[0]["createTransactionRequest"];
    assert_eq!(sent["refId"], short_id(REFUND));
    let sent = &sent["transactionRequest"];
    assert_eq!(sent["refTransId"], "60010");
    assert_eq!(sent["payment"]["creditCard"]["cardNumber"], "1111");
    assert_eq!(sent["payment"]["creditCard"]["expirationDate"], "XXXX");
    assert_eq!(sent["order"]["description"], REFUND);
}

#[tokio::test]
async fn a_full_refund_of_an_unsettled_payment_voids_it() {
    let server = MockServer::start().await;
    mount_once(
        &server,
        transaction("refundTransaction"),
        anet(&tx_answer("3", "54", "0")),
    )
    .await;
    mount(
        &server,
        call("getTransactionDetailsRequest"),
        anet(&details(
            "60010",
            "capturedPendingSettlement",
            PAY,
            "25.00",
            false,
            None,
        )),
    )
    .await;
    mount_once(
        &server,
        transaction("voidTransaction"),
        anet(&tx_answer("1", "1", "60010")),
    )
    .await;
    assert_eq!(
        refund(&processor(&server), 2500).await.unwrap(),
        RefundOutcome::Succeeded {
            reference: Some("60010".into())
        }
    );
}

#[tokio::test]
async fn a_partial_refund_of_an_unsettled_payment_waits_for_settlement() {
    let server = MockServer::start().await;
    mount(
        &server,
        transaction("refundTransaction"),
        anet(&tx_answer("3", "54", "0")),
    )
    .await;
    mount(
        &server,
        call("getTransactionDetailsRequest"),
        anet(&details(
            "60010",
            "capturedPendingSettlement",
            PAY,
            "25.00",
            false,
            None,
        )),
    )
    .await;
    mount(
        &server,
        transaction("voidTransaction"),
        anet(&tx_answer("1", "1", "60010")),
    )
    .await;
    match refund(&processor(&server), 1000).await.unwrap() {
        RefundOutcome::Refused { reason } => assert!(reason.contains("settled"), "{reason}"),
        other => panic!("expected Refused, got {other:?}"),
    }
    let voids = bodies(&server)
        .await
        .iter()
        .filter(|b| {
            b["createTransactionRequest"]["transactionRequest"]["transactionType"]
                == "voidTransaction"
        })
        .count();
    assert_eq!(voids, 0);
}

#[tokio::test]
async fn a_refund_larger_than_the_capture_is_refused() {
    let server = MockServer::start().await;
    mount(
        &server,
        transaction("refundTransaction"),
        anet(&tx_answer("3", "55", "0")),
    )
    .await;
    assert!(matches!(
        refund(&processor(&server), 999_999).await.unwrap(),
        RefundOutcome::Refused { .. }
    ));
}

fn lookup<'a>(id: &'a PaymentId, reference: Option<&'a str>) -> PaymentLookup<'a> {
    PaymentLookup {
        payment_id: id,
        reference,
        amount: usd(2500),
        capture_of: None,
    }
}

#[tokio::test]
async fn a_lookup_finds_an_unsettled_transaction_by_invoice_number() {
    let server = MockServer::start().await;
    mount(
        &server,
        call("getUnsettledTransactionListRequest"),
        anet(&list(&[
            ("59999", "p0000000000000000000"),
            ("60020", &short_id(PAY)),
        ])),
    )
    .await;
    mount(
        &server,
        call("getTransactionDetailsRequest"),
        anet(&details(
            "60020",
            "capturedPendingSettlement",
            PAY,
            "25.00",
            false,
            None,
        )),
    )
    .await;
    let id = pay_id();
    let answer = processor(&server).lookup(lookup(&id, None)).await.unwrap();
    assert_eq!(
        answer,
        Some(Answer::new(
            ChargeOutcome::Approved {
                funding: Funding::Unknown
            },
            Some("60020".into())
        ))
    );
    let sent = &bodies(&server).await[0]["getUnsettledTransactionListRequest"];
    assert_eq!(sent["sorting"]["orderBy"], "submitTimeUTC");
    assert_eq!(sent["paging"]["offset"], "1");
}

#[tokio::test]
async fn a_lookup_finds_a_settled_transaction_in_a_recent_batch() {
    let server = MockServer::start().await;
    mount(
        &server,
        call("getUnsettledTransactionListRequest"),
        anet(NO_RECORDS),
    )
    .await;
    mount(
        &server,
        call("getSettledBatchListRequest"),
        anet(&format!(r#"{{"batchList":[{{"batchId":"9001","settlementTimeUTC":"2026-12-05T04:00:00Z","settlementState":"settledSuccessfully"}}],{OK}}}"#)),
    )
    .await;
    mount(
        &server,
        call("getTransactionListRequest"),
        anet(&list(&[("60021", &short_id(PAY))])),
    )
    .await;
    mount(
        &server,
        call("getTransactionDetailsRequest"),
        anet(&details(
            "60021",
            "settledSuccessfully",
            PAY,
            "25.00",
            true,
            None,
        )),
    )
    .await;
    let id = pay_id();
    let answer = processor(&server).lookup(lookup(&id, None)).await.unwrap();
    assert_eq!(
        answer,
        Some(Answer::new(
            ChargeOutcome::AchSubmitted { expected: None },
            Some("60021".into())
        ))
    );
}

#[tokio::test]
async fn a_lookup_that_finds_nothing_is_none() {
    let server = MockServer::start().await;
    mount(
        &server,
        call("getUnsettledTransactionListRequest"),
        anet(NO_RECORDS),
    )
    .await;
    mount(
        &server,
        call("getSettledBatchListRequest"),
        anet(NO_RECORDS),
    )
    .await;
    let id = pay_id();
    assert_eq!(
        processor(&server).lookup(lookup(&id, None)).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_lookup_with_a_reference_reads_it_directly() {
    let server = MockServer::start().await;
    mount_once(
        &server,
        call("getTransactionDetailsRequest"),
        anet(&details("60022", "declined", PAY, "25.00", false, None)),
    )
    .await;
    let id = pay_id();
    let answer = processor(&server)
        .lookup(lookup(&id, Some("60022")))
        .await
        .unwrap();
    assert_eq!(
        answer.map(|a| a.outcome),
        Some(ChargeOutcome::Declined {
            code: DeclineCode::CardDeclined
        })
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_capture_lookup_reads_the_hold() {
    let auth = AuthorizationId::parse(AUTH).unwrap();
    let id = pay_id();
    let capture = |_: ()| PaymentLookup {
        payment_id: &id,
        reference: None,
        amount: usd(4000),
        capture_of: Some(Held {
            authorization_id: &auth,
            reference: Some("70010"),
            amount: usd(10_000),
        }),
    };
    for (status, expected) in [
        ("authorizedPendingCapture", None),
        (
            "capturedPendingSettlement",
            Some(ChargeOutcome::Approved {
                funding: Funding::Unknown,
            }),
        ),
        (
            "voided",
            Some(ChargeOutcome::Declined {
                code: DeclineCode::ProcessingError,
            }),
        ),
    ] {
        let server = MockServer::start().await;
        mount(
            &server,
            call("getTransactionDetailsRequest"),
            anet(&details("70010", status, AUTH, "100.00", false, None)),
        )
        .await;
        let answer = processor(&server).lookup(capture(())).await.unwrap();
        assert_eq!(answer.map(|a| a.outcome), expected, "{status}");
    }
}

#[tokio::test]
async fn a_refund_lookup_finds_the_refund_or_the_void() {
    let method = card_method();
    let id = pay_id();
    let refund_id = RefundId::parse(REFUND).unwrap();
    let request = RefundRequest {
        payment: Captured {
            payment_id: &id,
            reference: Some("60010"),
            method: &method,
            holder_name: None,
        },
        refund_id: &refund_id,
        amount: usd(2500),
    };
    let server = MockServer::start().await;
    mount(
        &server,
        call("getUnsettledTransactionListRequest"),
        anet(&list(&[("60030", &short_id(REFUND))])),
    )
    .await;
    mount(
        &server,
        call("getTransactionDetailsRequest"),
        anet(&details(
            "60030",
            "refundPendingSettlement",
            REFUND,
            "25.00",
            false,
            None,
        )),
    )
    .await;
    assert_eq!(
        processor(&server).lookup_refund(request).await.unwrap(),
        Some(RefundOutcome::Succeeded {
            reference: Some("60030".into())
        })
    );

    let server = MockServer::start().await;
    mount(
        &server,
        call("getUnsettledTransactionListRequest"),
        anet(NO_RECORDS),
    )
    .await;
    mount(
        &server,
        call("getSettledBatchListRequest"),
        anet(NO_RECORDS),
    )
    .await;
    mount(
        &server,
        call("getTransactionDetailsRequest"),
        anet(&details("60010", "voided", PAY, "25.00", false, None)),
    )
    .await;
    assert_eq!(
        processor(&server).lookup_refund(request).await.unwrap(),
        Some(RefundOutcome::Succeeded {
            reference: Some("60010".into())
        })
    );

    let server = MockServer::start().await;
    mount(
        &server,
        call("getUnsettledTransactionListRequest"),
        anet(NO_RECORDS),
    )
    .await;
    mount(
        &server,
        call("getSettledBatchListRequest"),
        anet(NO_RECORDS),
    )
    .await;
    mount(
        &server,
        call("getTransactionDetailsRequest"),
        anet(&details(
            "60010",
            "settledSuccessfully",
            PAY,
            "25.00",
            false,
            None,
        )),
    )
    .await;
    assert_eq!(
        processor(&server).lookup_refund(request).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn debit_status_reads_settled_returned_and_pending() {
    let id = pay_id();
    for (status, returned, expected) in [
        ("settledSuccessfully", None, Some(AchResolution::Clear)),
        (
            "returnedItem",
            Some("R03"),
            Some(AchResolution::Return(AchReturnCode::parse("R03").unwrap())),
        ),
        ("capturedPendingSettlement", None, None),
        (
            "voided",
            None,
            Some(AchResolution::Return(AchReturnCode::parse("R17").unwrap())),
        ),
    ] {
        let server = MockServer::start().await;
        mount(
            &server,
            call("getTransactionDetailsRequest"),
            anet(&details("60040", status, PAY, "10.00", true, returned)),
        )
        .await;
        let got = processor(&server)
            .debit_status(lookup(&id, Some("60040")))
            .await
            .unwrap();
        assert_eq!(got, expected, "{status}");
    }
}

fn signed(body: &str) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(SIGNATURE_KEY.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha512={}", hex::encode_upper(mac.finalize().into_bytes()))
}

fn event(event_type: &str, response_code: u8, trans_id: &str) -> String {
    format!(
        r#"{{"notificationId":"d3d8d5c1-0001","eventType":"{event_type}","eventDate":"2026-12-06T11:00:00.000Z",
          "webhookId":"w-1","payload":{{"responseCode":{response_code},"authCode":"ABC123","avsResponse":"Y",
          "authAmount":25.00,"entityName":"transaction","id":"{trans_id}","invoiceNumber":"{}"}}}}"#,
        short_id(PAY)
    )
}

async fn read(
    p: &AuthorizeNetProcessor,
    body: &str,
    signature: Option<&str>,
) -> Result<kassa_processor::Notification, NotificationError> {
    let headers: Vec<(&str, &str)> = signature
        .map(|s| vec![("x-anet-signature", s)])
        .unwrap_or_default();
    p.read_notification(Delivery {
        headers: &headers,
        body: body.as_bytes(),
        received_at: time::OffsetDateTime::now_utc(),
    })
    .await
}

#[tokio::test]
async fn a_card_payment_created_settles_the_payment_with_its_full_id() {
    let server = MockServer::start().await;
    mount(
        &server,
        call("getTransactionDetailsRequest"),
        anet(&details(
            "60050",
            "capturedPendingSettlement",
            PAY,
            "25.00",
            false,
            None,
        )),
    )
    .await;
    let body = event("net.authorize.payment.authcapture.created", 1, "60050");
    let notification = read(&processor(&server), &body, Some(&signed(&body)))
        .await
        .unwrap();
    assert_eq!(notification.event_id, "d3d8d5c1-0001");
    assert_eq!(
        notification.change,
        Some(Change::PaymentSucceeded {
            about: About {
                kassa_id: Some(PAY.into()),
                reference: Some("60050".into())
            }
        })
    );
}

#[tokio::test]
async fn notifications_map_by_event_and_method() {
    let card = |status| details("60051", status, PAY, "25.00", false, None);
    let cases: Vec<(&str, u8, String, Option<Change>)> = vec![
        (
            "net.authorize.payment.authcapture.created",
            1,
            details(
                "60051",
                "capturedPendingSettlement",
                PAY,
                "25.00",
                true,
                None,
            ),
            None,
        ),
        (
            "net.authorize.payment.fraud.declined",
            2,
            card("declined"),
            Some(Change::PaymentDeclined {
                about: About {
                    kassa_id: Some(PAY.into()),
                    reference: Some("60051".into()),
                },
                code: DeclineCode::CardDeclined,
            }),
        ),
        (
            "net.authorize.payment.fraud.approved",
            1,
            card("capturedPendingSettlement"),
            Some(Change::PaymentSucceeded {
                about: About {
                    kassa_id: Some(PAY.into()),
                    reference: Some("60051".into()),
                },
            }),
        ),
        (
            "net.authorize.payment.refund.created",
            1,
            details(
                "60051",
                "refundPendingSettlement",
                REFUND,
                "10.00",
                false,
                None,
            ),
            Some(Change::RefundSucceeded {
                about: About {
                    kassa_id: Some(REFUND.into()),
                    reference: Some("60051".into()),
                },
            }),
        ),
    ];
    for (event_type, code, answer, expected) in cases {
        let server = MockServer::start().await;
        mount(&server, call("getTransactionDetailsRequest"), anet(&answer)).await;
        let body = event(event_type, code, "60051");
        let got = read(&processor(&server), &body, Some(&signed(&body)))
            .await
            .unwrap();
        assert_eq!(got.change, expected, "{event_type}");
    }
}

#[tokio::test]
async fn events_kassa_does_not_act_on_are_acknowledged_without_a_call() {
    let server = MockServer::start().await;
    for (event_type, code) in [
        ("net.authorize.customer.created", 1),
        ("net.authorize.payment.authcapture.created", 2),
        ("net.authorize.payment.void.created", 1),
    ] {
        let body = event(event_type, code, "60052");
        let got = read(&processor(&server), &body, Some(&signed(&body)))
            .await
            .unwrap();
        assert_eq!(got.change, None, "{event_type}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_notification_whose_transaction_cannot_be_read_is_tried_later() {
    let server = MockServer::start().await;
    mount(
        &server,
        call("getTransactionDetailsRequest"),
        ResponseTemplate::new(500),
    )
    .await;
    let body = event("net.authorize.payment.authcapture.created", 1, "60053");
    assert!(matches!(
        read(&processor(&server), &body, Some(&signed(&body))).await,
        Err(NotificationError::TryLater(_))
    ));
}

#[tokio::test]
async fn unsigned_misigned_and_unreadable_deliveries_are_refused() {
    let server = MockServer::start().await;
    let p = processor(&server);
    let body = event("net.authorize.payment.authcapture.created", 1, "60054");
    assert_eq!(
        read(&p, &body, None).await,
        Err(NotificationError::BadSignature)
    );
    assert_eq!(
        read(&p, &body, Some("sha512=00")).await,
        Err(NotificationError::BadSignature)
    );
    assert_eq!(
        read(&p, &body, Some("garbage")).await,
        Err(NotificationError::BadSignature)
    );
    let tampered = body.replace("60054", "60055");
    assert_eq!(
        read(&p, &tampered, Some(&signed(&body))).await,
        Err(NotificationError::BadSignature)
    );
    let not_json = "{not json";
    assert!(matches!(
        read(&p, not_json, Some(&signed(not_json))).await,
        Err(NotificationError::Unreadable(_))
    ));
    let keyless = AuthorizeNetProcessor::new(
        reqwest::Client::new(),
        AuthorizeNetConfig {
            login_id: "login-1".into(),
            transaction_key: "secret-transaction-key".into(),
            signature_key: None,
            api_base: server.uri(),
        },
    );
    assert_eq!(
        read(&keyless, &body, Some(&signed(&body))).await,
        Err(NotificationError::BadSignature)
    );
    assert!(!format!("{p:?}").contains(SIGNATURE_KEY));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_unsettled_list_is_read_page_by_page() {
    use wiremock::matchers::body_partial_json;
    let server = MockServer::start().await;
    let filler: Vec<(String, String)> = (0..1000)
        .map(|i| (format!("5{i:04}"), format!("p{i:019}")))
        .collect();
    let filler: Vec<(&str, &str)> = filler
        .iter()
        .map(|(t, i)| (t.as_str(), i.as_str()))
        .collect();
    Mock::given(method("POST"))
        .and(body_partial_json(
            serde_json::json!({"getUnsettledTransactionListRequest": {"paging": {"offset": "1"}}}),
        ))
        .respond_with(anet(&list(&filler)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(
            serde_json::json!({"getUnsettledTransactionListRequest": {"paging": {"offset": "2"}}}),
        ))
        .respond_with(anet(&list(&[("60060", &short_id(PAY))])))
        .expect(1)
        .mount(&server)
        .await;
    mount(
        &server,
        call("getTransactionDetailsRequest"),
        anet(&details(
            "60060",
            "settledSuccessfully",
            PAY,
            "25.00",
            false,
            None,
        )),
    )
    .await;
    let id = pay_id();
    let answer = processor(&server).lookup(lookup(&id, None)).await.unwrap();
    assert_eq!(answer.and_then(|a| a.reference).as_deref(), Some("60060"));
}

#[tokio::test]
async fn a_transaction_whose_description_names_another_id_is_not_ours() {
    let server = MockServer::start().await;
    mount(
        &server,
        call("getUnsettledTransactionListRequest"),
        anet(&list(&[("60061", &short_id(PAY))])),
    )
    .await;
    mount(
        &server,
        call("getSettledBatchListRequest"),
        anet(NO_RECORDS),
    )
    .await;
    // Another id with the same first 19 random characters: the same short form, so only the
    // description tells them apart.
    let other = "pay_0123456789ABCDEFGHIJzzzz";
    assert_eq!(short_id(other), short_id(PAY));
    let answer = details("60061", "settledSuccessfully", other, "25.00", false, None);
    mount(&server, call("getTransactionDetailsRequest"), anet(&answer)).await;
    let id = pay_id();
    assert_eq!(
        processor(&server).lookup(lookup(&id, None)).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn an_echeck_refund_takes_the_name_from_the_debit_when_kassa_has_none() {
    let server = MockServer::start().await;
    mount(
        &server,
        call("getTransactionDetailsRequest"),
        anet(&details(
            "60070",
            "settledSuccessfully",
            PAY,
            "10.00",
            true,
            None,
        )),
    )
    .await;
    mount_once(
        &server,
        transaction("refundTransaction"),
        anet(&tx_answer("1", "1", "60071")),
    )
    .await;
    let method = MaskedMethod::Ach {
        account_type: AccountType::Checking,
        routing_number: "110000000".into(),
        last4: "6789".into(),
    };
    let id = pay_id();
    let refund_id = RefundId::parse(REFUND).unwrap();
    let outcome = processor(&server)
        .refund(RefundRequest {
            payment: Captured {
                payment_id: &id,
                reference: Some("60070"),
                method: &method,
                holder_name: None,
            },
            refund_id: &refund_id,
            amount: usd(1000),
        })
        .await
        .unwrap();
    assert_eq!(
        outcome,
        RefundOutcome::Succeeded {
            reference: Some("60071".into())
        }
    );
    let refund = bodies(&server)
        .await
        .into_iter()
        .find(|b| b.get("createTransactionRequest").is_some())
        .unwrap();
    let account =
        &refund["createTransactionRequest"]["transactionRequest"]["payment"]["bankAccount"];
    assert_eq!(account["nameOnAccount"], "Pat Payer");
    assert_eq!(account["accountNumber"], "6789");
    assert_eq!(account["echeckType"], "PPD");
}

#[tokio::test]
async fn a_duplicate_answers_what_the_first_attempt_decided() {
    let server = MockServer::start().await;
    mount_once(
        &server,
        transaction("authCaptureTransaction"),
        anet(&tx_answer("3", "11", "0")),
    )
    .await;
    mount(
        &server,
        call("getUnsettledTransactionListRequest"),
        anet(&list(&[("60080", &short_id(PAY))])),
    )
    .await;
    mount(
        &server,
        call("getTransactionDetailsRequest"),
        anet(&details(
            "60080",
            "capturedPendingSettlement",
            PAY,
            "25.00",
            false,
            None,
        )),
    )
    .await;
    let answer = charge_card(&processor(&server), "4111111111111111")
        .await
        .unwrap();
    assert_eq!(
        answer,
        Answer::new(
            ChargeOutcome::Approved {
                funding: Funding::Unknown
            },
            Some("60080".into())
        )
    );
}
