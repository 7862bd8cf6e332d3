//! The viewer's page and files as HTTP: behind the router's authorization,
//! served with a strict Content-Security-Policy, cacheable by content hash
//! and `ETag`, and telling the page how much of the log its reader may see.

#[path = "support/roles.rs"]
mod roles;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::Response;
use axum_activity::router::{LogAccess, LogRouter};
use axum_activity::{Actor, MemorySink, Outcome, Recorder};
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_activity::{Identity, VIEWED_ACTION};

/// The access of the `x-role` header's role (see [`roles::access`]).
fn authorize(request: &Parts) -> std::future::Ready<Result<LogAccess, Response>> {
    let role = request
        .headers
        .get("x-role")
        .and_then(|value| value.to_str().ok());
    roles::access(role)
}

/// The router nested at `/admin/activity` under the layer, whose recorder
/// writes to the returned sink.
fn app() -> (Router, Recorder, MemorySink) {
    let reads = MemorySink::new();
    let recorder = Recorder::builder(reads.clone()).spawn();
    let layer = axum_activity::layer()
        .recorder(recorder.clone())
        .identify(|_: &Request<Body>| Identity::actor(Actor::user("visitor")));
    let router = LogRouter::new(MemorySink::new(), authorize).into_router();
    let app = Router::new().nest("/admin/activity", router).layer(layer);
    (app, recorder, reads)
}

async fn get(app: &Router, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, String) {
    let mut request = Request::get(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

/// The `src` and `href` addresses the page names.
fn linked(page: &str) -> Vec<String> {
    page.split(['"'])
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|pair| pair[0].ends_with("src=") || pair[0].ends_with("href="))
        .map(|pair| pair[1].to_owned())
        .filter(|address| address.starts_with("ui/"))
        .collect()
}

#[tokio::test]
async fn the_page_and_its_files_carry_a_strict_content_security_policy() {
    let (app, _recorder, _reads) = app();
    let (status, headers, page) = get(&app, "/admin/activity/ui", &[("x-role", "auditor")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[CONTENT_TYPE], "text/html; charset=utf-8");
    let policy = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert!(
        policy.contains("script-src 'self'") && policy.contains("connect-src 'self'"),
        "{policy}"
    );
    assert!(!policy.contains("unsafe") && !policy.contains("http"), "{policy}");
    assert_eq!(headers["x-content-type-options"], "nosniff");

    // Every script is a file of its own; nothing inline.
    assert_eq!(
        page.matches("<script").count(),
        page.matches("<script defer src=\"ui/").count()
    );
    let handlers = page
        .split_whitespace()
        .any(|word| word.starts_with("on") && word.contains('='));
    assert!(
        !handlers && !page.contains(" style=") && !page.contains("<style"),
        "inline code"
    );

    // Each file the page names is there, relative to where the router is
    // nested, named by its content's hash and cacheable for good.
    let files = linked(&page);
    assert_eq!(files.len(), 8, "{files:?}");
    for file in files {
        let (status, headers, body) =
            get(&app, &format!("/admin/activity/{file}"), &[("x-role", "auditor")]).await;
        assert_eq!(status, StatusCode::OK, "{file}");
        assert!(!body.is_empty());
        let expected = if file.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            headers[CONTENT_TYPE].to_str().unwrap().starts_with(expected),
            "{file}"
        );
        assert_eq!(
            headers[CACHE_CONTROL], "private, max-age=31536000, immutable",
            "{file}"
        );
        assert!(headers.contains_key(CONTENT_SECURITY_POLICY), "{file}");
        assert!(
            !body.contains("innerHTML") && !body.contains("eval("),
            "{file} writes markup or evaluates"
        );
    }
}

#[tokio::test]
async fn a_known_etag_is_answered_not_modified() {
    let (app, _recorder, _reads) = app();
    let auditor = ("x-role", "auditor");
    let (_, headers, _) = get(&app, "/admin/activity/ui", &[auditor]).await;
    assert_eq!(headers[CACHE_CONTROL], "private, no-cache");
    let etag = headers[ETAG].to_str().unwrap().to_owned();
    let (status, headers, body) = get(
        &app,
        "/admin/activity/ui",
        &[auditor, (IF_NONE_MATCH.as_str(), &etag)],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(headers[ETAG], etag.as_str());
    assert!(body.is_empty());
    let (status, _, _) = get(
        &app,
        "/admin/activity/ui",
        &[auditor, (IF_NONE_MATCH.as_str(), "\"other\"")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_viewer_is_behind_the_authorization_check_and_a_refusal_is_recorded() {
    let (app, recorder, reads) = app();
    let (_, _, page) = get(&app, "/admin/activity/ui", &[("x-role", "auditor")]).await;
    let file = linked(&page).remove(0);
    for uri in [
        "/admin/activity/ui".to_owned(),
        "/admin/activity/ui/access".to_owned(),
        format!("/admin/activity/{file}"),
    ] {
        let (status, _, body) = get(&app, &uri, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(
            body, "sign in",
            "{uri}: the application's own refusal, nothing of the viewer"
        );
    }
    recorder.shutdown().await;
    let recorded = reads.events();
    // The page and its files read nothing of the log: only the refusals are
    // recorded, as warnings with their status.
    assert_eq!(recorded.len(), 3);
    for event in recorded {
        assert_eq!(event.action.as_str(), VIEWED_ACTION);
        assert_eq!(event.outcome, Outcome::Warning);
        assert_eq!(event.http_status, Some(401));
        assert_eq!(event.details.unwrap().get("via"), Some(json!("viewer")));
    }
}

#[tokio::test]
async fn access_tells_the_page_the_readers_scope() {
    let (app, _recorder, _reads) = app();
    let (status, headers, body) = get(&app, "/admin/activity/ui/access", &[("x-role", "auditor")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[CACHE_CONTROL], "private, no-store");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"scope": "all"})
    );
    let (_, _, body) = get(&app, "/admin/activity/ui/access", &[("x-role", "tenant-acme")]).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"scope": "tenant", "tenant": "acme"})
    );
}
