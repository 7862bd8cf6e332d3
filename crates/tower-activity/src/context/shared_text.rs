//! The request's texts that events share: the client address, the user
//! agent and the method, each made once per request at most. The common
//! methods are made once per process; the last address and user agent each
//! thread saw are kept, so that consecutive requests one thread handles for
//! one client share them too (a runtime worker often takes a keep-alive
//! connection's next request, but nothing guarantees it).

use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock};

use http::Method;

use crate::event::clean_user_agent;

thread_local! {
    /// The last client address this thread made text of.
    static LAST_IP: RefCell<Option<(IpAddr, Arc<str>)>> = const { RefCell::new(None) };
    /// The last user agent this thread kept, when it was kept as it came.
    static LAST_USER_AGENT: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

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

/// An address as shared text: the text this thread made for the same address
/// last, or a new one.
pub(super) fn ip_text(ip: IpAddr) -> Arc<str> {
    LAST_IP.with_borrow_mut(|last| match last {
        Some((seen, text)) if *seen == ip => text.clone(),
        _ => {
            let text = new_ip_text(ip);
            *last = Some((ip, text.clone()));
            text
        }
    })
}

/// A raw `User-Agent` value as events keep it (see
/// [`sanitize_user_agent`](crate::sanitize_user_agent)): the text this thread
/// kept for the same value last, or a new one.
pub(super) fn user_agent_text(raw: &[u8]) -> Arc<str> {
    LAST_USER_AGENT.with_borrow_mut(|last| match last {
        // Only a value kept as it came is remembered, so equal bytes are the
        // same text.
        Some(text) if text.as_bytes() == raw => text.clone(),
        _ => {
            let text = clean_user_agent(raw);
            if text.as_bytes() == raw {
                *last = Some(text.clone());
            }
            text
        }
    })
}

/// An address as new shared text; IPv4, the common case, written without the
/// formatting machinery, and either way without an intermediate `String`.
fn new_ip_text(ip: IpAddr) -> Arc<str> {
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
    fn the_same_address_shares_its_text() {
        let ip: IpAddr = "198.51.100.4".parse().unwrap();
        let other: IpAddr = "198.51.100.5".parse().unwrap();
        assert!(Arc::ptr_eq(&ip_text(ip), &ip_text(ip)));
        assert_eq!(&*ip_text(other), "198.51.100.5");
        assert_eq!(&*ip_text(ip), "198.51.100.4");
    }

    #[test]
    fn the_same_user_agent_shares_its_text_and_dirty_ones_are_cleaned() {
        let first = user_agent_text(b"curl/8.5");
        assert!(Arc::ptr_eq(&first, &user_agent_text(b"curl/8.5")));
        assert_eq!(&*user_agent_text(b"curl/8.5\r\nX-Evil: 1"), "curl/8.5X-Evil: 1");
        // A cleaned value is not remembered under its raw bytes.
        let dirty = user_agent_text(b"curl/8.5\r\nX-Evil: 1");
        assert_eq!(&*dirty, "curl/8.5X-Evil: 1");
        assert!(!Arc::ptr_eq(&dirty, &user_agent_text(b"curl/8.5\r\nX-Evil: 1")));
        assert_eq!(&*user_agent_text(b"curl/8.6"), "curl/8.6");
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
