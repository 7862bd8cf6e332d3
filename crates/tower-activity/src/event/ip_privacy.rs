//! What is kept of the client IP: the address, its keyed hash, or a prefix.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use ipnet::IpNet;
use sha2::Sha256;

/// How client addresses are stored.
///
/// ```
/// use tower_activity::IpPrivacy;
///
/// let truncate = IpPrivacy::truncate(24, 48);
/// assert_eq!(truncate.apply("203.0.113.77"), Some("203.0.113.0/24".to_owned()));
///
/// let hash = IpPrivacy::keyed_hash(b"a key kept out of the database");
/// let hashed = hash.apply("203.0.113.77").unwrap();
/// assert_eq!(hashed.len(), 32);
/// assert_eq!(hash.apply("203.0.113.77").unwrap(), hashed);
/// ```
#[derive(Clone, Default)]
pub enum IpPrivacy {
    /// Keep the address as it is (the default).
    #[default]
    Keep,
    /// Keep only the network: the address cut to a prefix length, written as a
    /// CIDR (`203.0.113.0/24`).
    Truncate {
        /// Prefix length kept of IPv4 addresses (0 to 32).
        ipv4: u8,
        /// Prefix length kept of IPv6 addresses (0 to 128).
        ipv6: u8,
    },
    /// Keep an HMAC-SHA256 of the address under a secret key (the first 16
    /// bytes, in hex): the same client gives the same value, and the address
    /// cannot be read back without the key.
    KeyedHash(Arc<[u8]>),
}

impl IpPrivacy {
    /// Keep the network of each address, as [`IpPrivacy::Truncate`].
    pub fn truncate(ipv4: u8, ipv6: u8) -> Self {
        IpPrivacy::Truncate {
            ipv4: ipv4.min(32),
            ipv6: ipv6.min(128),
        }
    }

    /// Keep a keyed hash of each address, as [`IpPrivacy::KeyedHash`].
    pub fn keyed_hash(key: &[u8]) -> Self {
        IpPrivacy::KeyedHash(key.into())
    }

    /// What is stored for `ip`. An address that does not parse is dropped under
    /// the truncating and hashing policies rather than stored as it is.
    pub fn apply(&self, ip: &str) -> Option<String> {
        match self {
            IpPrivacy::Keep => Some(ip.to_owned()),
            IpPrivacy::Truncate { ipv4, ipv6 } => {
                let ip: IpAddr = ip.parse().ok()?;
                let prefix = if ip.is_ipv4() { *ipv4 } else { *ipv6 };
                IpNet::new(ip, prefix).ok().map(|net| net.trunc().to_string())
            }
            IpPrivacy::KeyedHash(key) => {
                let ip: IpAddr = ip.parse().ok()?;
                let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
                mac.update(ip.to_canonical().to_string().as_bytes());
                let digest = mac.finalize().into_bytes();
                Some(digest[..16].iter().map(|byte| format!("{byte:02x}")).collect())
            }
        }
    }

    /// [`apply`](Self::apply) to a stored address, which stays as it is (no
    /// copy) under [`IpPrivacy::Keep`].
    pub(crate) fn apply_in_place(&self, ip: &mut Option<Arc<str>>) {
        if !matches!(self, IpPrivacy::Keep) {
            *ip = ip.take().and_then(|ip| self.apply(&ip)).map(Arc::from);
        }
    }
}

impl fmt::Debug for IpPrivacy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpPrivacy::Keep => f.write_str("Keep"),
            IpPrivacy::Truncate { ipv4, ipv6 } => f
                .debug_struct("Truncate")
                .field("ipv4", ipv4)
                .field("ipv6", ipv6)
                .finish(),
            IpPrivacy::KeyedHash(_) => f.write_str("KeyedHash(<key>)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_the_network_only() {
        let policy = IpPrivacy::truncate(24, 48);
        assert_eq!(
            policy.apply("2001:db8:1:2:3::9").as_deref(),
            Some("2001:db8:1::/48")
        );
        assert_eq!(policy.apply("garbage"), None);
    }

    #[test]
    fn keyed_hash_depends_on_the_key_and_hides_the_address() {
        let one = IpPrivacy::keyed_hash(b"one").apply("192.0.2.1").unwrap();
        let two = IpPrivacy::keyed_hash(b"two").apply("192.0.2.1").unwrap();
        assert_ne!(one, two);
        assert!(!one.contains("192"));
        assert_eq!(
            IpPrivacy::keyed_hash(b"one").apply("::ffff:192.0.2.1").unwrap(),
            one,
            "an IPv4-mapped address hashes like the IPv4 one"
        );
    }

    #[test]
    fn debug_does_not_print_the_key() {
        let debug = format!("{:?}", IpPrivacy::keyed_hash(b"super-secret"));
        assert!(!debug.contains("super"));
    }
}
