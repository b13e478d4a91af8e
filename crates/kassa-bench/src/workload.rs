//! The four workloads and the HTTP client that performs them against a running Kassa, as a
//! partner's server and a payer's browser would.

use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::header;
use reqwest::StatusCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// W1: create a payment request, open its pay page, pay by card.
    Checkout,
    /// W2: API sale with a three-line invoice and a new card.
    Sale,
    /// W3: GET a pre-made open request's pay page.
    PayPage,
    /// W4: refund part of a pre-made completed sale.
    Refund,
}

impl Workload {
    pub const ALL: [Workload; 4] = [
        Workload::Checkout,
        Workload::Sale,
        Workload::PayPage,
        Workload::Refund,
    ];

    /// `W1` … `W4`, as `--workloads` takes them.
    pub fn code(self) -> &'static str {
        match self {
            Workload::Checkout => "W1",
            Workload::Sale => "W2",
            Workload::PayPage => "W3",
            Workload::Refund => "W4",
        }
    }

    pub fn parse(code: &str) -> Option<Workload> {
        Workload::ALL
            .into_iter()
            .find(|w| w.code().eq_ignore_ascii_case(code.trim()))
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            Workload::Checkout => {
                "W1 hosted checkout (create request + GET page + POST card → 303)"
            }
            Workload::Sale => {
                "W2 API sale (POST /v1/payments/sale, 3-line invoice, new card → 201)"
            }
            Workload::PayPage => "W3 hosted pay page GET (pre-made open requests)",
            Workload::Refund => {
                "W4 API refund (POST /v1/payments/{id}/refunds of $0.01 of a pre-made completed sale → 201)"
            }
        }
    }
}

/// A running in-process Kassa and a partner on it. The abuse limits of docs/api.md §8 are on, at
/// their defaults, as in production; the load is spread the way real traffic is, so that none
/// of them is met: API calls rotate over [`Target::keys`] (the per-key call rate is 100/s), and
/// each checkout is a payer of its own, with its own address (`X-Forwarded-For` from the trusted
/// loopback proxy) and its own card.
pub(crate) struct Target {
    pub(crate) base: String,
    pub(crate) keys: Vec<String>,
    pub(crate) client: reqwest::Client,
    pub(crate) seq: AtomicU64,
    pub(crate) run_id: String,
    pub(crate) open_pages: Vec<String>,
    /// Completed sales W4 refunds a cent of at a time, in turn.
    pub(crate) sales: Vec<String>,
}

impl Target {
    fn next_ref(&self) -> String {
        format!(
            "BENCH-{}-{}",
            self.run_id,
            self.seq.fetch_add(1, Ordering::Relaxed)
        )
    }

    pub(crate) async fn op(&self, w: Workload) -> Result<(), String> {
        match w {
            Workload::Checkout => self.checkout().await,
            Workload::Sale => self.sale().await,
            Workload::PayPage => {
                let n = self.seq.fetch_add(1, Ordering::Relaxed) as usize;
                let page = &self.open_pages[n % self.open_pages.len()];
                self.open_page(page).await.map(|_| ())
            }
            Workload::Refund => {
                let n = self.seq.fetch_add(1, Ordering::Relaxed) as usize;
                self.refund(&self.sales[n % self.sales.len()]).await
            }
        }
    }

    /// Refunds one cent of the payment `id`.
    async fn refund(&self, id: &str) -> Result<(), String> {
        let path = format!("/v1/payments/{id}/refunds");
        let (status, text) = self
            .post_json(&path, serde_json::json!({"amount": "0.01"}))
            .await?;
        if status != StatusCode::CREATED || !text.contains("\"status\":\"succeeded\"") {
            return Err(format!("POST {path}: {status}: {}", snippet(&text)));
        }
        Ok(())
    }

    async fn post_json(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> Result<(StatusCode, String), String> {
        let n = self.seq.fetch_add(1, Ordering::Relaxed) as usize;
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.keys[n % self.keys.len()])
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| format!("POST {path}: {e}"))?;
        Ok((status, text))
    }

    /// Adds a webhook endpoint for every event at `url`.
    pub(crate) async fn create_webhook_endpoint(&self, url: &str) -> Result<(), String> {
        let (status, text) = self
            .post_json(
                "/v1/webhook-endpoints",
                serde_json::json!({"url": url, "events": ["*"], "description": "Benchmark"}),
            )
            .await?;
        if status != StatusCode::CREATED {
            return Err(format!(
                "POST /v1/webhook-endpoints: {status}: {}",
                snippet(&text)
            ));
        }
        Ok(())
    }

    /// Creates an open payment request; returns its pay page path.
    pub(crate) async fn create_request(&self) -> Result<String, String> {
        let reference = self.next_ref();
        let (status, text) = self
            .post_json(
                "/v1/payment-requests",
                serde_json::json!({"amount": "25.00", "referenceId": reference,
                                   "description": "Benchmark"}),
            )
            .await?;
        if status != StatusCode::CREATED {
            return Err(format!(
                "POST /v1/payment-requests: {status}: {}",
                snippet(&text)
            ));
        }
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let url = v["url"].as_str().ok_or("no url in the payment request")?;
        let path = url
            .find("/p/")
            .map(|i| url[i..].to_string())
            .ok_or_else(|| format!("unexpected url {url}"))?;
        Ok(path)
    }

    /// GETs a pay page; returns (CSRF token, cookie).
    async fn open_page(&self, path: &str) -> Result<(String, Option<String>), String> {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map_err(|e| format!("GET pay page: {e}"))?;
        let status = resp.status();
        let cookie = resp
            .headers()
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").to_string());
        let text = resp
            .text()
            .await
            .map_err(|e| format!("GET pay page: {e}"))?;
        if status != StatusCode::OK {
            return Err(format!("GET pay page: {status}: {}", snippet(&text)));
        }
        let token = extract(&text, "name=\"csrfToken\" value=\"", "\"")
            .ok_or("no csrfToken on the pay page")?;
        Ok((token, cookie))
    }

    async fn checkout(&self) -> Result<(), String> {
        let page = self.create_request().await?;
        let (token, cookie) = self.open_page(&page).await?;
        let payer = self.seq.fetch_add(1, Ordering::Relaxed);
        let card = card_number(payer);
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("csrfToken", token.as_str()),
                ("method", "card"),
                ("cardholderName", "Jo Payer"),
                ("cardNumber", card.as_str()),
                ("expiry", "12/30"),
                ("cvc", "739"),
                ("postalCode", "94107"),
            ])
            .finish();
        let mut req = self
            .client
            .post(format!("{}{page}", self.base))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("x-forwarded-for", payer_address(payer))
            .body(body);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("POST pay page: {e}"))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| format!("POST pay page: {e}"))?;
        if status != StatusCode::SEE_OTHER {
            return Err(format!("POST pay page: {status}: {}", snippet(&text)));
        }
        Ok(())
    }

    async fn sale(&self) -> Result<(), String> {
        self.sale_text().await.map(drop)
    }

    /// Makes a completed sale; returns its payment id.
    pub(crate) async fn completed_sale(&self) -> Result<String, String> {
        let text = self.sale_text().await?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        v["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| "no id in the payment".into())
    }

    async fn sale_text(&self) -> Result<String, String> {
        let reference = self.next_ref();
        let body = serde_json::json!({
            "firstName": "Ada", "lastName": "Lovelace", "merchantCustomerRefId": reference,
            "paymentMethod": {"billingFirstName": "Ada", "billingLastName": "Lovelace",
                "creditCard": {"paymentAccountNumber": "4242424242424242",
                               "expirationDate": "12/2030", "securityCode": "123"}},
            "invoice": {"merchantInvoiceRefId": reference, "invoiceLineItems": [
                {"name": "Consulting", "description": "Two hours", "value": "121.00", "valueType": "Standard"},
                {"name": "Materials", "value": "35.50", "valueType": "Standard"},
                {"name": "Loyalty", "value": "5.00", "valueType": "Discount"}]}
        });
        let (status, text) = self.post_json("/v1/payments/sale", body).await?;
        if status != StatusCode::CREATED || !text.contains("\"status\":\"completed\"") {
            return Err(format!(
                "POST /v1/payments/sale: {status}: {}",
                snippet(&text)
            ));
        }
        Ok(text)
    }
}

/// The `n`th payer's card: a Visa number (Luhn-valid, none of the sandbox's decline numbers)
/// of its own.
fn card_number(n: u64) -> String {
    let body = format!("42{:013}", n % 10_000_000_000_000);
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let d = d * 2;
                if d > 9 {
                    d - 9
                } else {
                    d
                }
            } else {
                d
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// The `n`th payer's address, in 10.0.0.0/8.
fn payer_address(n: u64) -> String {
    format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255)
}

fn snippet(text: &str) -> String {
    text.chars().take(200).collect()
}

fn extract(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(text[from..from + len].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payers_get_valid_cards_and_addresses_of_their_own() {
        for n in [0, 1, 7, 123_456, u64::MAX] {
            let card = card_number(n);
            assert_eq!(card.len(), 16);
            assert!(kassa_core::card::CardNumber::parse(&card).is_ok(), "{card}");
        }
        assert_ne!(card_number(1), card_number(2));
        assert_eq!(payer_address(0x01_02_03), "10.1.2.3");
    }

    #[test]
    fn workloads_are_named_by_their_codes() {
        for w in Workload::ALL {
            assert_eq!(Workload::parse(w.code()), Some(w));
        }
        assert_eq!(Workload::parse(" w4"), Some(Workload::Refund));
        assert_eq!(Workload::parse("W9"), None);
    }
}
