//! `GET /export`: every matching entry as JSON lines or CSV, read from the
//! store and sent one page at a time, so an export of any size holds one page
//! in memory.

use std::io;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tower_activity::export::ExportFormat;
use tower_activity::{ActivityContext, ActivityPage, ActivityQuery, ActivityStore, LogRead, read_event};

use super::admission::{Admitted, ExportEndpoint};
use super::api_error::ApiError;
use super::{AuthorizeLogAccess, Shared};

/// The entries read from the store per page, and so per chunk sent.
const PAGE_SIZE: usize = 500;

/// Streams the export. The first page is read before answering, so a store
/// that fails at once gets a `500`; a failure later aborts the download, so
/// the client sees an incomplete transfer rather than a short file.
pub(crate) async fn export<S: ActivityStore, A: AuthorizeLogAccess>(
    State(shared): State<Arc<Shared<S, A>>>,
    admitted: Admitted<ExportEndpoint>,
) -> Result<Response, Response> {
    let format = admitted.params.format();
    let query = ActivityQuery::new(admitted.filter()?)
        .order(admitted.params.order())
        .limit(PAGE_SIZE);
    let first = shared
        .store
        .list(&query)
        .await
        .map_err(|error| ApiError::store(&error))?;
    // The export is recorded when its body ends, with what was sent, in the
    // reader's context (the body is sent after this handler returns).
    let body = Body::from_stream(pages(shared, query, first, format, ActivityContext::current()));
    let disposition = format!(
        "attachment; filename=\"activity-log.{}\"",
        format.file_extension()
    );
    let headers = [
        (CONTENT_TYPE, format.content_type().to_owned()),
        (CONTENT_DISPOSITION, disposition),
        (CACHE_CONTROL, "no-store".to_owned()),
    ];
    Ok((headers, body).into_response())
}

/// What the export sends next.
enum Next {
    /// This page, already read.
    Page(ActivityPage),
    /// The page after the query's cursor, still to read.
    Fetch,
    /// Nothing: the export is complete or has failed.
    Done,
}

struct Pages<S, A> {
    shared: Arc<Shared<S, A>>,
    query: ActivityQuery,
    next: Next,
    format: ExportFormat,
    first: bool,
    /// Entries sent so far.
    sent: u64,
    reader: Option<ActivityContext>,
}

/// The export is recorded when its stream ends: once every page is sent, or
/// when the client goes away (or the store fails) part-way, with what was
/// sent by then.
impl<S, A> Drop for Pages<S, A> {
    fn drop(&mut self) {
        let how = self.format.file_extension();
        let read = read_event(LogRead::Exported, how, &self.query.filter, self.sent);
        self.shared.record_read(self.reader.as_ref(), read);
    }
}

fn pages<S: ActivityStore, A: AuthorizeLogAccess>(
    shared: Arc<Shared<S, A>>,
    query: ActivityQuery,
    first: ActivityPage,
    format: ExportFormat,
    reader: Option<ActivityContext>,
) -> impl futures_util::Stream<Item = io::Result<Bytes>> + Send + 'static {
    let start = Pages {
        shared,
        query,
        next: Next::Page(first),
        format,
        first: true,
        sent: 0,
        reader,
    };
    stream::unfold(start, |mut state| async move {
        let page = match std::mem::replace(&mut state.next, Next::Done) {
            Next::Done => return None,
            Next::Page(page) => page,
            Next::Fetch => match state.shared.store.list(&state.query).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::error!(
                        error = &error as &dyn std::error::Error,
                        "activity export: the store failed; the download is aborted"
                    );
                    let aborted = io::Error::other("the activity log could not be read");
                    return Some((Err(aborted), state));
                }
            },
        };
        state.sent += page.events.len() as u64;
        if let Some(cursor) = page.next {
            state.query.after = Some(cursor);
            state.next = Next::Fetch;
        }
        let mut chunk = Vec::new();
        let chunk = state
            .format
            .encode_chunk(&page.events, state.first, &mut chunk)
            .map(|()| Bytes::from(chunk));
        state.first = false;
        if chunk.is_err() {
            state.next = Next::Done;
        }
        Some((chunk, state))
    })
}
