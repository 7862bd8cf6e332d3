//! `GET /stream`: new log entries as server-sent events, found by polling the
//! store oldest-first after the last entry sent.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, stream};
use tower_activity::{ActivityEvent, ActivityFilter, ActivityQuery, ActivityStore, Cursor, Order};
use uuid::Uuid;

use super::api_error::ApiError;
use super::query_params::Endpoint;
use super::{AuthorizeLogAccess, Shared, admit, respond, scoped_filter};

/// The most entries read from the store per poll.
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
            let after = match last_event_id(&parts.headers)? {
                Some(id) => Some(Cursor::after_event(id)),
                None => newest(&shared.store, &filter).await?,
            };
            let keep_alive = KeepAlive::new().interval(shared.keep_alive);
            Ok(Sse::new(follow(shared, filter, after))
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

/// The position after the newest entry matching `filter` now, if any.
async fn newest<S: ActivityStore>(store: &S, filter: &ActivityFilter) -> Result<Option<Cursor>, ApiError> {
    let query = ActivityQuery::new(filter.clone()).limit(1);
    let page = store
        .list(&query)
        .await
        .map_err(|error| ApiError::store(&error))?;
    Ok(page.events.first().map(|event| Cursor::after_event(event.id)))
}

/// Where the stream is in the log.
struct Follow<S, A> {
    shared: Arc<Shared<S, A>>,
    query: ActivityQuery,
    ready: VecDeque<ActivityEvent>,
    caught_up: bool,
    failing: bool,
}

fn follow<S: ActivityStore, A: AuthorizeLogAccess>(
    shared: Arc<Shared<S, A>>,
    filter: ActivityFilter,
    after: Option<Cursor>,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    let start = Follow {
        shared,
        query: ActivityQuery::new(filter)
            .order(Order::OldestFirst)
            .after(after)
            .limit(PAGE_SIZE),
        ready: VecDeque::new(),
        caught_up: false,
        failing: false,
    };
    stream::unfold(start, |mut state| async move {
        loop {
            if let Some(entry) = state.ready.pop_front() {
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
            if state.caught_up {
                tokio::time::sleep(state.shared.poll_interval).await;
            }
            match state.shared.store.list(&state.query).await {
                Ok(page) => {
                    if let Some(last) = page.events.last() {
                        state.query.after = Some(Cursor::after_event(last.id));
                    }
                    state.caught_up = page.next.is_none();
                    state.failing = false;
                    state.ready.extend(page.events);
                }
                Err(error) => {
                    state.caught_up = true;
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
