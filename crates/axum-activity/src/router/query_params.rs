//! The log router's query string: which parameters each endpoint accepts, and
//! how each is read into a filter, an order, a page size or a cursor. Every
//! mistake is an error naming the parameter.

use chrono::{DateTime, Utc};
use tower_activity::{
    Action, ActivityFilter, Cursor, DEFAULT_PAGE_LIMIT, MAX_ID_CHARS, MAX_PAGE_LIMIT, MAX_REQUEST_ID_LEN,
    MAX_RESOURCE_TYPE_CHARS, Order, Outcome,
};

use super::api_error::ApiError;

/// The filter parameters, accepted by every endpoint that reads many entries.
const FILTER_PARAMS: [&str; 9] = [
    "tenant",
    "actor",
    "action",
    "outcome",
    "resource_type",
    "resource_id",
    "request_id",
    "since",
    "until",
];

/// The parameters that may be given more than once (any value matches).
const REPEATABLE: [&str; 2] = ["action", "outcome"];

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

/// A decoded query string, checked against what its endpoint accepts.
#[derive(Debug)]
pub(crate) struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Decodes `query`, refusing parameters `endpoint` does not accept and
    /// repeats of parameters that take one value.
    pub(crate) fn parse(query: Option<&str>, endpoint: Endpoint) -> Result<Self, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if !endpoint.accepts(&name) {
                return Err(ApiError::bad_parameter(
                    &name,
                    format!("unknown parameter; {}", endpoint.accepted()),
                ));
            }
            if !REPEATABLE.contains(&&*name) && pairs.iter().any(|(seen, _)| *seen == name) {
                return Err(ApiError::bad_parameter(
                    &name,
                    "given more than once; it takes one value",
                ));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(QueryParams { pairs })
    }

    /// The value of a single-valued parameter.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.all(name).next()
    }

    fn all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        self.pairs
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The filter the parameters describe.
    pub(crate) fn filter(&self) -> Result<ActivityFilter, ApiError> {
        let mut filter = ActivityFilter {
            tenant_id: self.text("tenant", MAX_ID_CHARS)?,
            actor_id: self.text("actor", MAX_ID_CHARS)?,
            resource_type: self.text("resource_type", MAX_RESOURCE_TYPE_CHARS)?,
            resource_id: self.text("resource_id", MAX_ID_CHARS)?,
            request_id: self.text("request_id", MAX_REQUEST_ID_LEN)?,
            since: self.time("since")?,
            until: self.time("until")?,
            ..ActivityFilter::default()
        };
        for action in self.all("action") {
            let action = action
                .parse::<Action>()
                .map_err(|error| ApiError::bad_parameter("action", error.to_string()))?;
            filter.actions.push(action);
        }
        for outcome in self.all("outcome") {
            let outcome = outcome
                .parse::<Outcome>()
                .map_err(|error| ApiError::bad_parameter("outcome", error.to_string()))?;
            filter.outcomes.push(outcome);
        }
        if let (Some(since), Some(until)) = (filter.since, filter.until)
            && since >= until
        {
            return Err(ApiError::bad_parameter("until", "must be later than `since`"));
        }
        Ok(filter)
    }

    /// The listing order: `newest_first` (the default) or `oldest_first`.
    pub(crate) fn order(&self) -> Result<Order, ApiError> {
        match self.get("order") {
            None | Some("newest_first") => Ok(Order::NewestFirst),
            Some("oldest_first") => Ok(Order::OldestFirst),
            Some(_) => Err(ApiError::bad_parameter(
                "order",
                "expected `newest_first` or `oldest_first`",
            )),
        }
    }

    /// The page size: 1 to [`MAX_PAGE_LIMIT`], [`DEFAULT_PAGE_LIMIT`] when
    /// not given.
    pub(crate) fn limit(&self) -> Result<usize, ApiError> {
        let Some(text) = self.get("limit") else {
            return Ok(DEFAULT_PAGE_LIMIT);
        };
        text.parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_PAGE_LIMIT).contains(limit))
            .ok_or_else(|| {
                ApiError::bad_parameter(
                    "limit",
                    format!("expected a whole number from 1 to {MAX_PAGE_LIMIT}"),
                )
            })
    }

    /// Where the page starts: the `next` value of the previous page.
    pub(crate) fn cursor(&self) -> Result<Option<Cursor>, ApiError> {
        self.get("cursor")
            .map(|text| {
                text.parse::<Cursor>()
                    .map_err(|error| ApiError::bad_parameter("cursor", error.to_string()))
            })
            .transpose()
    }

    fn text(&self, name: &str, max_chars: usize) -> Result<Option<String>, ApiError> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        if text.is_empty() {
            return Err(ApiError::bad_parameter(
                name,
                "must not be empty; omit it to match any value",
            ));
        }
        if text.chars().count() > max_chars {
            return Err(ApiError::bad_parameter(
                name,
                format!("longer than {max_chars} characters, so it matches nothing that is stored"),
            ));
        }
        Ok(Some(text.to_owned()))
    }

    fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.get(name)
            .map(|text| {
                DateTime::parse_from_rfc3339(text)
                    .map(|time| time.with_timezone(&Utc))
                    .map_err(|_| {
                        ApiError::bad_parameter(
                            name,
                            "expected an RFC 3339 time such as 2025-01-31T23:59:59Z or 2025-01-31T23:59:59+01:00",
                        )
                    })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filter_parameter_is_read() {
        let query = "tenant=acme&actor=u%201&action=create&action=auth.login.failed&outcome=warning\
                     &resource_type=user&resource_id=7&request_id=r-1\
                     &since=2025-01-01T00:00:00Z&until=2025-01-02T00:00:00%2B01:00";
        let filter = QueryParams::parse(Some(query), Endpoint::Stats)
            .unwrap()
            .filter()
            .unwrap();
        let expected = ActivityFilter::new()
            .tenant("acme")
            .actor("u 1")
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
        assert!(QueryParams::parse(Some("format=csv&order=oldest_first"), Endpoint::Export).is_ok());
        assert!(QueryParams::parse(None, Endpoint::Entry).is_ok());
    }

    #[test]
    fn single_valued_parameters_cannot_repeat() {
        let error = QueryParams::parse(Some("tenant=a&tenant=b"), Endpoint::List).unwrap_err();
        assert!(format!("{error:?}").contains("more than once"));
        assert!(QueryParams::parse(Some("outcome=error&outcome=critical"), Endpoint::List).is_ok());
    }
}
