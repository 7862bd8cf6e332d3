//! Activity and audit logging for [axum]: who did what to which resource,
//! when, from where, for which tenant, and whether it worked.
//!
//! It builds on [`tower_activity`] (re-exported, so this crate is the only
//! dependency an axum application needs) and offers three ways of use:
//!
//! 1. **The layer.** [`ActivityLayer`] gives every request an
//!    [`ActivityContext`]: request id, client IP, user agent, and the actor and
//!    tenant once known. Handlers read and complete it with the
//!    [`CurrentActivity`] extractor.
//! 2. **The wrapper.** [`audited`] wraps any handler and records one event per
//!    call, with the outcome the response implies and the resource id taken
//!    from the JSON response, a path parameter or the handler
//!    ([`AuditedEvent`]).
//! 3. **By hand.** [`log_activity`], or the [`ActivityLogger`] extractor, logs
//!    any event, filled from the context, without waiting.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use axum::{Json, Router, body::Body, http::{Request, StatusCode}, routing::post};
//! use axum_activity::{Action, ActivityLayer, MemorySink, Outcome, Recorder, audited};
//! use serde_json::{Value, json};
//! use tower::ServiceExt;
//!
//! async fn create_user(Json(user): Json<Value>) -> (StatusCode, Json<Value>) {
//!     (StatusCode::CREATED, Json(json!({ "id": 7, "name": user["name"] })))
//! }
//!
//! let sink = MemorySink::new();
//! let recorder = Recorder::builder(sink.clone()).spawn();
//! let app = Router::new()
//!     .route("/users", post(audited(create_user, Action::Create, "user")))
//!     .layer(axum_activity::layer().recorder(recorder.clone()));
//!
//! let request = Request::post("/users")
//!     .header("content-type", "application/json")
//!     .body(Body::from(r#"{"name": "Ada"}"#))
//!     .unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::CREATED);
//!
//! recorder.flush().await;
//! let event = &sink.events()[0];
//! assert_eq!(event.action, Action::Create);
//! assert_eq!(event.resource_id.as_deref(), Some("7"));
//! assert_eq!(event.outcome, Outcome::Success);
//! assert_eq!(event.route.as_deref(), Some("/users"));
//! # }
//! ```
//!
//! ## Without the layer
//!
//! The wrapper still records its event, to the [global
//! recorder](set_global_recorder), but some of it is lost:
//!
//! - the actor is `anonymous` and there is no tenant, since nothing can set
//!   them ([`CurrentActivity`] and [`ActivityLogger`] answer `500`);
//! - the request id is a fresh UUID v7 per event: it is neither read from nor
//!   echoed in `x-request-id`, and it links the event to nothing else;
//! - the IP is the socket peer from axum's `ConnectInfo<SocketAddr>` (only when
//!   the server is started with `into_make_service_with_connect_info`), never
//!   resolved through trusted proxies;
//! - events logged by hand with [`log_activity`] in the handler are the
//!   system's, with none of the request's details;
//! - a panic is still recorded as `critical`, but nothing turns it into a
//!   `500`: it behaves as it would without the wrapper.
//!
//! ## Features
//!
//! - `router`: `router::LogRouter`, the HTTP API for reading the log: list
//!   with filters and cursor, single entry, live SSE stream, JSON lines
//!   export and stats, behind an authorization check of the application's.
//! - `csv`: CSV export in that API.
//! - `viewer`: a log viewer for the browser, served by that API at `GET /ui`
//!   under the same authorization check.
//!
//! [axum]: https://docs.rs/axum

#![cfg_attr(docsrs, feature(doc_cfg))]

mod audited;
mod audited_event;
mod extract;
mod future;
mod layer;
mod log_failure;
mod pending_event;
mod rejection;
mod resource_id;
mod response_body;
#[cfg(feature = "router")]
pub mod router;

pub use crate::audited::{Audited, DEFAULT_MAX_BODY_BYTES, audited};
pub use crate::audited_event::AuditedEvent;
pub use crate::extract::{ActivityLogger, CurrentActivity};
pub use crate::future::AuditedFuture;
pub use crate::layer::layer;
pub use crate::rejection::ActivityRejection;

/// The toolkit this crate builds on, for everything not re-exported below.
pub use tower_activity;
#[doc(no_inline)]
pub use tower_activity::{
    Action, ActivityContext, ActivityEvent, ActivityLayer, ActivitySink, ActivityStore, Actor, ActorKind,
    Catalogue, CatalogueEntry, Changes, EventPolicy, Identity, LogError, MemorySink, NullSink, Outcome,
    Recorder, TrustedProxies, changes, log_activity, set_global_recorder, spawn,
};
