//! Which processor answers for a record (docs/api.md §10): the sandbox, or a partner's account
//! at Stripe or Authorize.net, built from the account the store keeps with its secret keys opened
//! from the vault for the call. Every flow asks here with the connector recorded on its payment,
//! authorization or refund, so a partner that switches processors still captures, refunds and
//! recovers what the old one took.

use std::sync::Arc;
use std::time::Duration;

use kassa_core::id::PartnerId;
use kassa_core::processor::Connector;
use kassa_core::secret::Secret;
use kassa_processor::authorize_net::{AuthorizeNetConfig, AuthorizeNetProcessor};
use kassa_processor::stripe::{StripeConfig, StripeProcessor};
use kassa_processor::{Processor, ProcessorError};
use kassa_store::{ProcessorAccount, SealedSecret};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::counters::Metrics;
use crate::state::AppState;
use crate::timed_processor::TimedProcessor;
use crate::vault::Vault;

/// The processors of this process: the sandbox instance (tests give one with latency) and the
/// HTTP client every connector shares (one connection pool).
pub struct Processors {
    sandbox: Arc<dyn Processor>,
    http: reqwest::Client,
    /// Where every connector's calls are timed (`timed_processor.rs`).
    metrics: Arc<Metrics>,
}

/// How long Kassa waits to connect to a processor; the whole call is bounded by the money
/// protocol's own timeout and each connector's per-request one.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Processors {
    /// The processors of this process, each call timed into `metrics`.
    pub fn new(sandbox: Arc<dyn Processor>, metrics: Arc<Metrics>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Kassa/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the processors' HTTP client builds with static settings");
        Self {
            sandbox: TimedProcessor::wrap(sandbox, metrics.clone()),
            http,
            metrics,
        }
    }

    pub fn sandbox(&self) -> &Arc<dyn Processor> {
        &self.sandbox
    }

    /// A connector for an account, its secrets opened for this call only.
    fn build(
        &self,
        vault: &Vault,
        account: &ProcessorAccount,
    ) -> Result<Arc<dyn Processor>, ProcessorError> {
        let keys = open_credentials(vault, account).map_err(|e| {
            tracing::error!(partner = %account.partner_id, connector = %account.connector, error = %e, "processor credentials cannot be opened");
            ProcessorError::NotSent(format!(
                "the {} credentials cannot be opened with this vault key",
                account.connector
            ))
        })?;
        let missing = |what: &str| {
            ProcessorError::NotSent(format!("the {} account has no {what}", account.connector))
        };
        let connector: Arc<dyn Processor> = match account.connector {
            Connector::Sandbox => return Ok(self.sandbox.clone()),
            Connector::Stripe => Arc::new(StripeProcessor::new(
                self.http.clone(),
                StripeConfig {
                    secret_key: keys.secret_key.ok_or_else(|| missing("secret key"))?,
                    webhook_secret: keys.webhook_secret,
                    api_base: account.api_base.clone(),
                },
            )),
            Connector::AuthorizeNet => Arc::new(AuthorizeNetProcessor::new(
                self.http.clone(),
                AuthorizeNetConfig {
                    login_id: account
                        .login_id
                        .clone()
                        .ok_or_else(|| missing("login id"))?,
                    transaction_key: keys
                        .transaction_key
                        .ok_or_else(|| missing("transaction key"))?,
                    signature_key: keys.signature_key,
                    api_base: account.api_base.clone(),
                },
            )),
        };
        Ok(TimedProcessor::wrap(connector, self.metrics.clone()))
    }
}

impl AppState {
    /// The processor that answers for a partner's records at `connector`. A partner with no
    /// account there gets `NotSent`: nothing can have been sent.
    pub async fn processor_for(
        &self,
        partner: &PartnerId,
        connector: Connector,
    ) -> Result<Arc<dyn Processor>, ProcessorError> {
        if connector == Connector::Sandbox {
            return Ok(self.processors.sandbox.clone());
        }
        let account = self
            .store
            .processor_account(partner, connector)
            .await
            .map_err(|e| {
                tracing::warn!(partner = %partner, connector = %connector, error = %e, "cannot read the processor account");
                ProcessorError::NotSent(format!("the {connector} account cannot be read now"))
            })?
            .ok_or_else(|| ProcessorError::NotSent(format!("no {connector} account is set")))?;
        self.processors.build(&self.vault, &account)
    }
}

/// What `kassa processor set` asks for.
#[derive(Debug)]
pub struct NewProcessor {
    pub connector: Connector,
    /// `--api-base`; the connector's production API when None.
    pub api_base: Option<String>,
    pub login_id: Option<String>,
    pub credentials: Credentials,
}

/// A partner's processor as `kassa processor show` and `GET /v1/partner` tell it: never a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorSummary {
    pub connector: Connector,
    /// None for the sandbox.
    pub api_base: Option<String>,
    pub login_id: Option<String>,
    /// Whether notifications can be verified (a webhook secret or signature key is set).
    pub signs_notifications: bool,
}

/// Makes `new.connector` the partner's processor, storing its account with the keys sealed
/// (docs/api.md §10); audited as `processor.set` without any key.
pub async fn set(
    store: &dyn kassa_store::Store,
    vault: &Vault,
    partner: &kassa_store::Partner,
    new: NewProcessor,
    by: &kassa_core::audit::Caller,
) -> anyhow::Result<ProcessorSummary> {
    let account = match new.connector {
        Connector::Sandbox => None,
        connector => {
            let api_base = match &new.api_base {
                Some(text) => parse_api_base(text).map_err(|e| anyhow::anyhow!(e))?,
                None => default_api_base(connector).to_string(),
            };
            if let Some(login) = &new.login_id {
                if login.is_empty() || login.len() > 25 || login.chars().any(char::is_control) {
                    anyhow::bail!("the login id must be 1 to 25 characters");
                }
            }
            Some(seal_account(
                vault,
                &partner.id,
                connector,
                api_base,
                new.login_id.clone(),
                &new.credentials,
                by.at,
            ))
        }
    };
    store
        .set_processor(&partner.id, new.connector, account.as_ref(), by)
        .await?
        .ok_or_else(|| anyhow::anyhow!("partner {} is gone", partner.slug))?;
    Ok(ProcessorSummary {
        connector: new.connector,
        api_base: account.as_ref().map(|a| a.api_base.clone()),
        login_id: new.login_id,
        signs_notifications: new.credentials.webhook_secret.is_some()
            || new.credentials.signature_key.is_some(),
    })
}

/// The partner's processor and account, for people: never a key. Opening the keys only to say
/// whether notifications are signed needs the vault; without it that is not told.
pub async fn show(
    store: &dyn kassa_store::Store,
    vault: Option<&Vault>,
    partner: &kassa_store::Partner,
) -> anyhow::Result<ProcessorSummary> {
    let connector = partner.processor;
    let account = match connector {
        Connector::Sandbox => None,
        c => store.processor_account(&partner.id, c).await?,
    };
    let signs_notifications = match (&account, vault) {
        (Some(a), Some(vault)) => open_credentials(vault, a)
            .map(|c| c.webhook_secret.is_some() || c.signature_key.is_some())
            .unwrap_or(false),
        _ => false,
    };
    Ok(ProcessorSummary {
        connector,
        api_base: account.as_ref().map(|a| a.api_base.clone()),
        login_id: account.and_then(|a| a.login_id),
        signs_notifications,
    })
}

/// The secret keys of one account, as sealed: only those its connector uses are set.
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Credentials {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_key: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(…)")
    }
}

/// A partner's account at a connector, its secret keys sealed for its row.
pub fn seal_account(
    vault: &Vault,
    partner: &PartnerId,
    connector: Connector,
    api_base: String,
    login_id: Option<String>,
    credentials: &Credentials,
    now: OffsetDateTime,
) -> ProcessorAccount {
    let json = Secret::new(serde_json::to_vec(credentials).expect("credentials serialize"));
    let (nonce, ciphertext) = vault.seal_for(
        partner,
        &ProcessorAccount::row_id(partner, connector),
        json.expose(),
    );
    ProcessorAccount {
        partner_id: partner.clone(),
        connector,
        api_base,
        login_id,
        credentials: SealedSecret { nonce, ciphertext },
        updated_at: now,
    }
}

fn open_credentials(vault: &Vault, account: &ProcessorAccount) -> anyhow::Result<Credentials> {
    let clear = vault.open_for(
        &account.partner_id,
        &ProcessorAccount::row_id(&account.partner_id, account.connector),
        &account.credentials.nonce,
        &account.credentials.ciphertext,
    )?;
    Ok(serde_json::from_slice(clear.expose())?)
}

/// The address a connector talks to unless told otherwise (`--api-base`).
pub fn default_api_base(connector: Connector) -> &'static str {
    match connector {
        Connector::Sandbox => "",
        Connector::Stripe => kassa_processor::stripe::DEFAULT_API_BASE,
        Connector::AuthorizeNet => kassa_processor::authorize_net::PRODUCTION_API_BASE,
    }
}

/// Checks an `--api-base`: an http(s) URL with a host and nothing after the path (no query,
/// fragment or credentials), returned without a trailing slash. Plain http is for a local
/// stand-in or a test environment; the README says to use https otherwise.
pub fn parse_api_base(text: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(text.trim())
        .map_err(|_| format!("{text:?} is not a URL (for example https://api.stripe.com)"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("the API base must be an http or https URL".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the API base must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the API base must not carry credentials".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("the API base must not have a query or fragment".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_bases_are_http_urls_without_extras() {
        assert_eq!(
            parse_api_base("https://api.stripe.com/").unwrap(),
            "https://api.stripe.com"
        );
        assert_eq!(
            parse_api_base("http://127.0.0.1:8420").unwrap(),
            "http://127.0.0.1:8420"
        );
        for bad in [
            "api.stripe.com",
            "ftp://x.example",
            "https://u:p@x.example",
            "https://x.example/?a=1",
            "https://x.example/#f",
        ] {
            assert!(parse_api_base(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_never_show_in_debug() {
        let c = Credentials {
            secret_key: Some("sk_test_supersecret".into()),
            ..Default::default()
        };
        assert!(!format!("{c:?}").contains("supersecret"));
    }

    #[test]
    fn an_account_opens_only_for_its_own_row() {
        let vault = Vault::new(&[7; 32]);
        let partner = PartnerId::generate();
        let creds = Credentials {
            secret_key: Some("sk_test_1".into()),
            webhook_secret: Some("whsec_1".into()),
            ..Default::default()
        };
        let account = seal_account(
            &vault,
            &partner,
            Connector::Stripe,
            "https://api.stripe.com".into(),
            None,
            &creds,
            OffsetDateTime::UNIX_EPOCH,
        );
        let opened = open_credentials(&vault, &account).unwrap();
        assert_eq!(opened.secret_key.as_deref(), Some("sk_test_1"));
        let moved = ProcessorAccount {
            connector: Connector::AuthorizeNet,
            ..account.clone()
        };
        assert!(open_credentials(&vault, &moved).is_err());
        let other = ProcessorAccount {
            partner_id: PartnerId::generate(),
            ..account
        };
        assert!(open_credentials(&vault, &other).is_err());
    }
}
