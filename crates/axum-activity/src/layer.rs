//! The request context layer, told where axum keeps the peer address and the
//! matched route.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, MatchedPath};
use axum::http::Extensions;
use tower_activity::ActivityLayer;

/// An [`ActivityLayer`] for axum: the client address is read from axum's
/// `ConnectInfo<SocketAddr>` (served with
/// `into_make_service_with_connect_info::<SocketAddr>()`), and the route from
/// its `MatchedPath` when the layer runs after routing (`Router::layer`).
/// Configure it further with the layer's builder methods.
///
/// ```
/// use axum::{Router, routing::get};
/// use axum_activity::{NullSink, Recorder};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let recorder = Recorder::builder(NullSink).spawn();
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .layer(axum_activity::layer().recorder(recorder));
/// # let _ = app;
/// # }
/// ```
pub fn layer() -> ActivityLayer {
    ActivityLayer::new()
        .peer_addr_with(connect_info_peer)
        .route_with(matched_route)
}

/// The peer address from axum's `ConnectInfo<SocketAddr>`, or a plain
/// `SocketAddr` extension.
pub(crate) fn connect_info_peer(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
        .or_else(|| extensions.get::<SocketAddr>().copied())
        .map(|addr| addr.ip().to_canonical())
}

/// The route template axum matched.
fn matched_route(extensions: &Extensions) -> Option<Arc<str>> {
    extensions
        .get::<MatchedPath>()
        .map(|matched| Arc::from(matched.as_str()))
}
