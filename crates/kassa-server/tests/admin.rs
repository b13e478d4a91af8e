//! Operator actions behind `kassa partner create`, `kassa apikey …` and `serve --demo`.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use kassa_server::admin::{self, AdminError, NewPartnerInput};

on_both_backends!(partner_input_is_validated_all_at_once, |app| {
    let err = admin::create_partner(
        app.store.as_ref(),
        &app.app.state().vault,
        NewPartnerInput {
            name: " ".into(),
            slug: "Bad Slug".into(),
            billing_host: Some("pay acme".into()),
            brand_color: Some("blue".into()),
            logo_url: Some("http://cdn.example/logo.png".into()),
            require_signed_links: false,
            key_scopes: None,
        },
        &operator(),
    )
    .await
    .unwrap_err();
    let AdminError::Invalid(errors) = err else {
        panic!("expected validation errors")
    };
    let mut fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort();
    assert_eq!(
        fields,
        ["billingHost", "brandColor", "logoUrl", "name", "slug"]
    );
});

on_both_backends!(slugs_and_hosts_are_unique, |app| {
    let host = format!(
        "pay-{}.example",
        kassa_core::id::random_base62(6).to_lowercase()
    );
    let p = app
        .partner_with(|i| i.billing_host = Some(host.clone()))
        .await;
    let again = admin::create_partner(
        app.store.as_ref(),
        &app.app.state().vault,
        NewPartnerInput {
            name: "Other".into(),
            slug: p.partner.slug.to_string(),
            ..Default::default()
        },
        &operator(),
    )
    .await;
    assert!(matches!(again, Err(AdminError::Taken("slug"))), "{again:?}");
    let again = admin::create_partner(
        app.store.as_ref(),
        &app.app.state().vault,
        NewPartnerInput {
            name: "Other".into(),
            slug: format!("o-{}", kassa_core::id::random_base62(6).to_lowercase()),
            billing_host: Some(host.to_uppercase()),
            ..Default::default()
        },
        &operator(),
    )
    .await;
    assert!(
        matches!(again, Err(AdminError::Taken("billing host"))),
        "{again:?}"
    );
});

on_both_backends!(api_keys_are_shown_once_and_revocable, |app| {
    let p = app.partner().await;
    let (record, key) = admin::create_api_key(
        app.store.as_ref(),
        &p.partner.id,
        "ci",
        kassa_core::scope::Scopes::default_for_new_key(),
        &operator(),
    )
    .await
    .unwrap();
    assert!(key.expose().starts_with("sk_") && key.expose().len() == 35);
    assert_eq!(record.prefix, &key.expose()[..7]);
    let keys = app.store.list_api_keys(&p.partner.id).await.unwrap();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter().all(|k| k.key_hash != *key.expose()),
        "only hashes are stored"
    );
    let r = app
        .api(key.expose(), Method::GET, "/v1/payment-requests", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(app
        .store
        .revoke_api_key(&p.partner.id, &record.id, start_time(), &operator())
        .await
        .unwrap());
    assert!(!app
        .store
        .revoke_api_key(&p.partner.id, &record.id, start_time(), &operator())
        .await
        .unwrap());
    let r = app
        .api(key.expose(), Method::GET, "/v1/payment-requests", None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // The partner's other key still works.
    let r = app
        .api(&p.key, Method::GET, "/v1/payment-requests", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
});

#[tokio::test]
async fn demo_partner_is_added_once_with_a_fresh_key_each_start() {
    let app = TestApp::sqlite().await;
    let first = admin::ensure_demo(app.store.as_ref(), &app.app.state().vault, &operator())
        .await
        .unwrap();
    assert!(first.created);
    let second = admin::ensure_demo(app.store.as_ref(), &app.app.state().vault, &operator())
        .await
        .unwrap();
    assert!(!second.created);
    assert_eq!(first.partner.id, second.partner.id);
    let old = app
        .api(
            first.api_key.expose(),
            Method::GET,
            "/v1/payment-requests",
            None,
        )
        .await;
    assert_eq!(
        old.status,
        StatusCode::UNAUTHORIZED,
        "the previous demo key is revoked"
    );
    let new = app
        .api(
            second.api_key.expose(),
            Method::GET,
            "/v1/payment-requests",
            None,
        )
        .await;
    assert_eq!(new.status, StatusCode::OK);
    let link = kassa_server::links::creation_link(
        "http://kassa.test",
        &app.app.state().vault,
        &second.partner,
        "250.00",
        "QUOTE-123",
        None,
    )
    .unwrap();
    assert_eq!(
        link,
        "http://kassa.test/p/acme/payment-request?amount=250.00&referenceId=QUOTE-123"
    );
    let r = app
        .get(link.strip_prefix("http://kassa.test").unwrap())
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_database_refuses_another_vault_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("kassa.db").display());
    let config = |key: &str| kassa_server::Config {
        database_url: Some(db.clone()),
        data_dir: dir.path().to_path_buf(),
        vault_key: Some(kassa_core::secret::Secret::new(key.to_string())),
        ..Default::default()
    };
    let first = "11".repeat(32);
    let (app, _) = kassa_server::App::from_config(config(&first))
        .await
        .unwrap();
    drop(app);
    assert!(
        kassa_server::App::from_config(config(&first)).await.is_ok(),
        "the same key again"
    );
    let err = kassa_server::App::from_config(config(&"22".repeat(32)))
        .await
        .err()
        .expect("another key is refused");
    assert!(
        err.to_string()
            .contains("not the key this database was last used with"),
        "{err}"
    );
    assert!(!err.to_string().contains(&"22".repeat(32)), "{err}");

    // After a rotation the new key starts Kassa, and the first one is refused.
    let (app, _) = kassa_server::App::from_config(config(&first))
        .await
        .unwrap();
    let state = app.state();
    kassa_server::key_rotation::rotate(
        state.store.as_ref(),
        &state.vault,
        &kassa_core::secret::Secret::new([0x33; 32]),
        &operator(),
    )
    .await
    .unwrap();
    assert!(kassa_server::App::from_config(config(&"33".repeat(32)))
        .await
        .is_ok());
    assert!(kassa_server::App::from_config(config(&first))
        .await
        .is_err());
}
