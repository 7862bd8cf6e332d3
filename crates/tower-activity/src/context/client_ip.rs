//! Where the client IP is decided: the socket peer, or forwarding headers when,
//! and only when, the peer is a trusted proxy.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use http::{HeaderMap, HeaderName};
use ipnet::IpNet;

use super::forwarded::{forwarded_hops, parse_node};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// Which forwarding header the trusted proxies set.
///
/// Choose the one your proxy writes: a header the proxy passes through untouched
/// is written by the client, whatever it says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For`, every line of it, read right to left.
    XForwardedFor,
    /// RFC 7239 `Forwarded`, the `for=` parameter of every element, read right
    /// to left.
    Forwarded,
    /// `X-Real-IP`: one address set by the proxy in front of the service.
    XRealIp,
}

/// The proxies whose forwarding headers are believed.
///
/// Without it, the client IP is the socket peer and forwarding headers are
/// ignored. With it, when the peer is inside one of the networks, the chosen
/// header is walked from the right: each trusted hop is skipped and the first
/// untrusted address is the client. A hop that cannot be read (garbage,
/// `unknown`, an obfuscated `_name`) ends the walk at the last address that could
/// be, so a client cannot hide behind it.
///
/// ```
/// use std::net::{IpAddr, SocketAddr};
/// use http::HeaderMap;
/// use tower_activity::TrustedProxies;
///
/// let proxies = TrustedProxies::parse(["10.0.0.0/8", "fd00::/8"]).unwrap();
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.0.0.7".parse().unwrap());
///
/// let peer: IpAddr = "10.0.0.2".parse().unwrap();
/// assert_eq!(proxies.client_ip(peer, &headers), "203.0.113.9".parse::<IpAddr>().unwrap());
///
/// // The same header from a peer that is not a trusted proxy changes nothing.
/// let stranger: IpAddr = "198.51.100.1".parse().unwrap();
/// assert_eq!(proxies.client_ip(stranger, &headers), stranger);
/// ```
#[derive(Clone, Debug)]
pub struct TrustedProxies {
    networks: Arc<[IpNet]>,
    header: ForwardedHeader,
}

/// `text` as a network in CIDR form (`10.0.0.0/8`) or a single address
/// (`192.0.2.1`, a network of one).
pub(crate) fn ip_or_network(text: &str) -> Option<IpNet> {
    IpNet::from_str(text)
        .or_else(|_| IpAddr::from_str(text).map(IpNet::from))
        .ok()
}

/// A trusted-proxy network that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid trusted proxy network {0:?}: expected an address or a CIDR such as 10.0.0.0/8")]
pub struct InvalidNetwork(String);

impl TrustedProxies {
    /// Trusts `networks`, reading `X-Forwarded-For`.
    pub fn new(networks: impl IntoIterator<Item = IpNet>) -> Self {
        TrustedProxies {
            networks: networks.into_iter().map(|net| net.trunc()).collect(),
            header: ForwardedHeader::XForwardedFor,
        }
    }

    /// Trusts networks written as CIDRs (`10.0.0.0/8`) or single addresses
    /// (`192.0.2.1`), reading `X-Forwarded-For`.
    pub fn parse<I>(networks: I) -> Result<Self, InvalidNetwork>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let parsed = networks
            .into_iter()
            .map(|text| {
                let text = text.as_ref().trim();
                ip_or_network(text).ok_or_else(|| InvalidNetwork(text.chars().take(64).collect()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustedProxies::new(parsed))
    }

    /// Reads `header` instead of `X-Forwarded-For`.
    pub fn header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// Whether `ip` is inside one of the trusted networks.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for a request from `peer` carrying `headers`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.is_trusted(peer) {
            return peer;
        }
        match self.header {
            ForwardedHeader::XForwardedFor => {
                let hops = headers.get_all(X_FORWARDED_FOR).iter().rev().flat_map(|line| {
                    line.as_bytes().rsplit(|&byte| byte == b',').map(|hop| {
                        let hop = std::str::from_utf8(hop).ok()?;
                        parse_node(hop.trim())
                    })
                });
                self.walk(peer, hops)
            }
            ForwardedHeader::Forwarded => {
                let hops = forwarded_hops(headers);
                self.walk(peer, hops.into_iter().rev())
            }
            ForwardedHeader::XRealIp => {
                let mut values = headers.get_all(X_REAL_IP).iter();
                match (values.next(), values.next()) {
                    (Some(value), None) => value
                        .to_str()
                        .ok()
                        .and_then(|text| parse_node(text.trim()))
                        .unwrap_or(peer),
                    _ => peer,
                }
            }
        }
    }

    /// Rightmost-untrusted: walks hops from the nearest to the farthest, and
    /// returns the first address outside the trusted networks. An unreadable hop
    /// stops the walk at the last readable address; when every hop is trusted
    /// the farthest one is the client.
    fn walk(&self, peer: IpAddr, hops: impl Iterator<Item = Option<IpAddr>>) -> IpAddr {
        let mut client = peer;
        for hop in hops {
            let Some(ip) = hop else { return client };
            client = ip;
            if !self.is_trusted(ip) {
                return ip;
            }
        }
        client
    }
}

/// The peer address a server put in the request extensions as a plain
/// [`SocketAddr`] (IPv4-mapped IPv6 addresses as IPv4): what the layer reads
/// unless told otherwise (see
/// [`ActivityLayer::peer_addr_with`](crate::ActivityLayer::peer_addr_with)).
pub(crate) fn socket_peer(extensions: &http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<SocketAddr>()
        .map(|addr| addr.ip().to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(name: &str, lines: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
        for line in lines {
            map.append(name.clone(), HeaderValue::from_bytes(line).unwrap());
        }
        map
    }

    fn proxies() -> TrustedProxies {
        TrustedProxies::parse(["10.0.0.0/8", "2001:db8:ffff::/48"]).unwrap()
    }

    #[test]
    fn spoofed_x_forwarded_for_from_untrusted_peer_is_ignored() {
        let spoofed = headers("x-forwarded-for", &[b"6.6.6.6"]);
        assert_eq!(
            proxies().client_ip(ip("198.51.100.7"), &spoofed),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn rightmost_untrusted_hop_is_the_client() {
        let map = headers("x-forwarded-for", &[b"6.6.6.6, 203.0.113.5, 10.1.1.1"]);
        assert_eq!(proxies().client_ip(ip("10.0.0.1"), &map), ip("203.0.113.5"));
    }

    #[test]
    fn all_x_forwarded_for_lines_are_read_in_order() {
        let map = headers(
            "x-forwarded-for",
            &[b"6.6.6.6, 203.0.113.5", b"10.2.2.2", b"10.3.3.3"],
        );
        assert_eq!(proxies().client_ip(ip("10.0.0.1"), &map), ip("203.0.113.5"));
        let map = headers("x-forwarded-for", &[b"6.6.6.6", b"203.0.113.5, 10.9.9.9"]);
        assert_eq!(proxies().client_ip(ip("10.0.0.1"), &map), ip("203.0.113.5"));
    }

    #[test]
    fn garbage_hop_ends_the_walk_instead_of_being_skipped() {
        let map = headers("x-forwarded-for", &[b"6.6.6.6, not-an-ip, 10.1.1.1"]);
        assert_eq!(proxies().client_ip(ip("10.0.0.1"), &map), ip("10.1.1.1"));
        let map = headers("x-forwarded-for", &[b"6.6.6.6", b"\xff\xfe", b"10.1.1.1"]);
        assert_eq!(proxies().client_ip(ip("10.0.0.1"), &map), ip("10.1.1.1"));
        let map = headers("x-forwarded-for", &[b"6.6.6.6, \xff\xfe, 10.1.1.1"]);
        assert_eq!(proxies().client_ip(ip("10.0.0.1"), &map), ip("10.1.1.1"));
        let forwarded = proxies().header(ForwardedHeader::Forwarded);
        let map = headers("forwarded", &[b"for=6.6.6.6, for=\xff, for=10.1.1.1"]);
        assert_eq!(forwarded.client_ip(ip("10.0.0.1"), &map), ip("10.1.1.1"));
    }

    #[test]
    fn all_trusted_hops_give_the_farthest() {
        let map = headers("x-forwarded-for", &[b"10.5.5.5, 10.1.1.1"]);
        assert_eq!(proxies().client_ip(ip("10.0.0.1"), &map), ip("10.5.5.5"));
    }

    #[test]
    fn missing_header_from_trusted_peer_gives_the_peer() {
        assert_eq!(
            proxies().client_ip(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn ipv4_mapped_peer_matches_ipv4_networks() {
        let map = headers("x-forwarded-for", &[b"203.0.113.5"]);
        assert_eq!(
            proxies().client_ip(ip("::ffff:10.0.0.1"), &map),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn forwarded_with_ipv6_brackets_and_ports() {
        let proxies = proxies().header(ForwardedHeader::Forwarded);
        let map = headers(
            "forwarded",
            &[b"for=192.0.2.60;proto=http;by=203.0.113.43, for=\"[2001:db8:cafe::17]:4711\""],
        );
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &map), ip("2001:db8:cafe::17"));
        let map = headers("forwarded", &[b"For=\"198.51.100.17:8080\";proto=https"]);
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &map), ip("198.51.100.17"));
    }

    #[test]
    fn forwarded_obfuscated_or_unknown_hop_ends_the_walk() {
        let proxies = proxies().header(ForwardedHeader::Forwarded);
        for hidden in [
            &b"for=_hidden"[..],
            b"for=unknown",
            b"proto=https",
            b"for=\"[::1\"",
        ] {
            let mut line = b"for=6.6.6.6, ".to_vec();
            line.extend_from_slice(hidden);
            line.extend_from_slice(b", for=10.4.4.4");
            let map = headers("forwarded", &[&line]);
            assert_eq!(
                proxies.client_ip(ip("10.0.0.1"), &map),
                ip("10.4.4.4"),
                "{}",
                String::from_utf8_lossy(hidden)
            );
        }
    }

    #[test]
    fn forwarded_unterminated_quote_makes_the_rest_of_the_line_unreadable() {
        let proxies = proxies().header(ForwardedHeader::Forwarded);
        let map = headers("forwarded", &[b"for=6.6.6.6, for=\"unterminated, for=10.4.4.4"]);
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &map), ip("10.0.0.1"));
    }

    #[test]
    fn forwarded_quoted_commas_do_not_split_elements() {
        let proxies = proxies().header(ForwardedHeader::Forwarded);
        let map = headers("forwarded", &[b"for=203.0.113.8;ext=\"a,b\", for=10.1.1.1"]);
        assert_eq!(proxies.client_ip(ip("10.0.0.1"), &map), ip("203.0.113.8"));
    }

    #[test]
    fn forwarded_header_is_ignored_when_x_forwarded_for_is_configured() {
        let map = headers("forwarded", &[b"for=6.6.6.6"]);
        assert_eq!(proxies().client_ip(ip("10.0.0.1"), &map), ip("10.0.0.1"));
    }

    #[test]
    fn x_real_ip_only_when_chosen() {
        let map = headers("x-real-ip", &[b"203.0.113.77"]);
        assert_eq!(proxies().client_ip(ip("10.0.0.1"), &map), ip("10.0.0.1"));
        let real = proxies().header(ForwardedHeader::XRealIp);
        assert_eq!(real.client_ip(ip("10.0.0.1"), &map), ip("203.0.113.77"));
        assert_eq!(real.client_ip(ip("198.51.100.1"), &map), ip("198.51.100.1"));
        let two = headers("x-real-ip", &[b"203.0.113.77", b"6.6.6.6"]);
        assert_eq!(real.client_ip(ip("10.0.0.1"), &two), ip("10.0.0.1"));
    }

    #[test]
    fn hop_forms_parse() {
        assert_eq!(parse_node("1.2.3.4:8080"), Some(ip("1.2.3.4")));
        assert_eq!(parse_node("[::1]:443"), Some(ip("::1")));
        assert_eq!(parse_node("[::1]:_port"), Some(ip("::1")));
        assert_eq!(parse_node("2001:db8::1"), Some(ip("2001:db8::1")));
        assert_eq!(parse_node("[::1]x"), None);
        assert_eq!(parse_node("1.2.3.4:99999999"), None);
        assert_eq!(parse_node("_obf"), None);
        assert_eq!(parse_node(""), None);
    }

    #[test]
    fn invalid_network_is_a_clear_error() {
        let err = TrustedProxies::parse(["10.0.0.0/8", "ten"]).unwrap_err();
        assert!(err.to_string().contains("\"ten\""));
    }
}
