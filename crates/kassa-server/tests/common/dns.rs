//! The tests' resolver: what a name resolves to is what the test says, and can change between
//! two steps (DNS rebinding). Names under `.example` (reserved, RFC 2606) resolve to one public
//! address unless a test says otherwise, `localhost` to loopback; any other name does not
//! resolve. No test asks a real DNS server.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::Mutex;

use kassa_server::resolver::{Lookup, Resolver};

/// A public address (example.com's, from IANA), for names that must look public. Nothing is
/// ever sent to it: tests that deliver point their names at local receivers.
pub const PUBLIC_ADDRESS: &str = "93.184.215.14";

#[derive(Default)]
pub struct TestDns {
    answers: Mutex<HashMap<String, Vec<IpAddr>>>,
    lookups: Mutex<HashMap<String, usize>>,
}

impl TestDns {
    /// From now on `host` resolves to `addrs` (none: it does not resolve).
    pub fn set(&self, host: &str, addrs: &[&str]) {
        let addrs = addrs.iter().map(|a| a.parse().unwrap()).collect();
        self.answers
            .lock()
            .unwrap()
            .insert(host.to_ascii_lowercase(), addrs);
    }

    /// How many times `host` was looked up.
    pub fn lookups(&self, host: &str) -> usize {
        let lookups = self.lookups.lock().unwrap();
        lookups
            .get(&host.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }

    fn answer(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        let host = host.to_ascii_lowercase();
        *self
            .lookups
            .lock()
            .unwrap()
            .entry(host.clone())
            .or_default() += 1;
        let set = self.answers.lock().unwrap().get(&host).cloned();
        let addrs = match set {
            Some(addrs) => addrs,
            None if host == "localhost" => {
                vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()]
            }
            None if host.ends_with(".example") => vec![PUBLIC_ADDRESS.parse().unwrap()],
            None => Vec::new(),
        };
        if addrs.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such host"));
        }
        Ok(addrs)
    }
}

impl Resolver for TestDns {
    fn lookup(&self, host: &str) -> Lookup {
        let answer = self.answer(host);
        Box::pin(async move { answer })
    }
}
