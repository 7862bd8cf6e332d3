//! The log router's query string: which parameters each endpoint accepts, and
//! how each is read into a filter, an order, a page size or a cursor. The
//! query string is deserialized by `serde_html_form`, which gathers a repeated
//! parameter's values; every mistake is an error naming the parameter.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_path_to_error::Segment;
use tower_activity::export::ExportFormat;
use tower_activity::{
    Action, ActivityFilter, ActorKind, Cursor, DEFAULT_PAGE_LIMIT, MAX_ID_CHARS, MAX_REQUEST_ID_LEN,
    MAX_RESOURCE_TYPE_CHARS, Order, Outcome,
};

use super::api_error::ApiError;
use super::param_value::{Limit, Param, Text, refuse_invalid_utf8};

/// The filter parameters, accepted by every endpoint that reads many entries.
const FILTER_PARAMS: [&str; 10] = [
    "tenant",
    "actor",
    "actor_kind",
    "action",
    "outcome",
    "resource_type",
    "resource_id",
    "request_id",
    "since",
    "until",
];

/// The endpoints, by the parameters they accept.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Endpoint {
    /// `GET /`: filters, `order`, `limit`, `cursor`.
    List,
    /// `GET /{id}`: none.
    Entry,
    /// `GET /stream`: filters.
    Stream,
    /// `GET /export`: filters, `format`, `order`.
    Export,
    /// `GET /stats`: filters.
    Stats,
}

impl Endpoint {
    fn extra_params(self) -> &'static [&'static str] {
        match self {
            Endpoint::List => &["order", "limit", "cursor"],
            Endpoint::Export => &["format", "order"],
            Endpoint::Entry | Endpoint::Stream | Endpoint::Stats => &[],
        }
    }

    fn has_filters(self) -> bool {
        !matches!(self, Endpoint::Entry)
    }

    fn accepts(self, name: &str) -> bool {
        (self.has_filters() && FILTER_PARAMS.contains(&name)) || self.extra_params().contains(&name)
    }

    fn accepted(self) -> String {
        let filters: &[&str] = if self.has_filters() { &FILTER_PARAMS } else { &[] };
        let names: Vec<_> = filters.iter().chain(self.extra_params()).copied().collect();
        if names.is_empty() {
            "this endpoint takes no parameters".to_owned()
        } else {
            format!("expected one of: {}", names.join(", "))
        }
    }
}

/// The query string, read. It holds every parameter of the router, each
/// endpoint accepting some of them; `actor_kind`, `action` and `outcome` may
/// be given more than once (any value matches), the others once.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct QueryParams {
    tenant: Option<Param<Text<MAX_ID_CHARS>>>,
    actor: Option<Param<Text<MAX_ID_CHARS>>>,
    actor_kind: Vec<Param<ActorKind>>,
    action: Vec<Param<Action>>,
    outcome: Vec<Param<Outcome>>,
    resource_type: Option<Param<Text<MAX_RESOURCE_TYPE_CHARS>>>,
    resource_id: Option<Param<Text<MAX_ID_CHARS>>>,
    request_id: Option<Param<Text<MAX_REQUEST_ID_LEN>>>,
    since: Option<Param<DateTime<Utc>>>,
    until: Option<Param<DateTime<Utc>>>,
    order: Option<Param<Order>>,
    limit: Option<Param<Limit>>,
    cursor: Option<Param<Cursor>>,
    format: Option<Param<ExportFormat>>,
}

impl QueryParams {
    /// Reads `query`, refusing parameters `endpoint` does not accept, repeats
    /// of parameters that take one value, and values that do not read.
    pub(crate) fn parse(query: Option<&str>, endpoint: Endpoint) -> Result<Self, ApiError> {
        let unknown =
            |name: &str| ApiError::bad_parameter(name, format!("unknown parameter; {}", endpoint.accepted()));
        let query = query.unwrap_or_default();
        refuse_invalid_utf8(query)?;
        let query = serde_html_form::Deserializer::from_bytes(query.as_bytes());
        let params: QueryParams = serde_path_to_error::deserialize(query).map_err(|error| {
            // Every value sits under its parameter's name.
            let name = match error.path().iter().next() {
                Some(Segment::Map { key }) => key.as_str(),
                _ => "",
            };
            if endpoint.accepts(name) {
                ApiError::bad_parameter(name, error.inner().to_string())
            } else {
                unknown(name)
            }
        })?;
        match params.given().find(|name| !endpoint.accepts(name)) {
            Some(name) => Err(unknown(name)),
            None => Ok(params),
        }
    }

    /// The names of the parameters given.
    fn given(&self) -> impl Iterator<Item = &'static str> + use<> {
        [
            ("tenant", self.tenant.is_some()),
            ("actor", self.actor.is_some()),
            ("actor_kind", !self.actor_kind.is_empty()),
            ("action", !self.action.is_empty()),
            ("outcome", !self.outcome.is_empty()),
            ("resource_type", self.resource_type.is_some()),
            ("resource_id", self.resource_id.is_some()),
            ("request_id", self.request_id.is_some()),
            ("since", self.since.is_some()),
            ("until", self.until.is_some()),
            ("order", self.order.is_some()),
            ("limit", self.limit.is_some()),
            ("cursor", self.cursor.is_some()),
            ("format", self.format.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, given)| given.then_some(name))
    }

    /// The filter the parameters describe.
    pub(crate) fn filter(&self) -> Result<ActivityFilter, ApiError> {
        fn text<const MAX_CHARS: usize>(param: &Option<Param<Text<MAX_CHARS>>>) -> Option<String> {
            param.as_ref().map(|Param(Text(text))| text.clone())
        }
        let time = |param: &Option<Param<DateTime<Utc>>>| param.as_ref().map(|Param(time)| *time);
        // Filters the router does not offer, should the filter gain any,
        // stay empty.
        #[allow(clippy::needless_update)]
        let filter = ActivityFilter {
            tenant_id: text(&self.tenant),
            actor_id: text(&self.actor),
            actor_kinds: self.actor_kind.iter().map(|Param(kind)| *kind).collect(),
            actions: self.action.iter().map(|Param(action)| action.clone()).collect(),
            outcomes: self.outcome.iter().map(|Param(outcome)| *outcome).collect(),
            resource_type: text(&self.resource_type),
            resource_id: text(&self.resource_id),
            request_id: text(&self.request_id),
            since: time(&self.since),
            until: time(&self.until),
            ..ActivityFilter::default()
        };
        if let (Some(since), Some(until)) = (filter.since, filter.until)
            && since >= until
        {
            return Err(ApiError::bad_parameter("until", "must be later than `since`"));
        }
        Ok(filter)
    }

    /// The listing order: `newest_first` (the default) or `oldest_first`.
    pub(crate) fn order(&self) -> Order {
        self.order
            .as_ref()
            .map_or(Order::NewestFirst, |Param(order)| *order)
    }

    /// The page size: 1 to [`MAX_PAGE_LIMIT`], [`DEFAULT_PAGE_LIMIT`] when
    /// not given.
    pub(crate) fn limit(&self) -> usize {
        self.limit
            .as_ref()
            .map_or(DEFAULT_PAGE_LIMIT, |Param(Limit(limit))| *limit)
    }

    /// Where the page starts: the `next` value of the previous page.
    pub(crate) fn cursor(&self) -> Option<Cursor> {
        self.cursor.as_ref().map(|Param(cursor)| *cursor)
    }

    /// The export format: `jsonl` (the default) or `csv`.
    pub(crate) fn format(&self) -> ExportFormat {
        self.format
            .as_ref()
            .map_or(ExportFormat::JsonLines, |Param(format)| *format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_activity::MAX_PAGE_LIMIT;

    #[test]
    fn every_filter_parameter_is_read() {
        let query = "tenant=acme&actor=u%201&actor_kind=admin&actor_kind=service&action=create\
                     &action=auth.login.failed&outcome=warning\
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
            .outcome(Outcome::Warning)
            .resource("user", "7")
            .request_id("r-1")
            .since("2025-01-01T00:00:00Z".parse().unwrap())
            .until("2025-01-01T23:00:00Z".parse().unwrap());
        assert_eq!(filter, expected);
    }

    #[test]
    fn endpoints_accept_only_their_parameters() {
        assert!(QueryParams::parse(Some("limit=5"), Endpoint::List).is_ok());
        assert!(QueryParams::parse(Some("limit=5"), Endpoint::Stats).is_err());
        assert!(QueryParams::parse(Some("tenant=a"), Endpoint::Entry).is_err());
        assert!(QueryParams::parse(Some("format=jsonl&order=oldest_first"), Endpoint::Export).is_ok());
        assert!(QueryParams::parse(None, Endpoint::Entry).is_ok());
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
    const VALID: [(&str, &str); 14] = [
        ("tenant", "acme"),
        ("actor", "u_1"),
        ("actor_kind", "admin"),
        ("action", "create"),
        ("outcome", "error"),
        ("resource_type", "user"),
        ("resource_id", "7"),
        ("request_id", "r-1"),
        ("since", "2025-01-01T00:00:00Z"),
        ("until", "2025-01-02T00:00:00Z"),
        ("order", "oldest_first"),
        ("limit", "5"),
        ("cursor", "c10197a1b2c3d4e5f60718293a4b5c6d7e"),
        ("format", "jsonl"),
    ];

    const ENDPOINTS: [Endpoint; 5] = [
        Endpoint::List,
        Endpoint::Entry,
        Endpoint::Stream,
        Endpoint::Export,
        Endpoint::Stats,
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
            if matches!(name, "actor_kind" | "action" | "outcome") {
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
}
