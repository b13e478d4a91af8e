//! What the process counts as it works (docs/api.md §12): requests and their latency by route
//! template, payments and refunds by what they came to, processor calls, webhook deliveries,
//! and the older totals (responses by class, payment attempts, jobs). Part of the shared state;
//! `metrics.rs` serves them with what is read at scrape time (the queue, the pool, the process).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use kassa_core::payment::Payment;
use kassa_core::refund::Refund;
use kassa_store::AttemptOutcome;

use crate::prometheus::{CounterVec, HistogramVec, LATENCY_BUCKETS};

/// The `route` label of a request that matched no route: one value whatever the path, so
/// requests for made-up paths cannot add series.
pub const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Debug)]
pub struct Metrics {
    http_requests: HistogramVec,
    payments: CounterVec,
    refunds: CounterVec,
    processor_requests: HistogramVec,
    webhook_deliveries: CounterVec,
    /// Responses by status class: 1xx … 5xx.
    responses: [AtomicU64; 5],
    attempts_approved: AtomicU64,
    attempts_declined: AtomicU64,
    attempts_ach_submitted: AtomicU64,
    attempts_refused: AtomicU64,
    jobs_succeeded: AtomicU64,
    jobs_failed: AtomicU64,
}

/// How a payment attempt ended, as counted.
#[derive(Debug, Clone, Copy)]
pub enum Attempt {
    Approved,
    Declined,
    AchSubmitted,
    /// Not started: completed, in progress, closed or out of attempts.
    Refused,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            http_requests: HistogramVec::new(LATENCY_BUCKETS),
            payments: CounterVec::default(),
            refunds: CounterVec::default(),
            processor_requests: HistogramVec::new(LATENCY_BUCKETS),
            webhook_deliveries: CounterVec::default(),
            responses: Default::default(),
            attempts_approved: Default::default(),
            attempts_declined: Default::default(),
            attempts_ach_submitted: Default::default(),
            attempts_refused: Default::default(),
            jobs_succeeded: Default::default(),
            jobs_failed: Default::default(),
        }
    }
}

/// The `method` label: the standard methods by name, anything else as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl Metrics {
    /// A request answered: its latency under its route template ([`UNMATCHED_ROUTE`] when no
    /// route matched), method and status, and its status class.
    pub fn request(&self, route: &str, method: &Method, status: StatusCode, took: Duration) {
        let code = itoa_status(status);
        let status_text = std::str::from_utf8(&code).unwrap_or("0");
        self.http_requests.observe(
            &[
                ("route", route),
                ("method", method_label(method)),
                ("status", status_text),
            ],
            took,
        );
        self.response(status);
    }

    /// A payment reached a recorded outcome: approved or declined, a bank debit submitted
    /// (`pending`), then cleared or returned.
    pub fn payment(&self, payment: &Payment) {
        self.payments.inc(&[
            ("source", payment.source.as_str()),
            ("method", payment.payment_method.type_str()),
            ("status", payment.status.as_str()),
        ]);
    }

    /// A refund reached a recorded outcome.
    pub fn refund(&self, refund: &Refund) {
        self.refunds.inc(&[("status", refund.status.as_str())]);
    }

    /// One call to a processor, timed.
    pub fn processor_call(&self, connector: &str, operation: &str, outcome: &str, took: Duration) {
        self.processor_requests.observe(
            &[
                ("connector", connector),
                ("operation", operation),
                ("outcome", outcome),
            ],
            took,
        );
    }

    /// One webhook delivery attempt recorded: `delivered`, `retry` (to be tried again) or
    /// `failed` (refused, or no tries left).
    pub fn webhook_delivery(&self, outcome: &AttemptOutcome) {
        let outcome = match outcome {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::RetryAt(_) => "retry",
            AttemptOutcome::Failed => "failed",
        };
        self.webhook_deliveries.inc(&[("outcome", outcome)]);
    }

    pub fn attempt(&self, outcome: Attempt) {
        let counter = match outcome {
            Attempt::Approved => &self.attempts_approved,
            Attempt::Declined => &self.attempts_declined,
            Attempt::AchSubmitted => &self.attempts_ach_submitted,
            Attempt::Refused => &self.attempts_refused,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn job(&self, ok: bool) {
        let counter = if ok {
            &self.jobs_succeeded
        } else {
            &self.jobs_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a response by its status class.
    pub fn response(&self, status: axum::http::StatusCode) {
        let class = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters in the Prometheus text format, appended to `out`.
    pub fn render(&self, out: &mut String) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        self.http_requests.render(
            out,
            "kassa_http_request_duration_seconds",
            "HTTP requests by route template, method and status, and how long they took.",
        );
        self.payments.render(
            out,
            "kassa_payments_total",
            "Payments by source, method and the status they were recorded with.",
        );
        self.refunds.render(
            out,
            "kassa_refunds_total",
            "Refunds by the status they were recorded with.",
        );
        self.processor_requests.render(
            out,
            "kassa_processor_request_duration_seconds",
            "Calls to processors by connector, operation and outcome, and how long they took.",
        );
        self.webhook_deliveries.render(
            out,
            "kassa_webhook_deliveries_total",
            "Webhook delivery attempts by outcome.",
        );
        out.push_str("# HELP kassa_http_responses_total HTTP responses by status class.\n");
        out.push_str("# TYPE kassa_http_responses_total counter\n");
        for (i, c) in self.responses.iter().enumerate() {
            let _ = writeln!(
                out,
                "kassa_http_responses_total{{class=\"{}xx\"}} {}",
                i + 1,
                get(c)
            );
        }
        out.push_str("# HELP kassa_payment_attempts_total Payment attempts on payment requests by outcome.\n");
        out.push_str("# TYPE kassa_payment_attempts_total counter\n");
        for (label, c) in [
            ("approved", &self.attempts_approved),
            ("declined", &self.attempts_declined),
            ("ach_submitted", &self.attempts_ach_submitted),
            ("refused", &self.attempts_refused),
        ] {
            let _ = writeln!(
                out,
                "kassa_payment_attempts_total{{outcome=\"{label}\"}} {}",
                get(c)
            );
        }
        out.push_str("# HELP kassa_jobs_total Background jobs run by result.\n");
        out.push_str("# TYPE kassa_jobs_total counter\n");
        let _ = writeln!(
            out,
            "kassa_jobs_total{{result=\"succeeded\"}} {}",
            get(&self.jobs_succeeded)
        );
        let _ = writeln!(
            out,
            "kassa_jobs_total{{result=\"failed\"}} {}",
            get(&self.jobs_failed)
        );
    }
}

/// A status code's three digits, without allocating.
fn itoa_status(status: StatusCode) -> [u8; 3] {
    let n = status.as_u16();
    [
        b'0' + (n / 100 % 10) as u8,
        b'0' + (n / 10 % 10) as u8,
        b'0' + (n % 10) as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.attempt(Attempt::Approved);
        m.attempt(Attempt::Approved);
        m.job(false);
        m.request(
            "/v1/payments/{id}",
            &Method::GET,
            StatusCode::NOT_FOUND,
            Duration::from_millis(3),
        );
        m.request(
            UNMATCHED_ROUTE,
            &Method::from_bytes(b"BREW").unwrap(),
            StatusCode::NOT_FOUND,
            Duration::from_millis(1),
        );
        let mut text = String::new();
        m.render(&mut text);
        assert!(text.contains("kassa_payment_attempts_total{outcome=\"approved\"} 2\n"));
        assert!(text.contains("kassa_jobs_total{result=\"failed\"} 1\n"));
        assert!(text.contains("# TYPE kassa_http_responses_total counter\n"));
        assert!(text.contains("kassa_http_responses_total{class=\"4xx\"} 2\n"));
        assert!(text.contains(
            "kassa_http_request_duration_seconds_count{route=\"/v1/payments/{id}\",method=\"GET\",status=\"404\"} 1\n"
        ));
        assert!(text.contains(
            "kassa_http_request_duration_seconds_count{route=\"unmatched\",method=\"other\",status=\"404\"} 1\n"
        ));
    }
}
