//! A very short `kassa-bench` run on SQLite (and on PostgreSQL when `KASSA_TEST_POSTGRES_URL` is
//! set): every workload completes without errors and the report has its tables.

use kassa_bench::{run, BenchOptions, Workload};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_writes_a_report_with_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("docs").join("benchmarks.md");
    let postgres_url = std::env::var("KASSA_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let options = BenchOptions {
        seconds: 0.25,
        concurrency: vec![1],
        postgres_url: postgres_url.clone(),
        out: out.clone(),
        command: "kassa-bench --seconds 0.25 --concurrency 1".into(),
        limits: kassa_server::config::Config::default().limits,
        workloads: Workload::ALL.to_vec(),
    };
    let report = run(&options).await.unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), report);
    for needle in [
        "# Kassa benchmarks",
        "- Cores (available_parallelism): ",
        "- Command: `kassa-bench --seconds 0.25 --concurrency 1`",
        "- Abuse limits (docs/api.md §8): declines per IP 10/10m",
        "## Summary",
        "## SQLite",
        "`synchronous`: 2 (FULL)",
        "`journal_mode`: wal",
        "### W1 hosted checkout",
        "### W2 API sale",
        "### W3 hosted pay page GET",
        "### W4 API refund",
        "### Raw commit rate",
        "### W2 sales ÷ raw commits",
        "### W2 at half the peak rate (open loop)",
        "| Concurrency | Ops | Ops/s | p50 ms | p99 ms | max ms | Errors | Writes per commit | CPU µs/op | RSS MiB |",
        "| W2 peak sales/s (",
        "| W1 peak checkouts/s (",
        "| Kassa CPU time per W2 sale",
        "| Peak resident memory of the process",
    ] {
        assert!(report.contains(needle), "missing {needle:?} in\n{report}");
    }
    if postgres_url.is_some() {
        assert!(report.contains("## PostgreSQL"), "{report}");
        assert!(report.contains("`synchronous_commit`"), "{report}");
    }
    // No errors, and each workload row at c=1 completed operations and measured Kassa's CPU.
    let errors = report
        .lines()
        .find(|l| l.starts_with("| Errors |"))
        .expect("the errors row of the summary");
    let cells: Vec<&str> = errors.split('|').map(str::trim).collect();
    assert_eq!(cells[2], "0", "errors in {errors}\n{report}");
    // (CPU time is counted in 10 ms ticks: a quarter-second run may see none for a light one.)
    let mut cpu_seen = 0.0;
    for line in report
        .lines()
        .filter(|l| l.starts_with("| 1 |") && l.matches('|').count() == 11)
    {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_ne!(cells[2], "0", "no operations completed: {line}");
        let cpu: f64 = cells[9]
            .parse()
            .unwrap_or_else(|_| panic!("CPU µs/op in {line}"));
        assert!(cpu >= 0.0, "{line}");
        cpu_seen += cpu;
    }
    assert!(cpu_seen > 0.0, "no CPU time measured:\n{report}");
    // SQLite's workloads write, so their rows count the writes each commit carried.
    let sqlite = report
        .split("## SQLite")
        .nth(1)
        .and_then(|s| s.split("### W3").next())
        .expect("the SQLite section");
    for line in sqlite.lines().filter(|l| l.starts_with("| 1 |")) {
        let per_commit = line.split('|').map(str::trim).nth(8).unwrap_or_default();
        let per_commit: f64 = per_commit
            .parse()
            .unwrap_or_else(|_| panic!("writes per commit in {line}"));
        assert!(per_commit >= 1.0, "{line}");
    }
}
