//! Vault key rotation end to end (docs/api.md §9), on both backends: a partner with stored cards,
//! a webhook endpoint and a signed creation link; the key is rotated
//! (`kassa_server::key_rotation::rotate`, what `kassa vault rotate-key` runs); then a fresh
//! application on the new key charges the stored cards (the sandbox gets the real numbers back),
//! signs webhooks with the same secret, accepts the link signed before, replays an idempotent
//! request made before (its keyed digest still matches) — and the old key is refused at start.

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use common::*;
use hmac::{Hmac, Mac};
use kassa_core::clock::Clock;
use kassa_core::secret::Secret;
use kassa_server::key_rotation::{load_vault, open_vault, rotate, OpenError, RotateError};
use kassa_server::vault::{KeySource, Vault};
use serde_json::{json, Value};
use sha2::Sha256;

const NEW_KEY: [u8; 32] = [77u8; 32];

fn card(number: &str) -> Value {
    json!({"billingFirstName": "Ada", "billingLastName": "Lovelace",
           "creditCard": {"paymentAccountNumber": number, "expirationDate": "12/2030", "securityCode": "123"}})
}

fn invoice(total: &str) -> Value {
    json!({"invoiceLineItems": [{"name": "Consulting", "value": total, "valueType": "Standard"}]})
}

async fn created(app: &TestApp, p: &TestPartner, path: &str, body: Value) -> Value {
    let r = app.api(&p.key, Method::POST, path, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.body);
    r.json()
}

/// A sale of a stored payment method, with an idempotency key.
async fn sale(app: &TestApp, p: &TestPartner, pm: &Value, key: &str) -> (StatusCode, Value) {
    let r = app
        .api_with(
            &p.key,
            Method::POST,
            "/v1/payments/sale",
            Some(
                json!({"customerId": pm["customerId"], "paymentMethodId": pm["id"],
                        "invoice": invoice("12.00")}),
            ),
            &[("Idempotency-Key", key)],
        )
        .await;
    (r.status, r.json())
}

/// What a webhook receiver on 127.0.0.1 got: each request's `Kassa-Signature` and body.
type Got = Arc<Mutex<Vec<(String, String)>>>;

async fn receiver() -> (String, Got) {
    async fn answer(State(got): State<Got>, headers: HeaderMap, body: Bytes) -> StatusCode {
        let signature = headers
            .get("kassa-signature")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        got.lock()
            .unwrap()
            .push((signature, String::from_utf8(body.to_vec()).unwrap()));
        StatusCode::OK
    }
    let got: Got = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let router = axum::Router::new().fallback(answer).with_state(got.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, got)
}

/// Whether `secret` made the `t=…,v1=…` signature of `body`.
fn signed_with(signature: &str, body: &str, secret: &str) -> bool {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in signature.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.to_string()),
            Some(("v1", value)) => v1.push(value.to_string()),
            _ => return false,
        }
    }
    let Some(t) = t else { return false };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    v1.contains(&hex::encode(mac.finalize().into_bytes()))
}

/// The path of a creation link (without Kassa's public URL).
fn path_of(link: &str) -> String {
    link.strip_prefix("http://kassa.test").unwrap().to_string()
}

on_both_backends!(
    after_a_rotation_everything_sealed_still_works_on_the_new_key_only,
    |app| {
        let p = app.partner_with(|i| i.require_signed_links = true).await;
        // Stored cards: one the sandbox approves, one it declines — only the real number tells.
        let customer = created(
            &app,
            &p,
            "/v1/customers",
            json!({"firstName": "Ada", "lastName": "Lovelace"}),
        )
        .await;
        let stored = |number: &str| {
            let mut body = card(number);
            body["customerId"] = customer["id"].clone();
            body
        };
        let approved = created(&app, &p, "/v1/payment-methods", stored("4242424242424242")).await;
        let declined = created(&app, &p, "/v1/payment-methods", stored("4000000000000002")).await;
        let (status, before) = sale(&app, &p, &approved, "before-rotation").await;
        assert_eq!(status, StatusCode::CREATED, "{before}");
        let r = app
            .api(
                &p.key,
                Method::POST,
                "/v1/webhook-endpoints",
                Some(json!({"url": receiver().await.0, "events": ["*"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let endpoint_secret = r.json()["secret"].as_str().unwrap().to_string();
        let (url, got) = receiver().await;
        let r = app
            .api(
                &p.key,
                Method::POST,
                "/v1/webhook-endpoints",
                Some(json!({"url": url, "events": ["payment_request.created"]})),
            )
            .await;
        let secret = r.json()["secret"].as_str().unwrap().to_string();
        assert_ne!(secret, endpoint_secret);
        // A link signed with the link secret before the rotation.
        let link = kassa_server::links::creation_link(
            "http://kassa.test",
            &app.app.state().vault,
            &p.partner,
            "40.00",
            "BEFORE-ROTATION",
            None,
        )
        .unwrap();
        assert!(link.contains("signature="), "{link}");

        // The new key equal to the current one is refused, changing nothing.
        let same = rotate(
            app.store.as_ref(),
            &app.app.state().vault,
            &Secret::new(TEST_VAULT_KEY),
            &operator(),
        )
        .await;
        assert!(matches!(same, Err(RotateError::SameKey)), "{same:?}");

        let counts = rotate(
            app.store.as_ref(),
            &app.app.state().vault,
            &Secret::new(NEW_KEY),
            &operator(),
        )
        .await
        .unwrap();
        assert_eq!(counts.vault_entries, 2, "{counts:?}");
        assert_eq!(counts.webhook_secrets, 2, "{counts:?}");
        assert!(counts.link_secrets >= 1, "{counts:?}");

        // The old key is refused at start now; the new one opens.
        let now = app.clock.now();
        let old = open_vault(
            app.store.as_ref(),
            Vault::new(&TEST_VAULT_KEY),
            &KeySource::Configured,
            now,
        )
        .await;
        assert!(matches!(old, Err(OpenError::WrongKey(_))), "{old:?}");
        let vault = open_vault(
            app.store.as_ref(),
            Vault::new(&NEW_KEY),
            &KeySource::Configured,
            now,
        )
        .await
        .unwrap();
        let app = app.with_vault(vault);

        // Stored cards still charge: the sandbox gets the real numbers back.
        let (status, paid) = sale(&app, &p, &approved, "after-rotation-1").await;
        assert_eq!(status, StatusCode::CREATED, "{paid}");
        assert_eq!(paid["status"], "completed", "{paid}");
        let (_, refused) = sale(&app, &p, &declined, "after-rotation-2").await;
        assert_eq!(refused["status"], "failed", "{refused}");
        assert_eq!(refused["failureCode"], "card_declined", "{refused}");
        // The idempotent request made before the rotation is still recognised (same keyed digest).
        let (status, replayed) = sale(&app, &p, &approved, "before-rotation").await;
        assert_eq!(status, StatusCode::CREATED, "{replayed}");
        assert_eq!(replayed["id"], before["id"], "{replayed}");

        // Webhooks are signed with the same secret as before.
        app.create_request(&p, "25.00", "AFTER-ROTATION").await;
        app.run_jobs().await;
        let received = got.lock().unwrap().clone();
        assert_eq!(received.len(), 1, "{received:?}");
        let (signature, body) = &received[0];
        assert!(signed_with(signature, body, &secret), "{signature}");

        // The link signed before the rotation is still accepted.
        let r = app.get(&path_of(&link)).await;
        assert_ne!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert!(
            r.status.is_redirection() || r.status.is_success(),
            "{}: {}",
            r.status,
            r.body
        );
        // …and one signed with a secret it does not have is not.
        let forged = path_of(&link).replace("signature=", "signature=0");
        assert_eq!(app.get(&forged).await.status, StatusCode::FORBIDDEN);

        // The rotation is in the installation's audit chain.
        let chain = app.store.audit_chain_page(None, 0).await.unwrap();
        let rotated = chain
            .iter()
            .find(|e| e.action == kassa_core::audit::Action::VaultKeyRotated)
            .expect("a vault.key_rotated event");
        let details: Value = serde_json::from_str(&rotated.details).unwrap();
        assert_eq!(details["reEncrypted"]["vaultEntries"], 2, "{details}");
    }
);

// A database that has been opened with a vault key, and no key file (nor KASSA_VAULT_KEY): the
// start is refused with a message that names the missing file, and no new key is generated —
// one would make every stored secret unreadable.
on_both_backends!(a_missing_key_file_beside_sealed_data_is_refused, |app| {
    let now = app.clock.now();
    open_vault(
        app.store.as_ref(),
        Vault::new(&TEST_VAULT_KEY),
        &KeySource::Configured,
        now,
    )
    .await
    .unwrap();
    let p = app.partner().await;
    let data_dir = tempfile::tempdir().unwrap();
    let missing = load_vault(app.store.as_ref(), None, data_dir.path(), now).await;
    let Err(e) = missing else {
        panic!("a missing key file was replaced by a new key");
    };
    assert!(matches!(e, OpenError::MissingKey(_)), "{e:?}");
    let message = e.to_string();
    let file = data_dir.path().join("vault.key");
    assert!(
        message.contains(&format!("the vault key file {} is missing", file.display())),
        "{message}"
    );
    assert!(message.contains("unreadable"), "{message}");
    assert!(message.contains("KASSA_VAULT_KEY"), "{message}");
    assert!(!file.exists(), "no key was generated");
    // The key itself, restored as KASSA_VAULT_KEY, opens the database as before.
    let hex: String = TEST_VAULT_KEY.iter().map(|b| format!("{b:02x}")).collect();
    let (vault, source) = load_vault(
        app.store.as_ref(),
        Some(&Secret::new(hex)),
        data_dir.path(),
        now,
    )
    .await
    .unwrap();
    assert_eq!(source, KeySource::Configured);
    assert!(vault.open_link_secret(&p.partner).is_ok());
});

/// A database that has never held a key gets a new one, written to the data directory.
#[tokio::test]
async fn a_fresh_database_gets_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kassa.db").display());
    let store = kassa_store::connect(&url, &kassa_store::ConnectOptions::default())
        .await
        .unwrap();
    let data_dir = dir.path().join("kassa-data");
    let now = start_time();
    let (generated, source) = load_vault(store.as_ref(), None, &data_dir, now)
        .await
        .unwrap();
    assert!(matches!(source, KeySource::Generated(_)), "{source:?}");
    assert!(data_dir.join("vault.key").exists());
    // The next start reads it back: the same key, from the file.
    let (again, source) = load_vault(store.as_ref(), None, &data_dir, now)
        .await
        .unwrap();
    assert!(matches!(source, KeySource::File(_)), "{source:?}");
    assert_eq!(generated.key_check(), again.key_check());
}
