//! The log router's query string: which parameters each endpoint accepts, and
//! how each is read into a filter, an order, a page size or a cursor. The
//! query string is deserialized by `serde_html_form`, which gathers a repeated
//! parameter's values; every mistake is an error naming the parameter.

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::Deserialize;
use serde_path_to_error::Segment;
use tower_activity::export::ExportFormat;
use tower_activity::{
    ActionSelector, ActivityFilter, ActorKind, Cursor, DEFAULT_PAGE_LIMIT, MAX_CATEGORY_LEN, MAX_ID_CHARS,
    MAX_REQUEST_ID_LEN, MAX_RESOURCE_TYPE_CHARS, Order, Outcome,
};

use super::api_error::ApiError;
use super::param_value::{Detail, Limit, Param, Text, refuse_invalid_utf8};

/// The longest `text`, and `detail` key or value, in characters.
pub(crate) const MAX_SEARCH_CHARS: usize = 1_000;

/// The filter parameters, accepted by every endpoint that reads many entries.
const FILTER_PARAMS: [&str; 14] = [
    "tenant",
    "actor",
    "actor_kind",
    "action",
    "category",
    "outcome",
    "resource_type",
    "resource_id",
    "request_id",
    "ip",
    "detail",
    "text",
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
    /// `GET /actions`: none.
    Actions,
    /// The viewer's page and assets, `GET /ui...`: none read (the page's own
    /// query string is the filter it shows, read by the page itself).
    #[cfg(feature = "viewer")]
    Viewer,
    /// `GET /seals/checkpoint`: none.
    #[cfg(feature = "seal")]
    Checkpoint,
    /// `GET /{id}/proof`: none.
    #[cfg(feature = "seal")]
    Proof,
}

impl Endpoint {
    fn extra_params(self) -> &'static [&'static str] {
        match self {
            Endpoint::List => &["order", "limit", "cursor"],
            Endpoint::Export => &["format", "order"],
            Endpoint::Entry | Endpoint::Stream | Endpoint::Stats | Endpoint::Actions => &[],
            #[cfg(feature = "viewer")]
            Endpoint::Viewer => &[],
            #[cfg(feature = "seal")]
            Endpoint::Checkpoint | Endpoint::Proof => &[],
        }
    }

    fn has_filters(self) -> bool {
        match self {
            Endpoint::Entry | Endpoint::Actions => false,
            #[cfg(feature = "viewer")]
            Endpoint::Viewer => false,
            #[cfg(feature = "seal")]
            Endpoint::Checkpoint | Endpoint::Proof => false,
            Endpoint::List | Endpoint::Stream | Endpoint::Export | Endpoint::Stats => true,
        }
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
/// endpoint accepting some of them; `actor_kind`, `action`, `category` and
/// `outcome` may be given more than once (any value matches), `detail` too
/// (each must match), the others once.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct QueryParams {
    tenant: Option<Param<Text<MAX_ID_CHARS>>>,
    actor: Option<Param<Text<MAX_ID_CHARS>>>,
    actor_kind: Vec<Param<ActorKind>>,
    action: Vec<Param<ActionSelector>>,
    category: Vec<Param<Text<MAX_CATEGORY_LEN>>>,
    outcome: Vec<Param<Outcome>>,
    resource_type: Option<Param<Text<MAX_RESOURCE_TYPE_CHARS>>>,
    resource_id: Option<Param<Text<MAX_ID_CHARS>>>,
    request_id: Option<Param<Text<MAX_REQUEST_ID_LEN>>>,
    ip: Option<Param<IpNet>>,
    detail: Vec<Param<Detail<MAX_SEARCH_CHARS>>>,
    text: Option<Param<Text<MAX_SEARCH_CHARS>>>,
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
            ("category", !self.category.is_empty()),
            ("outcome", !self.outcome.is_empty()),
            ("resource_type", self.resource_type.is_some()),
            ("resource_id", self.resource_id.is_some()),
            ("request_id", self.request_id.is_some()),
            ("ip", self.ip.is_some()),
            ("detail", !self.detail.is_empty()),
            ("text", self.text.is_some()),
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
            categories: self
                .category
                .iter()
                .map(|Param(Text(category))| category.clone())
                .collect(),
            outcomes: self.outcome.iter().map(|Param(outcome)| *outcome).collect(),
            resource_type: text(&self.resource_type),
            resource_id: text(&self.resource_id),
            request_id: text(&self.request_id),
            ip: self.ip.as_ref().map(|Param(net)| *net),
            detail_values: (self.detail.iter())
                .map(|Param(Detail(key, value))| (key.clone(), value.clone()))
                .collect(),
            text: text(&self.text),
            since: time(&self.since),
            until: time(&self.until),
            ..ActivityFilter::default()
        };
        let filter = (self.action.iter()).fold(filter, |filter, Param(selector)| {
            filter.select_action(selector.clone())
        });
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
mod tests;
