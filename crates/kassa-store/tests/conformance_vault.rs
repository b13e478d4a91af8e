//! The vault's sealed secrets, on both backends (docs/api.md §9): a key rotation seals every
//! secret again (vault entries, webhook secrets current and previous, TOTP secrets, link secrets)
//! with the new key check, the hashing keys and its audit event in one transaction; a secret
//! that does not open, or a database of another key, changes nothing; link secrets kept in clear
//! by an older version are sealed once.
//!
//! A rotation touches every row of the installation, so each test runs on a database of its own:
//! a fresh SQLite file, and a fresh schema of the PostgreSQL database.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use kassa_core::audit::Action;
use kassa_core::id::{PartnerId, UserId, WebhookEndpointId};
use kassa_core::processor::Connector;
use kassa_core::role::Role;
use kassa_core::secret::Secret;
use kassa_core::webhook::{EventFilter, WebhookUrl};
use kassa_store::{
    ConnectOptions, CreateEndpointOutcome, KeyRotation, NewUser, NewWebhookEndpoint,
    ProcessorAccount, Resealed, Resealer, SealedItem, SealedKind, SealedSecret, SealedTotp, Store,
    StoreError, User,
};
use tempfile::TempDir;

/// A fresh SQLite file, and a fresh PostgreSQL schema when `KASSA_TEST_POSTGRES_URL` is set.
/// Each with the URL it was opened with.
async fn isolated_backends() -> (Vec<(&'static str, Arc<dyn Store>, String)>, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("kassa.db").display());
    let sqlite = kassa_store::connect(&url, &ConnectOptions::default())
        .await
        .unwrap();
    let mut list = vec![("sqlite", sqlite, url)];
    match std::env::var("KASSA_TEST_POSTGRES_URL") {
        Ok(pg_url) if !pg_url.trim().is_empty() => {
            use sqlx::Connection;
            let schema = format!("v_{}", token());
            let mut conn = sqlx::PgConnection::connect(&pg_url).await.unwrap();
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&mut conn)
                .await
                .unwrap();
            let sep = if pg_url.contains('?') { '&' } else { '?' };
            let url = format!("{pg_url}{sep}options=-c%20search_path%3D{schema}");
            let options = ConnectOptions {
                max_connections: 3,
                migrate: true,
            };
            let pg = kassa_store::connect(&url, &options).await.unwrap();
            list.push(("postgres", pg, url));
        }
        _ => assert!(
            std::env::var("KASSA_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "KASSA_REQUIRE_POSTGRES=1 but KASSA_TEST_POSTGRES_URL is not set"
        ),
    }
    (list, dir)
}

/// A stand-in for the server's vault: "sealing again" prefixes the ciphertext with `R:` and
/// reverses the nonce; it remembers what it was given, and can refuse one kind.
#[derive(Default)]
struct TestResealer {
    seen: Mutex<Vec<(SealedKind, String, String, SealedSecret)>>,
    refuse: Option<SealedKind>,
}

impl Resealer for TestResealer {
    fn reseal(&self, item: &SealedItem<'_>) -> Option<SealedSecret> {
        if self.refuse == Some(item.kind) {
            return None;
        }
        self.seen.lock().unwrap().push((
            item.kind,
            item.partner.to_string(),
            item.row.to_string(),
            item.sealed.clone(),
        ));
        Some(resealed(item.sealed))
    }
}

fn resealed(s: &SealedSecret) -> SealedSecret {
    let mut nonce = s.nonce.clone();
    nonce.reverse();
    SealedSecret {
        nonce,
        ciphertext: [b"R:".as_slice(), &s.ciphertext].concat(),
    }
}

fn sealed(text: &str) -> SealedSecret {
    SealedSecret {
        nonce: (0..12).collect(),
        ciphertext: text.as_bytes().to_vec(),
    }
}

/// What the rotation test looks at afterwards.
struct Installation {
    partner: PartnerId,
    method: kassa_core::id::PaymentMethodId,
    endpoint: WebhookEndpointId,
    deleted_endpoint: WebhookEndpointId,
    user: UserId,
}

/// A partner with a link secret, a stored card, a webhook endpoint whose secret was rotated
/// (so it has a previous one), a deleted endpoint, and a user with two-factor sign-in.
async fn installation(name: &str, store: &Arc<dyn Store>) -> Installation {
    assert!(store.check_vault_key("old-check", now()).await.unwrap());
    let partner = partner_record(now());
    store.create_partner(&partner, None, &by()).await.unwrap();
    let method = card_attempt().method;
    store
        .create_payment_method(&partner.id, None, &method, &by())
        .await
        .unwrap_or_else(|e| panic!("[{name}] payment method: {e:?}"));
    let mut endpoints = Vec::new();
    for _ in 0..2 {
        let new = NewWebhookEndpoint {
            id: WebhookEndpointId::generate(),
            url: WebhookUrl::parse(
                "https://hooks.acme.example/kassa",
                kassa_core::network::Networks::Public,
            )
            .unwrap(),
            description: None,
            events: EventFilter::All,
            secret: sealed("endpoint secret"),
        };
        match store
            .create_webhook_endpoint(&partner.id, &new, 20, &by())
            .await
            .unwrap()
        {
            CreateEndpointOutcome::Created(e) => endpoints.push(e.id),
            other => panic!("[{name}] {other:?}"),
        }
    }
    store
        .rotate_webhook_secret(
            &partner.id,
            &endpoints[0],
            &sealed("endpoint secret 2"),
            now() + time::Duration::hours(24),
            &by(),
        )
        .await
        .unwrap()
        .unwrap();
    store
        .delete_webhook_endpoint(&partner.id, &endpoints[1], &by())
        .await
        .unwrap()
        .unwrap();
    let user = User {
        id: UserId::generate(),
        partner_id: partner.id.clone(),
        email: format!("{}@example.test", token()),
        created_at: micros(now()),
        disabled_at: None,
        role: Role::Owner,
        two_factor: false,
    };
    store
        .create_user(
            &NewUser {
                user: user.clone(),
                password_hash: Secret::new("$argon2id$hash".into()),
            },
            &by(),
        )
        .await
        .unwrap();
    let totp = SealedTotp {
        nonce: vec![3; 12],
        secret: b"totp secret".to_vec(),
        last_step: None,
    };
    assert!(store
        .enable_two_factor(&user.id, &totp, 100, &[], &by())
        .await
        .unwrap());
    Installation {
        partner: partner.id,
        method: method.id,
        endpoint: endpoints[0].clone(),
        deleted_endpoint: endpoints[1].clone(),
        user: user.id,
    }
}

/// The sealed bytes a test can read back through the store: the link secret, the card's
/// vault entry, the TOTP secret.
async fn stored(store: &Arc<dyn Store>, i: &Installation) -> (SealedSecret, Vec<u8>, Vec<u8>) {
    let partner = store.partner_by_id(&i.partner).await.unwrap().unwrap();
    let entry = store
        .payment_method_vault(&i.partner, &i.method)
        .await
        .unwrap()
        .unwrap();
    let totp = store.totp_secret(&i.user).await.unwrap().unwrap();
    (partner.link_secret, entry.ciphertext, totp.secret)
}

fn rotation<'a>(
    current: &'a str,
    hashing: &'a SealedSecret,
    resealer: &'a TestResealer,
) -> KeyRotation<'a> {
    KeyRotation {
        current_key_check: current,
        new_key_check: "new-check",
        hashing_keys: hashing,
        resealer,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotation_seals_every_secret_again_with_its_key_check_and_audit_event() {
    let (backends, _dir) = isolated_backends().await;
    for (name, store, _) in backends.iter() {
        let i = installation(name, store).await;
        let (link, entry, totp) = stored(store, &i).await;
        let stripe = ProcessorAccount {
            partner_id: i.partner.clone(),
            connector: Connector::Stripe,
            api_base: "https://api.stripe.com".into(),
            login_id: None,
            credentials: sealed("stripe keys"),
            updated_at: now(),
        };
        store
            .set_processor(&i.partner, Connector::Stripe, Some(&stripe), &by())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(store.vault_hashing_keys().await.unwrap(), None, "[{name}]");
        let hashing = sealed("hashing keys");
        let resealer = TestResealer::default();
        let counts = store
            .rotate_vault_key(&rotation("old-check", &hashing, &resealer), &by())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("[{name}] refused"));
        assert_eq!(
            counts,
            Resealed {
                vault_entries: 1,
                webhook_secrets: 2,
                totp_secrets: 1,
                link_secrets: 1,
                processor_credentials: 1,
            },
            "[{name}]"
        );
        // Each secret was handed over as stored, with its partner and row.
        let seen = resealer.seen.lock().unwrap().clone();
        let p = i.partner.to_string();
        let has = |kind: SealedKind, row: &str, bytes: &[u8]| {
            seen.iter().any(|(k, partner, r, s)| {
                *k == kind && *partner == p && r == row && s.ciphertext == bytes
            })
        };
        assert!(
            has(SealedKind::LinkSecret, &p, &link.ciphertext),
            "[{name}] {seen:?}"
        );
        assert!(
            has(
                SealedKind::ProcessorCredentials,
                &format!("{p}/stripe"),
                &stripe.credentials.ciphertext
            ),
            "[{name}] {seen:?}"
        );
        assert!(
            has(SealedKind::TotpSecret, i.user.as_str(), &totp),
            "[{name}]"
        );
        assert!(
            has(
                SealedKind::WebhookSecret,
                i.endpoint.as_str(),
                b"endpoint secret 2"
            ),
            "[{name}]"
        );
        assert!(
            has(
                SealedKind::PreviousWebhookSecret,
                i.endpoint.as_str(),
                b"endpoint secret"
            ),
            "[{name}]"
        );
        assert!(
            seen.iter()
                .all(|(_, _, row, _)| row != i.deleted_endpoint.as_str()),
            "[{name}] a deleted endpoint's destroyed secret was handed over"
        );
        assert!(
            seen.iter()
                .any(|(k, _, _, s)| *k == SealedKind::VaultEntry && s.ciphertext == entry),
            "[{name}]"
        );
        // …and what was sealed again is what is stored now.
        let (link2, entry2, totp2) = stored(store, &i).await;
        assert_eq!(link2, resealed(&link), "[{name}]");
        assert_eq!(entry2, [b"R:".as_slice(), &entry].concat(), "[{name}]");
        assert_eq!(totp2, [b"R:".as_slice(), &totp].concat(), "[{name}]");
        assert_eq!(
            store.vault_hashing_keys().await.unwrap(),
            Some(hashing.clone()),
            "[{name}]"
        );
        // Only the new key is accepted from now on.
        assert!(
            !store.check_vault_key("old-check", now()).await.unwrap(),
            "[{name}]"
        );
        assert!(
            store.check_vault_key("new-check", now()).await.unwrap(),
            "[{name}]"
        );
        // One audit event on the installation's chain, with the counts.
        let events = store.audit_chain_page(None, 0).await.unwrap();
        let event = events.last().unwrap();
        assert_eq!(event.action, Action::VaultKeyRotated, "[{name}]");
        assert_eq!(event.partner_id, None, "[{name}]");
        let details: serde_json::Value = serde_json::from_str(&event.details).unwrap();
        assert_eq!(
            details,
            serde_json::json!({"reEncrypted": {"vaultEntries": 1, "webhookSecrets": 2,
                "totpSecrets": 1, "linkSecrets": 1, "processorCredentials": 1}}),
            "[{name}]"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotation_that_fails_midway_or_has_the_wrong_key_changes_nothing() {
    let (backends, _dir) = isolated_backends().await;
    for (name, store, _) in backends.iter() {
        let i = installation(name, store).await;
        let before = stored(store, &i).await;
        let events_before = store.audit_chain_page(None, 0).await.unwrap().len();
        let hashing = sealed("hashing keys");
        // Link secrets are sealed again last: everything before was rewritten in the
        // transaction, and must be rolled back.
        let failing = TestResealer {
            refuse: Some(SealedKind::LinkSecret),
            ..Default::default()
        };
        let err = store
            .rotate_vault_key(&rotation("old-check", &hashing, &failing), &by())
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt(ref m) if m.contains("link secret")),
            "[{name}] {err:?}"
        );
        assert!(
            !failing.seen.lock().unwrap().is_empty(),
            "[{name}] nothing was tried before"
        );
        // Another key's check: refused before anything is tried.
        let wrong = TestResealer::default();
        let refused = store
            .rotate_vault_key(&rotation("another-check", &hashing, &wrong), &by())
            .await
            .unwrap();
        assert_eq!(refused, None, "[{name}]");
        assert!(wrong.seen.lock().unwrap().is_empty(), "[{name}]");
        // Nothing changed.
        assert_eq!(stored(store, &i).await, before, "[{name}]");
        assert_eq!(store.vault_hashing_keys().await.unwrap(), None, "[{name}]");
        assert!(
            store.check_vault_key("old-check", now()).await.unwrap(),
            "[{name}]"
        );
        assert!(
            !store.check_vault_key("new-check", now()).await.unwrap(),
            "[{name}]"
        );
        assert_eq!(
            store.audit_chain_page(None, 0).await.unwrap().len(),
            events_before,
            "[{name}]"
        );
    }
}

/// Runs `sql` on the database behind the store's back (as the version before migration 0014
/// left it).
async fn raw_sql(name: &str, url: &str, sql: &str) {
    use sqlx::Connection;
    if *name == *"sqlite" {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn link_secrets_in_clear_are_sealed_once() {
    let (backends, _dir) = isolated_backends().await;
    for (name, store, url) in backends.iter() {
        let old = partner_record(now());
        let new = partner_record(now());
        for p in [&old, &new] {
            store.create_partner(p, None, &by()).await.unwrap();
        }
        // A partner from before secrets were sealed: its secret in clear, nothing sealed.
        raw_sql(
            name,
            url,
            &format!(
                "UPDATE partners SET link_secret = 'lsk_clear', link_secret_nonce = NULL, \
                 link_secret_ciphertext = NULL WHERE id = '{}'",
                old.id
            ),
        )
        .await;
        let unsealed = store.partner_by_id(&old.id).await.unwrap().unwrap();
        assert!(unsealed.link_secret.nonce.is_empty(), "[{name}]");
        let seal = |p: &PartnerId, clear: &str| SealedSecret {
            nonce: vec![9; 12],
            ciphertext: format!("sealed:{p}:{clear}").into_bytes(),
        };
        assert_eq!(
            store.seal_clear_link_secrets(&seal).await.unwrap(),
            1,
            "[{name}]"
        );
        let sealed_now = store.partner_by_id(&old.id).await.unwrap().unwrap();
        assert_eq!(
            sealed_now.link_secret.ciphertext,
            format!("sealed:{}:lsk_clear", old.id).into_bytes(),
            "[{name}]"
        );
        // Once: the clear column is empty now, and partners made sealed are left alone.
        assert_eq!(
            store.seal_clear_link_secrets(&seal).await.unwrap(),
            0,
            "[{name}]"
        );
        assert_eq!(
            store
                .partner_by_id(&new.id)
                .await
                .unwrap()
                .unwrap()
                .link_secret,
            new.link_secret,
            "[{name}]"
        );
    }
}

/// The stored key check is read without being written: none until the first start checks a
/// key, then that one. And the partners list, oldest first, on a database of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_stored_key_check_and_the_partner_list() {
    let (backends, _dir) = isolated_backends().await;
    for (name, store, url) in backends {
        assert_eq!(
            store.stored_vault_key_check().await.unwrap(),
            None,
            "[{name}]"
        );
        assert_eq!(
            store.stored_vault_key_check().await.unwrap(),
            None,
            "[{name}] still none"
        );
        assert!(store.check_vault_key("first-check", now()).await.unwrap());
        assert_eq!(
            store.stored_vault_key_check().await.unwrap().as_deref(),
            Some("first-check"),
            "[{name}]"
        );
        assert!(store.list_partners().await.unwrap().is_empty(), "[{name}]");
        let older = partner_record(instant_in(2024));
        let newer = partner_record(instant_in(2025));
        store.create_partner(&newer, None, &by()).await.unwrap();
        store.create_partner(&older, None, &by()).await.unwrap();
        let listed: Vec<_> = store
            .list_partners()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(listed, vec![older.id, newer.id], "[{name}]");

        // A probe of the same database: Kassa's, every migration applied, nothing pending; and
        // migrating again applies nothing.
        let mut probe = kassa_store::Probe::open(&url).await.unwrap().unwrap();
        let status = probe.migrations().await.unwrap();
        assert!(
            status.is_current() && !status.is_empty(),
            "[{name}] {status:?}"
        );
        assert_eq!(
            status.applied,
            kassa_store::known_migrations(&url),
            "[{name}]"
        );
        assert_eq!(
            probe.vault_key_check().await.unwrap().as_deref(),
            Some("first-check"),
            "[{name}]"
        );
        assert!(
            !probe.server_version().await.unwrap().is_empty(),
            "[{name}]"
        );
        let applied = kassa_store::migrate(&url, &ConnectOptions::default())
            .await
            .unwrap();
        assert!(applied.is_empty(), "[{name}] {applied:?}");
    }
}

/// A new database reports every migration as applied by the run that made it; a missing SQLite
/// file is no database to a probe, and the probe does not make one.
#[tokio::test]
async fn migrate_reports_what_it_applied_and_a_probe_makes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("new.db");
    let url = format!("sqlite://{}", file.display());
    assert!(kassa_store::Probe::open(&url).await.unwrap().is_none());
    assert!(!file.exists());
    let applied = kassa_store::migrate(&url, &ConnectOptions::default())
        .await
        .unwrap();
    assert_eq!(applied.len(), kassa_store::known_migrations(&url));
    assert_eq!(applied[0].to_string(), "0001_foundation");
    let mut probe = kassa_store::Probe::open(&url).await.unwrap().unwrap();
    assert_eq!(probe.vault_key_check().await.unwrap(), None);
    assert!(
        probe.database_time().await.unwrap().is_none(),
        "SQLite has no clock of its own"
    );
    let times = probe.commit_latency(3).await.unwrap();
    assert_eq!(times.len(), 3);
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("doctor"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
