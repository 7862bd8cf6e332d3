//! `GET /export`: every matching entry as JSON lines or CSV, read from the
//! store and sent one page at a time, so an export of any size holds one page
//! in memory.

use std::io;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tower_activity::export::write_json_line;
use tower_activity::{ActivityEvent, ActivityPage, ActivityQuery, ActivityStore};

use super::api_error::ApiError;
use super::query_params::Endpoint;
use super::{AuthorizeLogAccess, Shared, admit, respond, scoped_filter};

/// The entries read from the store per page, and so per chunk sent.
const PAGE_SIZE: usize = 500;

/// The export's encoding.
#[derive(Clone, Copy, Debug)]
enum Format {
    /// One JSON object per line.
    JsonLines,
    /// RFC 4180 CSV with a header row, spreadsheet formulas neutralized.
    #[cfg(feature = "csv")]
    Csv,
}

impl Format {
    fn from_param(value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("jsonl") => Ok(Format::JsonLines),
            #[cfg(feature = "csv")]
            Some("csv") => Ok(Format::Csv),
            #[cfg(not(feature = "csv"))]
            Some("csv") => Err(ApiError::bad_parameter(
                "format",
                "`csv` is not enabled on this server (the `csv` feature of axum-activity); use `jsonl`",
            )),
            Some(_) => Err(ApiError::bad_parameter("format", "expected `jsonl` or `csv`")),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::JsonLines => "application/x-ndjson",
            #[cfg(feature = "csv")]
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    fn disposition(self) -> &'static str {
        match self {
            Format::JsonLines => "attachment; filename=\"activity-log.jsonl\"",
            #[cfg(feature = "csv")]
            Format::Csv => "attachment; filename=\"activity-log.csv\"",
        }
    }

    /// One chunk of the export; the first carries the CSV header, even when
    /// nothing matched.
    #[cfg_attr(not(feature = "csv"), expect(unused_variables))]
    fn encode(self, events: &[ActivityEvent], first: bool) -> io::Result<Vec<u8>> {
        match self {
            Format::JsonLines => {
                let mut out = Vec::with_capacity(events.len() * 512);
                for event in events {
                    write_json_line(event, &mut out).map_err(io::Error::other)?;
                }
                Ok(out)
            }
            #[cfg(feature = "csv")]
            Format::Csv => {
                use tower_activity::export::CsvWriter;
                let out = Vec::with_capacity(events.len() * 512);
                let mut csv = if first {
                    CsvWriter::new(out)
                } else {
                    CsvWriter::headless(out)
                };
                csv.write_header()?;
                for event in events {
                    csv.write(event)?;
                }
                csv.into_inner()
            }
        }
    }
}

/// Streams the export. The first page is read before answering, so a store
/// that fails at once gets a `500`; a failure later aborts the download, so
/// the client sees an incomplete transfer rather than a short file.
pub(crate) async fn export<S: ActivityStore, A: AuthorizeLogAccess>(
    State(shared): State<Arc<Shared<S, A>>>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    respond(
        async {
            let (access, params) = admit(&shared, &parts, Endpoint::Export).await?;
            let format = Format::from_param(params.get("format"))?;
            let query = ActivityQuery::new(scoped_filter(&access, &params)?)
                .order(params.order()?)
                .limit(PAGE_SIZE);
            let first = shared
                .store
                .list(&query)
                .await
                .map_err(|error| ApiError::store(&error))?;
            let body = Body::from_stream(pages(shared, query, first, format));
            let headers = [
                (CONTENT_TYPE, format.content_type()),
                (CONTENT_DISPOSITION, format.disposition()),
                (CACHE_CONTROL, "no-store"),
            ];
            Ok((headers, body).into_response())
        }
        .await,
    )
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
    format: Format,
    first: bool,
}

fn pages<S: ActivityStore, A: AuthorizeLogAccess>(
    shared: Arc<Shared<S, A>>,
    query: ActivityQuery,
    first: ActivityPage,
    format: Format,
) -> impl futures_util::Stream<Item = io::Result<Bytes>> + Send + 'static {
    let start = Pages {
        shared,
        query,
        next: Next::Page(first),
        format,
        first: true,
    };
    stream::unfold(start, |mut state| async move {
        let page = match std::mem::replace(&mut state.next, Next::Done) {
            Next::Done => return None,
            Next::Page(page) => page,
            Next::Fetch => match state.shared.store.list(&state.query).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::error!(%error, "activity export: the store failed; the download is aborted");
                    let aborted = io::Error::other("the activity log could not be read");
                    return Some((Err(aborted), state));
                }
            },
        };
        if let Some(cursor) = page.next {
            state.query.after = Some(cursor);
            state.next = Next::Fetch;
        }
        let chunk = state.format.encode(&page.events, state.first).map(Bytes::from);
        state.first = false;
        if chunk.is_err() {
            state.next = Next::Done;
        }
        Some((chunk, state))
    })
}
