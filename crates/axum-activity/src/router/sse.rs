//! `GET /stream`: new log entries as server-sent events, found by following
//! the store with a [`Follower`].

use std::convert::Infallible;
use std::sync::Arc;
use std::vec;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, stream};
use tower_activity::{ActivityEvent, ActivityStore, Follower, LogRead, read_event};
use uuid::Uuid;

use super::admission::{Admitted, StreamEndpoint};
use super::api_error::ApiError;
use super::{AuthorizeLogAccess, Shared};

/// The header a reconnecting `EventSource` sends with the id of the last
/// event it received.
const LAST_EVENT_ID: &str = "last-event-id";

/// Streams the entries written after the client connected, or after the
/// entry named by `Last-Event-ID` when it reconnects. Each event is named
/// `activity`, has the entry's id as its `id:` and the entry as JSON data.
pub(crate) async fn stream<S: ActivityStore, A: AuthorizeLogAccess>(
    State(shared): State<Arc<Shared<S, A>>>,
    admitted: Admitted<StreamEndpoint>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let filter = admitted.filter()?;
    let opened = read_event(LogRead::Streamed, "stream", &filter, 0);
    let follower = match last_event_id(&headers)? {
        Some(id) => Follower::after(filter, id, shared.lookback),
        None => Follower::start(&shared.store, filter, shared.lookback)
            .await
            .map_err(|error| ApiError::store(&error))?,
    };
    shared.record_read(None, opened);
    let keep_alive = KeepAlive::new().interval(shared.keep_alive);
    Ok(Sse::new(follow(shared, follower))
        .keep_alive(keep_alive)
        .into_response())
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

/// The stream's state between two events.
struct Follow<S, A> {
    shared: Arc<Shared<S, A>>,
    follower: Follower,
    ready: vec::IntoIter<ActivityEvent>,
    /// Whether to wait a poll interval before reading again.
    wait: bool,
    failing: bool,
}

fn follow<S: ActivityStore, A: AuthorizeLogAccess>(
    shared: Arc<Shared<S, A>>,
    follower: Follower,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    let start = Follow {
        shared,
        follower,
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
            match state.follower.poll(&state.shared.store).await {
                Ok(entries) => {
                    state.ready = entries.into_iter();
                    // A backlog is read page after page without waiting.
                    state.wait = state.follower.caught_up();
                    state.failing = false;
                }
                Err(error) => {
                    state.wait = true;
                    if !state.failing {
                        // Told once per outage; polling goes on.
                        state.failing = true;
                        tracing::error!(
                            error = &error as &dyn std::error::Error,
                            "activity stream: the store failed"
                        );
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
