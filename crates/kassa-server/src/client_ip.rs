//! Who the client is, for the per-IP limits (docs/api.md §8): the connection's peer address, or,
//! when the peer is one of `trustedProxies`, the address those proxies say they forwarded for
//! (`X-Forwarded-For`, read from the right, stopping at the first hop that is not a trusted
//! proxy — the leftmost entries are whatever the client chose to send).

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::state::AppState;

/// The client's address. Without a peer address (a request handed to the router in-process,
/// as the tests do) it is `0.0.0.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// What the per-IP limits count by: an IPv4 address itself, an IPv6 address by its /64 —
    /// one customer's network, from which a host can use a fresh address for every request.
    pub fn network(self) -> IpAddr {
        match self.0 {
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
            v4 => v4,
        }
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Ok(ClientIp(client_ip(
            peer,
            &parts.headers,
            &state.config.trusted_proxies,
        )))
    }
}

/// One `X-Forwarded-For` entry: an address, or an address and port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`), as some proxies write them.
fn parse_hop(hop: &str) -> Result<IpAddr, ()> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|a| a.ip()))
        .map_err(|_| ())
}

/// The rule itself: `peer` unless it is trusted, then the rightmost forwarded-for address that
/// is not a trusted proxy.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let unmap = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let peer = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), unmap);
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));
    if !is_trusted(peer) {
        return peer;
    }
    // Read byte by byte: a client's non-ASCII junk must not hide the entries proxies appended
    // after it (proxies join every value into one line).
    let values: Vec<String> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let hops: Vec<&str> = values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Ok(ip) => {
                client = unmap(ip);
                if !is_trusted(client) {
                    return client;
                }
            }
            // Garbage: the hop that appended it is the last one we can vouch for.
            Err(_) => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        assert_eq!(
            ClientIp(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).network(),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            ClientIp(ip("2001:db8:1:2::1")).network(),
            ClientIp(ip("2001:db8:1:2:ffff::9")).network()
        );
        assert_ne!(
            ClientIp(ip("2001:db8:1:2::1")).network(),
            ClientIp(ip("2001:db8:1:3::1")).network()
        );
        assert_eq!(ClientIp(ip("198.51.100.7")).network(), ip("198.51.100.7"));
    }

    #[test]
    fn the_peer_is_the_client_unless_it_is_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let spoofed = headers(&["1.2.3.4"]);
        assert_eq!(
            client_ip(Some(ip("203.0.113.9")), &spoofed, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(Some(ip("203.0.113.9")), &spoofed, &[]),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.2")), &spoofed, &trusted),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_ip(None, &spoofed, &trusted),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        );
    }

    #[test]
    fn forwarded_for_is_read_from_the_right_past_trusted_hops_only() {
        let trusted: Vec<IpNet> = vec![
            "10.0.0.0/8".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ];
        let peer = Some(ip("10.0.0.2"));
        // The client claims 9.9.9.9; the first proxy saw 198.51.100.7; the second is trusted.
        let chain = headers(&["9.9.9.9, 198.51.100.7", "10.1.1.1"]);
        assert_eq!(client_ip(peer, &chain, &trusted), ip("198.51.100.7"));
        // Only trusted hops: the leftmost.
        assert_eq!(
            client_ip(peer, &headers(&["10.9.9.9, 2001:db8::1"]), &trusted),
            ip("10.9.9.9")
        );
        // Garbage stops the walk at the last hop vouched for.
        assert_eq!(
            client_ip(peer, &headers(&["5.5.5.5, nonsense, 10.3.3.3"]), &trusted),
            ip("10.3.3.3")
        );
        // Non-ASCII junk from the client does not hide what the proxies appended after it.
        let mut junk = HeaderMap::new();
        junk.append(
            "x-forwarded-for",
            axum::http::HeaderValue::from_bytes(b"\xff\xfe, 198.51.100.8").unwrap(),
        );
        assert_eq!(client_ip(peer, &junk, &trusted), ip("198.51.100.8"));
        // Entries with ports.
        assert_eq!(
            client_ip(peer, &headers(&["198.51.100.9:5678"]), &trusted),
            ip("198.51.100.9")
        );
        assert_eq!(
            client_ip(peer, &headers(&["[2001:db9::7]:443"]), &trusted),
            ip("2001:db9::7")
        );
        // No header: the proxy itself.
        assert_eq!(client_ip(peer, &HeaderMap::new(), &trusted), ip("10.0.0.2"));
        // An IPv4-mapped IPv6 peer is its IPv4 address.
        assert_eq!(
            client_ip(
                Some(ip("::ffff:10.0.0.2")),
                &headers(&["7.7.7.7"]),
                &trusted
            ),
            ip("7.7.7.7")
        );
    }
}
