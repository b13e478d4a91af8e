//! The `Store` conformance suite: every test runs against SQLite, and against PostgreSQL when
//! `KASSA_TEST_POSTGRES_URL` is set (see `common::backends`). Both backends must behave the same.

mod common;

use std::sync::Arc;

use common::{
    ach_attempt, api_key, backends, by, by_at, card_attempt, instant_in, micros, new_partner, now,
    partner_record, reference, request, JOB_CLAIMS,
};
use kassa_core::billing_host::{BillingHostStatus, HostVerification, VerificationToken};
use kassa_core::card::CardBrand;
use kassa_core::id::{ApiKeyId, JobId, PartnerId, PaymentId, PaymentRequestId};
use kassa_core::money::{Currency, Money};
use kassa_core::partner::{BillingHost, BrandColor, LogoUrl, RedirectHost, RedirectHosts};
use kassa_core::payment::{
    AchResolution, AchReturnCode, DeclineCode, Funding, MaskedMethod, Payment, PaymentSource,
    PaymentStatus,
};
use kassa_core::payment_request::{PaymentRequest, PaymentRequestStatus};
use kassa_core::processor::{Connector, ProcessorRef};
use kassa_store::{
    AttemptResult, BeginOutcome, CancelOutcome, Claim, CreateOutcome, EventRecord,
    IdempotencyBegin, IdempotencyPolicy, Job, NewAttempt, NewJob, Page, PageRequest,
    PartnerSettings, PaymentRequestFilter, ResolveOutcome, Store, StoreError,
};
use time::{Duration, OffsetDateTime};

// ---------------------------------------------------------------- helpers

async fn create(name: &str, store: &Arc<dyn Store>, pr: &PaymentRequest) -> PaymentRequest {
    match store.create_payment_request(pr, &by_at(now())).await {
        Ok(CreateOutcome::Created(created)) => created,
        other => panic!("[{name}] expected Created, got {other:?}"),
    }
}

/// Creates an open request of `minor` cents for `partner`.
async fn open_request(
    name: &str,
    store: &Arc<dyn Store>,
    partner: &PartnerId,
    minor: i64,
) -> PaymentRequest {
    create(name, store, &request(partner, &reference(), minor, now())).await
}

async fn begin(
    name: &str,
    store: &Arc<dyn Store>,
    partner: &PartnerId,
    request: &PaymentRequestId,
    attempt: &NewAttempt,
    at: OffsetDateTime,
) -> BeginOutcome {
    store
        .begin_attempt(partner, request, attempt, at)
        .await
        .unwrap_or_else(|e| panic!("[{name}] begin_attempt: {e:?}"))
}

/// Starts an attempt that must be accepted.
async fn start(
    name: &str,
    store: &Arc<dyn Store>,
    partner: &PartnerId,
    request: &PaymentRequestId,
    attempt: &NewAttempt,
    at: OffsetDateTime,
) -> (PaymentRequest, Payment) {
    match begin(name, store, partner, request, attempt, at).await {
        BeginOutcome::Started { request, payment } => (request, payment),
        other => panic!("[{name}] expected Started, got {other:?}"),
    }
}

async fn finish(
    name: &str,
    store: &Arc<dyn Store>,
    partner: &PartnerId,
    payment: &PaymentId,
    result: AttemptResult,
    at: OffsetDateTime,
) -> (PaymentRequest, Payment) {
    let done = store
        .finish_attempt(partner, payment, &result, None, at)
        .await
        .unwrap_or_else(|e| panic!("[{name}] finish_attempt {result:?}: {e:?}"));
    (done.request.expect("a request attempt"), done.payment)
}

async fn get_request(
    name: &str,
    store: &Arc<dyn Store>,
    partner: &PartnerId,
    id: &PaymentRequestId,
) -> PaymentRequest {
    store
        .payment_request(partner, id)
        .await
        .unwrap_or_else(|e| panic!("[{name}] payment_request: {e:?}"))
        .unwrap_or_else(|| panic!("[{name}] payment request {id} not found"))
}

async fn get_payment(
    name: &str,
    store: &Arc<dyn Store>,
    partner: &PartnerId,
    id: &PaymentId,
) -> Payment {
    store
        .payment(partner, id)
        .await
        .unwrap_or_else(|e| panic!("[{name}] payment: {e:?}"))
        .unwrap_or_else(|| panic!("[{name}] payment {id} not found"))
}

fn items<T: std::fmt::Debug>(name: &str, page: Page<T>) -> (Vec<T>, bool) {
    match page {
        Page::Items { data, has_more } => (data, has_more),
        Page::UnknownCursor => panic!("[{name}] unexpected UnknownCursor"),
    }
}

async fn list(
    name: &str,
    store: &Arc<dyn Store>,
    partner: &PartnerId,
    status: Option<PaymentRequestStatus>,
    reference_id: Option<&str>,
    limit: i64,
    starting_after: Option<&PaymentRequestId>,
) -> Page<PaymentRequest> {
    let filter = PaymentRequestFilter {
        status,
        reference_id: reference_id.map(str::to_string),
        as_of: None,
        reference_contains: None,
    };
    let page = PageRequest {
        limit,
        starting_after: starting_after.map(|id| id.as_str().to_string()),
    };
    store
        .list_payment_requests(partner, &filter, &page)
        .await
        .unwrap_or_else(|e| panic!("[{name}] list_payment_requests: {e:?}"))
}

fn ids(requests: &[PaymentRequest]) -> Vec<PaymentRequestId> {
    requests.iter().map(|r| r.id.clone()).collect()
}

/// All events of the partner, newest first.
async fn events(name: &str, store: &Arc<dyn Store>, partner: &PartnerId) -> Vec<EventRecord> {
    let page = PageRequest {
        limit: 100,
        starting_after: None,
    };
    let (data, has_more) = items(
        name,
        store
            .list_events(partner, None, &page)
            .await
            .unwrap_or_else(|e| panic!("[{name}] list_events: {e:?}")),
    );
    assert!(
        !has_more,
        "[{name}] more than 100 events for one test partner"
    );
    data
}

async fn event_types(name: &str, store: &Arc<dyn Store>, partner: &PartnerId) -> Vec<String> {
    events(name, store, partner)
        .await
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}

/// Claims (as `worker`, leasing for one minute) the due jobs at `at`, keeping only those `mine`
/// picks out: jobs are global, and other tests or earlier runs may have left due jobs behind.
async fn claim_mine(
    name: &str,
    store: &Arc<dyn Store>,
    worker: &str,
    at: OffsetDateTime,
    mine: impl Fn(&Job) -> bool,
) -> Vec<Job> {
    claim_leased(name, store, worker, at, Duration::minutes(1), mine).await
}

/// Like [`claim_mine`], with a lease of `lease` (on the database's clock).
async fn claim_leased(
    name: &str,
    store: &Arc<dyn Store>,
    worker: &str,
    at: OffsetDateTime,
    lease: Duration,
    mine: impl Fn(&Job) -> bool,
) -> Vec<Job> {
    store
        .claim_jobs(&Claim {
            worker,
            kinds: &[],
            now: at,
            lease,
            limit: 100,
        })
        .await
        .unwrap_or_else(|e| panic!("[{name}] claim_jobs: {e:?}"))
        .into_iter()
        .filter(|j| mine(j))
        .collect()
}

fn payload_is(job: &Job, key: &str, value: &str) -> bool {
    job.payload.get(key).and_then(|v| v.as_str()) == Some(value)
}

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::Usd)
}

// ---------------------------------------------------------------- partners and API keys

#[tokio::test]
async fn ping_answers() {
    for (name, store) in backends().await.iter() {
        store
            .ping()
            .await
            .unwrap_or_else(|e| panic!("[{name}] ping: {e:?}"));
    }
}

#[tokio::test]
async fn partner_is_found_by_id_slug_and_host() {
    for (name, store) in backends().await.iter() {
        let partner = partner_record(now());
        store
            .create_partner(&partner, None, &by())
            .await
            .unwrap_or_else(|e| panic!("[{name}] {e:?}"));

        let by_id = store.partner_by_id(&partner.id).await.unwrap();
        assert_eq!(
            by_id.as_ref(),
            Some(&partner),
            "[{name}] by id round-trips every field"
        );
        let by_slug = store.partner_by_slug(partner.slug.as_str()).await.unwrap();
        assert_eq!(by_slug.as_ref(), Some(&partner), "[{name}] by slug");
        let host = partner.billing_host.as_ref().unwrap().as_str();
        let by_host = store.partner_by_host(host).await.unwrap();
        assert_eq!(by_host.as_ref(), Some(&partner), "[{name}] by host");

        assert_eq!(
            store.partner_by_id(&PartnerId::generate()).await.unwrap(),
            None,
            "[{name}] unknown id"
        );
        assert_eq!(
            store
                .partner_by_slug("no-such-partner-slug-x")
                .await
                .unwrap(),
            None,
            "[{name}] unknown slug"
        );
        assert_eq!(
            store.partner_by_host("nowhere.example.test").await.unwrap(),
            None,
            "[{name}] unknown host"
        );

        // Optional fields may be absent.
        let mut bare = partner_record(now());
        bare.billing_host = None;
        bare.logo_url = None;
        bare.default_redirect_url = None;
        bare.require_signed_links = false;
        store
            .create_partner(&bare, None, &by())
            .await
            .unwrap_or_else(|e| panic!("[{name}] bare partner: {e:?}"));
        assert_eq!(
            store.partner_by_id(&bare.id).await.unwrap(),
            Some(bare),
            "[{name}] bare partner round-trips"
        );
    }
}

#[tokio::test]
async fn slug_and_billing_host_are_unique() {
    for (name, store) in backends().await.iter() {
        let first = partner_record(now());
        store.create_partner(&first, None, &by()).await.unwrap();

        let mut same_slug = partner_record(now());
        same_slug.slug = first.slug.clone();
        match store.create_partner(&same_slug, None, &by()).await {
            Err(StoreError::Taken("slug")) => {}
            other => panic!("[{name}] same slug: expected Taken(\"slug\"), got {other:?}"),
        }

        let mut same_host = partner_record(now());
        same_host.billing_host = first.billing_host.clone();
        match store.create_partner(&same_host, None, &by()).await {
            Err(StoreError::Taken("billing host")) => {}
            other => panic!("[{name}] same host: expected Taken(\"billing host\"), got {other:?}"),
        }
        assert_eq!(
            store.partner_by_id(&same_slug.id).await.unwrap(),
            None,
            "[{name}] nothing stored"
        );
        assert_eq!(
            store.partner_by_id(&same_host.id).await.unwrap(),
            None,
            "[{name}] nothing stored"
        );

        // Any number of partners may have no billing host.
        for _ in 0..2 {
            let mut no_host = partner_record(now());
            no_host.billing_host = None;
            no_host.billing_host_verification = None;
            store
                .create_partner(&no_host, None, &by())
                .await
                .unwrap_or_else(|e| panic!("[{name}] partner without host: {e:?}"));
        }
    }
}

#[tokio::test]
async fn api_keys_are_found_listed_and_revoked() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let other = new_partner(name, store).await;
        let t = now();
        let k1 = api_key(&partner, "cli", t - Duration::seconds(2));
        let k2 = api_key(&partner, "dashboard", t - Duration::seconds(1));
        let k3 = api_key(&partner, "dashboard", t);
        let k_other = api_key(&other, "dashboard", t);
        for k in [&k1, &k2, &k3, &k_other] {
            store
                .create_api_key(k, &by())
                .await
                .unwrap_or_else(|e| panic!("[{name}] create_api_key: {e:?}"));
        }

        let (found, key_id) = store
            .partner_by_api_key_hash(&k2.key_hash)
            .await
            .unwrap()
            .expect("key found");
        assert_eq!(found.id, partner, "[{name}] key belongs to its partner");
        assert_eq!(key_id.id, k2.id, "[{name}] the key's id");
        assert_eq!(
            store.partner_by_api_key_hash("hash-unknown").await.unwrap(),
            None,
            "[{name}] unknown hash"
        );

        assert_eq!(
            store.list_api_keys(&partner).await.unwrap(),
            vec![k3.clone(), k2.clone(), k1.clone()],
            "[{name}] newest first"
        );
        assert_eq!(
            store.list_api_keys(&other).await.unwrap(),
            vec![k_other.clone()],
            "[{name}] scoped by partner"
        );

        // Found keys are kept in memory between requests: revoking must still end one at once.
        assert!(
            store
                .partner_by_api_key_hash(&k1.key_hash)
                .await
                .unwrap()
                .is_some(),
            "[{name}] k1 works before it is revoked"
        );
        let revoked_at = now();
        assert!(
            store
                .revoke_api_key(&partner, &k1.id, revoked_at, &by())
                .await
                .unwrap(),
            "[{name}] revoke"
        );
        assert!(
            !store
                .revoke_api_key(&partner, &k1.id, now(), &by())
                .await
                .unwrap(),
            "[{name}] revoking twice"
        );
        assert!(
            !store
                .revoke_api_key(&other, &k2.id, now(), &by())
                .await
                .unwrap(),
            "[{name}] another partner's key"
        );
        assert_eq!(
            store.partner_by_api_key_hash(&k1.key_hash).await.unwrap(),
            None,
            "[{name}] revoked key no longer authenticates"
        );
        assert!(
            store
                .partner_by_api_key_hash(&k2.key_hash)
                .await
                .unwrap()
                .is_some(),
            "[{name}] other keys still work"
        );
        let listed = store.list_api_keys(&partner).await.unwrap();
        let listed_k1 = listed
            .iter()
            .find(|k| k.id == k1.id)
            .expect("revoked key still listed");
        assert_eq!(
            listed_k1.revoked_at,
            Some(revoked_at),
            "[{name}] revoked_at recorded"
        );

        assert_eq!(
            store
                .revoke_api_keys_labeled(&partner, "dashboard", now(), &by())
                .await
                .unwrap(),
            2,
            "[{name}] both dashboard keys"
        );
        assert_eq!(
            store
                .revoke_api_keys_labeled(&partner, "dashboard", now(), &by())
                .await
                .unwrap(),
            0,
            "[{name}] none left"
        );
        assert_eq!(
            store.partner_by_api_key_hash(&k2.key_hash).await.unwrap(),
            None,
            "[{name}] k2 revoked"
        );
        assert_eq!(
            store.partner_by_api_key_hash(&k3.key_hash).await.unwrap(),
            None,
            "[{name}] k3 revoked"
        );
        assert!(
            store
                .partner_by_api_key_hash(&k_other.key_hash)
                .await
                .unwrap()
                .is_some(),
            "[{name}] another partner's key with the same label is untouched"
        );
        assert!(
            store
                .list_api_keys(&partner)
                .await
                .unwrap()
                .iter()
                .all(|k| k.revoked_at.is_some()),
            "[{name}] all revoked"
        );
    }
}

fn settings_of(p: &kassa_store::Partner) -> PartnerSettings {
    PartnerSettings {
        name: p.name.clone(),
        billing_host: p.billing_host.clone(),
        brand_color: p.brand_color.clone(),
        logo_url: p.logo_url.clone(),
        default_redirect_url: p.default_redirect_url.clone(),
        require_signed_links: p.require_signed_links,
        allowed_redirect_hosts: p.allowed_redirect_hosts.clone(),
        require_two_factor: p.require_two_factor,
        contact: p.contact.clone(),
        notification_email: p.notification_email.clone(),
        timezone: p.timezone.clone(),
    }
}

#[tokio::test]
async fn partner_settings_are_replaced_and_billing_hosts_stay_unique() {
    for (name, store) in backends().await.iter() {
        let a = partner_record(now());
        let b = partner_record(now());
        for p in [&a, &b] {
            store.create_partner(p, None, &by()).await.unwrap();
        }
        // The partner behind an API key is kept in memory between requests; looked up here
        // before the change, it must come back changed after it.
        let key = api_key(&a.id, "cli", now());
        store.create_api_key(&key, &by()).await.unwrap();
        let (before, _) = store
            .partner_by_api_key_hash(&key.key_hash)
            .await
            .unwrap()
            .expect("key found");
        assert_eq!(before.name, a.name, "[{name}] the partner before");
        let old_host = a.billing_host.clone().unwrap();
        let new_host =
            BillingHost::parse(&format!("new-{}.example.test", common::token())).unwrap();
        let wanted = PartnerSettings {
            name: "Renamed Ltd".into(),
            billing_host: Some(new_host.clone()),
            brand_color: BrandColor::parse("#00ff00").unwrap(),
            logo_url: None,
            default_redirect_url: None,
            require_signed_links: false,
            require_two_factor: true,
            allowed_redirect_hosts: RedirectHosts::new([
                RedirectHost::parse("new.acme.example").unwrap()
            ])
            .unwrap(),
            contact: kassa_core::contact::Contact {
                support_email: Some(kassa_core::email::Email::parse("help@acme.example").unwrap()),
                support_phone: Some(
                    kassa_core::contact::SupportPhone::parse("+1 415 555 0100").unwrap(),
                ),
                support_url: None,
                terms_url: Some(
                    kassa_core::contact::PolicyUrl::parse("https://acme.example/terms").unwrap(),
                ),
                privacy_url: None,
            },
            notification_email: Some(kassa_core::email::Email::parse("ops@acme.example").unwrap()),
            timezone: kassa_core::timezone::Timezone::parse("America/Chicago").unwrap(),
        };
        let updated = store
            .update_partner_settings(&a.id, &wanted, &by())
            .await
            .unwrap_or_else(|e| panic!("[{name}] update: {e:?}"))
            .expect("the partner exists");
        // The new host starts over: pending, with a token of its own.
        let verification = updated.billing_host_verification.clone().unwrap();
        assert_eq!(
            verification.status,
            BillingHostStatus::PendingVerification,
            "[{name}] a new host is pending"
        );
        assert_ne!(
            Some(&verification.token),
            a.billing_host_verification.as_ref().map(|v| &v.token),
            "[{name}] a new host has a new token"
        );
        let mut expected = a.clone();
        expected.name = "Renamed Ltd".into();
        expected.billing_host = Some(new_host.clone());
        expected.billing_host_verification = Some(verification.clone());
        expected.brand_color = BrandColor::parse("#00ff00").unwrap();
        expected.logo_url = None;
        expected.default_redirect_url = None;
        expected.require_signed_links = false;
        expected.require_two_factor = true;
        expected.allowed_redirect_hosts = wanted.allowed_redirect_hosts.clone();
        expected.contact = wanted.contact.clone();
        expected.notification_email = wanted.notification_email.clone();
        expected.timezone = wanted.timezone.clone();
        assert_eq!(
            updated, expected,
            "[{name}] settings replaced; slug, secret and creation time kept"
        );
        assert_eq!(
            store.partner_by_id(&a.id).await.unwrap(),
            Some(expected.clone()),
            "[{name}] stored"
        );
        assert_eq!(
            store
                .partner_by_api_key_hash(&key.key_hash)
                .await
                .unwrap()
                .map(|(p, _)| p),
            Some(expected.clone()),
            "[{name}] the API key's partner is the changed one at once"
        );
        assert_eq!(
            store.partner_by_host(new_host.as_str()).await.unwrap(),
            None,
            "[{name}] a pending host finds no one"
        );
        // Verifying needs the host and token as they are now; a stale one changes nothing.
        let stale = VerificationToken::generate();
        assert_eq!(
            store
                .verify_billing_host(&a.id, &new_host, Some(&stale), &by())
                .await
                .unwrap(),
            None,
            "[{name}] another token"
        );
        assert_eq!(
            store
                .verify_billing_host(&a.id, &old_host, Some(&verification.token), &by())
                .await
                .unwrap(),
            None,
            "[{name}] another host"
        );
        assert_eq!(
            store.partner_by_id(&a.id).await.unwrap(),
            Some(expected.clone()),
            "[{name}] still pending"
        );
        let verified = store
            .verify_billing_host(&a.id, &new_host, Some(&verification.token), &by())
            .await
            .unwrap()
            .expect("verified");
        expected.billing_host_verification = Some(HostVerification {
            status: BillingHostStatus::Verified,
            token: verification.token.clone(),
        });
        assert_eq!(
            verified, expected,
            "[{name}] verified, nothing else changed"
        );
        // Again (the operator's override takes no token): the same partner, nothing changed.
        assert_eq!(
            store
                .verify_billing_host(&a.id, &new_host, None, &by())
                .await
                .unwrap(),
            Some(expected.clone()),
            "[{name}] verified twice"
        );
        assert_eq!(
            store
                .partner_by_api_key_hash(&key.key_hash)
                .await
                .unwrap()
                .map(|(p, _)| p),
            Some(expected.clone()),
            "[{name}] the API key's partner is the verified one at once"
        );
        assert_eq!(
            store.partner_by_host(new_host.as_str()).await.unwrap(),
            Some(expected.clone()),
            "[{name}] found by its new host once verified"
        );
        assert_eq!(
            store.partner_by_host(old_host.as_str()).await.unwrap(),
            None,
            "[{name}] the old host is free"
        );
        assert_eq!(
            store.partner_by_id(&b.id).await.unwrap(),
            Some(b.clone()),
            "[{name}] the other partner is untouched"
        );

        // Keeping one's own host is no clash.
        let mut same = settings_of(&expected);
        same.logo_url = Some(LogoUrl::parse("https://cdn.example/l.png").unwrap());
        let kept = store
            .update_partner_settings(&a.id, &same, &by())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            kept.billing_host,
            Some(new_host.clone()),
            "[{name}] same host"
        );
        assert_eq!(
            kept.billing_host_verification, expected.billing_host_verification,
            "[{name}] the same host stays verified, with its token"
        );
        assert_eq!(kept.logo_url, same.logo_url, "[{name}] logo set");

        // Another partner's host is refused, and nothing of b changes.
        let mut clash = settings_of(&b);
        clash.name = "Should Not Stick".into();
        clash.billing_host = Some(new_host.clone());
        match store.update_partner_settings(&b.id, &clash, &by()).await {
            Err(StoreError::Taken("billing host")) => {}
            other => panic!("[{name}] host clash: expected Taken(\"billing host\"), got {other:?}"),
        }
        assert_eq!(
            store.partner_by_id(&b.id).await.unwrap(),
            Some(b.clone()),
            "[{name}] nothing changed after the clash"
        );

        // The host a gave up stays a's: b may not take it, a may take it back.
        let mut take_old = settings_of(&b);
        take_old.billing_host = Some(old_host.clone());
        match store.update_partner_settings(&b.id, &take_old, &by()).await {
            Err(StoreError::Taken("billing host")) => {}
            other => panic!("[{name}] released host: expected Taken, got {other:?}"),
        }
        let mut back = settings_of(&store.partner_by_id(&a.id).await.unwrap().unwrap());
        back.billing_host = Some(old_host.clone());
        let a2 = store
            .update_partner_settings(&a.id, &back, &by())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            a2.billing_host,
            Some(old_host),
            "[{name}] own host taken back"
        );
        let again = a2.billing_host_verification.clone().unwrap();
        assert_eq!(
            again.status,
            BillingHostStatus::PendingVerification,
            "[{name}] a host taken back is proven again"
        );
        assert!(
            again.token != verification.token
                && Some(&again.token) != a.billing_host_verification.as_ref().map(|v| &v.token),
            "[{name}] with a new token"
        );

        // Any number of partners may clear their host.
        for p in [&a.id, &b.id] {
            let mut none = settings_of(&store.partner_by_id(p).await.unwrap().unwrap());
            none.billing_host = None;
            let cleared = store
                .update_partner_settings(p, &none, &by())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(cleared.billing_host, None, "[{name}] host cleared");
            assert_eq!(
                cleared.billing_host_verification, None,
                "[{name}] no host, no verification"
            );
        }

        assert_eq!(
            store
                .update_partner_settings(&PartnerId::generate(), &wanted, &by())
                .await
                .unwrap(),
            None,
            "[{name}] unknown partner"
        );
    }
}

#[tokio::test]
async fn api_key_is_read_by_its_own_partner_only() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let other = new_partner(name, store).await;
        let key = api_key(&partner, "ci", now());
        store.create_api_key(&key, &by()).await.unwrap();
        assert_eq!(
            store.api_key(&partner, &key.id).await.unwrap(),
            Some(key.clone()),
            "[{name}] found"
        );
        assert_eq!(
            store.api_key(&other, &key.id).await.unwrap(),
            None,
            "[{name}] not another partner's"
        );
        assert_eq!(
            store
                .api_key(&partner, &ApiKeyId::generate())
                .await
                .unwrap(),
            None,
            "[{name}] unknown id"
        );
        let t = now();
        assert!(store
            .revoke_api_key(&partner, &key.id, t, &by())
            .await
            .unwrap());
        assert_eq!(
            store
                .api_key(&partner, &key.id)
                .await
                .unwrap()
                .and_then(|k| k.revoked_at),
            Some(t),
            "[{name}] a revoked key is still read, with when"
        );
    }
}

// ---------------------------------------------------------------- creating and reading requests

#[tokio::test]
async fn create_payment_request_is_idempotent_per_reference() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let reference = reference();
        let mut new = request(&partner, &reference, 25_000, now());
        new.expires_at = Some(micros(now() + Duration::days(7)));

        let created = create(name, store, &new).await;
        assert_eq!(
            created, new,
            "[{name}] the stored request round-trips every field"
        );
        assert_eq!(
            get_request(name, store, &partner, &new.id).await,
            new,
            "[{name}] read back"
        );

        // Same reference and amount: the existing request, nothing new.
        let again = request(&partner, &reference, 25_000, now());
        match store
            .create_payment_request(&again, &by_at(now()))
            .await
            .unwrap()
        {
            CreateOutcome::Existing(existing) => assert_eq!(existing, created, "[{name}] existing"),
            other => panic!("[{name}] same amount: expected Existing, got {other:?}"),
        }
        // Another amount: a conflict, nothing changed.
        let other_amount = request(&partner, &reference, 25_001, now());
        match store
            .create_payment_request(&other_amount, &by_at(now()))
            .await
            .unwrap()
        {
            CreateOutcome::Conflict(existing) => assert_eq!(existing, created, "[{name}] conflict"),
            other => panic!("[{name}] other amount: expected Conflict, got {other:?}"),
        }
        assert_eq!(
            store.payment_request(&partner, &again.id).await.unwrap(),
            None,
            "[{name}] no duplicate"
        );
        assert_eq!(
            store
                .payment_request(&partner, &other_amount.id)
                .await
                .unwrap(),
            None,
            "[{name}] no duplicate"
        );
        let (found, _) = items(
            name,
            list(name, store, &partner, None, Some(&reference), 100, None).await,
        );
        assert_eq!(
            ids(&found),
            vec![new.id.clone()],
            "[{name}] exactly one request with the reference"
        );
        assert_eq!(
            event_types(name, store, &partner).await,
            vec!["payment_request.created"],
            "[{name}] one created event"
        );

        // Existing whatever its status.
        assert!(matches!(
            store
                .cancel_payment_request(&partner, &new.id, &by_at(now()))
                .await
                .unwrap(),
            CancelOutcome::Canceled(_)
        ));
        match store
            .create_payment_request(&again, &by_at(now()))
            .await
            .unwrap()
        {
            CreateOutcome::Existing(existing) => {
                assert_eq!(existing.id, new.id, "[{name}] canceled request returned");
                assert_eq!(
                    existing.status,
                    PaymentRequestStatus::Canceled,
                    "[{name}] as it is"
                );
            }
            other => panic!("[{name}] canceled: expected Existing, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn different_partners_may_reuse_a_reference() {
    for (name, store) in backends().await.iter() {
        let a = new_partner(name, store).await;
        let b = new_partner(name, store).await;
        let reference = reference();
        let ra = create(name, store, &request(&a, &reference, 1_000, now())).await;
        // Another amount too: B's request is its own, not a conflict with A's.
        let rb = create(name, store, &request(&b, &reference, 2_000, now())).await;
        assert_ne!(ra.id, rb.id, "[{name}] two requests");
        assert_eq!(
            get_request(name, store, &a, &ra.id).await.amount,
            usd(1_000),
            "[{name}]"
        );
        assert_eq!(
            get_request(name, store, &b, &rb.id).await.amount,
            usd(2_000),
            "[{name}]"
        );
    }
}

#[tokio::test]
async fn payment_request_is_scoped_by_partner() {
    for (name, store) in backends().await.iter() {
        let a = new_partner(name, store).await;
        let b = new_partner(name, store).await;
        let pr = open_request(name, store, &a, 5_000).await;
        assert_eq!(
            get_request(name, store, &a, &pr.id).await,
            pr,
            "[{name}] owner sees it"
        );
        assert_eq!(
            store.payment_request(&b, &pr.id).await.unwrap(),
            None,
            "[{name}] another partner does not"
        );
        assert_eq!(
            store
                .payment_request(&a, &PaymentRequestId::generate())
                .await
                .unwrap(),
            None,
            "[{name}] unknown id"
        );
        let (b_list, has_more) = items(name, list(name, store, &b, None, None, 100, None).await);
        assert!(
            b_list.is_empty() && !has_more,
            "[{name}] another partner lists nothing"
        );
    }
}

#[tokio::test]
async fn list_filters_and_paginates_newest_first() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let mut made = Vec::new();
        for i in 0..5 {
            made.push(open_request(name, store, &partner, 1_000 + i).await);
        }
        let [r1, r2, r3, r4, r5] = <[PaymentRequest; 5]>::try_from(made).unwrap();

        let (page, more) = items(name, list(name, store, &partner, None, None, 2, None).await);
        assert_eq!(
            (ids(&page), more),
            (vec![r5.id.clone(), r4.id.clone()], true),
            "[{name}] page 1"
        );
        let (page, more) = items(
            name,
            list(name, store, &partner, None, None, 2, Some(&r4.id)).await,
        );
        assert_eq!(
            (ids(&page), more),
            (vec![r3.id.clone(), r2.id.clone()], true),
            "[{name}] page 2"
        );
        let (page, more) = items(
            name,
            list(name, store, &partner, None, None, 2, Some(&r2.id)).await,
        );
        assert_eq!(
            (ids(&page), more),
            (vec![r1.id.clone()], false),
            "[{name}] page 3"
        );
        let (page, more) = items(name, list(name, store, &partner, None, None, 5, None).await);
        assert_eq!(page.len(), 5, "[{name}] limit equal to the count");
        assert!(
            !more,
            "[{name}] no more when the limit is exactly the count"
        );
        let (page, more) = items(
            name,
            list(name, store, &partner, None, None, 100, Some(&r1.id)).await,
        );
        assert!(page.is_empty() && !more, "[{name}] after the oldest");

        assert!(matches!(
            store
                .cancel_payment_request(&partner, &r3.id, &by_at(now()))
                .await
                .unwrap(),
            CancelOutcome::Canceled(_)
        ));
        let canceled = Some(PaymentRequestStatus::Canceled);
        let open = Some(PaymentRequestStatus::Open);
        let (page, _) = items(
            name,
            list(name, store, &partner, canceled, None, 100, None).await,
        );
        assert_eq!(ids(&page), vec![r3.id.clone()], "[{name}] status=canceled");
        assert_eq!(page[0].status, PaymentRequestStatus::Canceled, "[{name}]");
        let (page, _) = items(
            name,
            list(name, store, &partner, open, None, 100, None).await,
        );
        assert_eq!(
            ids(&page),
            vec![r5.id.clone(), r4.id.clone(), r2.id.clone(), r1.id.clone()],
            "[{name}] status=open"
        );
        let (page, more) = items(
            name,
            list(name, store, &partner, open, None, 1, Some(&r4.id)).await,
        );
        assert_eq!(
            (ids(&page), more),
            (vec![r2.id.clone()], true),
            "[{name}] filter with cursor"
        );
        let completed = Some(PaymentRequestStatus::Completed);
        let (page, _) = items(
            name,
            list(name, store, &partner, completed, None, 100, None).await,
        );
        assert!(page.is_empty(), "[{name}] status=completed");

        let r2_ref = r2.reference_id.as_str();
        let (page, _) = items(
            name,
            list(name, store, &partner, None, Some(r2_ref), 100, None).await,
        );
        assert_eq!(ids(&page), vec![r2.id.clone()], "[{name}] referenceId");
        let (page, _) = items(
            name,
            list(name, store, &partner, open, Some(r2_ref), 100, None).await,
        );
        assert_eq!(
            ids(&page),
            vec![r2.id.clone()],
            "[{name}] referenceId and status"
        );
        let (page, _) = items(
            name,
            list(name, store, &partner, canceled, Some(r2_ref), 100, None).await,
        );
        assert!(page.is_empty(), "[{name}] referenceId with another status");
        let (page, _) = items(
            name,
            list(name, store, &partner, None, Some("no-such-ref"), 100, None).await,
        );
        assert!(page.is_empty(), "[{name}] unknown referenceId");
    }
}

#[tokio::test]
async fn list_with_unknown_cursor_says_so() {
    for (name, store) in backends().await.iter() {
        let a = new_partner(name, store).await;
        let b = new_partner(name, store).await;
        let _mine = open_request(name, store, &a, 1_000).await;
        let theirs = open_request(name, store, &b, 1_000).await;
        let unknown = PaymentRequestId::generate();
        assert_eq!(
            list(name, store, &a, None, None, 10, Some(&unknown)).await,
            Page::UnknownCursor,
            "[{name}] unknown id"
        );
        assert_eq!(
            list(name, store, &a, None, None, 10, Some(&theirs.id)).await,
            Page::UnknownCursor,
            "[{name}] another partner's id is unknown"
        );
    }
}

// ---------------------------------------------------------------- cancel and expiry

#[tokio::test]
async fn cancel_only_while_open() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let other = new_partner(name, store).await;
        let pr = open_request(name, store, &partner, 7_500).await;

        assert_eq!(
            store
                .cancel_payment_request(&other, &pr.id, &by_at(now()))
                .await
                .unwrap(),
            CancelOutcome::NotFound,
            "[{name}] another partner's request"
        );
        assert_eq!(
            store
                .cancel_payment_request(&partner, &PaymentRequestId::generate(), &by_at(now()))
                .await
                .unwrap(),
            CancelOutcome::NotFound,
            "[{name}] unknown request"
        );
        let canceled = match store
            .cancel_payment_request(&partner, &pr.id, &by_at(now()))
            .await
            .unwrap()
        {
            CancelOutcome::Canceled(c) => c,
            other => panic!("[{name}] expected Canceled, got {other:?}"),
        };
        assert_eq!(canceled.status, PaymentRequestStatus::Canceled, "[{name}]");
        assert_eq!(
            get_request(name, store, &partner, &pr.id).await,
            canceled,
            "[{name}] stored"
        );
        match store
            .cancel_payment_request(&partner, &pr.id, &by_at(now()))
            .await
            .unwrap()
        {
            CancelOutcome::NotOpen(p) => {
                assert_eq!(p.status, PaymentRequestStatus::Canceled, "[{name}]")
            }
            other => panic!("[{name}] cancel twice: expected NotOpen, got {other:?}"),
        }
        match begin(name, store, &partner, &pr.id, &card_attempt(), now()).await {
            BeginOutcome::NotOpen(p) => {
                assert_eq!(p.status, PaymentRequestStatus::Canceled, "[{name}]")
            }
            other => panic!("[{name}] pay a canceled request: expected NotOpen, got {other:?}"),
        }
        assert_eq!(
            event_types(name, store, &partner).await,
            vec!["payment_request.canceled", "payment_request.created"],
            "[{name}] events"
        );

        // A completed request cannot be canceled.
        let paid = open_request(name, store, &partner, 1_000).await;
        let attempt = card_attempt();
        start(name, store, &partner, &paid.id, &attempt, now()).await;
        finish(
            name,
            store,
            &partner,
            &attempt.payment_id,
            AttemptResult::Approved {
                funding: Funding::Credit,
            },
            now(),
        )
        .await;
        match store
            .cancel_payment_request(&partner, &paid.id, &by_at(now()))
            .await
            .unwrap()
        {
            CancelOutcome::NotOpen(p) => {
                assert_eq!(p.status, PaymentRequestStatus::Completed, "[{name}]")
            }
            other => panic!("[{name}] cancel completed: expected NotOpen, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn cancel_while_an_attempt_is_in_flight_is_refused() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let pr = open_request(name, store, &partner, 7_500).await;
        let attempt = card_attempt();
        start(name, store, &partner, &pr.id, &attempt, now()).await;
        match store
            .cancel_payment_request(&partner, &pr.id, &by_at(now()))
            .await
            .unwrap()
        {
            CancelOutcome::InProgress(p) => {
                assert_eq!(p.status, PaymentRequestStatus::Open, "[{name}]");
                assert_eq!(
                    p.attempt_payment_id.as_ref(),
                    Some(&attempt.payment_id),
                    "[{name}]"
                );
            }
            other => panic!("[{name}] expected InProgress, got {other:?}"),
        }
        // The attempt is still decided normally.
        let (req, _) = finish(
            name,
            store,
            &partner,
            &attempt.payment_id,
            AttemptResult::Approved {
                funding: Funding::Credit,
            },
            now(),
        )
        .await;
        assert_eq!(req.status, PaymentRequestStatus::Completed, "[{name}]");

        // An ACH debit in processing cannot be canceled either.
        let ach = open_request(name, store, &partner, 7_500).await;
        let attempt = ach_attempt();
        start(name, store, &partner, &ach.id, &attempt, now()).await;
        finish(
            name,
            store,
            &partner,
            &attempt.payment_id,
            AttemptResult::AchSubmitted { settle: None },
            now(),
        )
        .await;
        match store
            .cancel_payment_request(&partner, &ach.id, &by_at(now()))
            .await
            .unwrap()
        {
            CancelOutcome::NotOpen(p) => {
                assert_eq!(p.status, PaymentRequestStatus::Processing, "[{name}]")
            }
            other => panic!("[{name}] cancel processing: expected NotOpen, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn expired_request_takes_no_payment_and_is_recorded_expired() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let mut new = request(&partner, &reference(), 3_000, now() - Duration::hours(2));
        let deadline = now() - Duration::hours(1);
        new.expires_at = Some(deadline);
        let pr = create(name, store, &new).await;

        let attempt = card_attempt();
        match begin(name, store, &partner, &pr.id, &attempt, now()).await {
            BeginOutcome::NotOpen(p) => assert_eq!(
                p.status,
                PaymentRequestStatus::Expired,
                "[{name}] seen as expired"
            ),
            other => panic!("[{name}] expected NotOpen, got {other:?}"),
        }
        assert_eq!(
            store.payment(&partner, &attempt.payment_id).await.unwrap(),
            None,
            "[{name}] no payment row"
        );
        match store
            .cancel_payment_request(&partner, &pr.id, &by_at(now()))
            .await
            .unwrap()
        {
            CancelOutcome::NotOpen(p) => {
                assert_eq!(p.status, PaymentRequestStatus::Expired, "[{name}]")
            }
            other => panic!("[{name}] cancel expired: expected NotOpen, got {other:?}"),
        }
        // Just before the deadline the same request was payable.
        let early = card_attempt();
        let (_, payment) = start(
            name,
            store,
            &partner,
            &pr.id,
            &early,
            deadline - Duration::seconds(1),
        )
        .await;
        assert!(
            !store.expire_payment_request(&pr.id, now()).await.unwrap(),
            "[{name}] not expired while an attempt is in flight"
        );
        finish(
            name,
            store,
            &partner,
            &payment.id,
            AttemptResult::Declined {
                code: DeclineCode::CardDeclined,
            },
            now(),
        )
        .await;

        assert!(
            !store
                .expire_payment_request(&pr.id, deadline - Duration::microseconds(1))
                .await
                .unwrap(),
            "[{name}] not before its deadline"
        );
        assert!(
            store
                .expire_payment_request(&pr.id, deadline)
                .await
                .unwrap(),
            "[{name}] expired at its deadline"
        );
        assert!(
            !store.expire_payment_request(&pr.id, now()).await.unwrap(),
            "[{name}] only once"
        );
        let stored = get_request(name, store, &partner, &pr.id).await;
        assert_eq!(
            stored.status,
            PaymentRequestStatus::Expired,
            "[{name}] recorded"
        );
        let (page, _) = items(
            name,
            list(
                name,
                store,
                &partner,
                Some(PaymentRequestStatus::Expired),
                None,
                10,
                None,
            )
            .await,
        );
        assert_eq!(
            ids(&page),
            vec![pr.id.clone()],
            "[{name}] listed as expired"
        );

        // Requests without a deadline never expire.
        let forever = open_request(name, store, &partner, 3_000).await;
        assert!(
            !store
                .expire_payment_request(&forever.id, now() + Duration::days(3650))
                .await
                .unwrap(),
            "[{name}]"
        );
        assert!(
            !store
                .expire_payment_request(&PaymentRequestId::generate(), now())
                .await
                .unwrap(),
            "[{name}]"
        );
    }
}

#[tokio::test]
async fn request_with_deadline_schedules_its_expiry_job() {
    for (name, store) in backends().await.iter() {
        let _claims = JOB_CLAIMS.lock().await;
        let partner = new_partner(name, store).await;
        // A deadline far in the past: no other test claims jobs that early.
        let deadline = instant_in(1993);
        let mut new = request(&partner, &reference(), 3_000, deadline - Duration::days(1));
        new.expires_at = Some(deadline);
        let pr = create(name, store, &new).await;
        let mine = |j: &Job| {
            j.kind == "expire_payment_request" && payload_is(j, "paymentRequestId", pr.id.as_str())
        };

        let early = claim_mine(
            name,
            store,
            "w1",
            deadline - Duration::microseconds(1),
            mine,
        )
        .await;
        assert!(
            early.is_empty(),
            "[{name}] not due before the deadline: {early:?}"
        );
        let due = claim_mine(name, store, "w1", deadline, mine).await;
        assert_eq!(due.len(), 1, "[{name}] one expiry job due at the deadline");
        assert_eq!(due[0].attempts, 1, "[{name}]");
        store.complete_job(&due[0].id, "w1", now()).await.unwrap();
        assert!(
            store
                .expire_payment_request(&pr.id, deadline)
                .await
                .unwrap(),
            "[{name}]"
        );
        let again = claim_mine(name, store, "w2", deadline + Duration::days(1), mine).await;
        assert!(
            again.is_empty(),
            "[{name}] a completed job is not claimed again: {again:?}"
        );
    }
}

// ---------------------------------------------------------------- paying a request

#[tokio::test]
async fn begin_attempt_starts_one_pending_payment() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let other = new_partner(name, store).await;
        let pr = open_request(name, store, &partner, 25_000).await;
        let attempt = card_attempt();
        let t = now();
        let (req, payment) = start(name, store, &partner, &pr.id, &attempt, t).await;

        assert_eq!(
            req.status,
            PaymentRequestStatus::Open,
            "[{name}] still open while deciding"
        );
        assert_eq!(
            req.attempt_payment_id.as_ref(),
            Some(&attempt.payment_id),
            "[{name}] attempt recorded"
        );
        assert_eq!(req.attempt_count, 1, "[{name}]");
        assert_eq!(req.payment_id, None, "[{name}]");
        let expected = Payment {
            id: attempt.payment_id.clone(),
            partner_id: partner.clone(),
            object: Default::default(),
            status: PaymentStatus::Pending,
            amount: usd(25_000),
            currency: Currency::Usd,
            captured_amount: usd(0),
            refunded_amount: usd(0),
            customer_id: None,
            payment_method_id: Some(attempt.method.id.clone()),
            authorization_id: None,
            payment_request_id: Some(pr.id.clone()),
            reference_id: Some(pr.reference_id.as_str().to_string()),
            source: PaymentSource::PaymentRequest,
            payment_method: MaskedMethod::Card {
                brand: CardBrand::Visa,
                funding: Funding::Unknown,
                last4: "4242".into(),
                exp_month: 12,
                exp_year: 2030,
            },
            invoice: None,
            dynamic_descriptor: None,
            failure_code: None,
            failure_message: None,
            processor: ProcessorRef {
                connector: Connector::Sandbox,
                reference: None,
            },
            ach_authorization: None,
            payer: kassa_core::payment::Payer {
                name: attempt.method.holder_name.clone(),
                email: pr.payer_email.clone(),
            },
            created_at: t,
            completed_at: None,
        };
        assert_eq!(payment, expected, "[{name}] the pending payment");
        assert_eq!(
            get_payment(name, store, &partner, &payment.id).await,
            expected,
            "[{name}] read back"
        );
        assert_eq!(
            store.payment(&other, &payment.id).await.unwrap(),
            None,
            "[{name}] scoped by partner"
        );
        assert_eq!(
            get_request(name, store, &partner, &pr.id).await,
            req,
            "[{name}] request read back"
        );

        // A second attempt while the first is in flight is refused and stores nothing.
        let second = card_attempt();
        match begin(name, store, &partner, &pr.id, &second, now()).await {
            BeginOutcome::InProgress(p) => {
                assert_eq!(
                    p.attempt_payment_id.as_ref(),
                    Some(&attempt.payment_id),
                    "[{name}]"
                );
                assert_eq!(p.attempt_count, 1, "[{name}] not counted");
            }
            other => panic!("[{name}] expected InProgress, got {other:?}"),
        }
        assert_eq!(
            store.payment(&partner, &second.payment_id).await.unwrap(),
            None,
            "[{name}] no payment row"
        );

        // Unknown and foreign requests are not found.
        assert_eq!(
            begin(name, store, &other, &pr.id, &card_attempt(), now()).await,
            BeginOutcome::NotFound,
            "[{name}] another partner's request"
        );
        assert_eq!(
            begin(
                name,
                store,
                &partner,
                &PaymentRequestId::generate(),
                &card_attempt(),
                now()
            )
            .await,
            BeginOutcome::NotFound,
            "[{name}] unknown request"
        );
        // Starting an attempt writes no event.
        assert_eq!(
            event_types(name, store, &partner).await,
            vec!["payment_request.created"],
            "[{name}]"
        );
    }
}

#[tokio::test]
async fn approved_attempt_completes_the_request() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let other = new_partner(name, store).await;
        let pr = open_request(name, store, &partner, 25_000).await;
        let attempt = card_attempt();
        start(name, store, &partner, &pr.id, &attempt, now()).await;

        // Another partner cannot decide this attempt.
        let foreign = store
            .finish_attempt(
                &other,
                &attempt.payment_id,
                &AttemptResult::Approved {
                    funding: Funding::Credit,
                },
                None,
                now(),
            )
            .await;
        assert!(
            foreign.is_err(),
            "[{name}] another partner's attempt: {foreign:?}"
        );

        let t = now();
        let (req, payment) = finish(
            name,
            store,
            &partner,
            &attempt.payment_id,
            AttemptResult::Approved {
                funding: Funding::Debit,
            },
            t,
        )
        .await;
        assert_eq!(payment.status, PaymentStatus::Completed, "[{name}]");
        assert_eq!(
            payment.captured_amount,
            usd(25_000),
            "[{name}] captured in full"
        );
        assert_eq!(payment.completed_at, Some(t), "[{name}]");
        assert!(
            matches!(
                &payment.payment_method,
                MaskedMethod::Card {
                    funding: Funding::Debit,
                    ..
                }
            ),
            "[{name}] funding recorded: {:?}",
            payment.payment_method
        );
        assert_eq!(req.status, PaymentRequestStatus::Completed, "[{name}]");
        assert_eq!(
            req.payment_id.as_ref(),
            Some(&attempt.payment_id),
            "[{name}] paid by the attempt"
        );
        assert_eq!(req.attempt_payment_id, None, "[{name}] released");
        assert_eq!(req.completed_at, Some(t), "[{name}]");
        assert_eq!(req.attempt_count, 1, "[{name}]");
        assert_eq!(
            get_request(name, store, &partner, &pr.id).await,
            req,
            "[{name}] stored"
        );
        assert_eq!(
            get_payment(name, store, &partner, &payment.id).await,
            payment,
            "[{name}] stored"
        );

        // Deciding the same attempt again is refused and changes nothing.
        let again = store
            .finish_attempt(
                &partner,
                &attempt.payment_id,
                &AttemptResult::Declined {
                    code: DeclineCode::CardDeclined,
                },
                None,
                now(),
            )
            .await;
        assert!(
            again.is_err(),
            "[{name}] a decided attempt cannot be decided again: {again:?}"
        );
        assert_eq!(
            get_payment(name, store, &partner, &payment.id).await,
            payment,
            "[{name}] unchanged"
        );

        // A completed request never takes another payment.
        let late = card_attempt();
        match begin(name, store, &partner, &pr.id, &late, now()).await {
            BeginOutcome::AlreadyCompleted(p) => assert_eq!(p, req, "[{name}]"),
            other => panic!("[{name}] expected AlreadyCompleted, got {other:?}"),
        }
        assert_eq!(
            store.payment(&partner, &late.payment_id).await.unwrap(),
            None,
            "[{name}] no payment row"
        );

        let evs = events(name, store, &partner).await;
        let types: Vec<&str> = evs.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(
            types,
            vec![
                "payment_request.completed",
                "payment.completed",
                "payment_request.created"
            ],
            "[{name}]"
        );
        assert_eq!(
            evs[0].data["id"],
            pr.id.as_str(),
            "[{name}] request in the event"
        );
        assert_eq!(evs[0].data["status"], "completed", "[{name}]");
        assert_eq!(
            evs[0].data["paymentId"],
            attempt.payment_id.as_str(),
            "[{name}]"
        );
        assert_eq!(
            evs[1].data["id"],
            attempt.payment_id.as_str(),
            "[{name}] payment in the event"
        );
        assert_eq!(evs[1].data["status"], "completed", "[{name}]");
        assert_eq!(evs[1].data["capturedAmount"], "250.00", "[{name}]");
        assert_eq!(evs[0].created_at, t, "[{name}] event time");
        assert_eq!(evs[2].data["status"], "open", "[{name}]");
        assert_eq!(evs[2].data["amount"], "250.00", "[{name}]");
        assert!(
            events(name, store, &other).await.is_empty(),
            "[{name}] events are per partner"
        );
    }
}

#[tokio::test]
async fn declined_attempt_leaves_the_request_open_for_a_retry() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let pr = open_request(name, store, &partner, 9_900).await;
        let first = card_attempt();
        start(name, store, &partner, &pr.id, &first, now()).await;
        let (req, payment) = finish(
            name,
            store,
            &partner,
            &first.payment_id,
            AttemptResult::Declined {
                code: DeclineCode::InsufficientFunds,
            },
            now(),
        )
        .await;
        assert_eq!(payment.status, PaymentStatus::Failed, "[{name}]");
        assert_eq!(
            payment.failure_code.as_deref(),
            Some("insufficient_funds"),
            "[{name}]"
        );
        assert_eq!(
            payment.failure_message.as_deref(),
            Some(DeclineCode::InsufficientFunds.payer_message()),
            "[{name}]"
        );
        assert_eq!(payment.captured_amount, usd(0), "[{name}]");
        assert_eq!(payment.completed_at, None, "[{name}]");
        assert_eq!(
            req.status,
            PaymentRequestStatus::Open,
            "[{name}] open again"
        );
        assert_eq!(req.attempt_payment_id, None, "[{name}] released");
        assert_eq!(req.payment_id, None, "[{name}]");
        assert_eq!(
            get_payment(name, store, &partner, &first.payment_id).await,
            payment,
            "[{name}] the failed attempt is kept"
        );

        let retry = card_attempt();
        let (req, _) = start(name, store, &partner, &pr.id, &retry, now()).await;
        assert_eq!(req.attempt_count, 2, "[{name}] second attempt");
        let (req, _) = finish(
            name,
            store,
            &partner,
            &retry.payment_id,
            AttemptResult::Approved {
                funding: Funding::Credit,
            },
            now(),
        )
        .await;
        assert_eq!(req.status, PaymentRequestStatus::Completed, "[{name}]");
        assert_eq!(
            req.payment_id.as_ref(),
            Some(&retry.payment_id),
            "[{name}] paid by the retry"
        );
        assert_eq!(
            get_payment(name, store, &partner, &first.payment_id)
                .await
                .status,
            PaymentStatus::Failed,
            "[{name}] the first attempt stays failed"
        );
        assert_eq!(
            event_types(name, store, &partner).await,
            vec![
                "payment_request.completed",
                "payment.completed",
                "payment.failed",
                "payment_request.created"
            ],
            "[{name}]"
        );
    }
}

#[tokio::test]
async fn ach_debit_processes_then_clears() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let pr = open_request(name, store, &partner, 12_345).await;
        let attempt = ach_attempt();
        let (_, pending) = start(name, store, &partner, &pr.id, &attempt, now()).await;
        assert_eq!(
            pending.payment_method,
            MaskedMethod::Ach {
                account_type: kassa_core::ach::AccountType::Checking,
                routing_number: "110000000".into(),
                last4: "6789".into(),
            },
            "[{name}] masked ACH method"
        );
        let (req, payment) = finish(
            name,
            store,
            &partner,
            &attempt.payment_id,
            AttemptResult::AchSubmitted { settle: None },
            now(),
        )
        .await;
        assert_eq!(
            payment.status,
            PaymentStatus::Pending,
            "[{name}] submitted, not cleared"
        );
        assert_eq!(req.status, PaymentRequestStatus::Processing, "[{name}]");
        assert_eq!(
            req.payment_id.as_ref(),
            Some(&attempt.payment_id),
            "[{name}] waiting for this debit"
        );
        assert_eq!(req.attempt_payment_id, None, "[{name}]");

        match begin(name, store, &partner, &pr.id, &card_attempt(), now()).await {
            BeginOutcome::InProgress(p) => {
                assert_eq!(p.status, PaymentRequestStatus::Processing, "[{name}]")
            }
            other => panic!("[{name}] pay while processing: expected InProgress, got {other:?}"),
        }
        assert!(
            !store
                .expire_payment_request(&pr.id, now() + Duration::days(3650))
                .await
                .unwrap(),
            "[{name}]"
        );

        let t = now();
        let cleared = match store
            .resolve_ach(None, &attempt.payment_id, &AchResolution::Clear, t)
            .await
            .unwrap()
        {
            ResolveOutcome::Resolved(p) => p,
            other => panic!("[{name}] expected Resolved, got {other:?}"),
        };
        assert_eq!(cleared.status, PaymentStatus::Completed, "[{name}]");
        assert_eq!(cleared.captured_amount, usd(12_345), "[{name}]");
        assert_eq!(cleared.completed_at, Some(t), "[{name}]");
        assert_eq!(
            get_payment(name, store, &partner, &cleared.id).await,
            cleared,
            "[{name}] stored"
        );
        let req = get_request(name, store, &partner, &pr.id).await;
        assert_eq!(req.status, PaymentRequestStatus::Completed, "[{name}]");
        assert_eq!(req.completed_at, Some(t), "[{name}]");
        assert_eq!(
            req.payment_id.as_ref(),
            Some(&attempt.payment_id),
            "[{name}]"
        );

        assert_eq!(
            store
                .resolve_ach(None, &attempt.payment_id, &AchResolution::Clear, now())
                .await
                .unwrap(),
            ResolveOutcome::NotPending,
            "[{name}] resolving twice"
        );
        let r01 = AchResolution::Return(AchReturnCode::parse("R01").unwrap());
        assert_eq!(
            store
                .resolve_ach(None, &attempt.payment_id, &r01, now())
                .await
                .unwrap(),
            ResolveOutcome::NotPending,
            "[{name}] a cleared debit cannot be returned"
        );
        assert_eq!(
            get_payment(name, store, &partner, &cleared.id).await,
            cleared,
            "[{name}] unchanged"
        );
        assert!(matches!(
            begin(name, store, &partner, &pr.id, &card_attempt(), now()).await,
            BeginOutcome::AlreadyCompleted(_)
        ));
        assert_eq!(
            event_types(name, store, &partner).await,
            vec![
                "payment_request.completed",
                "payment.completed",
                "payment.pending",
                "payment_request.created"
            ],
            "[{name}]"
        );
    }
}

#[tokio::test]
async fn returned_ach_debit_reopens_the_request() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let pr = open_request(name, store, &partner, 12_345).await;
        let attempt = ach_attempt();
        start(name, store, &partner, &pr.id, &attempt, now()).await;
        finish(
            name,
            store,
            &partner,
            &attempt.payment_id,
            AttemptResult::AchSubmitted { settle: None },
            now(),
        )
        .await;

        let r01 = AchResolution::Return(AchReturnCode::parse("R01").unwrap());
        let returned = match store
            .resolve_ach(None, &attempt.payment_id, &r01, now())
            .await
            .unwrap()
        {
            ResolveOutcome::Resolved(p) => p,
            other => panic!("[{name}] expected Resolved, got {other:?}"),
        };
        assert_eq!(returned.status, PaymentStatus::Failed, "[{name}]");
        assert_eq!(returned.failure_code.as_deref(), Some("R01"), "[{name}]");
        assert_eq!(
            returned.failure_message.as_deref(),
            Some(AchReturnCode::parse("R01").unwrap().message().as_str()),
            "[{name}]"
        );
        assert_eq!(returned.captured_amount, usd(0), "[{name}]");
        assert_eq!(
            get_payment(name, store, &partner, &returned.id).await,
            returned,
            "[{name}] stored"
        );
        let req = get_request(name, store, &partner, &pr.id).await;
        assert_eq!(
            req.status,
            PaymentRequestStatus::Open,
            "[{name}] open again"
        );
        assert_eq!(req.payment_id, None, "[{name}]");
        assert_eq!(req.completed_at, None, "[{name}]");
        assert_eq!(
            store
                .resolve_ach(None, &attempt.payment_id, &AchResolution::Clear, now())
                .await
                .unwrap(),
            ResolveOutcome::NotPending,
            "[{name}] a returned debit cannot clear"
        );

        // Payable again.
        let retry = card_attempt();
        let (req, _) = start(name, store, &partner, &pr.id, &retry, now()).await;
        assert_eq!(req.attempt_count, 2, "[{name}]");
        let (req, _) = finish(
            name,
            store,
            &partner,
            &retry.payment_id,
            AttemptResult::Approved {
                funding: Funding::Credit,
            },
            now(),
        )
        .await;
        assert_eq!(req.status, PaymentRequestStatus::Completed, "[{name}]");
        assert_eq!(
            store
                .resolve_ach(None, &retry.payment_id, &AchResolution::Clear, now())
                .await
                .unwrap(),
            ResolveOutcome::NotPending,
            "[{name}] a card payment is not an ACH debit"
        );
        assert_eq!(
            store
                .resolve_ach(None, &PaymentId::generate(), &AchResolution::Clear, now())
                .await
                .unwrap(),
            ResolveOutcome::NotPending,
            "[{name}] unknown payment"
        );
        assert_eq!(
            event_types(name, store, &partner).await,
            vec![
                "payment_request.completed",
                "payment.completed",
                "payment.failed",
                "payment.pending",
                "payment_request.created"
            ],
            "[{name}]"
        );
    }
}

#[tokio::test]
async fn ach_settlement_job_is_claimable_when_due() {
    for (name, store) in backends().await.iter() {
        let _claims = JOB_CLAIMS.lock().await;
        let partner = new_partner(name, store).await;
        for (outcome, resolution) in [
            ("clear", AchResolution::Clear),
            (
                "R03",
                AchResolution::Return(AchReturnCode::parse("R03").unwrap()),
            ),
        ] {
            let pr = open_request(name, store, &partner, 4_200).await;
            let attempt = ach_attempt();
            start(name, store, &partner, &pr.id, &attempt, now()).await;
            // Settles at an instant far in the past, where no other test claims jobs.
            let settle_at = instant_in(1991);
            let submitted = AttemptResult::AchSubmitted {
                settle: Some((resolution.clone(), settle_at)),
            };
            finish(name, store, &partner, &attempt.payment_id, submitted, now()).await;
            let mine = |j: &Job| payload_is(j, "paymentId", attempt.payment_id.as_str());

            let early = claim_mine(
                name,
                store,
                "settler",
                settle_at - Duration::microseconds(1),
                mine,
            )
            .await;
            assert!(early.is_empty(), "[{name}] not due yet: {early:?}");
            let due = claim_mine(name, store, "settler", settle_at, mine).await;
            assert_eq!(due.len(), 1, "[{name}] the settlement job is due");
            assert_eq!(due[0].kind, "ach_settlement", "[{name}]");
            assert_eq!(
                due[0].payload,
                serde_json::json!({ "paymentId": attempt.payment_id.as_str(), "outcome": outcome }),
                "[{name}]"
            );
            assert_eq!(due[0].attempts, 1, "[{name}]");

            // The worker resolves the debit as the job says, then completes the job.
            assert!(matches!(
                store
                    .resolve_ach(None, &attempt.payment_id, &resolution, now())
                    .await
                    .unwrap(),
                ResolveOutcome::Resolved(_)
            ));
            store
                .complete_job(&due[0].id, "settler", now())
                .await
                .unwrap();
            let expected = if outcome == "clear" {
                PaymentRequestStatus::Completed
            } else {
                PaymentRequestStatus::Open
            };
            assert_eq!(
                get_request(name, store, &partner, &pr.id).await.status,
                expected,
                "[{name}] {outcome}"
            );
            let gone =
                claim_mine(name, store, "settler", settle_at + Duration::days(1), mine).await;
            assert!(
                gone.is_empty(),
                "[{name}] a completed job is not claimed again: {gone:?}"
            );
        }
    }
}

#[tokio::test]
async fn abandoned_attempts_are_failed_and_freed() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let stale_req = open_request(name, store, &partner, 5_000).await;
        let fresh_req = open_request(name, store, &partner, 5_000).await;
        // Attempts started far in the past, so the sweep below touches no other test's attempts.
        let t0 = instant_in(2001);
        let stale = card_attempt();
        let fresh = card_attempt();
        start(name, store, &partner, &stale_req.id, &stale, t0).await;
        start(
            name,
            store,
            &partner,
            &fresh_req.id,
            &fresh,
            t0 + Duration::minutes(10),
        )
        .await;

        let abandoned = store
            .abandoned_attempts(t0 + Duration::minutes(1))
            .await
            .unwrap_or_else(|e| panic!("[{name}] abandoned_attempts: {e:?}"));
        assert!(
            abandoned.contains(&(partner.clone(), stale.payment_id.clone())),
            "[{name}] the stale attempt is listed"
        );
        assert!(
            !abandoned.iter().any(|(_, id)| *id == fresh.payment_id),
            "[{name}] a recent attempt is not"
        );
        // The server asks the processor and records its answer; here: never received.
        finish(
            name,
            store,
            &partner,
            &stale.payment_id,
            AttemptResult::Declined {
                code: DeclineCode::ProcessingError,
            },
            now(),
        )
        .await;
        let failed = get_payment(name, store, &partner, &stale.payment_id).await;
        assert_eq!(failed.status, PaymentStatus::Failed, "[{name}]");
        assert_eq!(
            failed.failure_code.as_deref(),
            Some("processing_error"),
            "[{name}]"
        );
        let req = get_request(name, store, &partner, &stale_req.id).await;
        assert_eq!(req.status, PaymentRequestStatus::Open, "[{name}]");
        assert_eq!(req.attempt_payment_id, None, "[{name}] freed");
        assert!(
            !store
                .abandoned_attempts(t0 + Duration::minutes(1))
                .await
                .unwrap()
                .iter()
                .any(|(_, id)| *id == stale.payment_id),
            "[{name}] recorded attempts are no longer listed"
        );

        assert_eq!(
            get_payment(name, store, &partner, &fresh.payment_id)
                .await
                .status,
            PaymentStatus::Pending,
            "[{name}] a recent attempt is left alone"
        );
        assert!(matches!(
            begin(name, store, &partner, &fresh_req.id, &card_attempt(), now()).await,
            BeginOutcome::InProgress(_)
        ));

        let retry = card_attempt();
        let (req, _) = start(name, store, &partner, &stale_req.id, &retry, now()).await;
        assert_eq!(
            req.attempt_count, 2,
            "[{name}] the freed request takes a new attempt"
        );

        // Submitted ACH debits are not attempts in flight and are never swept.
        let ach_req = open_request(name, store, &partner, 5_000).await;
        let ach = ach_attempt();
        start(
            name,
            store,
            &partner,
            &ach_req.id,
            &ach,
            t0 - Duration::minutes(5),
        )
        .await;
        finish(
            name,
            store,
            &partner,
            &ach.payment_id,
            AttemptResult::AchSubmitted { settle: None },
            now(),
        )
        .await;
        assert!(
            !store
                .abandoned_attempts(t0 + Duration::minutes(1))
                .await
                .unwrap()
                .iter()
                .any(|(_, id)| *id == ach.payment_id),
            "[{name}] a submitted ACH debit is not an abandoned attempt"
        );
        assert_eq!(
            get_payment(name, store, &partner, &ach.payment_id)
                .await
                .status,
            PaymentStatus::Pending,
            "[{name}]"
        );
        assert_eq!(
            get_request(name, store, &partner, &ach_req.id).await.status,
            PaymentRequestStatus::Processing,
            "[{name}]"
        );

        // Leave nothing in flight behind on a shared database.
        let declined = AttemptResult::Declined {
            code: DeclineCode::CardDeclined,
        };
        finish(
            name,
            store,
            &partner,
            &fresh.payment_id,
            declined.clone(),
            now(),
        )
        .await;
        finish(name, store, &partner, &retry.payment_id, declined, now()).await;
        store
            .resolve_ach(None, &ach.payment_id, &AchResolution::Clear, now())
            .await
            .unwrap();
    }
}

// ---------------------------------------------------------------- events

#[tokio::test]
async fn events_paginate_newest_first() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let a = open_request(name, store, &partner, 1_000).await;
        let b = open_request(name, store, &partner, 2_000).await;
        store
            .cancel_payment_request(&partner, &a.id, &by_at(now()))
            .await
            .unwrap();
        let all = events(name, store, &partner).await;
        let types: Vec<&str> = all.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(
            types,
            vec![
                "payment_request.canceled",
                "payment_request.created",
                "payment_request.created"
            ],
            "[{name}]"
        );
        assert_eq!(all[1].data["id"], b.id.as_str(), "[{name}] newest first");
        assert_eq!(all[2].data["id"], a.id.as_str(), "[{name}]");

        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = PageRequest {
                limit: 1,
                starting_after: cursor.clone(),
            };
            let (data, more) = items(
                name,
                store.list_events(&partner, None, &page).await.unwrap(),
            );
            assert_eq!(data.len(), 1, "[{name}]");
            cursor = Some(data[0].id.as_str().to_string());
            seen.extend(data);
            if !more {
                break;
            }
        }
        assert_eq!(seen, all, "[{name}] pages add up to the whole list");

        let other = new_partner(name, store).await;
        let foreign_cursor = PageRequest {
            limit: 10,
            starting_after: Some(all[0].id.as_str().to_string()),
        };
        assert_eq!(
            store
                .list_events(&other, None, &foreign_cursor)
                .await
                .unwrap(),
            Page::UnknownCursor,
            "[{name}] another partner's event id"
        );
        let unknown = PageRequest {
            limit: 10,
            starting_after: Some("evt_000000000000000000000000".into()),
        };
        assert_eq!(
            store.list_events(&partner, None, &unknown).await.unwrap(),
            Page::UnknownCursor,
            "[{name}]"
        );
    }
}

// ---------------------------------------------------------------- jobs

#[tokio::test]
async fn jobs_are_leased_retried_and_completed() {
    for (name, store) in backends().await.iter() {
        let _claims = JOB_CLAIMS.lock().await;
        let tag = kassa_core::id::random_base62(16);
        // Far in the past, where only this test's own jobs (and leftovers of earlier runs) are due.
        let t = instant_in(1980);
        let job = |n: u32, run_at: OffsetDateTime| NewJob {
            kind: "conformance_test".into(),
            payload: serde_json::json!({ "tag": tag, "n": n }),
            run_at,
        };
        store.enqueue_job(&job(1, t), now()).await.unwrap();
        store
            .enqueue_job(&job(2, t - Duration::minutes(1)), now())
            .await
            .unwrap();
        store
            .enqueue_job(&job(3, t + Duration::hours(1)), now())
            .await
            .unwrap();
        let mine = |j: &Job| payload_is(j, "tag", &tag);
        let n_of = |jobs: &[Job]| {
            let mut ns: Vec<u64> = jobs
                .iter()
                .map(|j| j.payload["n"].as_u64().unwrap())
                .collect();
            ns.sort_unstable();
            ns
        };

        // A short lease, on the database's clock: the test waits it out.
        let lease = Duration::milliseconds(400);
        let first = claim_leased(name, store, "w1", t, lease, mine).await;
        assert_eq!(n_of(&first), vec![1, 2], "[{name}] the due jobs");
        assert!(
            first
                .iter()
                .all(|j| j.kind == "conformance_test" && j.attempts == 1),
            "[{name}] {first:?}"
        );

        // Leased: another worker gets nothing before the lease ends, whatever its business time.
        let during = claim_mine(name, store, "w2", t + Duration::minutes(30), mine).await;
        assert!(
            during.is_empty(),
            "[{name}] leased jobs are not claimed again: {during:?}"
        );

        let id_of = |jobs: &[Job], n: u32| {
            jobs.iter()
                .find(|j| j.payload["n"] == n)
                .unwrap()
                .id
                .clone()
        };
        let (job1, job2) = (id_of(&first, 1), id_of(&first, 2));
        // Only the holder finishes a job.
        assert!(matches!(
            store.complete_job(&job2, "w2", now()).await,
            Err(StoreError::LeaseLost)
        ));
        store.complete_job(&job2, "w1", now()).await.unwrap();

        // A renewed lease holds past its first end.
        assert_eq!(
            store
                .renew_leases("w1", &[job1.clone(), job2.clone()], Duration::seconds(2))
                .await
                .unwrap(),
            1,
            "[{name}] the running job is renewed, the finished one not"
        );
        assert_eq!(
            store
                .renew_leases("w2", std::slice::from_ref(&job1), lease)
                .await
                .unwrap(),
            0,
            "[{name}] another worker renews nothing"
        );
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        assert!(claim_mine(name, store, "w2", t, mine).await.is_empty());

        // Given back unstarted, it is due to others at once, its claim not counted.
        assert_eq!(
            store
                .release_jobs("w1", std::slice::from_ref(&job1))
                .await
                .unwrap(),
            1
        );
        let released = claim_leased(name, store, "w2", t, lease, mine).await;
        assert_eq!(n_of(&released), vec![1], "[{name}]");
        assert_eq!(released[0].attempts, 1, "[{name}] a release is no attempt");

        // After the lease ends the unfinished job can be taken over; the old holder then
        // finishes nothing.
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        let taken_over = claim_mine(name, store, "w3", t, mine).await;
        assert_eq!(
            n_of(&taken_over),
            vec![1],
            "[{name}] only the unfinished job, not the completed one"
        );
        assert_eq!(taken_over[0].id, job1, "[{name}]");
        assert_eq!(taken_over[0].attempts, 2, "[{name}] attempts count claims");
        assert!(matches!(
            store.complete_job(&job1, "w2", now()).await,
            Err(StoreError::LeaseLost)
        ));
        assert!(matches!(
            store.retry_job(&job1, "w2", now(), "late").await,
            Err(StoreError::LeaseLost)
        ));

        // A retry releases the lease and reschedules.
        store
            .retry_job(&job1, "w3", t + Duration::minutes(10), "temporary failure")
            .await
            .unwrap();
        let early = claim_mine(name, store, "w4", t + Duration::minutes(5), mine).await;
        assert!(
            early.is_empty(),
            "[{name}] not before its new run_at: {early:?}"
        );
        let retried = claim_mine(name, store, "w4", t + Duration::minutes(10), mine).await;
        assert_eq!(n_of(&retried), vec![1], "[{name}] due again");
        assert_eq!(retried[0].attempts, 3, "[{name}]");
        store.complete_job(&job1, "w4", now()).await.unwrap();

        let later = claim_mine(name, store, "w5", t + Duration::hours(2), mine).await;
        assert_eq!(n_of(&later), vec![3], "[{name}] only the later job is left");
        store
            .complete_job(&later[0].id, "w5", t + Duration::hours(2))
            .await
            .unwrap();
        let none = claim_mine(name, store, "w5", t + Duration::days(1), mine).await;
        assert!(none.is_empty(), "[{name}] all done: {none:?}");

        // Completing or retrying an unknown job changes nothing.
        assert!(matches!(
            store.complete_job(&JobId::generate(), "w5", now()).await,
            Err(StoreError::LeaseLost)
        ));
        assert!(matches!(
            store.retry_job(&JobId::generate(), "w5", now(), "x").await,
            Err(StoreError::LeaseLost)
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_share_a_job() {
    for (name, store) in backends().await.iter() {
        let _claims = JOB_CLAIMS.lock().await;
        let tag = kassa_core::id::random_base62(16);
        let t = instant_in(1985);
        for n in 0..12 {
            let job = NewJob {
                kind: "conformance_test".into(),
                payload: serde_json::json!({ "tag": tag, "n": n }),
                run_at: t,
            };
            store.enqueue_job(&job, now()).await.unwrap();
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(6));
        let mut tasks = Vec::new();
        for w in 0..6 {
            let store = Arc::clone(store);
            let barrier = Arc::clone(&barrier);
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let mut got = Vec::new();
                let worker = format!("w{w}");
                for _ in 0..4 {
                    got.extend(
                        store
                            .claim_jobs(&Claim {
                                worker: &worker,
                                kinds: &["conformance_test"],
                                now: t,
                                lease: Duration::minutes(1),
                                limit: 1,
                            })
                            .await
                            .unwrap(),
                    );
                }
                (worker, got)
            }));
        }
        let mut claimed: Vec<u64> = Vec::new();
        let mut claimed_ids = Vec::new();
        for task in tasks {
            let (worker, jobs) = task.await.unwrap();
            for job in jobs {
                if payload_is(&job, "tag", &tag) {
                    claimed.push(job.payload["n"].as_u64().unwrap());
                    claimed_ids.push((worker.clone(), job.id));
                }
            }
        }
        // 6 workers × 4 claims of one job each cover all 12 jobs, each exactly once.
        let rest = claim_mine(name, store, "sweeper", t, |j| payload_is(j, "tag", &tag)).await;
        claimed.extend(rest.iter().map(|j| j.payload["n"].as_u64().unwrap()));
        claimed_ids.extend(rest.into_iter().map(|j| ("sweeper".to_string(), j.id)));
        claimed.sort_unstable();
        assert_eq!(
            claimed,
            (0..12).collect::<Vec<u64>>(),
            "[{name}] every job claimed exactly once"
        );
        for (worker, id) in &claimed_ids {
            store.complete_job(id, worker, now()).await.unwrap();
        }
    }
}

// ---------------------------------------------------------------- idempotency keys

#[tokio::test]
async fn idempotency_key_lifecycle() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let other = new_partner(name, store).await;
        let policy = IdempotencyPolicy::default();
        let t = now();
        let begin_key =
            |p: &PartnerId, key: &'static str, hash: &'static str, at: OffsetDateTime| {
                let store = Arc::clone(store);
                let p = p.clone();
                let policy = policy.clone();
                async move {
                    store
                        .idempotency_begin(&p, key, hash, at, &policy)
                        .await
                        .unwrap()
                }
            };

        assert_eq!(
            begin_key(&partner, "k1", "h1", t).await,
            IdempotencyBegin::Started,
            "[{name}] first use"
        );
        assert_eq!(
            begin_key(&partner, "k1", "h1", t).await,
            IdempotencyBegin::InProgress,
            "[{name}] while running"
        );
        assert_eq!(
            begin_key(&partner, "k1", "h2", t).await,
            IdempotencyBegin::Mismatch,
            "[{name}] other body while running"
        );
        assert_eq!(
            begin_key(&other, "k1", "h2", t).await,
            IdempotencyBegin::Started,
            "[{name}] keys are per partner"
        );

        store
            .idempotency_finish(&partner, "k1", 201, r#"{"id":"pr_x"}"#)
            .await
            .unwrap();
        assert_eq!(
            begin_key(&partner, "k1", "h1", t + Duration::hours(1)).await,
            IdempotencyBegin::Replay {
                status: 201,
                body: r#"{"id":"pr_x"}"#.into()
            },
            "[{name}] replay"
        );
        assert_eq!(
            begin_key(&partner, "k1", "h2", t + Duration::hours(1)).await,
            IdempotencyBegin::Mismatch,
            "[{name}] reused"
        );
        // A finished key is never abandoned: still a replay until the retention ends.
        assert!(matches!(
            begin_key(&partner, "k1", "h1", t + Duration::hours(23)).await,
            IdempotencyBegin::Replay { .. }
        ));

        // Past the retention the key is forgotten, whatever the body.
        assert_eq!(
            begin_key(&partner, "k1", "h3", t + Duration::hours(25)).await,
            IdempotencyBegin::Started,
            "[{name}] expired key starts again"
        );
        assert_eq!(
            begin_key(&partner, "k1", "h3", t + Duration::hours(25)).await,
            IdempotencyBegin::InProgress,
            "[{name}]"
        );

        // Release forgets a key whose request stored nothing.
        assert_eq!(
            begin_key(&partner, "k2", "h1", t).await,
            IdempotencyBegin::Started,
            "[{name}]"
        );
        store.idempotency_release(&partner, "k2").await.unwrap();
        assert_eq!(
            begin_key(&partner, "k2", "h9", t).await,
            IdempotencyBegin::Started,
            "[{name}] released"
        );
        // ...but never a finished one.
        store
            .idempotency_finish(&partner, "k2", 200, "{}")
            .await
            .unwrap();
        store.idempotency_release(&partner, "k2").await.unwrap();
        assert_eq!(
            begin_key(&partner, "k2", "h9", t).await,
            IdempotencyBegin::Replay {
                status: 200,
                body: "{}".into()
            },
            "[{name}] release keeps finished keys"
        );

        // A request still running after `abandon_after` died with its process: the same request
        // may take the key over, a different one still may not.
        assert_eq!(
            begin_key(&partner, "k3", "h1", t).await,
            IdempotencyBegin::Started,
            "[{name}]"
        );
        let later = t + policy.abandon_after + Duration::seconds(1);
        assert_eq!(
            begin_key(&partner, "k3", "h2", later).await,
            IdempotencyBegin::Mismatch,
            "[{name}]"
        );
        assert_eq!(
            begin_key(&partner, "k3", "h1", t + Duration::minutes(1)).await,
            IdempotencyBegin::InProgress,
            "[{name}]"
        );
        assert_eq!(
            begin_key(&partner, "k3", "h1", later).await,
            IdempotencyBegin::Started,
            "[{name}] abandoned"
        );
        assert_eq!(
            begin_key(&partner, "k3", "h1", later).await,
            IdempotencyBegin::InProgress,
            "[{name}] taken over once"
        );
    }
}

#[tokio::test]
async fn old_idempotency_keys_are_purged() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let policy = IdempotencyPolicy::default();
        // Created far in the past, so the purge below deletes no other test's keys.
        let old = instant_in(1999);
        assert_eq!(
            store
                .idempotency_begin(&partner, "old", "h1", old, &policy)
                .await
                .unwrap(),
            IdempotencyBegin::Started
        );
        store
            .idempotency_finish(&partner, "old", 201, "{}")
            .await
            .unwrap();
        let recent = old + Duration::hours(1);
        assert_eq!(
            store
                .idempotency_begin(&partner, "recent", "h1", recent, &policy)
                .await
                .unwrap(),
            IdempotencyBegin::Started
        );
        store
            .idempotency_finish(&partner, "recent", 201, "{}")
            .await
            .unwrap();

        let purged = store
            .purge_idempotency_keys(old + Duration::microseconds(1))
            .await
            .unwrap();
        if *name == "sqlite" {
            assert_eq!(purged, 1, "[{name}]");
        } else {
            assert!(purged >= 1, "[{name}]");
        }
        // Within the retention a different body would be a mismatch; purged, the key is new.
        let soon = old + Duration::hours(2);
        assert_eq!(
            store
                .idempotency_begin(&partner, "old", "h2", soon, &policy)
                .await
                .unwrap(),
            IdempotencyBegin::Started,
            "[{name}] purged"
        );
        assert_eq!(
            store
                .idempotency_begin(&partner, "recent", "h2", soon, &policy)
                .await
                .unwrap(),
            IdempotencyBegin::Mismatch,
            "[{name}] kept"
        );
        store
            .purge_idempotency_keys(soon + Duration::microseconds(1))
            .await
            .unwrap();
    }
}

// ---------------------------------------------------------------- races

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_attempts_on_one_request_start_exactly_one() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let pr = open_request(name, store, &partner, 25_000).await;

        let race = |attempts: Vec<NewAttempt>| {
            let barrier = Arc::new(tokio::sync::Barrier::new(attempts.len()));
            let tasks: Vec<_> = attempts
                .into_iter()
                .map(|attempt| {
                    let store = Arc::clone(store);
                    let barrier = Arc::clone(&barrier);
                    let partner = partner.clone();
                    let id = pr.id.clone();
                    tokio::spawn(async move {
                        barrier.wait().await;
                        let outcome = store.begin_attempt(&partner, &id, &attempt, now()).await;
                        (attempt, outcome)
                    })
                })
                .collect();
            async move {
                let mut results = Vec::new();
                for task in tasks {
                    let (attempt, outcome) = task.await.expect("task");
                    results.push((
                        attempt,
                        outcome.unwrap_or_else(|e| panic!("[{name}] begin_attempt: {e:?}")),
                    ));
                }
                results
            }
        };

        let results = race((0..20).map(|_| card_attempt()).collect()).await;
        let started: Vec<_> = results
            .iter()
            .filter(|(_, o)| matches!(o, BeginOutcome::Started { .. }))
            .collect();
        let in_progress = results
            .iter()
            .filter(|(_, o)| matches!(o, BeginOutcome::InProgress(_)))
            .count();
        assert_eq!(
            started.len(),
            1,
            "[{name}] exactly one attempt starts: {results:?}"
        );
        assert_eq!(
            in_progress, 19,
            "[{name}] all others are told one is in progress"
        );
        let winner = started[0].0.payment_id.clone();
        for (attempt, _) in &results {
            let stored = store.payment(&partner, &attempt.payment_id).await.unwrap();
            assert_eq!(
                stored.is_some(),
                attempt.payment_id == winner,
                "[{name}] only the winner has a payment row"
            );
        }
        let req = get_request(name, store, &partner, &pr.id).await;
        assert_eq!(req.attempt_count, 1, "[{name}] one attempt counted");
        assert_eq!(req.attempt_payment_id.as_ref(), Some(&winner), "[{name}]");

        let (req, _) = finish(
            name,
            store,
            &partner,
            &winner,
            AttemptResult::Approved {
                funding: Funding::Credit,
            },
            now(),
        )
        .await;
        assert_eq!(req.status, PaymentRequestStatus::Completed, "[{name}]");

        let results = race((0..20).map(|_| card_attempt()).collect()).await;
        for (attempt, outcome) in &results {
            assert!(
                matches!(outcome, BeginOutcome::AlreadyCompleted(p) if p.payment_id.as_ref() == Some(&winner)),
                "[{name}] a completed request takes no payment: {outcome:?}"
            );
            assert_eq!(
                store.payment(&partner, &attempt.payment_id).await.unwrap(),
                None,
                "[{name}]"
            );
        }
        let req = get_request(name, store, &partner, &pr.id).await;
        assert_eq!(req.attempt_count, 1, "[{name}]");
        assert_eq!(
            event_types(name, store, &partner).await,
            vec![
                "payment_request.completed",
                "payment.completed",
                "payment_request.created"
            ],
            "[{name}] paid once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_with_one_reference_create_exactly_one() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let reference = reference();
        let barrier = Arc::new(tokio::sync::Barrier::new(20));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let store = Arc::clone(store);
                let barrier = Arc::clone(&barrier);
                let new = request(&partner, &reference, 10_000, now());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.create_payment_request(&new, &by_at(now())).await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(
                task.await
                    .unwrap()
                    .unwrap_or_else(|e| panic!("[{name}] create: {e:?}")),
            );
        }
        let created: Vec<&PaymentRequest> = outcomes
            .iter()
            .filter_map(|o| match o {
                CreateOutcome::Created(p) => Some(p),
                _ => None,
            })
            .collect();
        assert_eq!(
            created.len(),
            1,
            "[{name}] exactly one created: {outcomes:?}"
        );
        let id = created[0].id.clone();
        for o in &outcomes {
            match o {
                CreateOutcome::Created(_) => {}
                CreateOutcome::Existing(p) => {
                    assert_eq!(p.id, id, "[{name}] the others get the created one")
                }
                other => panic!("[{name}] expected Existing, got {other:?}"),
            }
        }
        let (found, _) = items(
            name,
            list(name, store, &partner, None, Some(&reference), 100, None).await,
        );
        assert_eq!(ids(&found), vec![id], "[{name}] one row");
        assert_eq!(
            event_types(name, store, &partner).await,
            vec!["payment_request.created"],
            "[{name}] one event"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uses_of_one_idempotency_key_start_exactly_one() {
    for (name, store) in backends().await.iter() {
        let partner = new_partner(name, store).await;
        let barrier = Arc::new(tokio::sync::Barrier::new(20));
        let t = now();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let store = Arc::clone(store);
                let barrier = Arc::clone(&barrier);
                let partner = partner.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .idempotency_begin(&partner, "race", "h1", t, &IdempotencyPolicy::default())
                        .await
                })
            })
            .collect();
        let mut started = 0;
        for task in tasks {
            match task
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("[{name}] idempotency_begin: {e:?}"))
            {
                IdempotencyBegin::Started => started += 1,
                IdempotencyBegin::InProgress => {}
                other => panic!("[{name}] unexpected {other:?}"),
            }
        }
        assert_eq!(started, 1, "[{name}] exactly one request runs");
    }
}
