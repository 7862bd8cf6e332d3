//! Reading the log back: the trait stores implement, filters, keyset
//! pagination, counts, and following new entries.

mod cursor;
mod filter;
mod follow;
mod ip_filter;
mod query;
mod read_audit;

use std::future::Future;

use uuid::Uuid;

pub use self::cursor::{Cursor, InvalidCursor};
pub use self::filter::ActivityFilter;
pub use self::follow::{DEFAULT_LOOKBACK, Follower};
pub use self::ip_filter::{InvalidIpFilter, parse_ip_filter};
pub use self::query::{
    ActivityCount, ActivityPage, ActivityQuery, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, Order,
};
pub use self::read_audit::{EXPORTED_ACTION, LogRead, STREAMED_ACTION, VIEWED_ACTION, read_event};
use crate::box_error::BoxError;
use crate::event::ActivityEvent;

/// A store the log can be read from.
///
/// Pages are keyset-paginated on the event id (a UUID v7, so time-ordered):
/// paging while new events arrive neither repeats nor skips an entry.
pub trait ActivityStore: Send + Sync + 'static {
    /// One page of events matching `query`.
    fn list(&self, query: &ActivityQuery) -> impl Future<Output = Result<ActivityPage, StoreError>> + Send;

    /// The event with `id`, if there is one.
    fn get(&self, id: Uuid) -> impl Future<Output = Result<Option<ActivityEvent>, StoreError>> + Send;

    /// Counts of the events matching `filter`, by UTC day, action and outcome.
    fn counts(
        &self,
        filter: &ActivityFilter,
    ) -> impl Future<Output = Result<Vec<ActivityCount>, StoreError>> + Send;
}

/// A store that could not answer. Its message is this layer's only: the
/// underlying error is its [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[error("activity store failed")]
pub struct StoreError(#[source] BoxError);

impl StoreError {
    /// Wraps the underlying error.
    pub fn new(error: impl Into<BoxError>) -> Self {
        StoreError(error.into())
    }
}
