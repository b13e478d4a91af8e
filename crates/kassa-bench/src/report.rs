//! The Markdown report: the machine and settings, the summary against the targets, and each
//! backend's tables.

use std::fmt::Write as _;
use std::time::Duration;

use crate::stats::RunStats;
use crate::workload::Workload;
use crate::{
    BenchOptions, TARGET_CPU_US_PER_SALE, TARGET_P99_MS, TARGET_POSTGRES_W2_RATIO, TARGET_RSS_MIB,
    TARGET_SQLITE_W1_RATIO, TARGET_SQLITE_W2_RATIO,
};

/// What one backend's run measured.
#[derive(Debug, Clone)]
pub struct BackendReport {
    pub name: &'static str,
    pub durability: Vec<(String, String)>,
    /// Per workload, per concurrency level.
    pub(crate) workloads: Vec<(Workload, Vec<(usize, RunStats)>)>,
    /// Raw single-row INSERT transactions per concurrency level (level 1 = one connection).
    pub raw: Vec<(usize, RunStats)>,
    /// W2 open loop at half its peak rate: (offered rate, stats).
    pub half_peak: Option<(f64, RunStats)>,
    /// W5: webhook deliveries beside the API's event rate.
    pub webhooks: Option<crate::WebhookRun>,
    /// The process's peak resident memory by the end of this backend's workloads (`VmHWM`).
    pub peak_rss_bytes: Option<u64>,
}

impl BackendReport {
    pub(crate) fn workload(&self, w: Workload) -> &[(usize, RunStats)] {
        self.workloads
            .iter()
            .find(|(x, _)| *x == w)
            .map(|(_, r)| r.as_slice())
            .unwrap_or(&[])
    }

    pub fn sales(&self) -> &[(usize, RunStats)] {
        self.workload(Workload::Sale)
    }

    fn raw_at(&self, c: usize) -> Option<&RunStats> {
        self.raw.iter().find(|(x, _)| *x == c).map(|(_, s)| s)
    }

    /// The level with the highest rate of workload `w`: (concurrency, stats).
    fn peak(&self, w: Workload) -> Option<(usize, &RunStats)> {
        self.workload(w)
            .iter()
            .max_by(|a, b| a.1.rate().total_cmp(&b.1.rate()))
            .map(|(c, s)| (*c, s))
    }

    fn is_sqlite(&self) -> bool {
        self.name == "SQLite"
    }

    /// Issue 19's targets for this backend: (measure, measured, target, met).
    fn targets(&self) -> Vec<(String, String, String, bool)> {
        let mut out = Vec::new();
        let raw1 = self.raw_at(1).map(RunStats::rate).unwrap_or(0.0);
        let sale_peak = self.peak(Workload::Sale);
        let ratio = |rate: f64, raw: f64| rate / raw.max(f64::MIN_POSITIVE);
        if let Some((c, sale)) = sale_peak {
            if self.is_sqlite() {
                let r = ratio(sale.rate(), raw1);
                out.push((
                    format!("W2 peak sales/s ({:.1}, c={c}) ÷ raw commit loop, 1 connection ({raw1:.1}/s)", sale.rate()),
                    format!("{r:.2}"),
                    format!("≥ {TARGET_SQLITE_W2_RATIO}"),
                    r >= TARGET_SQLITE_W2_RATIO,
                ));
                if let Some((c1, checkout)) = self.peak(Workload::Checkout) {
                    let r = ratio(checkout.rate(), raw1);
                    out.push((
                        format!(
                            "W1 peak checkouts/s ({:.1}, c={c1}) ÷ the same loop",
                            checkout.rate()
                        ),
                        format!("{r:.2}"),
                        format!("≥ {TARGET_SQLITE_W1_RATIO}"),
                        r >= TARGET_SQLITE_W1_RATIO,
                    ));
                }
            } else {
                let raw_c = self.raw_at(c).map(RunStats::rate).unwrap_or(0.0);
                let r = ratio(sale.rate(), raw_c);
                out.push((
                    format!(
                        "W2 peak sales/s ({:.1}, c={c}) ÷ raw commits/s at c={c} ({raw_c:.1}/s)",
                        sale.rate()
                    ),
                    format!("{r:.2}"),
                    format!("≥ {TARGET_POSTGRES_W2_RATIO}"),
                    r >= TARGET_POSTGRES_W2_RATIO,
                ));
            }
            if let Some(cpu) = sale.cpu_us_per_op() {
                out.push((
                    format!("Kassa CPU time per W2 sale (at the peak, c={c})"),
                    format!("{cpu:.0} µs"),
                    format!("≤ {TARGET_CPU_US_PER_SALE} µs"),
                    cpu <= TARGET_CPU_US_PER_SALE,
                ));
            }
        }
        if let Some((rate, s)) = &self.half_peak {
            out.push((
                format!("W2 p99 at half the peak rate ({rate:.1}/s offered, open loop)"),
                format!("{:.2} ms", s.p99_ms()),
                format!("< {TARGET_P99_MS} ms"),
                s.p99_ms() < TARGET_P99_MS,
            ));
        }
        if let Some(rss) = self.peak_rss_bytes {
            let mib = rss as f64 / (1024.0 * 1024.0);
            out.push((
                "Peak resident memory of the process (load generator included)".into(),
                format!("{mib:.1} MiB"),
                format!("< {TARGET_RSS_MIB} MiB"),
                mib < TARGET_RSS_MIB,
            ));
        }
        let errors = self.total_errors();
        out.push(("Errors".into(), errors.to_string(), "0".into(), errors == 0));
        out
    }

    fn total_errors(&self) -> u64 {
        self.workloads
            .iter()
            .flat_map(|(_, r)| r.iter())
            .map(|(_, s)| s.errors)
            .sum::<u64>()
            + self.half_peak.as_ref().map(|(_, s)| s.errors).unwrap_or(0)
    }
}

/// "1.00" writes per commit, or "—" when not counted (PostgreSQL).
fn per_commit(stats: &RunStats) -> String {
    match stats.commits {
        Some(c) if c.commits > 0 => format!("{:.2}", c.transactions as f64 / c.commits as f64),
        _ => "—".into(),
    }
}

fn os_description() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|k| k.trim().to_string());
    let mut s = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    if let Some(p) = pretty {
        let _ = write!(s, ", {p}");
    }
    if let Some(k) = kernel {
        let _ = write!(s, ", kernel {k}");
    }
    s
}

fn cpu_model() -> Option<String> {
    std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|t| {
        t.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    })
}

fn yes_no(ok: bool) -> &'static str {
    if ok {
        "**met**"
    } else {
        "**not met**"
    }
}

/// The Markdown report.
pub fn render(options: &BenchOptions, backends: &[BackendReport], took: Duration) -> String {
    let mut md = String::new();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let _ = writeln!(md, "# Kassa benchmarks\n");
    let _ = writeln!(
        md,
        "Made by `kassa-bench`; where the time goes, and what would go faster, is in \
         `docs/performance.md`. Kassa runs in-process on 127.0.0.1 with the same \
         `App::from_config`, router and job worker as `kassa serve`, and is driven over HTTP/1.1 \
         by reqwest from the same process, on a thread and Tokio runtime of its own (as a \
         separate process would be) — so the load generator still competes with the server for \
         the same cores. *Writes per commit* is how many write transactions \
         shared each SQLite commit (group commit; two per sale).\n"
    );
    let _ = writeln!(md, "## Machine and settings\n");
    let _ = writeln!(md, "- Cores (available_parallelism): {cores}");
    if let Some(cpu) = cpu_model() {
        let _ = writeln!(md, "- CPU: {cpu}");
    }
    let _ = writeln!(md, "- OS: {}", os_description());
    let _ = writeln!(
        md,
        "- Build: {}",
        if cfg!(debug_assertions) {
            "debug (numbers are not representative)"
        } else {
            "release"
        }
    );
    let _ = writeln!(md, "- Command: `{}`", options.command);
    let _ = writeln!(md, "- {}", limits_line(&options.limits));
    let _ = writeln!(
        md,
        "- Each run: {} s; concurrency levels: {} (closed loop: that many operations in flight); \
         5 warm-up operations per workload first",
        options.seconds,
        options
            .concurrency
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(md, "- Whole run took {:.0} s\n", took.as_secs_f64());
    let _ = writeln!(
        md,
        "Workloads (one operation each, latency per operation):\n"
    );
    for w in &options.workloads {
        let _ = writeln!(md, "- {}", w.title());
    }
    let _ = writeln!(
        md,
        "- Raw commits: one single-row `INSERT` transaction (`BEGIN; INSERT; COMMIT`) into a \
         scratch table of the same database, same connection settings; c=1 is one connection, \
         higher levels a pool of c connections with c tasks.\n"
    );
    let _ = writeln!(
        md,
        "Targets (issue 19), in this one run with production settings — the abuse limits of \
         docs/api.md §8 and the audit log on, metrics on, durable commits: SQLite peak W2 \
         sales/s ≥ {TARGET_SQLITE_W2_RATIO} × the raw commit loop (one connection committing \
         single-row transactions back to back) and W1 checkouts/s ≥ {TARGET_SQLITE_W1_RATIO} × \
         it; PostgreSQL peak W2 ≥ {TARGET_POSTGRES_W2_RATIO} × raw commits at the same \
         concurrency; W2 p99 < {TARGET_P99_MS} ms at half the peak rate (open loop, latency \
         from the scheduled start); Kassa's CPU time ≤ {TARGET_CPU_US_PER_SALE} µs per W2 \
         sale; peak resident memory < {TARGET_RSS_MIB} MiB; zero errors. *CPU µs/op* is the \
         process's CPU time (user and system, all threads) less the load generator's thread, \
         divided by the operations completed; PostgreSQL's own CPU is not in it. Before each \
         workload, PostgreSQL's planner statistics are refreshed (`ANALYZE`).\n"
    );

    let _ = writeln!(md, "## Summary\n");
    for b in backends {
        let _ = writeln!(md, "### {}\n", b.name);
        let _ = writeln!(md, "| Measure | Measured | Target | |");
        let _ = writeln!(md, "|---|---:|---|---|");
        for (measure, value, target, met) in b.targets() {
            let _ = writeln!(md, "| {measure} | {value} | {target} | {} |", yes_no(met));
        }
        let _ = writeln!(md);
    }

    for b in backends {
        let _ = writeln!(md, "## {}\n", b.name);
        let _ = writeln!(
            md,
            "Durability and connection settings (as read back from the database):\n"
        );
        for (k, v) in &b.durability {
            let _ = writeln!(md, "- `{k}`: {v}");
        }
        let _ = writeln!(md);
        for w in b.workloads.iter().map(|(w, _)| *w) {
            let _ = writeln!(md, "### {}\n", w.title());
            let _ = writeln!(
                md,
                "| Concurrency | Ops | Ops/s | p50 ms | p99 ms | max ms | Errors | Writes per commit | CPU µs/op | RSS MiB |"
            );
            let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            for (c, s) in b.workload(w) {
                let _ = writeln!(
                    md,
                    "| {c} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} |",
                    s.ops,
                    s.rate(),
                    s.p50_ms(),
                    s.p99_ms(),
                    s.max_ms(),
                    s.errors,
                    per_commit(s),
                    s.cpu_us_per_op().map_or("—".into(), |v| format!("{v:.0}")),
                    s.rss_bytes.map_or("—".into(), |v| format!(
                        "{:.1}",
                        v as f64 / (1024.0 * 1024.0)
                    )),
                );
            }
            let errs: Vec<_> = b
                .workload(w)
                .iter()
                .filter_map(|(c, s)| s.first_error.as_ref().map(|e| (c, e)))
                .collect();
            for (c, e) in errs {
                let _ = writeln!(md, "\nFirst error at c={c}: `{}`", e.replace('`', "'"));
            }
            let _ = writeln!(md);
        }
        let _ = writeln!(md, "### Raw commit rate (single-row INSERT transactions)\n");
        let _ = writeln!(
            md,
            "| Concurrency | Commits | Commits/s | p50 ms | p99 ms | max ms | Errors |"
        );
        let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|");
        for (c, s) in &b.raw {
            let _ = writeln!(
                md,
                "| {c} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {} |",
                s.ops,
                s.rate(),
                s.p50_ms(),
                s.p99_ms(),
                s.max_ms(),
                s.errors
            );
        }
        let _ = writeln!(md);
        let _ = writeln!(md, "### W2 sales ÷ raw commits\n");
        let _ = writeln!(
            md,
            "| Concurrency | W2 sales/s | Raw commits/s (same c) | Ratio | Raw commits/s (1 conn) | Ratio |"
        );
        let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|");
        let raw1 = b.raw_at(1).map(RunStats::rate).unwrap_or(0.0);
        for (c, s) in b.sales() {
            let raw_c = b.raw_at(*c).map(RunStats::rate).unwrap_or(0.0);
            let ratio = s.rate() / raw_c.max(f64::MIN_POSITIVE);
            let ratio1 = s.rate() / raw1.max(f64::MIN_POSITIVE);
            let _ = writeln!(
                md,
                "| {c} | {:.1} | {:.1} | {:.2} | {:.1} | {:.2} |",
                s.rate(),
                raw_c,
                ratio,
                raw1,
                ratio1,
            );
        }
        let _ = writeln!(md);
        let _ = writeln!(md, "### W2 at half the peak rate (open loop)\n");
        match &b.half_peak {
            Some((rate, s)) => {
                let _ = writeln!(md, "| Offered/s | Completed | Achieved/s | p50 ms | p99 ms | max ms | Errors | p99 < {TARGET_P99_MS} ms |");
                let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---|");
                let _ = writeln!(
                    md,
                    "| {rate:.1} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {} | {} |",
                    s.ops,
                    s.rate(),
                    s.p50_ms(),
                    s.p99_ms(),
                    s.max_ms(),
                    s.errors,
                    yes_no(s.p99_ms() < TARGET_P99_MS)
                );
                if let Some(e) = &s.first_error {
                    let _ = writeln!(md, "\nFirst error: `{}`", e.replace('`', "'"));
                }
            }
            None => {
                let _ = writeln!(md, "Not run: W2 completed no sale.");
            }
        }
        let _ = writeln!(md);
        if let Some(w) = &b.webhooks {
            let _ = writeln!(
                md,
                "### W5 webhook deliveries (W2 at c={}, every event to a receiver on 127.0.0.1)\n",
                crate::webhooks::CONCURRENCY
            );
            let _ = writeln!(md, "| Seconds | Events | Events/s | Delivered | Delivered/s | Backlog drained after | Deliveries ≥ events |");
            let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---|");
            let _ = writeln!(
                md,
                "| {:.1} | {} | {:.1} | {} | {:.1} | {} | {} |\n",
                w.seconds,
                w.events,
                w.event_rate(),
                w.delivered,
                w.delivery_rate(),
                w.drained_after
                    .map_or("not within 120 s".into(), |s| format!("{s:.1} s")),
                yes_no(w.delivery_rate() >= w.event_rate())
            );
        }
    }
    md
}

/// The abuse limits the run had on, and how the load stays within them.
fn limits_line(l: &kassa_server::config::LimitsConfig) -> String {
    let rate = |r: Option<kassa_core::limit::Rate>| r.map_or("off".to_string(), |r| r.to_string());
    format!(
        "Abuse limits (docs/api.md §8): declines per IP {}, per card {}, API calls per key {} \
         (bursts of {}), failed authentications {}, unsigned links per IP {}. The load stays \
         within them as real traffic would: API calls rotate over 32 keys, and each checkout \
         is a payer of its own (its own card, and its own address in `X-Forwarded-For` from \
         the trusted loopback proxy).",
        rate(l.declines_per_ip),
        rate(l.declines_per_card),
        rate(l.api_calls),
        l.api_call_burst,
        rate(l.failed_authentications),
        rate(l.unsigned_links_per_ip),
    )
}
