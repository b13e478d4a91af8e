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
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
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
