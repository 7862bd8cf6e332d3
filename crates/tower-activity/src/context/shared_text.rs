//! The request's texts that events share: the client address and the method,
//! each made once per request (the common methods once per process).

use std::net::IpAddr;
use std::sync::{Arc, LazyLock};

use http::Method;

/// The method as events keep it; the common methods' text is made once for
/// the process.
pub(super) fn method_text(method: &Method) -> Arc<str> {
    static COMMON: LazyLock<[(Method, Arc<str>); 7]> = LazyLock::new(|| {
        [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::HEAD,
            Method::OPTIONS,
        ]
        .map(|method| {
            let text = Arc::from(method.as_str());
            (method, text)
        })
    });
    COMMON
        .iter()
        .find(|(common, _)| common == method)
        .map_or_else(|| Arc::from(method.as_str()), |(_, text)| text.clone())
}

/// An address as shared text; IPv4, the common case, written without the
/// formatting machinery, and either way without an intermediate `String`.
pub(super) fn ip_text(ip: IpAddr) -> Arc<str> {
    match ip {
        IpAddr::V4(v4) => {
            let mut text = [0_u8; 15];
            let mut len = 0;
            let mut push = |byte: u8| {
                text[len] = byte;
                len += 1;
            };
            for (at, octet) in v4.octets().into_iter().enumerate() {
                if at > 0 {
                    push(b'.');
                }
                if octet >= 100 {
                    push(b'0' + octet / 100);
                }
                if octet >= 10 {
                    push(b'0' + octet / 10 % 10);
                }
                push(b'0' + octet % 10);
            }
            // Only ASCII digits and dots were written.
            Arc::from(std::str::from_utf8(&text[..len]).unwrap_or_default())
        }
        IpAddr::V6(_) => Arc::from(ip.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_text_matches_display() {
        for ip in [
            "0.0.0.0",
            "9.10.99.100",
            "255.255.255.255",
            "203.0.113.7",
            "::1",
            "2001:db8::ff",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(*ip_text(ip), ip.to_string());
        }
    }

    #[test]
    fn common_methods_share_their_text() {
        assert!(Arc::ptr_eq(
            &method_text(&Method::GET),
            &method_text(&Method::GET)
        ));
        assert_eq!(&*method_text(&Method::from_bytes(b"PURGE").unwrap()), "PURGE");
    }
}
