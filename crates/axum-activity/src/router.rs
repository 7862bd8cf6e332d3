//! An HTTP API for reading the activity log, over any
//! [`ActivityStore`], behind a caller-supplied authorization check.
//!
//! | endpoint | answers |
//! |---|---|
//! | `GET /` | a page of entries, `{"events": [...], "next": "<cursor>" \| null}` |
//! | `GET /{id}` | one entry, or `404` |
//! | `GET /stream` | new entries as server-sent events, resumable with `Last-Event-ID` |
//! | `GET /export?format=jsonl\|csv` | every matching entry, streamed page by page |
//! | `GET /stats` | `{"total": n, "counts": [{"day", "action", "outcome", "count"}, ...]}` |
//! | `GET /actions` | the [action catalogue](LogRouter::catalogue), `{"actions": [...]}` (empty without one) |
//! | `GET /ui` | with the `viewer` feature: the log viewer, a page for the browser (below) |
//!
//! Paths are relative to where the router is nested: after
//! `.nest("/admin/activity", ..)` the listing is `GET /admin/activity` and an
//! entry `GET /admin/activity/{id}`.
//!
//! The listing, stream, export and stats take the filter parameters `tenant`,
//! `actor`, `actor_kind`, `action` and `outcome` (the last three repeatable:
//! any value matches; an `action` ending in `.*`, such as `auth.*`, takes
//! every action under that namespace),
//! `resource_type`, `resource_id`, `request_id`, `ip` (an address,
//! `203.0.113.7`, or a network, `10.0.0.0/8`; see
//! [`ActivityFilter::ip`](tower_activity::ActivityFilter::ip) for hashed and
//! truncated addresses), `detail` (`KEY:VALUE`, split at the first `:`: a
//! top-level detail holding that string; repeatable, each must match),
//! `text` (found, case included, in the resource id, the actor label or a
//! value of the details), and `since` / `until`
//! (RFC 3339; `since` inclusive, `until` exclusive). The listing also takes
//! `order` (`newest_first`, the default, or `oldest_first`), `limit` (1 to
//! 1000, default 50) and `cursor` (the previous page's `next`); the export
//! takes `format` (`jsonl`, the default, or `csv` with the `csv` feature) and
//! `order`.
//!
//! The live stream sends the matching entries that reach the store after the
//! client connects (or those after the entry named by `Last-Event-ID` when it
//! reconnects), polling the store every [poll
//! interval](LogRouter::poll_interval). Each event is named `activity`, has
//! the entry's id as `id:` and the entry as JSON `data:`; a store failure
//! sends one `error` event and polling goes on.
//!
//! Entries do not always reach the store in id order: a recorder writes its
//! batch after the events were made, another instance's recorder may lag or
//! catch up after an outage, and an entry logged inside a transaction gets its
//! id before the transaction commits. Each poll therefore looks again at the
//! entries made in the last [look-back](LogRouter::lookback) before the newest
//! one sent, and sends those not sent yet: every entry once, oldest first
//! within a poll, but a late one after newer ones. An entry that arrives more
//! than the look-back after newer ones were sent is not streamed (the listing
//! still has it). A reconnecting client gets the entries with ids after its
//! `Last-Event-ID`, so an entry it received out of id order before it may
//! come again.
//!
//! Reading the log is itself logged (PCI DSS 10.2.1.3): each listing, entry,
//! stats and actions request records `activity.viewed`, each export
//! `activity.exported` when its body ends (sent whole or abandoned by the
//! client, with what was sent), and each live stream
//! `activity.streamed` as it opens, with the reader (from the request's
//! context: mount the router under the [layer](crate::layer())), the filter
//! and the number of entries returned; a request the authorization check
//! refuses is recorded as a `warning` with the status it got.
//! [`LogRouter::audit_reads`] turns this off, for development.
//!
//! Every request first goes through the [`AuthorizeLogAccess`] check, before
//! the query is read or the store touched. A tenant-scoped grant
//! ([`LogAccess::Tenant`]) limits every endpoint to that tenant: asking for
//! another tenant is refused with `403`, and entries of other tenants are
//! `404`. An unknown, repeated or malformed parameter is a `400` whose JSON
//! body names it; a store failure is a `500` that reveals nothing of the store
//! (the cause is logged with `tracing`).
//!
//! With the `viewer` feature, `GET /ui` serves a page that shows the log in
//! the browser: a table with the filters above (kept in the page's address,
//! so a view can be shared), paging, a live mode over `GET /stream`, export
//! links and a chart of `GET /stats`. It reads the log only through the
//! endpoints above, from addresses relative to its own, so it works wherever
//! the router is nested, and every read it makes is authorized and recorded
//! like any other client's. The page and its files are embedded in the crate,
//! served under names holding a hash of their content (cacheable for good)
//! or with an `ETag`, and with a Content-Security-Policy that allows only
//! their own scripts and styles (no inline script, no `eval`, no other
//! origin). They go through the authorization check too (a refusal is
//! recorded), but, holding nothing of the log, are not recorded as reads.
//! `GET /ui/access` tells the page whether its reader sees every tenant
//! (`{"scope": "all"}`) or one (`{"scope": "tenant", "tenant": "acme"}`),
//! for which it offers no tenant filter. The browser sends the page's
//! requests with the origin's cookies (or HTTP Basic credentials), never
//! with a header set by script, so the check must accept those.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use axum::{Router, body::Body, http::{Request, StatusCode, request::Parts}};
//! use axum::response::{IntoResponse, Response};
//! use axum_activity::router::{LogAccess, LogRouter};
//! use axum_activity::{Action, ActivityEvent, ActivitySink, MemorySink};
//! use tower::ServiceExt;
//!
//! let store = MemorySink::new();
//! let event = ActivityEvent::builder(Action::Delete).tenant("acme").build().unwrap();
//! store.write_batch(&[event]).await.unwrap();
//!
//! let authorize = |request: &Parts| {
//!     let tenant = request.headers.get("x-auditor-of").cloned();
//!     async move {
//!         match tenant.as_ref().and_then(|value| value.to_str().ok()) {
//!             Some(tenant) => Ok(LogAccess::Tenant(tenant.to_owned())),
//!             None => Err::<_, Response>(StatusCode::UNAUTHORIZED.into_response()),
//!         }
//!     }
//! };
//! let app: Router = Router::new().nest("/admin/activity", LogRouter::new(store, authorize).into_router());
//!
//! let request = Request::get("/admin/activity?action=delete")
//!     .header("x-auditor-of", "acme")
//!     .body(Body::empty())
//!     .unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! # }
//! ```

mod access;
mod admission;
mod api_error;
mod export;
mod param_value;
mod query_params;
#[cfg(feature = "seal")]
mod seals;
mod sse;
#[cfg(feature = "viewer")]
mod viewer;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawPathParams, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
#[cfg(feature = "seal")]
use tower_activity::seal::SealStore;
use tower_activity::{
    ActivityContext, ActivityCount, ActivityEvent, ActivityFilter, ActivityQuery, ActivityStore, Catalogue,
    DEFAULT_LOOKBACK, LogRead, log_activity, read_event,
};
use uuid::Uuid;

pub use self::access::{AuthorizeLogAccess, LogAccess};
use self::admission::{ActionsEndpoint, Admitted, EntryEndpoint, ListEndpoint, StatsEndpoint};
use self::api_error::ApiError;
use crate::log_failure::report;

/// The shortest poll and keep-alive interval of the live stream: shorter
/// ones are raised to it, so a stream never spins.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Builds the log-reading API over `store`, guarded by `authorize`; mount it
/// with [`Router::nest`]. See the [module documentation](self) for the
/// endpoints.
pub struct LogRouter<S, A> {
    store: S,
    authorize: A,
    poll_interval: Duration,
    keep_alive: Duration,
    lookback: Duration,
    audit_reads: bool,
    catalogue: Catalogue,
}

impl<S: ActivityStore, A: AuthorizeLogAccess> LogRouter<S, A> {
    /// The API over `store`, every request checked by `authorize`.
    ///
    /// The live stream polls the store every second, looks [`DEFAULT_LOOKBACK`]
    /// back for late entries and sends a keep-alive comment every 15 seconds.
    pub fn new(store: S, authorize: A) -> Self {
        LogRouter {
            store,
            authorize,
            poll_interval: Duration::from_secs(1),
            keep_alive: Duration::from_secs(15),
            lookback: DEFAULT_LOOKBACK,
            audit_reads: true,
            catalogue: Catalogue::new(),
        }
    }

    /// The action catalogue `GET /actions` serves, for viewers that show
    /// what each action means and filter by category; give it the one the
    /// recorder checks events against. Without one, `GET /actions` answers
    /// an empty list.
    pub fn catalogue(mut self, catalogue: Catalogue) -> Self {
        self.catalogue = catalogue;
        self
    }

    /// How often the live stream asks the store for new entries (at least
    /// every [`MIN_INTERVAL`]).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(MIN_INTERVAL);
        self
    }

    /// How often the live stream sends a keep-alive comment when there is
    /// nothing new, so proxies do not close the connection (at least every
    /// [`MIN_INTERVAL`]).
    pub fn keep_alive(mut self, interval: Duration) -> Self {
        self.keep_alive = interval.max(MIN_INTERVAL);
        self
    }

    /// How far back from the newest entry sent the live stream looks again,
    /// on every poll, for entries that reached the store late;
    /// [`DEFAULT_LOOKBACK`] unless set. A longer look-back follows slower
    /// writers (another instance's recorder catching up after an outage) at
    /// the cost of reading that much of the log again on every poll.
    pub fn lookback(mut self, lookback: Duration) -> Self {
        self.lookback = lookback;
        self
    }

    /// Whether each read of the log records an event (on by default):
    /// `activity.viewed` for a listing, an entry or the stats,
    /// `activity.exported` for an export when its body ends, and
    /// `activity.streamed` for a live stream as it opens, each with the
    /// filter and the number of entries returned (see
    /// [`read_event`]). The reader is whoever the
    /// request's context says, so mount the router under the
    /// [layer](crate::layer()). Only for development: audit rules such as
    /// PCI DSS 10.2.1.3 ask that every access to audit logs is logged.
    pub fn audit_reads(mut self, on: bool) -> Self {
        self.audit_reads = on;
        self
    }

    /// The router, ready to be nested into an application of any state type.
    pub fn into_router<T>(self) -> Router<T>
    where
        T: Clone + Send + Sync + 'static,
    {
        let (shared, routes) = self.routes();
        routes.with_state(shared)
    }

    /// The shared state and the routes of every store.
    #[allow(clippy::type_complexity)]
    fn routes(self) -> (Arc<Shared<S, A>>, Router<Arc<Shared<S, A>>>) {
        let shared = Arc::new(Shared {
            store: self.store,
            authorize: self.authorize,
            poll_interval: self.poll_interval,
            keep_alive: self.keep_alive,
            lookback: self.lookback,
            audit_reads: self.audit_reads,
            catalogue: self.catalogue,
        });
        let routes = Router::new()
            .route("/", get(list::<S, A>))
            .route("/stream", get(sse::stream::<S, A>))
            .route("/export", get(export::export::<S, A>))
            .route("/stats", get(stats::<S, A>))
            .route("/actions", get(actions::<S, A>))
            .route("/{id}", get(entry::<S, A>));
        #[cfg(feature = "viewer")]
        let routes = viewer::routes(routes);
        (shared, routes)
    }
}

#[cfg(feature = "seal")]
impl<S: ActivityStore + SealStore, A: AuthorizeLogAccess> LogRouter<S, A> {
    /// [`into_router`](Self::into_router), plus the endpoints of a sealed log:
    /// `GET /seals/checkpoint`, the newest seal as a checkpoint (text, for
    /// access to the whole log only: a seal covers every tenant), and
    /// `GET /{id}/proof`, the proof that the entry is in its seal (JSON: the
    /// entry's commitment and leaf, its place, the audit path and the seal's
    /// checkpoint), for whoever may read the entry.
    pub fn into_sealed_router<T>(self) -> Router<T>
    where
        T: Clone + Send + Sync + 'static,
    {
        let (shared, routes) = self.routes();
        routes
            .route("/seals/checkpoint", get(seals::checkpoint::<S, A>))
            .route("/{id}/proof", get(seals::proof::<S, A>))
            .with_state(shared)
    }
}

impl<S, A> fmt::Debug for LogRouter<S, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogRouter")
            .field("poll_interval", &self.poll_interval)
            .field("keep_alive", &self.keep_alive)
            .field("lookback", &self.lookback)
            .field("audit_reads", &self.audit_reads)
            .field("catalogue", &self.catalogue.len())
            .finish_non_exhaustive()
    }
}

/// What every endpoint shares.
pub(crate) struct Shared<S, A> {
    pub(crate) store: S,
    pub(crate) authorize: A,
    pub(crate) poll_interval: Duration,
    pub(crate) keep_alive: Duration,
    pub(crate) lookback: Duration,
    pub(crate) audit_reads: bool,
    pub(crate) catalogue: Catalogue,
}

impl<S, A> Shared<S, A> {
    /// Records a read of the log, in `context` (the reader's; the current
    /// one when `None`), unless reads are not audited.
    pub(crate) fn record_read(&self, context: Option<&ActivityContext>, event: ActivityEvent) {
        if !self.audit_reads {
            return;
        }
        let logged = match context {
            Some(context) => context.log(event),
            None => log_activity(event),
        };
        if let Err(error) = logged {
            report(error, "activity log router");
        }
    }
}

impl<S, A> Shared<S, A> {
    /// Records a read of the entry `id` by `how`, which found it or not.
    pub(crate) fn record_entry_read(&self, how: &str, id: Uuid, found: bool) {
        let mut read = read_event(LogRead::Viewed, how, &ActivityFilter::new(), u64::from(found));
        read.resource_id = Some(Arc::from(id.to_string()));
        self.record_read(None, read);
    }
}

type SharedState<S, A> = State<Arc<Shared<S, A>>>;

impl From<ApiError> for Response {
    fn from(error: ApiError) -> Response {
        error.into_response()
    }
}

async fn list<S: ActivityStore, A: AuthorizeLogAccess>(
    State(shared): SharedState<S, A>,
    admitted: Admitted<ListEndpoint>,
) -> Result<Response, Response> {
    let params = &admitted.params;
    let query = ActivityQuery::new(admitted.filter()?)
        .order(params.order())
        .after(params.cursor())
        .limit(params.limit());
    let page = shared
        .store
        .list(&query)
        .await
        .map_err(|error| ApiError::store(&error))?;
    let read = read_event(LogRead::Viewed, "list", &query.filter, page.events.len() as u64);
    shared.record_read(None, read);
    Ok(Json(page).into_response())
}

async fn entry<S: ActivityStore, A: AuthorizeLogAccess>(
    State(shared): SharedState<S, A>,
    admitted: Admitted<EntryEndpoint>,
    params: RawPathParams,
) -> Result<Response, Response> {
    let id = path_id(&params)?;
    let event = shared
        .store
        .get(id)
        .await
        .map_err(|error| ApiError::store(&error))?;
    let event = event.filter(|event| admitted.access.allows(event.tenant_id.as_deref()));
    shared.record_entry_read("entry", id, event.is_some());
    match event {
        Some(event) => Ok(Json(event).into_response()),
        None => Err(ApiError::entry_not_found().into()),
    }
}

/// The entry id in the path: by name, and the last of that name, since the
/// router may be nested under parameters of the application's, as in
/// `/orgs/{org}/activity`, even one also called `id`.
fn path_id(params: &RawPathParams) -> Result<Uuid, ApiError> {
    params
        .iter()
        .filter(|(name, _)| *name == "id")
        .last()
        .and_then(|(_, id)| Uuid::try_parse(id).ok())
        .ok_or_else(|| ApiError::bad_parameter("id", "expected an activity entry id (a UUID)"))
}

/// The body of `GET /stats`.
#[derive(Serialize)]
struct Stats {
    total: u64,
    counts: Vec<ActivityCount>,
}

async fn stats<S: ActivityStore, A: AuthorizeLogAccess>(
    State(shared): SharedState<S, A>,
    admitted: Admitted<StatsEndpoint>,
) -> Result<Response, Response> {
    let filter = admitted.filter()?;
    let counts = shared
        .store
        .counts(&filter)
        .await
        .map_err(|error| ApiError::store(&error))?;
    let total = counts.iter().map(|count| count.count).sum();
    shared.record_read(None, read_event(LogRead::Viewed, "stats", &filter, total));
    Ok(Json(Stats { total, counts }).into_response())
}

async fn actions<S: ActivityStore, A: AuthorizeLogAccess>(
    State(shared): SharedState<S, A>,
    _admitted: Admitted<ActionsEndpoint>,
) -> Response {
    let listed = shared.catalogue.len() as u64;
    shared.record_read(
        None,
        read_event(LogRead::Viewed, "actions", &ActivityFilter::new(), listed),
    );
    Json(&shared.catalogue).into_response()
}
