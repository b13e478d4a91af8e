//! The connectors against the processors' real test environments, for an operator about to go
//! live. Nothing in CI talks to a real processor: each test runs only when its credentials are in
//! the environment and says so when it is skipped.
//!
//! - Stripe (test mode): `KASSA_TEST_STRIPE_SECRET_KEY`, a `sk_test_…` key of an account with raw
//!   card data access.
//! - Authorize.net (sandbox, apitest.authorize.net): `KASSA_TEST_AUTHORIZE_NET_LOGIN_ID` and
//!   `KASSA_TEST_AUTHORIZE_NET_TRANSACTION_KEY`.
//!
//! `cargo test -p kassa-processor --test live -- --nocapture`

use kassa_core::card::{CardNumber, Cvc, Expiry};
use kassa_core::id::{AuthorizationId, PaymentId};
use kassa_core::money::{Currency, Money};
use kassa_processor::authorize_net::{AuthorizeNetConfig, AuthorizeNetProcessor, SANDBOX_API_BASE};
use kassa_processor::stripe::{StripeConfig, StripeProcessor};
use kassa_processor::{
    AuthorizeRequest, CaptureRequest, ChargeOutcome, ChargeRequest, Held, Instrument,
    PaymentLookup, Processor,
};

/// The value of `name`, or None after saying the test is skipped.
fn credential(name: &str, test: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
        _ => {
            println!("skipped {test}: {name} is not set");
            None
        }
    }
}

/// A sale, an authorization captured in part, each looked up afterwards.
async fn exercise(processor: &dyn Processor, number: &str, amount_minor: i64) {
    let number = CardNumber::parse(number).unwrap();
    let cvc = Cvc::parse("123", Some(number.brand())).unwrap();
    let amount = Money::new(amount_minor, Currency::Usd);
    let card = || Instrument::Card {
        number: &number,
        expiry: Expiry {
            month: 12,
            year: 2034,
        },
        cvc: Some(&cvc),
        postal_code: Some("94107"),
    };

    let sale = PaymentId::generate();
    let answer = processor
        .charge(ChargeRequest {
            payment_id: &sale,
            amount,
            instrument: card(),
            holder_name: Some("Kassa Live Test"),
            mandate: None,
        })
        .await
        .expect("the sale is answered");
    assert!(
        matches!(answer.outcome, ChargeOutcome::Approved { .. }),
        "{answer:?}"
    );
    let found = processor
        .lookup(PaymentLookup {
            payment_id: &sale,
            reference: answer.reference.as_deref(),
            amount,
            capture_of: None,
        })
        .await
        .expect("the sale is found again");
    assert_eq!(found.map(|a| a.outcome), Some(answer.outcome));

    let hold = AuthorizationId::generate();
    let held = processor
        .authorize(AuthorizeRequest {
            authorization_id: &hold,
            amount,
            instrument: card(),
            holder_name: Some("Kassa Live Test"),
        })
        .await
        .expect("the hold is answered");
    assert!(
        matches!(held.outcome, ChargeOutcome::Approved { .. }),
        "{held:?}"
    );
    let capture = PaymentId::generate();
    let captured = processor
        .capture(CaptureRequest {
            hold: Held {
                authorization_id: &hold,
                reference: held.reference.as_deref(),
                amount,
            },
            payment_id: &capture,
            amount: Money::new(amount_minor / 2, Currency::Usd),
        })
        .await
        .expect("the capture is answered");
    assert!(
        matches!(captured.outcome, ChargeOutcome::Approved { .. }),
        "{captured:?}"
    );
}

#[tokio::test]
async fn stripe_test_mode() {
    let Some(key) = credential("KASSA_TEST_STRIPE_SECRET_KEY", "stripe_test_mode") else {
        return;
    };
    assert!(
        key.starts_with("sk_test_"),
        "only a test-mode key may be used here"
    );
    let processor = StripeProcessor::new(reqwest::Client::new(), StripeConfig::new(&key));
    exercise(&processor, "4242424242424242", 1234).await;
}

#[tokio::test]
async fn authorize_net_sandbox() {
    let Some(login_id) = credential("KASSA_TEST_AUTHORIZE_NET_LOGIN_ID", "authorize_net_sandbox")
    else {
        return;
    };
    let Some(transaction_key) = credential(
        "KASSA_TEST_AUTHORIZE_NET_TRANSACTION_KEY",
        "authorize_net_sandbox",
    ) else {
        return;
    };
    let processor = AuthorizeNetProcessor::new(
        reqwest::Client::new(),
        AuthorizeNetConfig {
            login_id,
            transaction_key,
            signature_key: None,
            api_base: SANDBOX_API_BASE.to_string(),
        },
    );
    // A random amount, so the sandbox's duplicate check never meets an earlier run.
    let cents = 100 + i64::from(rand_cents());
    exercise(&processor, "4111111111111111", cents).await;
}

fn rand_cents() -> u16 {
    let id = PaymentId::generate();
    id.as_str()
        .bytes()
        .fold(0u16, |a, b| a.wrapping_mul(31).wrapping_add(u16::from(b)))
        % 5000
}
