//! The test harness: the real application (the same builder `kassa serve` uses) in-process on a
//! fresh SQLite file, or on PostgreSQL when `KASSA_TEST_POSTGRES_URL` is set, driven through its
//! router; a frozen clock and an explicit job runner make time-based rules testable.
#![allow(dead_code)]

pub mod anet_standin;
pub mod dns;
pub mod openapi;
pub mod slow_receiver;
pub mod smtp;
pub mod stripe_standin;
pub mod txt_server;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use kassa_core::audit::Caller;
use kassa_core::clock::FrozenClock;
use kassa_core::scope::Scopes;
use kassa_processor::{Processor, SandboxProcessor};
use kassa_server::admin::{self, NewPartnerInput};
use kassa_server::vault::Vault;
use kassa_server::{App, AppParts, Config};
use kassa_store::{ConnectOptions, Partner, Store};
use serde_json::Value;
use tower::ServiceExt;

/// Runs the test body once on SQLite and once on PostgreSQL (when configured), optionally with
/// another processor than the instant sandbox.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, processor = $processor:expr, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let $app =
                    $crate::common::TestApp::sqlite_with(std::sync::Arc::new($processor)).await;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some($app) =
                    $crate::common::TestApp::postgres_with(std::sync::Arc::new($processor)).await
                else {
                    return;
                };
                $body
            }
        }
    };
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let $app = $crate::common::TestApp::sqlite().await;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some($app) = $crate::common::TestApp::postgres().await else {
                    return;
                };
                $body
            }
        }
    };
}

pub struct TestApp {
    pub app: App,
    pub router: Router,
    pub clock: Arc<FrozenClock>,
    pub store: Arc<dyn Store>,
    pub processor: Arc<dyn Processor>,
    pub backend: &'static str,
    pub dir: tempfile::TempDir,
    pub db_path: Option<std::path::PathBuf>,
    /// The database's URL, for tests that reach past the store (`raw_sql`).
    pub db_url: String,
    /// What webhook hosts resolve to.
    pub dns: Arc<dns::TestDns>,
}

pub struct TestPartner {
    pub partner: Partner,
    pub key: String,
    /// Its link secret in clear (the partner carries it sealed).
    pub link_secret: String,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn location(&self) -> String {
        self.headers
            .get(header::LOCATION)
            .unwrap_or_else(|| {
                panic!(
                    "no Location header; status {} body {}",
                    self.status, self.body
                )
            })
            .to_str()
            .unwrap()
            .to_string()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }
}

fn test_config(dir: &std::path::Path) -> Config {
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        public_url: Some("http://kassa.test".into()),
        ..Config::default()
    };
    // Tests deliver webhooks to receivers on 127.0.0.1; tests/webhook_urls.rs turns this off.
    config.webhooks.allow_private_networks = true;
    // No test asks a real nameserver: nothing listens here, so a TXT lookup fails at once
    // (tests/billing_host.rs points this at a DNS server of its own).
    config.dns.resolver = Some("127.0.0.1:1".parse().unwrap());
    config
}

fn build(
    config: Config,
    store: &Arc<dyn Store>,
    processor: &Arc<dyn Processor>,
    clock: &Arc<FrozenClock>,
    dns: &Arc<dns::TestDns>,
    vault: Vault,
) -> App {
    App::new(AppParts {
        config,
        store: store.clone(),
        processor: processor.clone(),
        clock: clock.clone(),
        vault,
        resolver: Some(dns.clone()),
    })
}

/// A fresh schema per test, so one test's jobs and rows never meet another's on the shared
/// database; returns a URL whose connections use it.
async fn isolated_schema(url: &str) -> String {
    use sqlx::Connection;
    let schema = format!("t_{}", kassa_core::id::random_base62(12).to_lowercase());
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at KASSA_TEST_POSTGRES_URL: {e}"));
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// The Authorize.net login id [`TestApp::use_processor`] sets.
pub const ANET_LOGIN_ID: &str = "kassa-standin";

/// The master key every test application starts with.
pub const TEST_VAULT_KEY: [u8; 32] = [42u8; 32];

/// The operator at the command line, at the start of the test.
pub fn operator() -> Caller {
    Caller::cli("test", start_time())
}

pub fn start_time() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-21 12:00 UTC)
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        Self::sqlite_with(Arc::new(SandboxProcessor::new())).await
    }

    pub async fn sqlite_with(processor: Arc<dyn Processor>) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kassa.db");
        let store = kassa_store::connect(
            &format!("sqlite://{}", path.display()),
            &ConnectOptions::default(),
        )
        .await
        .unwrap();
        let url = format!("sqlite://{}", path.display());
        Self::assemble(store, processor, dir, "sqlite", Some(path), url)
    }

    /// None when `KASSA_TEST_POSTGRES_URL` is unset, unless `KASSA_REQUIRE_POSTGRES=1` (CI), which
    /// makes a missing database a failure rather than a skip.
    pub async fn postgres() -> Option<TestApp> {
        Self::postgres_with(Arc::new(SandboxProcessor::new())).await
    }

    pub async fn postgres_with(processor: Arc<dyn Processor>) -> Option<TestApp> {
        let url = match std::env::var("KASSA_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                assert!(
                    std::env::var("KASSA_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                    "KASSA_REQUIRE_POSTGRES=1 but KASSA_TEST_POSTGRES_URL is not set"
                );
                eprintln!("skipping the PostgreSQL run: KASSA_TEST_POSTGRES_URL is not set");
                return None;
            }
        };
        let url = isolated_schema(&url).await;
        let store = kassa_store::connect(
            &url,
            &ConnectOptions {
                max_connections: 6,
                migrate: true,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at KASSA_TEST_POSTGRES_URL: {e:?}"));
        let dir = tempfile::tempdir().unwrap();
        Some(Self::assemble(store, processor, dir, "postgres", None, url))
    }

    fn assemble(
        store: Arc<dyn Store>,
        processor: Arc<dyn Processor>,
        dir: tempfile::TempDir,
        backend: &'static str,
        db_path: Option<std::path::PathBuf>,
        db_url: String,
    ) -> TestApp {
        let clock = Arc::new(FrozenClock::new(start_time()));
        let dns = Arc::new(dns::TestDns::default());
        let app = build(
            test_config(dir.path()),
            &store,
            &processor,
            &clock,
            &dns,
            Vault::new(&TEST_VAULT_KEY),
        );
        let router = app.router();
        TestApp {
            app,
            router,
            clock,
            store,
            processor,
            backend,
            dir,
            db_path,
            db_url,
            dns,
        }
    }

    /// The same application (database, clock, processor, DNS) started again with other settings.
    pub fn reconfigured(mut self, edit: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = test_config(self.dir.path());
        edit(&mut config);
        self.app = build(
            config,
            &self.store,
            &self.processor,
            &self.clock,
            &self.dns,
            Vault::new(&TEST_VAULT_KEY),
        );
        self.router = self.app.router();
        self
    }

    /// The same application (database, processor, DNS) started again on the real clock with
    /// other settings, for tests of the background worker in real time.
    pub fn on_real_clock(mut self, edit: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = test_config(self.dir.path());
        edit(&mut config);
        self.app = self.another_instance_with(config, Arc::new(kassa_core::clock::SystemClock));
        self.router = self.app.router();
        self
    }

    /// Another instance on the same database (its own worker id), with `config` and `clock`.
    pub fn another_instance_with(
        &self,
        config: Config,
        clock: Arc<dyn kassa_core::clock::Clock>,
    ) -> App {
        App::new(AppParts {
            config,
            store: self.store.clone(),
            processor: self.processor.clone(),
            clock,
            vault: Vault::new(&TEST_VAULT_KEY),
            resolver: Some(self.dns.clone()),
        })
    }

    /// The settings every test application starts with, edited.
    pub fn config_with(&self, edit: impl FnOnce(&mut Config)) -> Config {
        let mut config = test_config(self.dir.path());
        edit(&mut config);
        config
    }

    /// The same application (database, clock, processor, DNS, settings) started again with
    /// another vault (after a key rotation).
    pub fn with_vault(mut self, vault: Vault) -> TestApp {
        self.app = build(
            test_config(self.dir.path()),
            &self.store,
            &self.processor,
            &self.clock,
            &self.dns,
            vault,
        );
        self.router = self.app.router();
        self
    }

    /// The same application (database, clock, processor, DNS) started again, as after a crash
    /// or a deploy: nothing survives but what the database and the processors keep.
    pub fn restarted(self) -> TestApp {
        self.reconfigured(|_| {})
    }

    /// Makes `connector` the partner's processor, at `api_base` (a stand-in) with `credentials`,
    /// as the operator's `kassa processor set` does. Authorize.net gets the login id
    /// [`ANET_LOGIN_ID`].
    pub async fn use_processor(
        &self,
        partner: &TestPartner,
        connector: kassa_core::processor::Connector,
        api_base: &str,
        credentials: kassa_server::processors::Credentials,
    ) {
        let login_id = (connector == kassa_core::processor::Connector::AuthorizeNet)
            .then(|| ANET_LOGIN_ID.to_string());
        kassa_server::processors::set(
            self.store.as_ref(),
            &self.app.state().vault,
            &partner.partner,
            kassa_server::processors::NewProcessor {
                connector,
                api_base: Some(api_base.to_string()),
                login_id,
                credentials,
            },
            &operator(),
        )
        .await
        .unwrap();
    }

    /// Makes another API key for `partner` with `scopes`; the key itself.
    pub async fn key_with(&self, partner: &TestPartner, scopes: Scopes) -> String {
        let (_, key) = admin::create_api_key(
            self.store.as_ref(),
            &partner.partner.id,
            "scoped",
            scopes,
            &operator(),
        )
        .await
        .unwrap();
        key.expose().clone()
    }

    pub async fn partner(&self) -> TestPartner {
        self.partner_with(|_| {}).await
    }

    /// A new partner with a unique slug; `edit` adjusts the input first. Its key has every
    /// scope, `admin` too (the scope tests make narrower keys themselves).
    pub async fn partner_with(&self, edit: impl FnOnce(&mut NewPartnerInput)) -> TestPartner {
        let slug = format!("p-{}", kassa_core::id::random_base62(10).to_lowercase());
        let mut input = NewPartnerInput {
            name: "Acme Services".into(),
            slug,
            key_scopes: Some(Scopes::all()),
            ..Default::default()
        };
        edit(&mut input);
        let created = admin::create_partner(
            self.store.as_ref(),
            &self.app.state().vault,
            input,
            &operator(),
        )
        .await
        .unwrap();
        TestPartner {
            partner: created.partner,
            key: created.api_key.expose().clone(),
            link_secret: created.link_secret.expose().clone(),
        }
    }

    /// Runs one statement on the database directly, as someone with access to it would; the
    /// database's error message when it refuses.
    pub async fn raw_sql(&self, sql: &str) -> Result<(), String> {
        use sqlx::Connection as _;
        let result = if self.backend == "sqlite" {
            let mut conn = sqlx::SqliteConnection::connect(&self.db_url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut conn).await.map(|_| ())
        } else {
            let mut conn = sqlx::PgConnection::connect(&self.db_url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut conn).await.map(|_| ())
        };
        result.map_err(|e| e.to_string())
    }

    /// Like [`Self::raw_sql`], with the audit log's append-only guard dropped first: tampering
    /// behind the database's back.
    pub async fn raw_sql_unguarded(&self, sql: &str) {
        let drop_guard = if self.backend == "sqlite" {
            "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;"
        } else {
            "DROP TRIGGER audit_events_no_change ON audit_events;"
        };
        self.raw_sql(&format!("{drop_guard} {sql}")).await.unwrap();
    }

    /// Verifies the partner's billing host as the operator's `kassa partner verify-host` does
    /// (no DNS); the partner as it is then.
    pub async fn verify_host(&self, p: &TestPartner) -> Partner {
        admin::verify_billing_host(self.store.as_ref(), p.partner.slug.as_str(), &operator())
            .await
            .unwrap()
    }

    /// A new partner with `host` as its billing host, verified.
    pub async fn partner_on_host(&self, host: &str) -> TestPartner {
        let mut p = self
            .partner_with(|i| i.billing_host = Some(host.to_string()))
            .await;
        p.partner = self.verify_host(&p).await;
        p
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// Sends `req` as if it came over a connection from `peer` (an IP address).
    pub async fn send_from(&self, peer: &str, mut req: Request<Body>) -> Resp {
        let addr = std::net::SocketAddr::new(peer.parse().unwrap(), 40000);
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(addr));
        self.send(req).await
    }

    pub async fn get(&self, uri: &str) -> Resp {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    /// An API call with the partner's key; `body` None sends no body.
    pub async fn api(&self, key: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.api_with(key, method, path, body, &[]).await
    }

    pub async fn api_with(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {key}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string()))
                .unwrap(),
            None => req.body(Body::empty()).unwrap(),
        };
        self.send(req).await
    }

    /// A POST whose JSON body is sent exactly as written (for bodies `json!` cannot express).
    pub async fn post_raw(
        &self,
        key: &str,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = Request::post(path)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req.body(Body::from(body.to_string())).unwrap())
            .await
    }

    /// Creates a payment request by API and returns its JSON.
    pub async fn create_request(&self, p: &TestPartner, amount: &str, reference: &str) -> Value {
        let r = self
            .api(
                &p.key,
                Method::POST,
                "/v1/payment-requests",
                Some(serde_json::json!({"amount": amount, "referenceId": reference})),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "{}: {}",
            self.backend,
            r.body
        );
        r.json()
    }

    pub async fn get_request(&self, p: &TestPartner, id: &str) -> Value {
        let r = self
            .api(
                &p.key,
                Method::GET,
                &format!("/v1/payment-requests/{id}"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.json()
    }

    pub async fn get_payment(&self, p: &TestPartner, id: &str) -> Value {
        let r = self
            .api(&p.key, Method::GET, &format!("/v1/payments/{id}"), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.json()
    }

    pub async fn run_jobs(&self) -> usize {
        self.app.run_pending_jobs().await.unwrap()
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(time::Duration::try_from(by).unwrap());
    }
}

/// A payer's browser: keeps the CSRF cookie and reads the form's token.
pub struct Payer<'a> {
    pub app: &'a TestApp,
    pub cookie: Option<String>,
    pub token: Option<String>,
    /// The payer's IP address, when the test cares.
    pub peer: Option<String>,
}

impl<'a> Payer<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Payer {
            app,
            cookie: None,
            token: None,
            peer: None,
        }
    }

    /// A payer connecting from `peer`.
    pub fn from(app: &'a TestApp, peer: &str) -> Self {
        Payer {
            peer: Some(peer.to_string()),
            ..Payer::new(app)
        }
    }

    async fn send(&self, req: Request<Body>) -> Resp {
        match &self.peer {
            Some(peer) => self.app.send_from(peer, req).await,
            None => self.app.send(req).await,
        }
    }

    pub async fn open(&mut self, path: &str) -> Resp {
        let mut req = Request::get(path);
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, c);
        }
        let resp = self.send(req.body(Body::empty()).unwrap()).await;
        if let Some(set) = resp.header("set-cookie") {
            self.cookie = Some(set.split(';').next().unwrap().to_string());
        }
        if let Some(token) = extract(&resp.body, "name=\"csrfToken\" value=\"", "\"") {
            self.token = Some(token);
        }
        resp
    }

    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut all: Vec<(&str, &str)> = vec![("csrfToken", self.token.as_deref().unwrap_or(""))];
        all.extend_from_slice(fields);
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(all)
            .finish();
        let mut req =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::from(body)).unwrap()).await
    }

    pub async fn pay_card(&mut self, page: &str, number: &str) -> Resp {
        if self.token.is_none() {
            self.open(page).await;
        }
        self.submit(page, &card_fields(number)).await
    }

    pub async fn pay_ach(&mut self, page: &str, account: &str) -> Resp {
        if self.token.is_none() {
            self.open(page).await;
        }
        self.submit(page, &ach_fields("110000000", account)).await
    }
}

pub fn card_fields(number: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("method", "card"),
        ("cardholderName", "Jo Payer"),
        ("cardNumber", number),
        ("expiry", "12/30"),
        (
            "cvc",
            if number.starts_with("34") || number.starts_with("37") {
                "7391"
            } else {
                "739"
            },
        ),
        ("postalCode", "94107"),
    ]
}

pub fn ach_fields<'b>(routing: &'b str, account: &'b str) -> Vec<(&'static str, &'b str)> {
    vec![
        ("method", "ach"),
        ("accountHolderName", "Jo Payer"),
        ("routingNumber", routing),
        ("accountNumber", account),
        ("accountType", "checking"),
        ("achAuthorization", "accepted"),
    ]
}

pub fn extract(haystack: &str, start: &str, end: &str) -> Option<String> {
    let i = haystack.find(start)? + start.len();
    let j = haystack[i..].find(end)? + i;
    Some(haystack[i..j].to_string())
}

/// The path part of a payment request's `url` (tests talk to the router, not a host).
pub fn pay_path(request: &Value) -> String {
    let url = request["url"].as_str().unwrap();
    url.strip_prefix("http://kassa.test")
        .unwrap_or(url)
        .to_string()
}

pub fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}

pub type Fields<'a> = HashMap<&'a str, &'a str>;

/// A browser: keeps the cookies the dashboard sets.
pub struct Browser<'a> {
    app: &'a TestApp,
    pub cookies: Vec<(String, String)>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            cookies: Vec::new(),
        }
    }

    fn keep(&mut self, r: &Resp) {
        for v in r.headers.get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (pair, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !val.is_empty() {
                self.cookies.push((k.to_string(), val.to_string()));
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        let r = self
            .app
            .send(
                Request::get(path)
                    .header(header::COOKIE, self.cookie_header())
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        self.keep(&r);
        r
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let r = self
            .app
            .send(
                Request::post(path)
                    .header(header::COOKIE, self.cookie_header())
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await;
        self.keep(&r);
        r
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> Resp {
        let page = self.get("/dashboard/login").await;
        let token = csrf(&page.body);
        self.post(
            "/dashboard/login",
            &[
                ("csrfToken", &token),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }
}

pub fn csrf(html: &str) -> String {
    extract(html, "name=\"csrfToken\" value=\"", "\"").expect("a CSRF token")
}
