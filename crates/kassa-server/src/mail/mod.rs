//! Email (docs/api.md §11): the SMTP connection ([`Mailer`]), what each email says
//! ([`compose`]), the worker that sends queued ones ([`worker`]), and the two ways a partner
//! asks for one (a receipt again, a payment link) shared by the API and the dashboard
//! ([`request`]). Which emails an event causes is decided in `kassa_core::mail` and written by
//! the store as the event is fanned out.

pub mod compose;
pub mod request;
pub mod worker;

use std::time::Duration;

use anyhow::Context as _;
use lettre::message::Mailbox;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Config;

/// How long one SMTP conversation may take before the try counts as failed.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The SMTP server Kassa sends through and the address it sends as.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The domain of Kassa's public URL: the right-hand side of each `Message-ID`.
    domain: String,
}

/// A try that failed: whether the server refused for good (5xx), and why, in words that never
/// carry the SMTP URL or its password.
#[derive(Debug)]
pub struct SendError {
    pub permanent: bool,
    pub reason: String,
}

impl Mailer {
    /// The mailer of `config`; None when `smtp.url` is not set (Kassa sends no email).
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Mailer>> {
        let Some(url) = &config.smtp.url else {
            return Ok(None);
        };
        let domain = crate::settings::public_host(&config.public_base());
        let domain = domain
            .rsplit_once(':')
            .map_or(domain.as_str(), |(host, _)| host)
            .to_owned();
        let from = match &config.smtp.from {
            Some(from) => from
                .parse::<Mailbox>()
                .context("smtp.from is not an email address such as Kassa <no-reply@pay.example.com>")?,
            None => format!("Kassa <no-reply@{domain}>")
                .parse::<Mailbox>()
                .context("smtp.from is not set and no-reply@ the public URL's host is not an address; set smtp.from")?,
        };
        // The URL's own words are never repeated: it may hold the password.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
            .map_err(|_| {
                anyhow::anyhow!(
                    "smtp.url is not a usable SMTP URL (smtp://host:port or smtps://user:pass@host:465)"
                )
            })?
            .timeout(Some(SMTP_TIMEOUT))
            .hello_name(ClientId::Domain(domain.clone()))
            .build();
        Ok(Some(Mailer {
            transport,
            from,
            domain,
        }))
    }

    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// `<{id}@{domain}>`: the same for every try of one email, so a receiving server that saw
    /// it before can tell.
    pub fn message_id(&self, id: &str) -> String {
        format!("<{id}@{}>", self.domain)
    }

    /// Hands the message to the SMTP server.
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) => Err(SendError {
                permanent: e.is_permanent(),
                reason: describe(&e),
            }),
        }
    }
}

/// The failure in words: the server's code and text, or what went wrong on the way; never the
/// URL.
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let text = if let Some(code) = e.status() {
        format!("the SMTP server answered {code}: {e}")
    } else if e.is_timeout() {
        "the SMTP server did not answer in time".to_owned()
    } else if e.is_transient() || e.is_permanent() || e.is_response() {
        format!("the SMTP server refused: {e}")
    } else {
        format!("could not talk to the SMTP server: {e}")
    };
    text.chars().take(500).collect()
}
