//! Reading the log router's query string.

use super::*;
use tower_activity::{Action, MAX_PAGE_LIMIT, parse_ip_filter};

#[test]
fn every_filter_parameter_is_read() {
    let query = "tenant=acme&actor=u%201&actor_kind=admin&actor_kind=service&action=create\
                 &action=auth.login.failed&category=auth&category=user&outcome=warning\
                 &resource_type=user&resource_id=7&request_id=r-1\
                 &since=2025-01-01T00:00:00Z&until=2025-01-02T00:00:00%2B01:00";
    let filter = QueryParams::parse(Some(query), Endpoint::Stats)
        .unwrap()
        .filter()
        .unwrap();
    let expected = ActivityFilter::new()
        .tenant("acme")
        .actor("u 1")
        .actor_kind(ActorKind::Admin)
        .actor_kind(ActorKind::Service)
        .action(Action::Create)
        .action(Action::custom("auth.login.failed").unwrap())
        .category("auth")
        .category("user")
        .outcome(Outcome::Warning)
        .resource("user", "7")
        .request_id("r-1")
        .since("2025-01-01T00:00:00Z".parse().unwrap())
        .until("2025-01-01T23:00:00Z".parse().unwrap());
    assert_eq!(filter, expected);
}

#[test]
fn namespaces_networks_details_and_text_are_read() {
    let query = "action=auth.*&action=read&action=billing.plan_2.*&ip=2001:db8::/32\
                 &detail=reason:bad:password&detail=a%20b:&detail=k%00:v%00&text=50%25_off%5C";
    let filter = QueryParams::parse(Some(query), Endpoint::List)
        .unwrap()
        .filter()
        .unwrap();
    let expected = ActivityFilter::new()
        .action(Action::Read)
        .action_pattern("auth".parse().unwrap())
        .action_pattern("billing.plan_2".parse().unwrap())
        .ip(parse_ip_filter("2001:db8::/32").unwrap())
        .detail("reason", "bad:password")
        .detail("a b", "")
        .detail("k\0", "v\0")
        .text("50%_off\\");
    assert_eq!(filter, expected);
    let exact = QueryParams::parse(Some("ip=203.0.113.7"), Endpoint::Stats).unwrap();
    assert_eq!(
        exact.filter().unwrap().ip,
        Some(parse_ip_filter("203.0.113.7/32").unwrap())
    );
}

#[test]
fn endpoints_accept_only_their_parameters() {
    assert!(QueryParams::parse(Some("limit=5"), Endpoint::List).is_ok());
    assert!(QueryParams::parse(Some("limit=5"), Endpoint::Stats).is_err());
    assert!(QueryParams::parse(Some("tenant=a"), Endpoint::Entry).is_err());
    assert!(QueryParams::parse(Some("format=jsonl&order=oldest_first"), Endpoint::Export).is_ok());
    assert!(QueryParams::parse(None, Endpoint::Entry).is_ok());
    assert!(QueryParams::parse(None, Endpoint::Actions).is_ok());
    assert!(QueryParams::parse(Some("category=auth"), Endpoint::Actions).is_err());
}

#[test]
fn single_valued_parameters_cannot_repeat() {
    let error = QueryParams::parse(Some("tenant=a&tenant=b"), Endpoint::List).unwrap_err();
    assert!(format!("{error:?}").contains("more than once"));
    assert!(QueryParams::parse(Some("outcome=error&outcome=critical"), Endpoint::List).is_ok());
}

/// The parameter an error names, and its message.
fn refusal(query: &str, endpoint: Endpoint) -> (String, String) {
    let error = QueryParams::parse(Some(query), endpoint).unwrap_err();
    let (name, message) = error.parts();
    (name.to_owned(), message.to_owned())
}

/// A value each parameter accepts.
const VALID: [(&str, &str); 18] = [
    ("tenant", "acme"),
    ("actor", "u_1"),
    ("actor_kind", "admin"),
    ("action", "create"),
    ("category", "auth"),
    ("outcome", "error"),
    ("resource_type", "user"),
    ("resource_id", "7"),
    ("request_id", "r-1"),
    ("ip", "10.0.0.0/8"),
    ("detail", "reason:bad_password"),
    ("text", "50%"),
    ("since", "2025-01-01T00:00:00Z"),
    ("until", "2025-01-02T00:00:00Z"),
    ("order", "oldest_first"),
    ("limit", "5"),
    ("cursor", "c10197a1b2c3d4e5f60718293a4b5c6d7e"),
    ("format", "jsonl"),
];

const ENDPOINTS: [Endpoint; 6] = [
    Endpoint::List,
    Endpoint::Entry,
    Endpoint::Stream,
    Endpoint::Export,
    Endpoint::Stats,
    Endpoint::Actions,
];

#[test]
fn each_endpoint_reads_exactly_the_parameters_it_lists() {
    for endpoint in ENDPOINTS {
        for (name, value) in VALID {
            let query = format!("{name}={value}");
            let parsed = QueryParams::parse(Some(&query), endpoint);
            assert_eq!(parsed.is_ok(), endpoint.accepts(name), "{endpoint:?} {query}");
            if let Ok(params) = parsed {
                assert_eq!(params.given().collect::<Vec<_>>(), [name]);
            }
        }
    }
}

#[test]
fn an_unknown_parameter_is_named_with_the_accepted_ones() {
    assert_eq!(
        refusal("tenant=a&tennant=b", Endpoint::Stats),
        (
            "tennant".to_owned(),
            format!("unknown parameter; expected one of: {}", FILTER_PARAMS.join(", "))
        )
    );
    assert_eq!(
        refusal("tenant=a", Endpoint::Entry),
        (
            "tenant".to_owned(),
            "unknown parameter; this endpoint takes no parameters".to_owned()
        )
    );
    // Known to the router, but not to this endpoint, even when its value
    // would not read.
    for query in ["limit=5", "limit=0", "cursor=c1", "format=xml"] {
        let (name, error) = refusal(query, Endpoint::Stream);
        assert_eq!(query.split('=').next(), Some(name.as_str()));
        assert!(
            error.starts_with("unknown parameter; expected one of: tenant,"),
            "{error}"
        );
    }
    let (name, _) = refusal("%74enant%5B%5D=a", Endpoint::List);
    assert_eq!(name, "tenant[]");
}

#[test]
fn every_single_valued_parameter_given_twice_is_refused_by_name() {
    for (name, value) in VALID {
        let query = format!("{name}={value}&{name}={value}");
        let parsed = QueryParams::parse(Some(&query), Endpoint::List);
        if !Endpoint::List.accepts(name) {
            continue;
        }
        if matches!(name, "actor_kind" | "action" | "category" | "outcome" | "detail") {
            assert!(parsed.is_ok(), "{query}");
            continue;
        }
        assert_eq!(
            refusal(&query, Endpoint::List),
            (
                name.to_owned(),
                "given more than once; it takes one value".to_owned()
            ),
            "{query}"
        );
    }
    let (name, error) = refusal("format=csv&format=jsonl", Endpoint::Export);
    assert_eq!(
        (name.as_str(), error.as_str()),
        ("format", "given more than once; it takes one value")
    );
}

#[test]
fn repeated_values_are_all_read_in_order() {
    let params = QueryParams::parse(
        Some("action=delete&tenant=a&action=auth.login.failed&outcome=warning&action=delete"),
        Endpoint::List,
    )
    .unwrap();
    let filter = params.filter().unwrap();
    assert_eq!(
        filter.actions,
        [
            Action::Delete,
            Action::custom("auth.login.failed").unwrap(),
            Action::Delete
        ]
    );
    assert_eq!(filter.outcomes, [Outcome::Warning]);
    let (name, error) = refusal("action=create&action=Bad", Endpoint::List);
    assert_eq!(name, "action");
    assert!(error.contains("invalid action name \"Bad\""), "{error}");
}

#[test]
fn values_are_checked_and_name_their_parameter() {
    let long = "é".repeat(MAX_ID_CHARS + 1);
    let long_text = format!("text={}", "x".repeat(MAX_SEARCH_CHARS + 1));
    let long_detail = format!("detail=k:{}", "x".repeat(MAX_SEARCH_CHARS + 1));
    for (query, name, message) in [
        (
            "tenant=",
            "tenant",
            "must not be empty; omit it to match any value",
        ),
        ("actor=", "actor", "must not be empty"),
        (
            &format!("resource_id={long}"),
            "resource_id",
            "longer than 255 characters",
        ),
        (&long_text, "text", "longer than 1000 characters"),
        (
            &long_detail,
            "detail",
            "a key or value longer than 1000 characters",
        ),
        ("since=yesterday", "since", "expected an RFC 3339 time"),
        ("until=", "until", "expected an RFC 3339 time"),
        ("limit=0", "limit", "expected a whole number from 1 to 1000"),
        ("limit=", "limit", "expected a whole number"),
        ("limit=-1", "limit", "expected a whole number"),
        (
            "order=sideways",
            "order",
            "expected `newest_first` or `oldest_first`",
        ),
        ("cursor=c1nothex", "cursor", "invalid cursor"),
        ("outcome=fine", "outcome", "unknown outcome"),
        ("actor_kind=robot", "actor_kind", "unknown actor kind"),
        ("action=Auth.*", "action", "invalid action pattern"),
        ("action=auth*", "action", "invalid action name"),
        ("ip=10.0.0.0/33", "ip", "invalid IP filter"),
        ("ip=10.0.0.*", "ip", "invalid IP filter"),
        ("ip=", "ip", "invalid IP filter"),
        ("detail=reason", "detail", "expected KEY:VALUE"),
        ("detail=:x", "detail", "expected KEY:VALUE"),
        ("detail=k:%FF", "detail", "not valid UTF-8"),
        ("text=", "text", "must not be empty"),
        ("text=%C3%28", "text", "not valid UTF-8"),
        ("actor=%FF%FE", "actor", "not valid UTF-8 once percent-decoded"),
        ("tenant=ok&resource_id=a%C3", "resource_id", "not valid UTF-8"),
        ("%FF=1", "\u{fffd}", "not valid UTF-8"),
        (
            "since=2025-01-02T00:00:00Z&until=2025-01-02T00:00:00Z",
            "until",
            "must be later than `since`",
        ),
    ] {
        let error = QueryParams::parse(Some(query), Endpoint::List)
            .and_then(|params| params.filter())
            .unwrap_err();
        let (parameter, error) = error.parts();
        assert_eq!(parameter, name, "{query}: {error}");
        assert!(error.starts_with(message), "{query}: {error}");
    }
    // A NUL is a character like any other here; the store matches it
    // with what the write path stored for it. A real U+FFFD is kept.
    let params = QueryParams::parse(Some("actor=a%00b&tenant=%EF%BF%BD"), Endpoint::List).unwrap();
    let filter = params.filter().unwrap();
    assert_eq!(filter.actor_id.as_deref(), Some("a\0b"));
    assert_eq!(filter.tenant_id.as_deref(), Some("\u{fffd}"));
    let exactly = "é".repeat(MAX_ID_CHARS);
    let params = QueryParams::parse(Some(&format!("resource_id={exactly}")), Endpoint::List).unwrap();
    assert_eq!(params.filter().unwrap().resource_id, Some(exactly));
}

#[test]
fn absent_parameters_take_their_defaults() {
    let params = QueryParams::parse(None, Endpoint::List).unwrap();
    assert_eq!(params.filter().unwrap(), ActivityFilter::new());
    assert_eq!(params.order(), Order::NewestFirst);
    assert_eq!(params.limit(), DEFAULT_PAGE_LIMIT);
    assert_eq!(params.cursor(), None);
    assert_eq!(params.format(), ExportFormat::JsonLines);
    let params = QueryParams::parse(Some("order=oldest_first&limit=1000"), Endpoint::List).unwrap();
    assert_eq!(
        (params.order(), params.limit()),
        (Order::OldestFirst, MAX_PAGE_LIMIT)
    );
    assert!(QueryParams::parse(Some(""), Endpoint::Entry).is_ok());
    assert!(QueryParams::parse(Some("&&"), Endpoint::Entry).is_ok());
}
