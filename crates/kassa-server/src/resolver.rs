//! Name resolution behind one small trait. The webhook address check (docs/api.md §8) asks it
//! when an endpoint is made and, through the delivery client, on every connection; tests put
//! their own in (`AppParts::resolver`) to decide what a name resolves to, and when it changes.

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;

/// The answer to a lookup, on its way.
pub type Lookup = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

pub trait Resolver: Send + Sync {
    /// Every address the name `host` has now; an error when the lookup fails.
    fn lookup(&self, host: &str) -> Lookup;
}

/// The operating system's resolver (`getaddrinfo`, on tokio's blocking pool).
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(&self, host: &str) -> Lookup {
        let host = host.to_string();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let mut ips: Vec<IpAddr> = Vec::new();
            for addr in addrs {
                if !ips.contains(&addr.ip()) {
                    ips.push(addr.ip());
                }
            }
            Ok(ips)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_system_resolver_reads_addresses() {
        // An address needs no DNS server: getaddrinfo answers it as it is.
        let ips = SystemResolver.lookup("127.0.0.1").await.unwrap();
        assert_eq!(ips, ["127.0.0.1".parse::<IpAddr>().unwrap()]);
    }
}
