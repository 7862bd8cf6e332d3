//! Filtering by client IP: reading an address or network
//! ([`parse_ip_filter`]) and deciding whether a stored IP passes it.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

use crate::context::ip_or_network;

/// Text that is neither an IP address nor a network in CIDR form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid IP filter {0:?}: expected an address (203.0.113.7, 2001:db8::1) or a network (10.0.0.0/8, 2001:db8::/32)"
)]
pub struct InvalidIpFilter(String);

/// Reads an IP filter ([`ActivityFilter::ip`](crate::ActivityFilter::ip)):
/// a network in CIDR form (`10.0.0.0/8`, `2001:db8::/32`) or a single address
/// (`203.0.113.7`, a network of one). An IPv4-mapped IPv6 address or network
/// (`::ffff:10.0.0.1`) is read as the IPv4 one, which is what the layer
/// stores for such a client.
///
/// ```
/// use tower_activity::parse_ip_filter;
///
/// assert_eq!(parse_ip_filter("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
/// assert_eq!(parse_ip_filter("::ffff:10.0.0.1").unwrap().to_string(), "10.0.0.1/32");
/// assert!(parse_ip_filter("10.0.0.0/33").is_err());
/// assert!(parse_ip_filter("10.0.0.*").is_err());
/// ```
pub fn parse_ip_filter(text: &str) -> Result<IpNet, InvalidIpFilter> {
    let net = ip_or_network(text).ok_or_else(|| InvalidIpFilter(text.chars().take(64).collect()))?;
    Ok(match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(net, IpNet::V4),
            None => net,
        },
        _ => net,
    })
}

/// Whether the stored IP text `stored` passes the filter `net`: it is the
/// network's own text (an address truncated to it), or an address in the
/// network written as `IpAddr` writes it, not IPv4-mapped.
pub(super) fn ip_matches(net: &IpNet, stored: &str) -> bool {
    let net = net.trunc();
    if stored == net.to_string() {
        return true;
    }
    match stored.parse::<IpAddr>() {
        Ok(addr) => {
            addr.to_string() == stored && !(addr.is_ipv6() && stored.contains('.')) && net.contains(&addr)
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_passes_as_an_address_or_the_network_itself() {
        let net: IpNet = "10.1.0.0/16".parse().unwrap();
        for (stored, passes) in [
            ("10.1.2.3", true),
            ("10.2.0.1", false),
            ("10.1.0.0/16", true),
            ("10.1.2.0/24", false),
            ("010.1.2.3", false),
            ("6f1ed002ab5595859014ebf0951522d9", false),
            ("::ffff:10.1.2.3", false),
            ("", false),
        ] {
            assert_eq!(ip_matches(&net, stored), passes, "{stored}");
        }
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(ip_matches(&v6, "2001:db8::1"));
        assert!(!ip_matches(&v6, "2001:DB8::1"));
        assert!(!ip_matches(&v6, "2001:0db8::1"));
        let mapped: IpNet = "::ffff:0:0/96".parse().unwrap();
        assert!(!ip_matches(&mapped, "::ffff:10.1.2.3"));
    }
}
