//! The process's counters (responses, payment attempts, jobs), kept in atomics (no registry needed
//! for a handful of series). Part of the shared state; `metrics.rs` serves them.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
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

impl Metrics {
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

    /// The counters in the Prometheus text format.
    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
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
        out
    }
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
        let text = m.render();
        assert!(text.contains("kassa_payment_attempts_total{outcome=\"approved\"} 2\n"));
        assert!(text.contains("kassa_jobs_total{result=\"failed\"} 1\n"));
        assert!(text.contains("# TYPE kassa_http_responses_total counter\n"));
    }
}
