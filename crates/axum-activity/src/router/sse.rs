//! `GET /stream`: new log entries as server-sent events, found by following
//! the store with a [`Follower`].

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use std::vec;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, stream};
use tower_activity::{
    ActivityEvent, ActivityFilter, ActivityQuery, ActivityStore, Cursor, Follower, Order, StoreError,
};
use uuid::Uuid;

use super::api_error::ApiError;
use super::query_params::Endpoint;
use super::{AuthorizeLogAccess, Shared, admit, respond, scoped_filter};

/// The most entries read from the store per page while catching up after a
/// reconnection.
const PAGE_SIZE: usize = 200;

/// The header a reconnecting `EventSource` sends with the id of the last
/// event it received.
const LAST_EVENT_ID: &str = "last-event-id";

/// Streams the entries written after the client connected, or after the
/// entry named by `Last-Event-ID` when it reconnects. Each event is named
/// `activity`, has the entry's id as its `id:` and the entry as JSON data.
pub(crate) async fn stream<S: ActivityStore, A: AuthorizeLogAccess>(
    State(shared): State<Arc<Shared<S, A>>>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    respond(
        async {
            let (access, params) = admit(&shared, &parts, Endpoint::Stream).await?;
            let filter = scoped_filter(&access, &params)?;
            let position = match last_event_id(&parts.headers)? {
                Some(id) => Position::resume(filter, id, shared.lookback),
                None => {
                    let follower = Follower::start(&shared.store, filter)
                        .await
                        .map_err(|error| ApiError::store(&error))?;
                    Position::Following(follower.lookback(shared.lookback))
                }
            };
            let keep_alive = KeepAlive::new().interval(shared.keep_alive);
            Ok(Sse::new(follow(shared, position))
                .keep_alive(keep_alive)
                .into_response())
        }
        .await,
    )
}

fn last_event_id(headers: &HeaderMap) -> Result<Option<Uuid>, ApiError> {
    headers
        .get(LAST_EVENT_ID)
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|text| Uuid::try_parse(text.trim()).ok())
                .ok_or_else(|| {
                    ApiError::bad_parameter("Last-Event-ID", "expected the id of an event this stream sent")
                })
        })
        .transpose()
}

/// Where the stream is in the log.
enum Position {
    /// Reading the entries after a resumed one, up to the look-back window,
    /// a page at a time, so that a client resuming far behind never has the
    /// whole backlog read at once.
    CatchingUp {
        filter: ActivityFilter,
        /// The last entry sent, or the resumed one.
        after: Uuid,
        /// Where the look-back window started when the client reconnected.
        window: Uuid,
        lookback: Duration,
    },
    /// Following the entries as they arrive, late ones included.
    Following(Follower),
}

impl Position {
    /// Resumes after the entry `id`.
    fn resume(filter: ActivityFilter, id: Uuid, lookback: Duration) -> Position {
        let window = first_id_within(lookback);
        if id < window {
            Position::CatchingUp {
                filter,
                after: id,
                window,
                lookback,
            }
        } else {
            Position::Following(Follower::after(filter, id).lookback(lookback))
        }
    }

    /// The next entries to send, oldest first.
    async fn next<S: ActivityStore>(&mut self, store: &S) -> Result<Vec<ActivityEvent>, StoreError> {
        match self {
            Position::Following(follower) => follower.poll(store).await,
            Position::CatchingUp {
                filter,
                after,
                window,
                lookback,
            } => {
                let query = ActivityQuery::new(filter.clone())
                    .order(Order::OldestFirst)
                    .after(Some(Cursor::after_event(*after)))
                    .limit(PAGE_SIZE);
                let page = store.list(&query).await?;
                let (read, more) = (page.events.len(), page.next.is_some());
                let mut entries = page.events;
                entries.retain(|entry| entry.id < *window);
                if let Some(last) = entries.last() {
                    *after = last.id;
                }
                if !more || entries.len() < read {
                    // The rest is within the look-back window: the follower
                    // reads it whole, late entries included.
                    let follower = Follower::after(filter.clone(), *after).lookback(*lookback);
                    *self = Position::Following(follower);
                }
                Ok(entries)
            }
        }
    }
}

/// The smallest entry id made `lookback` ago (UUID v7 ids start with their
/// Unix millisecond).
fn first_id_within(lookback: Duration) -> Uuid {
    let since = SystemTime::now().checked_sub(lookback).unwrap_or(UNIX_EPOCH);
    let millis = since.duration_since(UNIX_EPOCH).map_or(0, |elapsed| {
        u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
    });
    uuid::Builder::from_unix_timestamp_millis(millis, &[0; 10]).into_uuid()
}

/// The stream's state between two events.
struct Follow<S, A> {
    shared: Arc<Shared<S, A>>,
    position: Position,
    ready: vec::IntoIter<ActivityEvent>,
    /// Whether to wait a poll interval before reading again.
    wait: bool,
    failing: bool,
}

fn follow<S: ActivityStore, A: AuthorizeLogAccess>(
    shared: Arc<Shared<S, A>>,
    position: Position,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    let start = Follow {
        shared,
        position,
        ready: Vec::new().into_iter(),
        wait: false,
        failing: false,
    };
    stream::unfold(start, |mut state| async move {
        loop {
            if let Some(entry) = state.ready.next() {
                match Event::default()
                    .id(entry.id.to_string())
                    .event("activity")
                    .json_data(&entry)
                {
                    Ok(event) => return Some((Ok(event), state)),
                    Err(error) => {
                        tracing::error!(%error, id = %entry.id, "activity stream: could not encode an entry");
                        continue;
                    }
                }
            }
            if state.wait {
                tokio::time::sleep(state.shared.poll_interval).await;
            }
            match state.position.next(&state.shared.store).await {
                Ok(entries) => {
                    state.ready = entries.into_iter();
                    // A backlog is read page after page without waiting.
                    state.wait = matches!(state.position, Position::Following(_));
                    state.failing = false;
                }
                Err(error) => {
                    state.wait = true;
                    if !state.failing {
                        // Told once per outage; polling goes on.
                        state.failing = true;
                        tracing::error!(%error, "activity stream: the store failed");
                        let notice = Event::default()
                            .event("error")
                            .data("the activity log could not be read; retrying");
                        return Some((Ok(notice), state));
                    }
                }
            }
        }
    })
}
