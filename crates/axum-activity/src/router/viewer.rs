//! The browser viewer: a page at `GET /ui` that reads the log through the
//! router's own endpoints, its assets, and `GET /ui/access`, which tells the
//! page how much of the log the reader may see.
//!
//! Every response goes through the router's authorization check first (a
//! refusal is recorded like any refused read) and carries a strict
//! Content-Security-Policy. The page, its assets and the access answer hold
//! nothing of the log, so they are not recorded as reads; the listing, stats,
//! stream and exports the page asks for are, as for any other client.

mod assets;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use self::assets::{ASSETS, Asset};
use super::Shared;
use super::access::{AuthorizeLogAccess, LogAccess};
use super::admission::{Authorized, ViewerEndpoint};

/// Adds the viewer's routes to `router`.
pub(super) fn routes<S, A>(router: Router<Arc<Shared<S, A>>>) -> Router<Arc<Shared<S, A>>>
where
    S: Send + Sync + 'static,
    A: AuthorizeLogAccess,
{
    let router = router.route("/ui", get(page)).route("/ui/access", get(access));
    ASSETS.files().iter().fold(router, |router, asset| {
        let path = format!("/ui/{}", asset.path());
        router.route(
            &path,
            get(move |authorized, headers| file(asset, authorized, headers)),
        )
    })
}

async fn page(_authorized: Authorized<ViewerEndpoint>, headers: HeaderMap) -> Response {
    ASSETS.page().respond(&headers)
}

async fn file(
    asset: &'static Asset,
    _authorized: Authorized<ViewerEndpoint>,
    headers: HeaderMap,
) -> Response {
    asset.respond(&headers)
}

/// The body of `GET /ui/access`: `{"scope": "all"}` or
/// `{"scope": "tenant", "tenant": "acme"}`.
#[derive(Serialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
enum AccessBody {
    All,
    Tenant { tenant: String },
}

async fn access(authorized: Authorized<ViewerEndpoint>) -> Response {
    let body = match authorized.access {
        LogAccess::All => AccessBody::All,
        LogAccess::Tenant(tenant) => AccessBody::Tenant { tenant },
    };
    let mut response = Json(body).into_response();
    assets::secure(response.headers_mut());
    assets::private_no_store(response.headers_mut());
    response
}
