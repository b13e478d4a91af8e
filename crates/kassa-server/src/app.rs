//! Building the application: the router (the API's routes, the OpenAPI document and the pages
//! together, and which error shape an unknown path or method gets) and the middleware every
//! response passes (request log and metrics, compression, security headers), and starting the
//! job worker (`jobs/`; running the whole service until shutdown is `shutdown.rs`). The shared
//! state lives in `state.rs`, so handlers and services never import this.

use std::sync::Arc;

use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use kassa_core::clock::{Clock, SystemClock};
use kassa_core::network::Networks;
use kassa_processor::{Processor, SandboxProcessor};
use kassa_store::Store;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;
use crate::error::ApiError;
use crate::resolver::{Resolver, SystemResolver};
use crate::state::{AppState, Inner};
use crate::vault::{KeySource, Vault};
use crate::webhook_network::WebhookClient;

/// `Strict-Transport-Security` when the public URL is https: browsers keep to https for a year.
pub const HSTS: &str = "max-age=31536000";

/// The parts an application is assembled from; tests swap the clock, the processor or the
/// resolver.
pub struct AppParts {
    pub config: Config,
    pub store: Arc<dyn Store>,
    /// The sandbox processor (tests give one with latency); real connectors are built per
    /// partner account (`processors.rs`).
    pub processor: Arc<dyn Processor>,
    pub clock: Arc<dyn Clock>,
    pub vault: Vault,
    /// Resolves webhook hosts; None for the system's resolver.
    pub resolver: Option<Arc<dyn Resolver>>,
}

pub struct App {
    state: AppState,
}

impl App {
    /// What `kassa serve` runs: connect (and migrate) the configured database, load or create
    /// the vault key, use the sandbox processor and the system clock.
    pub async fn from_config(config: Config) -> anyhow::Result<(App, KeySource)> {
        crate::data_dir::prepare(&config).map_err(|e| {
            anyhow::anyhow!(
                "cannot prepare the data directory {}: {e}",
                config.data_dir.display()
            )
        })?;
        let store = kassa_store::connect(&config.database_url(), &config.connect_options()).await?;
        // Refuses a missing key file beside sealed data and another key than the database's,
        // takes the hashing keys kept since a rotation, and seals link secrets left in clear.
        let (vault, source) = crate::key_rotation::load_vault(
            store.as_ref(),
            config.vault_key.as_ref(),
            &config.data_dir,
            SystemClock.now(),
        )
        .await?;
        let app = App::new(AppParts {
            config,
            store,
            processor: Arc::new(SandboxProcessor::new()),
            clock: Arc::new(SystemClock),
            vault,
            resolver: None,
        });
        Ok((app, source))
    }

    pub fn new(parts: AppParts) -> App {
        let worker_id = format!(
            "{}-{}",
            std::process::id(),
            kassa_core::id::random_base62(8)
        );
        let limits = crate::limits::Limits::new(&parts.config.limits);
        let passwords =
            crate::passwords::PasswordChecker::start(parts.config.limits.password_hashes as usize);
        let resolver = parts.resolver.unwrap_or_else(|| Arc::new(SystemResolver));
        let networks = Networks::from_setting(parts.config.webhooks.allow_private_networks);
        // `smtp.url` and `smtp.from` were checked as the configuration was read; only a default
        // sender made from an odd public host can still fail.
        let mailer = match crate::mail::Mailer::from_config(&parts.config) {
            Ok(mailer) => mailer.map(Arc::new),
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "email is off");
                None
            }
        };
        let metrics = Arc::new(crate::counters::Metrics::default());
        App {
            state: AppState::new(Inner {
                store: parts.store,
                processors: crate::processors::Processors::new(parts.processor, metrics.clone()),
                clock: parts.clock,
                vault: parts.vault,
                config: parts.config,
                worker_id,
                metrics,
                limits,
                passwords,
                webhook_client: WebhookClient::new(resolver, networks),
                mailer,
                draining: Default::default(),
            }),
        }
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn router(&self) -> Router {
        let router = Router::new()
            .merge(crate::api::routes(&self.state))
            .merge(crate::openapi::route())
            .merge(crate::pages::routes())
            .merge(crate::hooks::routes())
            .fallback(fallback)
            .with_state(self.state.clone())
            .layer(axum::middleware::from_fn(explain_method_not_allowed))
            .layer(crate::compression::layer())
            .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
            .layer(header_layer(header::REFERRER_POLICY, "no-referrer"))
            .layer(header_layer(
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
            ))
            // After routing (a layer of every route), so it knows the route template.
            .layer(axum::middleware::from_fn_with_state(
                self.state.clone(),
                crate::request_log::log_request,
            ));
        // Outermost, so every answer carries it: API, pages, static files, errors (docs/api.md §9).
        if self.state.config.public_base().starts_with("https://") {
            router.layer(SetResponseHeaderLayer::overriding(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(HSTS),
            ))
        } else {
            router
        }
    }

    /// The router of `metrics.listen` (`/metrics` only), when the metrics have an address of
    /// their own; `kassa serve` serves it there.
    pub fn metrics_router(&self) -> Option<Router> {
        self.state
            .config
            .metrics
            .listen
            .map(|_| crate::metrics::own_router(self.state.clone()))
    }

    /// Runs every job that is due now, until none is left (tests drive time with a frozen clock).
    pub async fn run_pending_jobs(&self) -> anyhow::Result<usize> {
        let mut total = 0;
        loop {
            let n = crate::jobs::run_due(&self.state).await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// The periodic sweeps the worker runs every `recovery.sweepInterval` (tests call them
    /// directly).
    pub async fn housekeeping(&self) -> anyhow::Result<()> {
        crate::jobs::housekeeping(&self.state).await
    }

    /// The background worker (`jobs/lanes.rs`): a lane per kind of job, event fan-out,
    /// housekeeping at once and then every `recovery.sweepInterval`, and the lease heartbeat.
    pub fn spawn_worker(&self) -> crate::jobs::Worker {
        crate::jobs::Worker::start(&self.state)
    }
}

/// A bare 405 from the router gets a body: the API's error shape under `/v1`, a page elsewhere.
async fn explain_method_not_allowed(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let api = req.uri().path().starts_with("/v1/");
    let resp = next.run(req).await;
    if resp.status() != StatusCode::METHOD_NOT_ALLOWED
        || resp.headers().contains_key(header::CONTENT_TYPE)
    {
        return resp;
    }
    let allow = resp.headers().get(header::ALLOW).cloned();
    let mut out = if api {
        ApiError::method_not_allowed().into_response()
    } else {
        crate::pages::method_not_allowed_page()
    };
    if let Some(allow) = allow {
        out.headers_mut().insert(header::ALLOW, allow);
    }
    out
}

/// Unknown paths: the API's error shape under `/v1`, a plain page elsewhere.
async fn fallback(method: Method, uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/v1/") || uri.path() == "/v1" {
        let _ = method;
        return ApiError::route_not_found().into_response();
    }
    crate::pages::not_found_page()
}

fn header_layer(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}
