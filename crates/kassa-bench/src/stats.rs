//! What one measured run counted: operations, failures and latencies, and the percentiles the
//! report shows.

use std::time::{Duration, Instant};

use kassa_store::GroupCommitStats;

/// One measured run: completed operations, their latencies, failures.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    pub ops: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Latency of each successful operation in microseconds, sorted.
    pub latencies_us: Vec<u64>,
    pub first_error: Option<String>,
    /// Write transactions and the commits they shared during the run (SQLite's group commit).
    pub commits: Option<GroupCommitStats>,
    /// CPU seconds Kassa used during the run (the process's, less the load generator's thread).
    pub cpu_seconds: Option<f64>,
    /// The process's resident memory at the end of the run, in bytes.
    pub rss_bytes: Option<u64>,
}

impl RunStats {
    pub fn rate(&self) -> f64 {
        if self.elapsed.is_zero() {
            0.0
        } else {
            self.ops as f64 / self.elapsed.as_secs_f64()
        }
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.latencies_us.len() as f64).ceil() as usize;
        let idx = rank.clamp(1, self.latencies_us.len()) - 1;
        self.latencies_us[idx] as f64 / 1000.0
    }

    /// Kassa's CPU time per completed operation, in microseconds.
    pub fn cpu_us_per_op(&self) -> Option<f64> {
        let cpu = self.cpu_seconds?;
        (self.ops > 0).then(|| cpu * 1e6 / self.ops as f64)
    }

    pub fn p50_ms(&self) -> f64 {
        self.percentile_ms(50.0)
    }

    pub fn p99_ms(&self) -> f64 {
        self.percentile_ms(99.0)
    }

    pub fn max_ms(&self) -> f64 {
        self.latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0
    }

    pub(crate) fn merge(parts: Vec<RunStats>, elapsed: Duration) -> RunStats {
        let mut all = RunStats {
            elapsed,
            ..RunStats::default()
        };
        for p in parts {
            all.ops += p.ops;
            all.errors += p.errors;
            all.latencies_us.extend(p.latencies_us);
            if all.first_error.is_none() {
                all.first_error = p.first_error;
            }
        }
        all.latencies_us.sort_unstable();
        all
    }

    pub(crate) fn record(&mut self, started: Instant, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.ops += 1;
                self.latencies_us.push(started.elapsed().as_micros() as u64);
            }
            Err(e) => {
                self.errors += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(e);
                }
            }
        }
    }
}

/// What happened between two readings of the group-commit counters.
pub(crate) fn commits_between(
    before: Option<GroupCommitStats>,
    after: Option<GroupCommitStats>,
) -> Option<GroupCommitStats> {
    let (before, after) = (before?, after?);
    Some(GroupCommitStats {
        transactions: after.transactions - before.transactions,
        commits: after.commits - before.commits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let s = RunStats {
            ops: 100,
            latencies_us: (1..=100).map(|i| i * 1000).collect(),
            elapsed: Duration::from_secs(1),
            ..RunStats::default()
        };
        assert_eq!(s.p50_ms(), 50.0);
        assert_eq!(s.p99_ms(), 99.0);
        assert_eq!(s.max_ms(), 100.0);
        assert_eq!(s.rate(), 100.0);
    }
}
