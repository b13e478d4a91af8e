//! Where webhooks may connect (docs/api.md §8, "Webhook endpoint URLs"): the check of an
//! endpoint's URL when it is made, and the client deliveries go out with, which repeats the check
//! on every connection. The rule is `kassa_core::webhook` (`WebhookUrl::parse`,
//! `check_addresses`); this is where it meets DNS and sockets.
//!
//! A name is resolved by the client's own resolver ([`Guard`]), which checks the answer and hands
//! the connector only the addresses it checked: the check and the connection use one answer, so
//! a name cannot show a public address to the check and a private one to the connection (DNS
//! rebinding). An IP address never reaches a resolver, so [`WebhookClient::post`] checks it
//! before anything is sent. Redirects are not followed, and no proxy is used (a proxy would
//! resolve and connect on its own).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use kassa_core::network::Networks;
use kassa_core::url::RedirectUrlError;
use kassa_core::webhook::{self, check_addresses, WebhookHost, WebhookUrl, WebhookUrlError};

use crate::resolver::Resolver;

/// How long a new endpoint's host may take to resolve.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends webhook deliveries, only where the address policy allows; one per application, as its
/// connections belong to its runtime.
pub struct WebhookClient {
    resolver: Arc<dyn Resolver>,
    networks: Networks,
    /// For `https` URLs: any address `networks` allows.
    https: reqwest::Client,
    /// For plain `http` URLs: loopback and private addresses, and only when they are allowed.
    http: reqwest::Client,
}

/// The check refused a connection: Kassa did not connect.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.attempt_error())]
pub struct Refused(pub WebhookUrlError);

impl WebhookClient {
    pub fn new(resolver: Arc<dyn Resolver>, networks: Networks) -> WebhookClient {
        let client = |secure: bool| {
            let guard = Guard {
                resolver: resolver.clone(),
                secure,
                networks,
            };
            reqwest::Client::builder()
                .timeout(webhook::ATTEMPT_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .https_only(secure)
                .dns_resolver(Arc::new(guard))
                .user_agent(concat!("Kassa-Webhooks/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("the webhook HTTP client has a valid configuration")
        };
        WebhookClient {
            https: client(true),
            http: client(false),
            resolver,
            networks,
        }
    }

    /// Checks a new endpoint's URL: its rules (`WebhookUrl::parse`), then every address its
    /// host name has now (`url_not_allowed` if one may not be reached, `url_unresolvable` if the
    /// name has none or the lookup fails or takes over 5 s).
    pub async fn check_url(&self, raw: &str) -> Result<WebhookUrl, WebhookUrlError> {
        let url = WebhookUrl::parse(raw, self.networks)?;
        if let Some(WebhookHost::Name(name)) = url.host() {
            let addrs = match tokio::time::timeout(LOOKUP_TIMEOUT, self.resolver.lookup(name)).await
            {
                Ok(Ok(addrs)) => addrs,
                Ok(Err(_)) | Err(_) => return Err(WebhookUrlError::Unresolvable),
            };
            check_addresses(url.is_https(), &addrs, self.networks)?;
        }
        Ok(url)
    }

    /// A POST to an endpoint's `url` as stored, read the way the HTTP client reads it. An IP
    /// address is checked here; a name is checked by the client's resolver when it connects.
    pub fn post(&self, url: &str) -> Result<reqwest::RequestBuilder, WebhookUrlError> {
        let invalid = || WebhookUrlError::Url(RedirectUrlError::Invalid);
        let parsed = reqwest::Url::parse(url).map_err(|_| invalid())?;
        let secure = match parsed.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(invalid()),
        };
        let host = parsed.host_str().ok_or_else(invalid)?;
        // The connector takes a host that reads as an IP address as one, brackets removed.
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>() {
            check_addresses(secure, &[ip], self.networks)?;
        }
        let client = if secure { &self.https } else { &self.http };
        Ok(client.post(parsed))
    }
}

/// Why the check refused a request that failed, if it did.
pub fn refusal(e: &reqwest::Error) -> Option<&WebhookUrlError> {
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(Refused(why)) = cause.downcast_ref::<Refused>() {
            return Some(why);
        }
        source = cause.source();
    }
    None
}

/// The webhook clients' resolver: looks the name up, checks every address, and passes on only
/// what it checked.
struct Guard {
    resolver: Arc<dyn Resolver>,
    secure: bool,
    networks: Networks,
}

impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lookup = self.resolver.lookup(name.as_str());
        let (secure, networks) = (self.secure, self.networks);
        Box::pin(async move {
            let addrs = lookup
                .await
                .map_err(|_| Refused(WebhookUrlError::Unresolvable))?;
            check_addresses(secure, &addrs, networks).map_err(Refused)?;
            let addrs: reqwest::dns::Addrs =
                Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolver::Lookup;

    /// Every name resolves to these.
    struct Fixed(Vec<IpAddr>);

    impl Resolver for Fixed {
        fn lookup(&self, _host: &str) -> Lookup {
            let answer = if self.0.is_empty() {
                Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such host",
                ))
            } else {
                Ok(self.0.clone())
            };
            Box::pin(async move { answer })
        }
    }

    fn client(answer: &[&str], networks: Networks) -> WebhookClient {
        let ips = answer.iter().map(|a| a.parse().unwrap()).collect();
        WebhookClient::new(Arc::new(Fixed(ips)), networks)
    }

    #[tokio::test]
    async fn addresses_are_checked_as_the_client_reads_them() {
        let public = client(&["93.184.215.14"], Networks::Public);
        // Stored before the spelling rule: the client reads these as loopback and link-local.
        for url in [
            "https://2130706433/hook",
            "https://0x7f000001/hook",
            "https://0177.0.0.1/hook",
            "https://127.1/hook",
            "https://2852039166/latest",
            "https://[::ffff:127.0.0.1]/",
            "https://[::1]:8443/",
        ] {
            let refused = public.post(url).err();
            assert_eq!(refused, Some(WebhookUrlError::ResolvesNotAllowed), "{url}");
        }
        assert_eq!(
            public.post("http://8.8.8.8/").err(),
            Some(WebhookUrlError::Insecure)
        );
        assert!(public.post("ftp://8.8.8.8/").is_err());
        assert!(public.post("https://8.8.8.8/hook").is_ok());
        assert!(public.post("https://hooks.example/hook").is_ok());

        let open = client(&["127.0.0.1"], Networks::PublicAndPrivate);
        assert!(open.post("http://127.0.0.1:9/hook").is_ok());
        assert!(open.post("http://[::1]:9/hook").is_ok());
        assert_eq!(
            open.post("http://169.254.169.254/").err(),
            Some(WebhookUrlError::ResolvesNotAllowed)
        );
        assert_eq!(
            open.post("http://8.8.8.8/").err(),
            Some(WebhookUrlError::InsecureToPublic)
        );
    }

    #[tokio::test]
    async fn a_name_is_checked_when_the_client_connects() {
        let rebound = client(&["127.0.0.1"], Networks::Public);
        let e = rebound
            .post("https://hooks.example/hook")
            .unwrap()
            .send()
            .await
            .unwrap_err();
        assert_eq!(refusal(&e), Some(&WebhookUrlError::ResolvesNotAllowed));
        let nowhere = client(&[], Networks::Public);
        let e = nowhere
            .post("https://hooks.example/hook")
            .unwrap()
            .send()
            .await
            .unwrap_err();
        assert_eq!(refusal(&e), Some(&WebhookUrlError::Unresolvable));
    }

    #[tokio::test]
    async fn new_urls_are_checked_against_what_their_name_resolves_to() {
        let cases: &[(&[&str], &str, Result<(), WebhookUrlError>)] = &[
            (&["93.184.215.14"], "https://hooks.example/", Ok(())),
            (
                &["10.0.0.1"],
                "https://hooks.example/",
                Err(WebhookUrlError::ResolvesNotAllowed),
            ),
            (
                &["93.184.215.14", "fe80::1"],
                "https://hooks.example/",
                Err(WebhookUrlError::ResolvesNotAllowed),
            ),
            (
                &[],
                "https://hooks.example/",
                Err(WebhookUrlError::Unresolvable),
            ),
            (
                &["93.184.215.14"],
                "https://127.1/",
                Err(WebhookUrlError::NumericHost),
            ),
            (
                &["93.184.215.14"],
                "http://hooks.example/",
                Err(WebhookUrlError::Insecure),
            ),
        ];
        for (answer, url, expected) in cases {
            let got = client(answer, Networks::Public).check_url(url).await;
            assert_eq!(got.map(|_| ()), *expected, "{url} resolving to {answer:?}");
        }
        let open = client(&["192.168.1.20"], Networks::PublicAndPrivate);
        assert!(open.check_url("http://printer.example/").await.is_ok());
        let open = client(&["93.184.215.14"], Networks::PublicAndPrivate);
        assert_eq!(
            open.check_url("http://hooks.example/").await.err(),
            Some(WebhookUrlError::InsecureToPublic)
        );
    }
}
