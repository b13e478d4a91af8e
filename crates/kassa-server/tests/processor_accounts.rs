//! A partner's processor account (docs/api.md §10): set and shown without a key ever leaving the
//! vault — not in `GET /v1/partner`, not in the audit log, not in the database in clear — and a
//! bad `--api-base` refused before anything changes.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use kassa_core::audit::Action;
use kassa_core::processor::Connector;
use kassa_server::processors::{self, Credentials, NewProcessor};
use kassa_store::{AuditFilter, PageRequest};
use serde_json::json;

const SECRET: &str = "sk_test_51NeverShownAnywhere";
const WEBHOOK: &str = "whsec_NeverShownAnywhereEither";

fn stripe(api_base: Option<&str>) -> NewProcessor {
    NewProcessor {
        connector: Connector::Stripe,
        api_base: api_base.map(str::to_string),
        login_id: None,
        credentials: Credentials {
            secret_key: Some(SECRET.into()),
            webhook_secret: Some(WEBHOOK.into()),
            ..Default::default()
        },
    }
}

on_both_backends!(
    a_processor_account_is_set_and_shown_without_its_keys,
    |app| {
        let p = app.partner().await;
        let state = app.app.state();
        let shown = processors::show(app.store.as_ref(), Some(&state.vault), &p.partner)
            .await
            .unwrap();
        assert_eq!(shown.connector, Connector::Sandbox);
        assert_eq!(shown.api_base, None);

        let set = processors::set(
            app.store.as_ref(),
            &state.vault,
            &p.partner,
            stripe(Some("http://127.0.0.1:9/")),
            &operator(),
        )
        .await
        .unwrap();
        assert_eq!(set.connector, Connector::Stripe);
        assert_eq!(set.api_base.as_deref(), Some("http://127.0.0.1:9"));
        assert!(set.signs_notifications);

        let partner = app.api(&p.key, Method::GET, "/v1/partner", None).await;
        assert_eq!(partner.status, StatusCode::OK);
        assert_eq!(
            partner.json()["processor"],
            json!({"connector": "stripe", "apiBase": "http://127.0.0.1:9"})
        );
        assert!(!partner.body.contains(SECRET) && !partner.body.contains(WEBHOOK));

        // The audit event says what changed, never a key.
        let events = app
            .store
            .list_audit_events(
                &p.partner.id,
                &AuditFilter {
                    action: Some(Action::ProcessorSet),
                    ..Default::default()
                },
                &PageRequest {
                    limit: 10,
                    starting_after: None,
                },
            )
            .await
            .unwrap();
        let kassa_store::Page::Items { data, .. } = events else {
            panic!("a page of events")
        };
        assert_eq!(data.len(), 1);
        let details = &data[0].details;
        assert!(details.contains("stripe") && details.contains("http://127.0.0.1:9"));
        assert!(!details.contains(SECRET) && !details.contains(WEBHOOK));

        // In the database the keys are sealed: no column holds them in clear.
        let account = app
            .store
            .processor_account(&p.partner.id, Connector::Stripe)
            .await
            .unwrap()
            .unwrap();
        let sealed = [account.credentials.nonce, account.credentials.ciphertext].concat();
        assert!(!String::from_utf8_lossy(&sealed).contains("sk_test"));

        // Back to the sandbox: new payments go there, the Stripe account stays for the old ones.
        processors::set(
            app.store.as_ref(),
            &state.vault,
            &p.partner,
            NewProcessor {
                connector: Connector::Sandbox,
                api_base: None,
                login_id: None,
                credentials: Credentials::default(),
            },
            &operator(),
        )
        .await
        .unwrap();
        let partner = app.api(&p.key, Method::GET, "/v1/partner", None).await;
        assert_eq!(
            partner.json()["processor"],
            json!({"connector": "sandbox", "apiBase": null})
        );
        assert!(app
            .store
            .processor_account(&p.partner.id, Connector::Stripe)
            .await
            .unwrap()
            .is_some());
    }
);

on_both_backends!(a_bad_api_base_changes_nothing, |app| {
    let p = app.partner().await;
    let state = app.app.state();
    for bad in [
        "api.stripe.com",
        "ftp://api.stripe.com",
        "https://user:pw@api.stripe.com",
        "https://api.stripe.com/?x=1",
    ] {
        let refused = processors::set(
            app.store.as_ref(),
            &state.vault,
            &p.partner,
            stripe(Some(bad)),
            &operator(),
        )
        .await;
        assert!(refused.is_err(), "{bad}");
        let message = format!("{:#}", refused.unwrap_err());
        assert!(!message.contains(SECRET), "{message}");
    }
    let partner = app
        .store
        .partner_by_id(&p.partner.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(partner.processor, Connector::Sandbox);
    assert!(app
        .store
        .processor_account(&p.partner.id, Connector::Stripe)
        .await
        .unwrap()
        .is_none());
});

on_both_backends!(a_payment_goes_to_the_processor_recorded_with_it, |app| {
    // A partner on Stripe with nothing listening at its address: the sale is recorded for
    // Stripe, the connection is refused (certainly not sent), and the payment fails at once.
    let p = app.partner().await;
    let state = app.app.state();
    processors::set(
        app.store.as_ref(),
        &state.vault,
        &p.partner,
        stripe(Some("http://127.0.0.1:9")),
        &operator(),
    )
    .await
    .unwrap();
    let r = app
        .api(
            &p.key,
            Method::POST,
            "/v1/payments/sale",
            Some(json!({
                "firstName": "Pat", "lastName": "Payer",
                "paymentMethod": {"billingFirstName": "Pat", "billingLastName": "Payer",
                    "creditCard": {"paymentAccountNumber": "4242424242424242",
                        "expirationDate": "12/2034", "securityCode": "123"}},
                "invoice": {"invoiceLineItems": [
                    {"name": "Work", "value": "10.00", "valueType": "Standard"}]}
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let payment = r.json();
    assert_eq!(payment["processor"]["connector"], "stripe");
    assert_eq!(payment["status"], "failed");
    assert_eq!(payment["failureCode"], "processing_error");
    assert!(!r.body.contains(SECRET));
});

on_both_backends!(a_sandbox_pay_page_and_receipt_say_it_is_a_test, |app| {
    let p = app.partner().await;
    let pr = app.create_request(&p, "10.00", "TEST-MODE-1").await;
    let page = app.get(&pay_path(&pr)).await;
    assert!(page.body.contains("id=\"test-mode\""), "{}", page.body);
    assert!(page.body.contains("nothing is charged and no money moves"));
    let paid = Payer::new(&app)
        .pay_card(&pay_path(&pr), "4242424242424242")
        .await;
    let receipt = app.get(&paid.location()).await;
    assert!(receipt
        .body
        .contains("Nothing was charged and no money moved"));

    // On a real processor the page is no test, and says nothing of the kind.
    let state = app.app.state();
    processors::set(
        app.store.as_ref(),
        &state.vault,
        &p.partner,
        stripe(Some("http://127.0.0.1:9")),
        &operator(),
    )
    .await
    .unwrap();
    let live = app.create_request(&p, "10.00", "TEST-MODE-2").await;
    let page = app.get(&pay_path(&live)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("id=\"test-mode\""));
    // The earlier sandbox payment's receipt still says it was a test.
    let receipt = app.get(&paid.location()).await;
    assert!(receipt
        .body
        .contains("Nothing was charged and no money moved"));
});
