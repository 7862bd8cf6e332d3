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
//! assert_eq!(logged.details.as_ref().unwrap()["password"], "[REDACTED]");
//! # }
//! ```
//!
//! ## Features
//!
//! - `axum`: read the client address from axum's `ConnectInfo<SocketAddr>`
//!   and the route template from its `MatchedPath`.
//! - `tower-http`: accept the request id of tower-http's `SetRequestIdLayer`.
//! - `csv`: [`export::CsvWriter`], CSV export safe to open in a spreadsheet.
//!
//! [tower]: https://docs.rs/tower

#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod action;
mod actor;
pub mod client_ip;
mod context;
mod event;
pub mod export;
mod follow;
mod future;
mod identify;
mod ip_privacy;
mod json_lines;
mod layer;
mod log;
mod memory;
pub mod metrics;
mod outcome;
mod panic;
mod policy;
mod recorder;
pub mod request_id;
mod scrub;
mod sink;
mod store;
pub mod user_agent;

pub use crate::action::{Action, CustomAction, IntoAction, InvalidAction, MAX_ACTION_LEN};
pub use crate::actor::{Actor, ActorKind, UnknownActorKind};
pub use crate::client_ip::{ForwardedHeader, InvalidNetwork, TrustedProxies};
pub use crate::context::{ActivityContext, spawn};
pub use crate::event::{ActivityEvent, ActivityEventBuilder};
pub use crate::follow::{DEFAULT_LOOKBACK, Follower};
pub use crate::future::ResponseFuture;
pub use crate::identify::{IdentifyRequest, Identity, Unidentified};
pub use crate::ip_privacy::IpPrivacy;
pub use crate::json_lines::JsonLinesSink;
pub use crate::layer::{ActivityLayer, ActivityService};
pub use crate::log::{
    clear_global_recorder, global_recorder, log_activity, prepare_event, set_global_recorder,
};
pub use crate::memory::MemorySink;
pub use crate::outcome::{Outcome, UnknownOutcome};
pub use crate::panic::{PANIC_ACTION, panic_message};
pub use crate::policy::{
    EventPolicy, MAX_ID_CHARS, MAX_IP_CHARS, MAX_METHOD_CHARS, MAX_RESOURCE_TYPE_CHARS, MAX_ROUTE_CHARS,
};
pub use crate::recorder::{
    DROPPED_ACTION, LogError, Recorder, RecorderBuilder, RecorderStats, ShutdownReport,
};
pub use crate::request_id::{IncomingRequestId, MAX_REQUEST_ID_LEN};
pub use crate::scrub::{
    DEFAULT_MAX_DETAILS_BYTES, DEFAULT_SECRET_KEYS, MAX_DETAILS_DEPTH, REDACTED, Scrubber, TOO_DEEP,
    json_size,
};
pub use crate::sink::{ActivitySink, BoxError, NullSink, SinkError};
pub use crate::store::{
    ActivityCount, ActivityFilter, ActivityPage, ActivityQuery, ActivityStore, Cursor, DEFAULT_PAGE_LIMIT,
    InvalidCursor, MAX_PAGE_LIMIT, Order, StoreError,
};
pub use crate::user_agent::MAX_USER_AGENT_CHARS;
