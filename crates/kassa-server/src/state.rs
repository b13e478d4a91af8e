//! The state every handler, service and job shares. It lives apart from the router (`app.rs`),
//! which imports the handlers, so nothing the router reaches has to import the router back.

use std::ops::Deref;
use std::sync::Arc;

use kassa_core::clock::Clock;
use kassa_store::Store;

use crate::config::Config;
use crate::vault::Vault;

/// Everything a request handler may use; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    /// The sandbox and the connectors, by the connector a record names (`processors.rs`).
    pub processors: crate::processors::Processors,
    pub clock: Arc<dyn Clock>,
    pub vault: Vault,
    pub config: Config,
    /// Names this process when it leases jobs.
    pub worker_id: String,
    /// Shared with the processors, which time their calls into it.
    pub metrics: Arc<crate::counters::Metrics>,
    /// The abuse limits (docs/api.md §8).
    pub limits: crate::limits::Limits,
    /// Checks dashboard passwords on threads of their own (`passwords.rs`).
    pub passwords: crate::passwords::PasswordChecker,
    /// Checks webhook URLs and sends deliveries, with the application's resolver.
    pub webhook_client: crate::webhook_network::WebhookClient,
    /// The SMTP server email goes out through; None: `smtp.url` is not set and Kassa sends none.
    pub mailer: Option<Arc<crate::mail::Mailer>>,
    /// Set when shutdown begins: `/readyz` answers 503 and the job lanes stop claiming.
    pub draining: crate::shutdown::Draining,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub(crate) fn new(inner: Inner) -> AppState {
        AppState(Arc::new(inner))
    }
}
