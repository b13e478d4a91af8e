//! The few Prometheus shapes Kassa exports — labelled counters and histograms with fixed
//! buckets — kept in atomics behind a read lock, and written in the text format (HELP, TYPE,
//! `_bucket{le=…}`, `_sum`, `_count`). A series is keyed by its label text, built once per
//! observation in a reused buffer, so counting a request takes a read lock, one hash lookup and
//! a few atomic adds; a new label set is the only thing that allocates. Every label value comes
//! from a fixed set (route templates, enum names), never from a request.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Duration;

/// Request and processor latencies, in seconds: 1 ms to 60 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Writes `name="value",…` into `out`, escaping values as the text format requires.
pub fn write_labels(out: &mut String, pairs: &[(&str, &str)]) {
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

/// Runs `f` with the label text of `pairs`, built in a buffer each thread reuses.
pub fn with_labels<T>(pairs: &[(&str, &str)], f: impl FnOnce(&str) -> T) -> T {
    thread_local! {
        static BUFFER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    BUFFER.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut buffer) => {
            buffer.clear();
            write_labels(&mut buffer, pairs);
            f(&buffer)
        }
        // Only re-entered if `f` itself counted something; then a buffer of its own.
        Err(_) => {
            let mut own = String::new();
            write_labels(&mut own, pairs);
            f(&own)
        }
    })
}

/// `# HELP` and `# TYPE` of a family.
pub fn write_header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Series of one family by label text.
#[derive(Debug)]
struct Series<T> {
    by_labels: RwLock<HashMap<Box<str>, T>>,
}

impl<T> Default for Series<T> {
    fn default() -> Self {
        Self {
            by_labels: RwLock::default(),
        }
    }
}

impl<T> Series<T> {
    fn with(&self, labels: &str, make: impl FnOnce() -> T, f: impl FnOnce(&T)) {
        let read = self.by_labels.read().unwrap_or_else(|e| e.into_inner());
        if let Some(series) = read.get(labels) {
            return f(series);
        }
        drop(read);
        let mut write = self.by_labels.write().unwrap_or_else(|e| e.into_inner());
        f(write.entry(labels.into()).or_insert_with(make));
    }

    /// Every series, sorted by label text so the output is stable.
    fn each(&self, mut f: impl FnMut(&str, &T)) {
        let read = self.by_labels.read().unwrap_or_else(|e| e.into_inner());
        let mut keys: Vec<&Box<str>> = read.keys().collect();
        keys.sort_unstable();
        for key in keys {
            f(key, &read[key]);
        }
    }
}

/// A counter family.
#[derive(Debug, Default)]
pub struct CounterVec {
    series: Series<AtomicU64>,
}

impl CounterVec {
    pub fn inc(&self, pairs: &[(&str, &str)]) {
        with_labels(pairs, |labels| {
            self.series.with(labels, AtomicU64::default, |c| {
                c.fetch_add(1, Ordering::Relaxed);
            })
        });
    }

    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        write_header(out, name, "counter", help);
        self.series.each(|labels, c| {
            let _ = writeln!(out, "{name}{{{labels}}} {}", c.load(Ordering::Relaxed));
        });
    }
}

/// One histogram: counts per bucket (not cumulative; summed when written), the sum in
/// nanoseconds and the count.
#[derive(Debug)]
struct Histogram {
    buckets: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

/// A histogram family of durations, with fixed buckets.
#[derive(Debug)]
pub struct HistogramVec {
    bounds: &'static [f64],
    series: Series<Histogram>,
}

impl HistogramVec {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            series: Series::default(),
        }
    }

    pub fn observe(&self, pairs: &[(&str, &str)], took: Duration) {
        with_labels(pairs, |labels| self.observe_labelled(labels, took));
    }

    /// Observes under label text already built (see [`with_labels`]).
    pub fn observe_labelled(&self, labels: &str, took: Duration) {
        let secs = took.as_secs_f64();
        let bucket = self
            .bounds
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(self.bounds.len());
        let make = || Histogram {
            buckets: (0..=self.bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
            count: AtomicU64::new(0),
        };
        self.series.with(labels, make, |h| {
            h.buckets[bucket].fetch_add(1, Ordering::Relaxed);
            let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
            h.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
            h.count.fetch_add(1, Ordering::Relaxed);
        });
    }

    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        write_header(out, name, "histogram", help);
        self.series.each(|labels, h| {
            let mut cumulative = 0;
            let les = self.bounds.iter().map(|b| b.to_string());
            for (le, count) in les.chain(["+Inf".to_string()]).zip(h.buckets.iter()) {
                cumulative += count.load(Ordering::Relaxed);
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
            }
            let sum = h.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
            let _ = writeln!(
                out,
                "{name}_count{{{labels}}} {}",
                h.count.load(Ordering::Relaxed)
            );
        });
    }
}

/// Writes one gauge sample.
pub fn write_gauge(
    out: &mut String,
    name: &str,
    pairs: &[(&str, &str)],
    value: impl std::fmt::Display,
) {
    let mut labels = String::new();
    write_labels(&mut labels, pairs);
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        write_labels(&mut out, &[("a", "x\"y\\z\nw"), ("b", "ok")]);
        assert_eq!(out, "a=\"x\\\"y\\\\z\\nw\",b=\"ok\"");
    }

    #[test]
    fn a_histogram_is_written_cumulatively_with_sum_and_count() {
        let h = HistogramVec::new(&[0.01, 0.1]);
        h.observe(&[("route", "/a")], Duration::from_millis(5));
        h.observe(&[("route", "/a")], Duration::from_millis(50));
        h.observe(&[("route", "/a")], Duration::from_secs(2));
        let mut out = String::new();
        h.render(&mut out, "t_seconds", "Test.");
        assert_eq!(
            out,
            "# HELP t_seconds Test.\n# TYPE t_seconds histogram\n\
             t_seconds_bucket{route=\"/a\",le=\"0.01\"} 1\n\
             t_seconds_bucket{route=\"/a\",le=\"0.1\"} 2\n\
             t_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3\n\
             t_seconds_sum{route=\"/a\"} 2.055\n\
             t_seconds_count{route=\"/a\"} 3\n"
        );
    }

    #[test]
    fn counters_keep_one_series_per_label_set() {
        let c = CounterVec::default();
        c.inc(&[("status", "b")]);
        c.inc(&[("status", "a")]);
        c.inc(&[("status", "b")]);
        let mut out = String::new();
        c.render(&mut out, "t_total", "Test.");
        assert!(
            out.ends_with("t_total{status=\"a\"} 1\nt_total{status=\"b\"} 2\n"),
            "{out}"
        );
    }
}
