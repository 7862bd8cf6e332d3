//! Property tests: no header value makes the parsers panic, and they agree with
//! simple models of the rules they implement.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use proptest::prelude::*;
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_activity::is_valid_request_id;
use tower_activity::{ActivityLayer, ForwardedHeader, TrustedProxies};
use tower_activity::{MAX_USER_AGENT_CHARS, sanitize_user_agent};

fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    // Every byte a header value may hold: visible ASCII, space, tab, obs-text.
    prop::collection::vec(prop_oneof![Just(b'\t'), 0x20u8..0x7f, 0x80u8..=0xff], 0..300)
}

fn headers(name: &'static str, lines: &[Vec<u8>]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in lines {
        map.append(
            HeaderName::from_static(name),
            HeaderValue::from_bytes(line).unwrap(),
        );
    }
    map
}

fn proxies() -> TrustedProxies {
    TrustedProxies::parse(["10.0.0.0/8"]).unwrap()
}

/// A hop of an `X-Forwarded-For` chain: a trusted address, an untrusted one, or garbage.
#[derive(Clone, Debug)]
enum Hop {
    Trusted(u8),
    Untrusted(u8),
    Garbage(String),
}

impl Hop {
    fn text(&self) -> String {
        match self {
            Hop::Trusted(n) => format!("10.0.0.{n}"),
            Hop::Untrusted(n) => format!("203.0.113.{n}"),
            Hop::Garbage(text) => text.clone(),
        }
    }

    fn ip(&self) -> Option<IpAddr> {
        self.text().parse().ok()
    }
}

fn hop() -> impl Strategy<Value = Hop> {
    prop_oneof![
        any::<u8>().prop_map(Hop::Trusted),
        any::<u8>().prop_map(Hop::Untrusted),
        "[a-z_]{1,8}|unknown|1\\.2\\.3|::zz".prop_map(Hop::Garbage),
    ]
}

/// The rightmost-untrusted rule, written as plainly as possible.
fn model(peer: IpAddr, hops: &[Hop]) -> IpAddr {
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.ip() {
            None => return client,
            Some(ip) => {
                client = ip;
                if matches!(hop, Hop::Untrusted(_)) {
                    return ip;
                }
            }
        }
    }
    client
}

proptest! {
    #[test]
    fn no_forwarding_header_bytes_panic(
        lines in prop::collection::vec(header_bytes(), 0..4),
        trusted_peer in any::<bool>(),
    ) {
        let peer: IpAddr = if trusted_peer { "10.0.0.1" } else { "198.51.100.1" }.parse().unwrap();
        for (name, header) in [
            ("x-forwarded-for", ForwardedHeader::XForwardedFor),
            ("forwarded", ForwardedHeader::Forwarded),
            ("x-real-ip", ForwardedHeader::XRealIp),
        ] {
            let map = headers(name, &lines);
            let ip = proxies().header(header).client_ip(peer, &map);
            if !trusted_peer {
                prop_assert_eq!(ip, peer, "an untrusted peer's headers change nothing");
            }
        }
    }

    #[test]
    fn x_forwarded_for_follows_the_rightmost_untrusted_rule(
        hops in prop::collection::vec(hop(), 0..8),
        split in 0usize..8,
    ) {
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let texts: Vec<String> = hops.iter().map(Hop::text).collect();
        // The same chain, over one or two header lines.
        let split = split.min(texts.len());
        let mut lines = Vec::new();
        for part in [&texts[..split], &texts[split..]] {
            if !part.is_empty() {
                lines.push(part.join(", ").into_bytes());
            }
        }
        let map = headers("x-forwarded-for", &lines);
        prop_assert_eq!(proxies().client_ip(peer, &map), model(peer, &hops));
    }

    #[test]
    fn forwarded_follows_the_rightmost_untrusted_rule(hops in prop::collection::vec(hop(), 0..8)) {
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let elements: Vec<String> = hops
            .iter()
            .map(|hop| format!("for=\"{}\";proto=https", hop.text()))
            .collect();
        let map = headers("forwarded", &[elements.join(", ").into_bytes()]);
        let ip = proxies().header(ForwardedHeader::Forwarded).client_ip(peer, &map);
        prop_assert_eq!(ip, model(peer, &hops));
    }

    #[test]
    fn sanitized_user_agents_are_capped_and_free_of_controls(raw in prop::collection::vec(any::<u8>(), 0..6_000)) {
        let cleaned = sanitize_user_agent(&raw);
        prop_assert!(cleaned.chars().count() <= MAX_USER_AGENT_CHARS);
        let forbidden = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
        prop_assert!(!cleaned.chars().any(forbidden), "{:?}", cleaned);
    }

    #[test]
    fn request_id_is_kept_exactly_when_valid_and_otherwise_replaced(raw in header_bytes()) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let echoed = runtime.block_on(async {
            let service = ServiceBuilder::new()
                .layer(ActivityLayer::new())
                .service(service_fn(|_request: Request<String>| async {
                    Ok::<_, Infallible>(Response::new(String::new()))
                }));
            let mut request = Request::new(String::new());
            request
                .headers_mut()
                .insert("x-request-id", HeaderValue::from_bytes(&raw).unwrap());
            request
                .extensions_mut()
                .insert(SocketAddr::from((Ipv4Addr::LOCALHOST, 1)));
            let response = service.oneshot(request).await.unwrap();
            response.headers()["x-request-id"].as_bytes().to_vec()
        });
        if is_valid_request_id(&raw) {
            prop_assert_eq!(echoed, raw);
        } else {
            let text = std::str::from_utf8(&echoed).unwrap();
            prop_assert_eq!(uuid::Uuid::parse_str(text).unwrap().get_version_num(), 7);
        }
    }
}
