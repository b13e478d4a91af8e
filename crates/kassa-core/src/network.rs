//! Which network addresses Kassa may connect to on a partner's behalf (docs/api.md §8, "Webhook
//! endpoint URLs"). A partner names the URL and Kassa makes the connection, so an address inside
//! Kassa's own network — loopback, a private range, the cloud metadata service on 169.254.169.254
//! — must not be one: only public unicast addresses are, unless the operator opens private
//! networks for development. The ranges follow the IANA special-purpose address registries.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

/// What an address is, as far as connecting to it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    /// Public unicast: somebody's server on the internet.
    Public,
    /// 127.0.0.0/8 and ::1: this machine.
    Loopback,
    /// RFC 1918 (10/8, 172.16/12, 192.168/16), unique local fc00::/7 and the old site-local
    /// fec0::/10.
    Private,
    /// 100.64.0.0/10: carrier-grade NAT, an operator's internal network.
    Shared,
    /// 169.254.0.0/16 (where cloud metadata services answer) and fe80::/10.
    LinkLocal,
    /// 224.0.0.0/4 and ff00::/8.
    Multicast,
    /// 0.0.0.0/8 and `::`: "this host" (connecting to 0.0.0.0 reaches the local machine).
    Unspecified,
    /// 255.255.255.255.
    Broadcast,
    /// 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20.
    Documentation,
    /// 198.18.0.0/15 and 2001:2::/48.
    Benchmarking,
    /// Set aside and not a public host: 240.0.0.0/4, 192.0.0.0/24, 192.88.99.0/24, 100::/64, the
    /// rest of 2001::/23, and all IPv6 outside 2000::/3.
    Reserved,
    /// An IPv4 address written as IPv6 (`::ffff:0:0/96`, and the old `::/96`): one address
    /// with two spellings, so never taken.
    Ipv4InIpv6,
    /// An IPv4 address reached through a translator or a tunnel: Teredo (2001::/32), local-use
    /// NAT64 (64:ff9b:1::/48), and NAT64 (64:ff9b::/96) or 6to4 (2002::/16) of an IPv4 address
    /// that is not public. NAT64 and 6to4 of a public IPv4 address are public.
    Tunneled,
}

impl AddressKind {
    /// Loopback, private and shared addresses: what `webhooks.allowPrivateNetworks` opens.
    pub fn is_private_network(self) -> bool {
        matches!(
            self,
            AddressKind::Loopback | AddressKind::Private | AddressKind::Shared
        )
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

#[allow(clippy::too_many_arguments)]
const fn v6(a: u16, b: u16, c: u16, d: u16, e: u16, f: u16, prefix: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, 0, 0), prefix)
}

/// The IPv4 ranges that are not public, most specific first.
const V4_RANGES: [(Ipv4Net, AddressKind); 16] = [
    (v4(0, 0, 0, 0, 8), AddressKind::Unspecified),
    (v4(127, 0, 0, 0, 8), AddressKind::Loopback),
    (v4(10, 0, 0, 0, 8), AddressKind::Private),
    (v4(172, 16, 0, 0, 12), AddressKind::Private),
    (v4(192, 168, 0, 0, 16), AddressKind::Private),
    (v4(100, 64, 0, 0, 10), AddressKind::Shared),
    (v4(169, 254, 0, 0, 16), AddressKind::LinkLocal),
    (v4(192, 0, 2, 0, 24), AddressKind::Documentation),
    (v4(198, 51, 100, 0, 24), AddressKind::Documentation),
    (v4(203, 0, 113, 0, 24), AddressKind::Documentation),
    (v4(192, 0, 0, 0, 24), AddressKind::Reserved),
    (v4(192, 88, 99, 0, 24), AddressKind::Reserved),
    (v4(198, 18, 0, 0, 15), AddressKind::Benchmarking),
    (v4(224, 0, 0, 0, 4), AddressKind::Multicast),
    (v4(255, 255, 255, 255, 32), AddressKind::Broadcast),
    (v4(240, 0, 0, 0, 4), AddressKind::Reserved),
];

/// The IPv6 ranges that are not public, most specific first. NAT64 (64:ff9b::/96) and 6to4
/// (2002::/16) are read by the IPv4 address inside them, in [`classify_v6`].
const V6_RANGES: [(Ipv6Net, AddressKind); 15] = [
    (v6(0, 0, 0, 0, 0, 0, 128), AddressKind::Unspecified),
    (
        Ipv6Net::new_assert(Ipv6Addr::LOCALHOST, 128),
        AddressKind::Loopback,
    ),
    (v6(0, 0, 0, 0, 0, 0xffff, 96), AddressKind::Ipv4InIpv6),
    (v6(0, 0, 0, 0, 0, 0, 96), AddressKind::Ipv4InIpv6),
    (v6(0x64, 0xff9b, 1, 0, 0, 0, 48), AddressKind::Tunneled),
    (v6(0x100, 0, 0, 0, 0, 0, 64), AddressKind::Reserved),
    (v6(0x2001, 0, 0, 0, 0, 0, 32), AddressKind::Tunneled),
    (
        v6(0x2001, 0xdb8, 0, 0, 0, 0, 32),
        AddressKind::Documentation,
    ),
    (v6(0x2001, 2, 0, 0, 0, 0, 48), AddressKind::Benchmarking),
    (v6(0x2001, 0, 0, 0, 0, 0, 23), AddressKind::Reserved),
    (v6(0x3fff, 0, 0, 0, 0, 0, 20), AddressKind::Documentation),
    (v6(0xfc00, 0, 0, 0, 0, 0, 7), AddressKind::Private),
    (v6(0xfe80, 0, 0, 0, 0, 0, 10), AddressKind::LinkLocal),
    (v6(0xfec0, 0, 0, 0, 0, 0, 10), AddressKind::Private),
    (v6(0xff00, 0, 0, 0, 0, 0, 8), AddressKind::Multicast),
];

const NAT64: Ipv6Net = v6(0x64, 0xff9b, 0, 0, 0, 0, 96);
const SIX_TO_FOUR: Ipv6Net = v6(0x2002, 0, 0, 0, 0, 0, 16);
/// Global unicast: every public IPv6 address is in here.
const GLOBAL_UNICAST: Ipv6Net = v6(0x2000, 0, 0, 0, 0, 0, 3);

/// What `ip` is.
pub fn classify(ip: IpAddr) -> AddressKind {
    match ip {
        IpAddr::V4(ip) => classify_v4(ip),
        IpAddr::V6(ip) => classify_v6(ip),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressKind {
    V4_RANGES
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map_or(AddressKind::Public, |(_, kind)| *kind)
}

fn classify_v6(ip: Ipv6Addr) -> AddressKind {
    if let Some((_, kind)) = V6_RANGES.iter().find(|(net, _)| net.contains(&ip)) {
        return *kind;
    }
    let o = ip.octets();
    let embedded = if NAT64.contains(&ip) {
        Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]))
    } else if SIX_TO_FOUR.contains(&ip) {
        Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]))
    } else {
        None
    };
    match embedded {
        Some(v4) if classify_v4(v4) == AddressKind::Public => AddressKind::Public,
        Some(_) => AddressKind::Tunneled,
        None if GLOBAL_UNICAST.contains(&ip) => AddressKind::Public,
        None => AddressKind::Reserved,
    }
}

/// Which addresses outgoing connections may reach: the setting `webhooks.allowPrivateNetworks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Networks {
    /// Public unicast addresses only (the default).
    Public,
    /// Loopback, private and shared addresses too, for development. Link-local (the cloud
    /// metadata service), multicast, reserved and the other kinds stay refused.
    PublicAndPrivate,
}

impl Networks {
    pub fn from_setting(allow_private_networks: bool) -> Self {
        if allow_private_networks {
            Networks::PublicAndPrivate
        } else {
            Networks::Public
        }
    }

    pub fn allows(self, ip: IpAddr) -> bool {
        let kind = classify(ip);
        kind == AddressKind::Public
            || (self == Networks::PublicAndPrivate && kind.is_private_network())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddressKind::*;

    #[test]
    fn every_kind_of_address() {
        let cases: &[(&str, AddressKind)] = &[
            ("8.8.8.8", Public),
            ("1.1.1.1", Public),
            ("93.184.215.14", Public),
            ("172.15.255.255", Public),
            ("172.32.0.0", Public),
            ("100.63.255.255", Public),
            ("100.128.0.0", Public),
            ("169.253.255.255", Public),
            ("192.0.1.255", Public),
            ("198.17.255.255", Public),
            ("198.20.0.0", Public),
            ("223.255.255.255", Public),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("10.0.0.1", Private),
            ("10.255.255.255", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("100.64.0.1", Shared),
            ("100.127.255.255", Shared),
            ("169.254.169.254", LinkLocal),
            ("169.254.0.1", LinkLocal),
            ("192.0.0.8", Reserved),
            ("192.0.2.1", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("192.88.99.1", Reserved),
            ("198.18.0.1", Benchmarking),
            ("198.19.255.255", Benchmarking),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("240.0.0.1", Reserved),
            ("254.1.2.3", Reserved),
            ("255.255.255.255", Broadcast),
            ("2606:4700:4700::1111", Public),
            ("2a00:1450:4001:80b::200e", Public),
            ("2001:4860:4860::8888", Public),
            ("::", Unspecified),
            ("::1", Loopback),
            ("::ffff:127.0.0.1", Ipv4InIpv6),
            ("::ffff:8.8.8.8", Ipv4InIpv6),
            ("::ffff:169.254.169.254", Ipv4InIpv6),
            ("::127.0.0.1", Ipv4InIpv6),
            ("::8.8.8.8", Ipv4InIpv6),
            ("64:ff9b::808:808", Public),
            ("64:ff9b::7f00:1", Tunneled),
            ("64:ff9b::a9fe:a9fe", Tunneled),
            ("64:ff9b::a00:1", Tunneled),
            ("64:ff9b:1::a00:1", Tunneled),
            ("2002:808:808::1", Public),
            ("2002:7f00:1::", Tunneled),
            ("2002:c0a8:101::1", Tunneled),
            ("2002:a9fe:a9fe::", Tunneled),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Tunneled),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("2001:2::1", Benchmarking),
            ("2001:10::1", Reserved),
            ("100::1", Reserved),
            ("fc00::1", Private),
            ("fd12:3456:789a::1", Private),
            ("fec0::1", Private),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("ff02::1", Multicast),
            ("ff0e::1", Multicast),
            ("4000::1", Reserved),
            ("5f00::1", Reserved),
            ("1::", Reserved),
        ];
        for (ip, kind) in cases {
            assert_eq!(classify(ip.parse().unwrap()), *kind, "{ip}");
        }
    }

    #[test]
    fn what_each_setting_allows() {
        let allowed_by_default = ["8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808"];
        let private = [
            "127.0.0.1",
            "::1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.0.10",
            "fd00::1",
            "100.100.1.1",
        ];
        let never = [
            "169.254.169.254",
            "fe80::1",
            "0.0.0.0",
            "::",
            "224.0.0.251",
            "ff02::fb",
            "255.255.255.255",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2002:7f00:1::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        ];
        for ip in allowed_by_default {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(Networks::Public.allows(ip), "{ip}");
            assert!(Networks::PublicAndPrivate.allows(ip), "{ip}");
        }
        for ip in private {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!Networks::Public.allows(ip), "{ip}");
            assert!(Networks::PublicAndPrivate.allows(ip), "{ip}");
        }
        for ip in never {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!Networks::Public.allows(ip), "{ip}");
            assert!(!Networks::PublicAndPrivate.allows(ip), "{ip}");
        }
        assert_eq!(Networks::from_setting(false), Networks::Public);
        assert_eq!(Networks::from_setting(true), Networks::PublicAndPrivate);
    }
}
