//! TXT lookups for billing host verification (docs/api.md §9), with hickory's resolver: the one
//! nameserver of `dns.resolver` (UDP, then TCP), else the system's (`/etc/resolv.conf`). Nothing
//! is cached, so a record just published is seen at the next try. What an answer means is
//! `kassa_core::billing_host`'s; the webhook resolver (A/AAAA) is `resolver.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};

use crate::config::DnsConfig;

/// How long one question to a nameserver may take; a lookup asks at most twice.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a lookup gave no records.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TxtError {
    /// The lookup failed: no answer in time, a refusal, an unreachable nameserver. Says nothing
    /// about the record.
    #[error("the DNS lookup failed ({0})")]
    Failed(String),
}

/// The TXT records at `name` (each record's strings joined, as RFC 7208 reads them); empty when
/// the name has none or does not exist.
pub async fn lookup_txt(config: &DnsConfig, name: &str) -> Result<Vec<String>, TxtError> {
    let resolver = resolver(config)?;
    // A final dot: the name is complete, never tried under a search domain.
    let fqdn = format!("{}.", name.trim_end_matches('.'));
    let lookup = match tokio::time::timeout(LOOKUP_TIMEOUT * 3, resolver.txt_lookup(fqdn)).await {
        Err(_) => return Err(TxtError::Failed("timed out".into())),
        Ok(Err(e)) if e.is_no_records_found() => return Ok(Vec::new()),
        Ok(Err(e)) => return Err(TxtError::Failed(describe(&e))),
        Ok(Ok(lookup)) => lookup,
    };
    Ok(lookup
        .answers()
        .iter()
        .filter_map(|record| match &record.data {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|part| String::from_utf8_lossy(part))
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect())
}

fn resolver(config: &DnsConfig) -> Result<TokioResolver, TxtError> {
    let builder = match config.resolver {
        Some(addr) => Resolver::builder_with_config(
            ResolverConfig::from_name_servers(vec![name_server(addr)]),
            TokioRuntimeProvider::default(),
        ),
        None => Resolver::builder_tokio().map_err(|e| {
            TxtError::Failed(format!(
                "the system's DNS configuration cannot be read: {e}"
            ))
        })?,
    };
    let mut options = ResolverOpts::default();
    options.timeout = LOOKUP_TIMEOUT;
    options.attempts = 1;
    options.cache_size = 0;
    options.try_tcp_on_error = true;
    builder
        .with_options(options)
        .build()
        .map_err(|e| TxtError::Failed(describe(&e)))
}

/// `addr` asked over UDP, then over TCP (a long answer, or UDP refused).
fn name_server(addr: SocketAddr) -> NameServerConfig {
    let mut config = NameServerConfig::udp_and_tcp(addr.ip());
    for connection in &mut config.connections {
        connection.port = addr.port();
    }
    config
}

/// A short account of a failure, without the resolver's internals.
fn describe(e: &NetError) -> String {
    let text = e.to_string();
    let text = text.lines().next().unwrap_or_default();
    text.chars().take(200).collect()
}
