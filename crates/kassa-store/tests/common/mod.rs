//! Shared fixtures for the `Store` conformance suite: the backends to run against and builders for
//! the records the tests store.
//!
//! Every test runs against a fresh SQLite file, and also against PostgreSQL when
//! `KASSA_TEST_POSTGRES_URL` is set. The Postgres database is shared by all tests of a run (and
//! may hold rows of earlier runs), so tests make their own partners and only assert on rows they
//! made themselves.

// Each test binary uses its own subset of these fixtures.
#![allow(dead_code)]

use std::ops::Deref;
use std::sync::Arc;

use kassa_core::ach::AccountType;
use kassa_core::audit::Caller;
use kassa_core::billing_host::{BillingHostStatus, HostVerification, VerificationToken};
use kassa_core::card::CardBrand;
use kassa_core::clock::{from_micros, to_micros};
use kassa_core::email::Email;
use kassa_core::id::{
    random_base62, ApiKeyId, PartnerId, PaymentId, PaymentMethodId, PaymentRequestId, VaultEntryId,
};
use kassa_core::money::{Currency, Money};
use kassa_core::partner::{BillingHost, BrandColor, LogoUrl, RedirectHost, RedirectHosts, Slug};
use kassa_core::payment_request::{Metadata, PaymentRequest, PaymentRequestStatus};
use kassa_core::reference::ReferenceId;
use kassa_core::scope::Scopes;
use kassa_core::url::RedirectUrl;
use kassa_store::{
    ApiKeyRecord, ConnectOptions, MethodDetails, NewAttempt, NewPaymentMethod, NewVaultEntry,
    Partner, SealedSecret, Store,
};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

/// The stores one test runs against, with the temporary directory of the SQLite file, which lives
/// exactly as long as this value.
pub struct Backends {
    list: Vec<(&'static str, Arc<dyn Store>)>,
    _sqlite_dir: TempDir,
}

impl Deref for Backends {
    type Target = [(&'static str, Arc<dyn Store>)];

    fn deref(&self) -> &Self::Target {
        &self.list
    }
}

/// SQLite on a fresh file always; PostgreSQL too when `KASSA_TEST_POSTGRES_URL` is set. With
/// `KASSA_REQUIRE_POSTGRES=1` a missing or unreachable PostgreSQL fails the test instead of being
/// skipped, so CI cannot pass by silently testing only SQLite.
pub async fn backends() -> Backends {
    let dir = tempfile::Builder::new()
        .prefix("kassa-store-conformance-")
        .tempdir()
        .expect("create a temporary directory for the SQLite database");
    let url = format!("sqlite://{}", dir.path().join("kassa.db").display());
    let sqlite = kassa_store::connect(&url, &ConnectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("cannot open SQLite at {url}: {e:?}"));
    let mut list = vec![("sqlite", sqlite)];

    let required = std::env::var("KASSA_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    match std::env::var("KASSA_TEST_POSTGRES_URL") {
        Ok(pg_url) if !pg_url.trim().is_empty() => {
            let options = ConnectOptions {
                max_connections: 5,
                migrate: true,
            };
            let pg = kassa_store::connect(&pg_url, &options)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "KASSA_TEST_POSTGRES_URL is set but PostgreSQL cannot be used \
                         (connect or migrate failed): {e:?}"
                    )
                });
            pg.ping().await.unwrap_or_else(|e| {
                panic!("KASSA_TEST_POSTGRES_URL is set but PostgreSQL does not answer: {e:?}")
            });
            list.push(("postgres", pg));
        }
        _ if required => panic!(
            "KASSA_REQUIRE_POSTGRES=1 but KASSA_TEST_POSTGRES_URL is not set: \
             refusing to run the store conformance suite on SQLite only"
        ),
        _ => {}
    }
    Backends {
        list,
        _sqlite_dir: dir,
    }
}

/// Serialises the tests that claim jobs. Jobs are global (not per partner), so two tests claiming
/// at the same time could lease each other's jobs away.
pub static JOB_CLAIMS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Now, truncated to the microseconds the store keeps.
pub fn now() -> OffsetDateTime {
    micros(OffsetDateTime::now_utc())
}

pub fn micros(t: OffsetDateTime) -> OffsetDateTime {
    from_micros(to_micros(t))
}

/// A random instant in the given year, for tests whose rows must not be touched by global sweeps
/// (jobs, abandoned attempts, idempotency purges) that other tests run at the present time.
pub fn instant_in(year: i32) -> OffsetDateTime {
    let start = time::Date::from_calendar_date(year, time::Month::January, 1)
        .expect("valid year")
        .midnight()
        .assume_utc();
    let seconds: i64 = random_base62(8)
        .bytes()
        .fold(0i64, |acc, b| (acc * 31 + i64::from(b)) % (300 * 86_400));
    start + Duration::seconds(seconds)
}

/// A lowercase random token usable in slugs and host names.
pub fn token() -> String {
    random_base62(14).to_ascii_lowercase()
}

pub fn partner_record(created_at: OffsetDateTime) -> Partner {
    let t = token();
    Partner {
        id: PartnerId::generate(),
        slug: Slug::parse(&format!("t-{t}")).expect("valid slug"),
        name: format!("Test Partner {t}"),
        billing_host: Some(
            BillingHost::parse(&format!("pay-{t}.example.test")).expect("valid host"),
        ),
        billing_host_verification: Some(HostVerification {
            status: BillingHostStatus::Verified,
            token: VerificationToken::generate(),
        }),
        brand_color: BrandColor::parse("#12AB9f").expect("valid color"),
        logo_url: Some(LogoUrl::parse("https://acme.example/logo.png").expect("valid logo")),
        default_redirect_url: Some(
            RedirectUrl::parse("https://acme.example/thanks").expect("valid redirect"),
        ),
        require_signed_links: true,
        allowed_redirect_hosts: RedirectHosts::new(
            ["shop.acme.example", "www.acme.example"].map(|h| RedirectHost::parse(h).unwrap()),
        )
        .unwrap(),
        require_two_factor: false,
        // Opaque to the store: sealed and opened by the server's vault.
        link_secret: SealedSecret {
            nonce: random_base62(12).into_bytes(),
            ciphertext: random_base62(32).into_bytes(),
        },
        created_at,
        challenge_mode_until: None,
        processor: kassa_core::processor::Connector::Sandbox,
        contact: Default::default(),
        notification_email: None,
        timezone: Default::default(),
    }
}

/// Who the store's audited changes are made by in these tests: the operator, now.
pub fn by() -> Caller {
    Caller::cli("conformance", now())
}

/// Who made a change at `at`.
pub fn by_at(at: OffsetDateTime) -> Caller {
    Caller::cli("conformance", at)
}

/// Creates a fresh partner (random slug and host) and returns its id.
pub async fn new_partner(name: &str, store: &Arc<dyn Store>) -> PartnerId {
    let partner = partner_record(now());
    store
        .create_partner(&partner, None, &by())
        .await
        .unwrap_or_else(|e| panic!("[{name}] create partner: {e:?}"));
    partner.id
}

pub fn api_key(partner: &PartnerId, label: &str, created_at: OffsetDateTime) -> ApiKeyRecord {
    let secret = random_base62(32);
    ApiKeyRecord {
        id: ApiKeyId::generate(),
        partner_id: partner.clone(),
        label: label.to_string(),
        prefix: format!("sk_{}", &secret[..4]),
        key_hash: format!("hash-{secret}"),
        scopes: Scopes::default_for_new_key(),
        created_at,
        revoked_at: None,
    }
}

/// A fully populated new payment request of `minor` cents, created at `created_at`.
pub fn request(
    partner: &PartnerId,
    reference: &str,
    minor: i64,
    created_at: OffsetDateTime,
) -> PaymentRequest {
    let id = PaymentRequestId::generate();
    let mut metadata = Metadata::new();
    metadata.insert("quote".into(), "123".into());
    metadata.insert("note".into(), "ünïcode ✓".into());
    PaymentRequest {
        url: format!("http://127.0.0.1:8080/p/test/pay/{id}"),
        id,
        partner_id: partner.clone(),
        object: Default::default(),
        reference_id: ReferenceId::parse(reference).expect("valid reference"),
        amount: Money::new(minor, Currency::Usd),
        currency: Currency::Usd,
        status: PaymentRequestStatus::Open,
        redirect_url: Some(RedirectUrl::parse("https://acme.example/thanks").expect("valid url")),
        description: Some("Deposit for quote 123".into()),
        payer_email: Some(Email::parse("client@example.com").expect("valid email")),
        metadata,
        created_at,
        completed_at: None,
        expires_at: None,
        payment_id: None,
        attempt_count: 0,
        attempt_payment_id: None,
    }
}

/// A random reference id, unique enough that tests never collide on a shared database.
pub fn reference() -> String {
    format!("QUOTE-{}", random_base62(10))
}

fn vault_entry() -> NewVaultEntry {
    NewVaultEntry {
        id: VaultEntryId::generate(),
        nonce: vec![7u8; 12],
        ciphertext: b"sealed test bytes, not a real card".to_vec(),
    }
}

/// A card attempt (Visa ending 4242, 12/2030).
pub fn card_attempt() -> NewAttempt {
    NewAttempt {
        payment_id: PaymentId::generate(),
        method: NewPaymentMethod {
            id: PaymentMethodId::generate(),
            holder_name: Some("Ada Lovelace".into()),
            owner: Default::default(),
            last4: "4242".into(),
            fingerprint: format!("fp_{}", random_base62(24)),
            details: MethodDetails::Card {
                brand: CardBrand::Visa,
                exp_month: 12,
                exp_year: 2030,
                postal_code: Some("94107".into()),
            },
            vault: vault_entry(),
        },
        failed_limit: kassa_core::payment_request::FAILED_ATTEMPT_LIMIT,
        ach_authorization: None,
        payer_email: None,
    }
}

/// An ACH attempt (checking account ending 6789 at routing 110000000).
pub fn ach_attempt() -> NewAttempt {
    NewAttempt {
        payment_id: PaymentId::generate(),
        method: NewPaymentMethod {
            id: PaymentMethodId::generate(),
            holder_name: Some("Grace Hopper".into()),
            owner: Default::default(),
            last4: "6789".into(),
            fingerprint: format!("fp_{}", random_base62(24)),
            details: MethodDetails::Ach {
                routing_number: "110000000".into(),
                account_type: AccountType::Checking,
            },
            vault: vault_entry(),
        },
        failed_limit: kassa_core::payment_request::FAILED_ATTEMPT_LIMIT,
        ach_authorization: None,
        payer_email: None,
    }
}
