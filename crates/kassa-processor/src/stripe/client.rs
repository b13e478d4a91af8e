//! HTTP to Stripe, and the one place that decides what a failed call means. A POST always carries
//! an Idempotency-Key, and Stripe answers a repeated key with the first response, so a retry can
//! never charge twice; that is what lets every doubtful attempt be retried with the same key.
//!
//! Classification: refused before sending (connection, DNS, TLS) or rate limited → `NotSent`
//! unless an earlier attempt may have arrived; 401/403 → `NotSent`; 409 → `Unknown`;
//! 400/402/404 → a [`Refusal`] for the caller to read; 5xx, a timeout after sending, an
//! unreadable body or an unknown status → retried, then `Unknown`.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use super::form::Form;
use super::objects::{ApiError, ErrorBody};
use crate::ProcessorError;

/// The API version every request pins, so Stripe's answers keep the shape read here.
pub const API_VERSION: &str = "2024-06-20";

/// Attempts per call: the first and up to two retries.
const ATTEMPTS: u32 = 3;

pub struct Client {
    http: reqwest::Client,
    base: String,
    secret_key: String,
    pub timeout: Duration,
    pub backoff: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("secret_key", &"[redacted]")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What Stripe answered, when it answered something Kassa can act on.
#[derive(Debug)]
pub enum Reply<T> {
    Ok(T),
    /// A 400, 402 or 404 with Stripe's error: Stripe did not act (or declined, for 402).
    Refused(Box<Refusal>),
}

#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: u16,
    pub error: ApiError,
}

impl Refusal {
    pub fn is_decline(&self) -> bool {
        self.status == 402
    }

    pub fn is_idempotency_error(&self) -> bool {
        self.error.kind.as_deref() == Some("idempotency_error")
    }

    /// The error for a refusal the caller has no better reading of: a reused key with other
    /// parameters means the first request arrived (`Unknown`); anything else means Stripe did
    /// nothing (`NotSent`).
    pub fn error_for(&self, what: &str) -> ProcessorError {
        let summary = self.error.summary();
        tracing::warn!(status = self.status, error = %summary, "Stripe refused {what}");
        if self.is_idempotency_error() {
            ProcessorError::Unknown(format!(
                "Stripe already received {what} with other parameters ({summary})"
            ))
        } else {
            ProcessorError::NotSent(format!(
                "Stripe refused {what} with {}: {summary}",
                self.status
            ))
        }
    }
}

impl Client {
    pub fn new(http: reqwest::Client, base: &str, secret_key: String) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            secret_key,
            timeout: super::REQUEST_TIMEOUT,
            backoff: super::RETRY_BACKOFF,
        }
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &Form,
        idempotency_key: &str,
    ) -> Result<Reply<T>, ProcessorError> {
        self.call(Method::POST, path, Some((form, idempotency_key)))
            .await
    }

    /// `path` may carry a query string (already encoded).
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Reply<T>, ProcessorError> {
        self.call(Method::GET, path, None).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<(&Form, &str)>,
    ) -> Result<Reply<T>, ProcessorError> {
        let url = format!("{}{}", self.base, path);
        let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let encoded = body.map(|(form, _)| form.encode());
        // Whether any attempt may have reached Stripe: once one may have, a failure is Unknown.
        let mut maybe_sent = false;
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(self.backoff * attempt).await;
                tracing::info!(attempt, "retrying Stripe {what}: {last}");
            }
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(&self.secret_key)
                .header("Stripe-Version", API_VERSION)
                .timeout(self.timeout);
            if let (Some(encoded), Some((_, key))) = (&encoded, body) {
                request = request
                    .header("Idempotency-Key", key)
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(encoded.clone());
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    if !e.is_connect() {
                        maybe_sent = true;
                    }
                    last = describe(&e);
                    continue;
                }
            };
            let status = response.status();
            let bytes = match response.bytes().await {
                Ok(bytes) => bytes,
                Err(e) => {
                    maybe_sent = true;
                    last = format!(
                        "{status} with a body that could not be read: {}",
                        describe(&e)
                    );
                    continue;
                }
            };
            match classify(status) {
                Class::Success => match serde_json::from_slice::<T>(&bytes) {
                    Ok(value) => return Ok(Reply::Ok(value)),
                    Err(e) => {
                        maybe_sent = true;
                        last = format!("{status} with an unreadable body ({e})");
                    }
                },
                Class::Refused => match serde_json::from_slice::<ErrorBody>(&bytes) {
                    Ok(body) => {
                        return Ok(Reply::Refused(Box::new(Refusal {
                            status: status.as_u16(),
                            error: body.error,
                        })))
                    }
                    Err(_) => {
                        maybe_sent = true;
                        last = format!("{status} with an unreadable error body");
                    }
                },
                Class::BadCredentials => {
                    let summary = serde_json::from_slice::<ErrorBody>(&bytes)
                        .map(|b| b.error.summary())
                        .unwrap_or_default();
                    tracing::error!(status = status.as_u16(), error = %summary, "Stripe refused the secret key");
                    last = format!("Stripe refused the secret key ({status}) for {what}");
                    if !maybe_sent {
                        return Err(ProcessorError::NotSent(last));
                    }
                    break;
                }
                Class::Conflict => {
                    return Err(ProcessorError::Unknown(format!(
                        "Stripe is still processing an earlier {what} with the same key (409)"
                    )))
                }
                Class::RateLimited => last = format!("Stripe rate limited {what} (429)"),
                Class::Doubtful => {
                    maybe_sent = true;
                    last = format!("Stripe answered {status} to {what}");
                }
            }
        }
        if maybe_sent {
            Err(ProcessorError::Unknown(last))
        } else {
            Err(ProcessorError::NotSent(last))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Success,
    Refused,
    BadCredentials,
    Conflict,
    RateLimited,
    Doubtful,
}

fn classify(status: StatusCode) -> Class {
    match status.as_u16() {
        200..=299 => Class::Success,
        400 | 402 | 404 => Class::Refused,
        401 | 403 => Class::BadCredentials,
        409 => Class::Conflict,
        429 => Class::RateLimited,
        _ => Class::Doubtful,
    }
}

/// A transport error's kind and causes. reqwest never prints headers or bodies; the URL it would
/// print is left out too, to keep messages short.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "could not connect"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "broken body"
    } else {
        "request failed"
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        text.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        let class = |s: u16| classify(StatusCode::from_u16(s).unwrap());
        assert_eq!(class(200), Class::Success);
        assert_eq!(class(400), Class::Refused);
        assert_eq!(class(402), Class::Refused);
        assert_eq!(class(404), Class::Refused);
        assert_eq!(class(401), Class::BadCredentials);
        assert_eq!(class(403), Class::BadCredentials);
        assert_eq!(class(409), Class::Conflict);
        assert_eq!(class(429), Class::RateLimited);
        assert_eq!(class(500), Class::Doubtful);
        assert_eq!(class(503), Class::Doubtful);
        assert_eq!(class(302), Class::Doubtful);
        assert_eq!(class(418), Class::Doubtful);
    }

    fn refusal(status: u16, json: &str) -> Refusal {
        Refusal {
            status,
            error: serde_json::from_str::<ErrorBody>(json).unwrap().error,
        }
    }

    #[test]
    fn refusals_become_not_sent_except_a_reused_key() {
        let invalid = refusal(
            400,
            r#"{"error":{"type":"invalid_request_error","code":"parameter_missing","param":"amount","message":"Missing amount"}}"#,
        );
        assert!(!invalid.is_decline());
        let error = invalid.error_for("POST /v1/payment_intents");
        assert!(
            matches!(&error, ProcessorError::NotSent(m) if m.contains("parameter_missing") && !m.contains("Missing amount"))
        );
        let reused = refusal(
            400,
            r#"{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters"}}"#,
        );
        assert!(reused.is_idempotency_error());
        assert!(matches!(
            reused.error_for("POST /v1/payment_intents"),
            ProcessorError::Unknown(_)
        ));
        assert!(refusal(402, r#"{"error":{"type":"card_error"}}"#).is_decline());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let client = Client::new(
            reqwest::Client::new(),
            "https://api.stripe.com/",
            "sk_test_secret123".into(),
        );
        let debug = format!("{client:?}");
        assert!(!debug.contains("sk_test_secret123"));
        assert!(debug.contains("https://api.stripe.com\""));
    }
}
