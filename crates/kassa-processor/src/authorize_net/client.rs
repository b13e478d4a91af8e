//! One HTTP call to Authorize.net's JSON API, and what its failures mean. The answer starts with
//! a UTF-8 byte-order mark that JSON parsers refuse, so it is stripped. Only a call that
//! certainly never left (no connection) is `NotSent`; once a request may have reached
//! Authorize.net, every failure is `Unknown`, because a transaction may have been made. Nothing
//! here retries: Authorize.net has no idempotency key, so a resent transaction could charge twice.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::ProcessorError;

/// Each call gives up after this long, well under the minute Kassa allows a payment attempt.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(25);

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The body without the byte-order mark Authorize.net puts before its JSON, if there is one.
pub(crate) fn strip_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(BOM).unwrap_or(body)
}

/// Reads an answer body, with or without its byte-order mark. The error names only where the
/// JSON broke, never a value from the body.
pub(crate) fn parse<R: DeserializeOwned>(body: &[u8]) -> Result<R, ProcessorError> {
    serde_json::from_slice(strip_bom(body)).map_err(|e| {
        ProcessorError::Unknown(format!(
            "Authorize.net's answer could not be read ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

#[derive(Debug, Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    endpoint: String,
    timeout: Duration,
}

impl Client {
    pub fn new(http: reqwest::Client, api_base: &str, timeout: Duration) -> Self {
        Self {
            http,
            endpoint: format!("{}/xml/v1/request.api", api_base.trim_end_matches('/')),
            timeout,
        }
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Posts `body` once and reads the answer as `R`.
    pub async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        body: &B,
    ) -> Result<R, ProcessorError> {
        let json = serde_json::to_vec(body).map_err(|e| {
            ProcessorError::NotSent(format!("the request could not be written: {e}"))
        })?;
        let response = self
            .http
            .post(&self.endpoint)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(self.timeout)
            .body(json)
            .send()
            .await
            .map_err(classify)?;
        let status = response.status();
        if !status.is_success() {
            return Err(ProcessorError::Unknown(format!(
                "Authorize.net answered HTTP {status}"
            )));
        }
        let bytes = response.bytes().await.map_err(|e| {
            ProcessorError::Unknown(format!(
                "Authorize.net's answer was cut off: {}",
                e.without_url()
            ))
        })?;
        parse(&bytes)
    }
}

/// A failed send: `NotSent` only when no connection was made (nothing can have arrived).
fn classify(e: reqwest::Error) -> ProcessorError {
    let e = e.without_url();
    if e.is_connect() || e.is_builder() {
        ProcessorError::NotSent(format!("could not connect to Authorize.net: {e}"))
    } else if e.is_timeout() {
        ProcessorError::Unknown(format!("Authorize.net did not answer in time: {e}"))
    } else {
        ProcessorError::Unknown(format!("the call to Authorize.net failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorize_net::response::Bare;

    #[test]
    fn the_byte_order_mark_is_stripped_when_present() {
        let json = br#"{"messages":{"resultCode":"Ok","message":[{"code":"I00001","text":"Successful."}]}}"#;
        let with_bom = [BOM, json.as_slice()].concat();
        for body in [json.as_slice(), with_bom.as_slice()] {
            let bare: Bare = parse(body).unwrap();
            assert!(bare.messages.is_ok());
        }
        assert_eq!(strip_bom(b"\xEF\xBB"), b"\xEF\xBB");
    }

    #[test]
    fn an_unreadable_body_is_unknown_and_quotes_nothing() {
        let body = b"\xEF\xBB\xBF<html>4111111111111111</html>";
        match parse::<Bare>(body) {
            Err(ProcessorError::Unknown(message)) => assert!(!message.contains("4111")),
            other => panic!("expected Unknown, got {other:?}"),
        }
        match parse::<Bare>(br#"{"messages": "4111111111111111"}"#) {
            Err(ProcessorError::Unknown(message)) => assert!(!message.contains("4111")),
            other => panic!("expected Unknown, got {other:?}"),
        }
    }
}
