//! `kassa-bench`: the benchmark's command line. It was `kassa bench` until the benchmark moved out
//! of the product binary (so `kassa` does not link the load generator); flags and report are the
//! same. Run it with `cargo run -p kassa-bench --release -- …`.

use std::path::PathBuf;

use clap::Parser;
use kassa_bench::{BenchOptions, Workload};
use kassa_server::config::Config;

/// Load benchmark: run Kassa in-process on fresh databases, drive it over HTTP and compare
/// with the database's raw commit rate; writes a Markdown report.
#[derive(Parser)]
#[command(name = "kassa-bench", version)]
struct BenchArgs {
    /// TOML configuration file (also KASSA_CONFIG); its logFormat and its `[limits]` (docs/api.md
    /// §8; the defaults otherwise) are used, the rest is the benchmark's own.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seconds per measured run (fractions allowed).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Concurrency levels, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64")]
    concurrency: Vec<usize>,
    /// Also benchmark PostgreSQL: a fresh database is created on this server and dropped after.
    #[arg(long)]
    postgres_url: Option<String>,
    /// Where to write the report.
    #[arg(long, default_value = "docs/benchmarks.md")]
    out: PathBuf,
    /// The workloads to run, comma-separated (W1 checkout, W2 sale, W3 pay page, W4 refund);
    /// all by default. A subset is for profiling one: the report's targets need W1 and W2.
    #[arg(long, value_delimiter = ',', default_value = "W1,W2,W3,W4", value_parser = parse_workload)]
    workloads: Vec<Workload>,
}

fn parse_workload(code: &str) -> Result<Workload, String> {
    Workload::parse(code).ok_or_else(|| format!("{code:?} is not one of W1, W2, W3, W4"))
}

fn main() -> anyhow::Result<()> {
    let args = BenchArgs::parse();
    // The Kassa under test logs as `kassa serve` would: KASSA_LOG, and the configured format.
    let config = Config::load(args.config.as_deref(), |k| std::env::var(k).ok())?;
    // The same log set-up as the `kassa` binary's (colours only on a terminal).
    kassa_server::logging::init(config.log_format);
    let command = std::env::args()
        .map(|a| redact_password(&a))
        .collect::<Vec<_>>()
        .join(" ");
    let options = BenchOptions {
        seconds: args.seconds,
        concurrency: args.concurrency,
        postgres_url: args.postgres_url,
        out: args.out,
        command,
        limits: config.limits.clone(),
        workloads: args.workloads,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(kassa_bench::run(&options))?;
    println!("wrote {}", options.out.display());
    Ok(())
}

/// The argument with a URL's password (if any) hidden, for the report's command line.
fn redact_password(arg: &str) -> String {
    match (arg.find("://"), arg.rfind('@')) {
        (Some(s), Some(at)) if at > s => match arg[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}://{user}:***{}", &arg[..s], &arg[at..]),
            None => arg.to_string(),
        },
        _ => arg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_and_defaults_are_those_of_kassa_bench() {
        let args = BenchArgs::try_parse_from(["kassa-bench"]).unwrap();
        assert_eq!(args.seconds, 10.0);
        assert_eq!(args.concurrency, vec![1, 4, 16, 64]);
        assert_eq!(args.postgres_url, None);
        assert_eq!(args.out, PathBuf::from("docs/benchmarks.md"));
        let args = BenchArgs::try_parse_from([
            "kassa-bench",
            "--seconds",
            "0.5",
            "--concurrency",
            "2,8",
            "--postgres-url",
            "postgres://postgres@127.0.0.1:5432/postgres",
            "--out",
            "/tmp/b.md",
        ])
        .unwrap();
        assert_eq!(args.seconds, 0.5);
        assert_eq!(args.concurrency, vec![2, 8]);
        assert_eq!(args.out, PathBuf::from("/tmp/b.md"));
        BenchArgs::command().debug_assert();
    }

    #[test]
    fn passwords_stay_out_of_the_report() {
        assert_eq!(
            redact_password("postgres://u:secret@127.0.0.1:5432/postgres"),
            "postgres://u:***@127.0.0.1:5432/postgres"
        );
        assert_eq!(
            redact_password("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/postgres"
        );
        assert_eq!(redact_password("--seconds"), "--seconds");
    }
}
