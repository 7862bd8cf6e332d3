//! The request context layer, told where axum keeps the peer address and the
//! matched route.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};

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

/// The route template axum matched, shared by every request to it.
fn matched_route(extensions: &Extensions) -> Option<Arc<str>> {
    extensions
        .get::<MatchedPath>()
        .map(|matched| intern(matched.as_str()))
}

/// The most route templates kept shared; past it (an application with more
/// routes than this), a template is copied for each request instead.
const MAX_ROUTES: usize = 4_096;

/// `route` as text shared by every request to it. A template comes from the
/// application's routes, never from the request, so the set stays as small as
/// the router; [`MAX_ROUTES`] bounds it anyway.
fn intern(route: &str) -> Arc<str> {
    static ROUTES: RwLock<BTreeSet<Arc<str>>> = RwLock::new(BTreeSet::new());
    let read = ROUTES.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(shared) = read.get(route) {
        return shared.clone();
    }
    drop(read);
    let shared: Arc<str> = Arc::from(route);
    let mut write = ROUTES.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    if write.len() < MAX_ROUTES {
        write.insert(shared.clone());
    }
    shared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_is_shared_by_every_request_to_it() {
        let first = intern("/interned/{id}");
        let second = intern("/interned/{id}");
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(&*intern("/interned/other"), "/interned/other");
    }
}
