//! The viewer's files, embedded in the crate: each served under a name that
//! holds a hash of its content (so it can be cached for good) and with an
//! `ETag`, and every response with the viewer's security headers.

use std::sync::LazyLock;

use axum::body::Bytes;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, HeaderValue, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// What the viewer's pages may load and run: only their own files, no inline
/// script or style, no `eval`, no other origin, no framing.
pub(super) const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The page, its files named by the placeholders `{{name}}` it holds.
const PAGE: &str = include_str!("assets/index.html");

/// The page's files, by name; scripts run in this order (`defer`).
const FILES: [(&str, &str, &str); 8] = [
    (
        "viewer.css",
        "text/css; charset=utf-8",
        include_str!("assets/viewer.css"),
    ),
    (
        "format.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/format.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/api.js"),
    ),
    (
        "filters.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/filters.js"),
    ),
    (
        "table.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/table.js"),
    ),
    (
        "chart.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/chart.js"),
    ),
    (
        "live.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/live.js"),
    ),
    (
        "main.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/main.js"),
    ),
];

/// Every file of the viewer, hashed once.
pub(super) static ASSETS: LazyLock<Assets> = LazyLock::new(Assets::load);

/// The page and its files.
pub(super) struct Assets {
    page: Asset,
    files: Vec<Asset>,
}

impl Assets {
    fn load() -> Self {
        let files: Vec<Asset> = FILES
            .iter()
            .map(|(name, content_type, body)| Asset::file(name, content_type, body))
            .collect();
        let page = files.iter().fold(PAGE.to_owned(), |page, file| {
            page.replace(&format!("{{{{{}}}}}", file.name), &format!("ui/{}", file.path))
        });
        Assets {
            page: Asset::new(
                "ui",
                String::new(),
                "text/html; charset=utf-8",
                page.into(),
                false,
            ),
            files,
        }
    }

    /// The page, `GET /ui`.
    pub(super) fn page(&self) -> &Asset {
        &self.page
    }

    /// The page's files, each at `GET /ui/{path}`.
    pub(super) fn files(&self) -> &[Asset] {
        &self.files
    }
}

/// One embedded file.
pub(super) struct Asset {
    name: &'static str,
    path: String,
    content_type: &'static str,
    body: Bytes,
    etag: HeaderValue,
    immutable: bool,
}

impl Asset {
    /// A file served under a name holding its hash: `assets/viewer.<hash>.css`.
    fn file(name: &'static str, content_type: &'static str, body: &'static str) -> Self {
        let hash = short_hash(body.as_bytes());
        let path = match name.rsplit_once('.') {
            Some((stem, extension)) => format!("assets/{stem}.{hash}.{extension}"),
            None => format!("assets/{name}.{hash}"),
        };
        Asset::new(
            name,
            path,
            content_type,
            Bytes::from_static(body.as_bytes()),
            true,
        )
    }

    fn new(
        name: &'static str,
        path: String,
        content_type: &'static str,
        body: Bytes,
        immutable: bool,
    ) -> Self {
        let etag = HeaderValue::try_from(format!("\"{}\"", short_hash(&body)))
            .unwrap_or_else(|_| HeaderValue::from_static("\"\""));
        Asset {
            name,
            path,
            content_type,
            body,
            etag,
            immutable,
        }
    }

    /// Where the file is served, relative to `ui/`.
    pub(super) fn path(&self) -> &str {
        &self.path
    }

    /// The file, or `304 Not Modified` when the request's `If-None-Match`
    /// names its `ETag`.
    pub(super) fn respond(&self, request: &HeaderMap) -> Response {
        let unchanged = request
            .get_all(IF_NONE_MATCH)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|tag| tag.trim().trim_start_matches("W/"))
            .any(|tag| tag == "*" || tag.as_bytes() == self.etag.as_bytes());
        let mut response = if unchanged {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let mut response = self.body.clone().into_response();
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
            response
        };
        let headers = response.headers_mut();
        headers.insert(ETAG, self.etag.clone());
        // Private: the viewer is behind the application's authorization.
        let cache = if self.immutable {
            "private, max-age=31536000, immutable"
        } else {
            "private, no-cache"
        };
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
        secure(headers);
        response
    }
}

/// Adds the viewer's security headers: its Content-Security-Policy, no
/// content sniffing, no referrer (page addresses carry filters), no framing.
pub(super) fn secure(headers: &mut HeaderMap) {
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// Marks a response as never to be stored by a cache.
pub(super) fn private_no_store(headers: &mut HeaderMap) {
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
}

/// The first 16 hexadecimal digits of the SHA-256 of `bytes`.
fn short_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
