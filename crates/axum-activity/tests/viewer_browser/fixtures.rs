//! The server the browser talks to: the log router with its viewer, nested
//! at `/activity` on a loopback port, over a `MemorySink`, reading the
//! reader's role from a cookie.

use std::time::Duration;

use axum::Router;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::get;
use axum_activity::router::{LogAccess, LogRouter};
use axum_activity::{ActivityEvent, ActivitySink, MemorySink};
use tower_activity::{Catalogue, CatalogueEntry};

use crate::roles;
use crate::support::serve;

/// The access of the `role` cookie's role (see [`roles::access`]).
fn authorize(request: &Parts) -> std::future::Ready<Result<LogAccess, Response>> {
    let role = request
        .headers
        .get_all("cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix("role="));
    roles::access(role)
}

/// The catalogue the viewer shows descriptions from.
fn catalogue() -> Catalogue {
    Catalogue::new()
        .action(CatalogueEntry::new("auth.login.failed", "A sign-in attempt failed").category("auth"))
        .unwrap()
}

/// A running server over `store`, holding `events`; its origin
/// (`http://127.0.0.1:port`).
pub(crate) async fn server(store: MemorySink, events: &[ActivityEvent]) -> String {
    store.write_batch(events).await.unwrap();
    let router = LogRouter::new(store, authorize)
        .catalogue(catalogue())
        .poll_interval(Duration::from_millis(50))
        .into_router();
    // A page outside the log, where the browser gets its cookie.
    let app = Router::new()
        .route("/", get(|| async { "Sign in" }))
        .nest("/activity", router);
    let (address, _server) = serve(app).await;
    format!("http://{address}")
}
