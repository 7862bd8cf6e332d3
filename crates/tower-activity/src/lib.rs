//! Activity and audit logging for [tower] services: who did what to which
//! resource, when, from where, for which tenant, and whether it worked.
//!
//! - [`ActivityLayer`] gives every request an [`ActivityContext`] (request id,
//!   client IP behind [trusted proxies](TrustedProxies), user agent, actor,
//!   tenant) in a task-local, and turns panics into a recorded event and a `500`.
//! - [`ActivityEvent`] is the record; [`log_activity`] fills it from the
//!   context, redacts it under an [`EventPolicy`] and queues it without waiting.
//! - [`Recorder`] batches queued events into an [`ActivitySink`] in the
//!   background, retries failures, counts and reports drops, and flushes on
//!   shutdown. [`ActivityStore`] is the read side that stores implement.
//! - [`Catalogue`] lists the actions an application may log, with their
//!   category and the schema of their details; a recorder given one checks
//!   every event before it is queued.
//! - [`COLUMNS`], [`ActivityEvent::cells`] and [`ActivityEvent::read_columns`]
//!   declare the event's stored columns once, for every store and export.
//! - [`Alerts`] evaluates suspicious-activity [rules](AlertRule) (failed
//!   logins, bursts of `403`s, mass deletes, an admin from a new IP, or your
//!   own) in the recorder's writer, records a `security.alert` event and
//!   calls the application back; [`StoreCount`] counts across instances.
//!
//! The source follows the same parts: `event/` (the event, its builder, its
//! columns, the policy and scrubbing), `context/` (the layer, the context,
//! client IP, request id, panics), `recorder/` (the queue, the writer, the
//! sinks), `store/` (filters, pages, cursors, following), `catalogue/` (the
//! action catalogue, its schemas and violations), `alert/` (rules, windows,
//! the engine, the store count), `seal/` (Merkle trees, seals and their
//! signatures), `spool/` (batches on local disk), and `export.rs`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use tower_activity::{log_activity, ActivityContext, ActivityEvent, Actor, MemorySink, Recorder};
//!
//! let sink = MemorySink::new();
//! let recorder = Recorder::builder(sink.clone()).spawn();
//! tower_activity::set_global_recorder(recorder.clone());
//!
//! let event = ActivityEvent::builder("auth.login.failed")
//!     .actor(Actor::user("u_42"))
//!     .detail("password", "hunter2")
//!     .build()
//!     .unwrap();
//! log_activity(event).unwrap();
//!
//! recorder.shutdown().await;
//! let logged = &sink.events()[0];
//! assert_eq!(logged.details.as_ref().unwrap().get("password").unwrap(), "[REDACTED]");
//! # }
//! ```
//!
//! ## Features
//!
//! - `tower-http`: accept the request id of tower-http's `SetRequestIdLayer`.
//! - `csv`: [`export::CsvWriter`], CSV export safe to open in a spreadsheet.
//! - `seal`: [`seal`], Merkle roots, inclusion proofs and Ed25519-signed
//!   seals for a tamper-evident log.
//! - `spool`: [`spool`], batches kept on local disk while the sink is down.
//!
//! Behind axum, add `axum_activity::layer()`: this crate's layer, told where
//! axum keeps the client address and the matched route (see
//! [`ActivityLayer::peer_addr_with`] and [`ActivityLayer::route_with`]).
//!
//! [tower]: https://docs.rs/tower

#![cfg_attr(docsrs, feature(doc_cfg))]

mod alert;
mod box_error;
mod catalogue;
mod context;
mod event;
pub mod export;
mod log;
mod panic_message;
mod recorder;
#[cfg(feature = "seal")]
#[cfg_attr(docsrs, doc(cfg(feature = "seal")))]
pub mod seal;
#[cfg(feature = "spool")]
#[cfg_attr(docsrs, doc(cfg(feature = "spool")))]
pub mod spool;
mod store;

pub use crate::alert::{
    ALERT_ACTION, ALERT_ACTOR, Alert, AlertKey, AlertRule, AlertStats, Alerts, DEFAULT_MAX_KEYS,
    DEFAULT_MAX_PENDING_CALLBACKS, DEFAULT_REMEMBERED_IPS, FAILED_LOGIN_ACTION, MAX_KEY_CHARS, StoreCount,
    UnsupportedRule,
};
pub use crate::box_error::BoxError;
pub use crate::catalogue::{
    CATALOGUE_KEY, Catalogue, CatalogueAction, CatalogueEntry, CatalogueError, CatalogueViolation,
    DetailSpec, DetailType, ViolationKind,
};
pub use crate::context::{
    ActivityContext, ActivityLayer, ActivityService, ForwardedHeader, IdentifyRequest, Identity,
    IncomingRequestId, InvalidNetwork, PANIC_ACTION, ResponseFuture, TrustedProxies, Unidentified,
    is_valid_request_id, spawn,
};
pub use crate::event::{
    Action, ActionPattern, ActionSelector, ActivityEvent, ActivityEventBuilder, Actor, ActorKind,
    CHANGES_KEY, COLUMNS, Cell, Changes, Column, ColumnKind, CustomAction, DEFAULT_MAX_DETAILS_BYTES,
    DEFAULT_SECRET_KEYS, Details, EventPolicy, IntoAction, InvalidAction, InvalidActionPattern,
    InvalidActionSelector, IpPrivacy, MAX_ACTION_LEN, MAX_CATEGORY_LEN, MAX_DETAILS_DEPTH, MAX_ID_CHARS,
    MAX_IP_CHARS, MAX_METHOD_CHARS, MAX_REQUEST_ID_LEN, MAX_RESOURCE_TYPE_CHARS, MAX_ROUTE_CHARS,
    MAX_USER_AGENT_CHARS, Outcome, REDACTED, ReadColumns, Scrubber, TOO_DEEP, UNKNOWN_ACTION,
    UnknownActorKind, UnknownOutcome, changes, read_action, read_outcome, sanitize_user_agent,
};
pub use crate::log::{log_activity, prepare_event};
pub use crate::panic_message::panic_message;
pub use crate::recorder::{
    ActivitySink, DEFAULT_SECONDARY_TIMEOUT, DEFAULT_SPOOL_AFTER, DROPPED_ACTION, JsonLinesSink, LogError,
    MemorySink, NullSink, REJECTED_ACTION, Recorder, RecorderBuilder, RecorderStats, ShutdownReport,
    SinkError, TRACING_TARGET, Tee, TracingSink, clear_global_recorder, global_recorder, metrics,
    set_global_recorder,
};
pub use crate::store::{
    ActivityCount, ActivityFilter, ActivityPage, ActivityQuery, ActivityStore, Cursor, DEFAULT_LOOKBACK,
    DEFAULT_PAGE_LIMIT, EXPORTED_ACTION, Follower, InvalidCursor, InvalidIpFilter, LogRead, MAX_PAGE_LIMIT,
    Order, STREAMED_ACTION, StoreError, VIEWED_ACTION, parse_ip_filter, read_event,
};
