//! The log router's authorization: a denial answers before the store is
//! touched, and a tenant-scoped grant cannot be widened by the query string.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[path = "support/roles.rs"]
mod roles;

use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum_activity::router::{LogAccess, LogRouter};
use axum_activity::{Action, ActivityEvent, ActivitySink, ActivityStore, MemorySink};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use tower_activity::{ActivityCount, ActivityFilter, ActivityPage, ActivityQuery, StoreError};
use uuid::Uuid;

/// A store that counts the calls it gets.
#[derive(Clone, Default)]
struct CountingStore {
    inner: MemorySink,
    calls: Arc<AtomicUsize>,
}

impl ActivityStore for CountingStore {
    async fn list(&self, query: &ActivityQuery) -> Result<ActivityPage, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.list(query).await
    }

    async fn get(&self, id: Uuid) -> Result<Option<ActivityEvent>, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.get(id).await
    }

    async fn counts(&self, filter: &ActivityFilter) -> Result<Vec<ActivityCount>, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.counts(filter).await
    }
}

/// The access of the `x-role` header's role (see [`roles::access`]).
fn authorize(request: &Parts) -> std::future::Ready<Result<LogAccess, Response>> {
    let role = request
        .headers
        .get("x-role")
        .and_then(|value| value.to_str().ok());
    roles::access(role)
}

/// A store with one event for each of the tenants acme and globex, and one
/// without a tenant.
async fn two_tenants() -> (CountingStore, [ActivityEvent; 3]) {
    let store = CountingStore::default();
    let acme = ActivityEvent::builder(Action::Update)
        .tenant("acme")
        .build()
        .unwrap();
    let globex = ActivityEvent::builder(Action::Delete)
        .tenant("globex")
        .build()
        .unwrap();
    let none = ActivityEvent::builder(Action::Read).build().unwrap();
    let events = [acme, globex, none];
    store.inner.write_batch(&events).await.unwrap();
    (store, events)
}

async fn call(app: &Router, uri: &str, role: Option<&str>) -> (StatusCode, Response) {
    let mut request = Request::get(uri);
    if let Some(role) = role {
        request = request.header("x-role", role);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    (response.status(), response)
}

async fn text(response: Response) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn denial_is_the_callers_response_and_the_store_is_never_touched() {
    let (store, events) = two_tenants().await;
    let calls = store.calls.clone();
    let app = LogRouter::new(store, authorize).into_router();
    for uri in [
        "/".to_owned(),
        "/?limit=oops".to_owned(),
        format!("/{}", events[0].id),
        "/stream".to_owned(),
        "/export".to_owned(),
        "/stats".to_owned(),
    ] {
        let (status, response) = call(&app, &uri, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_eq!(text(response).await, "sign in");
        let (status, response) = call(&app, &uri, Some("intern")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
        assert_eq!(text(response).await, "auditors only");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

fn tenants_of(body: &str) -> Vec<Option<String>> {
    let page: Value = serde_json::from_str(body).unwrap();
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["tenant_id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn full_access_sees_every_tenant() {
    let (store, _) = two_tenants().await;
    let app = LogRouter::new(store, authorize).into_router();
    let (status, response) = call(&app, "/", Some("auditor")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tenants_of(&text(response).await).len(), 3);
}

#[tokio::test]
async fn tenant_scope_limits_the_listing() {
    let (store, _) = two_tenants().await;
    let app = LogRouter::new(store, authorize).into_router();
    for uri in ["/", "/?tenant=acme", "/?action=delete&action=update&action=read"] {
        let (status, response) = call(&app, uri, Some("tenant-acme")).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        let tenants = tenants_of(&text(response).await);
        assert!(!tenants.is_empty(), "{uri}");
        assert!(
            tenants.iter().all(|tenant| tenant.as_deref() == Some("acme")),
            "{uri}: {tenants:?}"
        );
    }
}

#[tokio::test]
async fn hostile_queries_cannot_widen_a_tenant_scope() {
    let (store, _) = two_tenants().await;
    let calls = store.calls.clone();
    let app = LogRouter::new(store, authorize).into_router();
    for (uri, status) in [
        ("/?tenant=globex", StatusCode::FORBIDDEN),
        ("/?%74enant=globex", StatusCode::FORBIDDEN),
        ("/stats?tenant=globex", StatusCode::FORBIDDEN),
        ("/export?tenant=globex", StatusCode::FORBIDDEN),
        ("/stream?tenant=globex", StatusCode::FORBIDDEN),
        ("/?tenant=acme&tenant=globex", StatusCode::BAD_REQUEST),
        ("/?tenant=acme&tenant=acme", StatusCode::BAD_REQUEST),
        ("/?Tenant=globex", StatusCode::BAD_REQUEST),
        ("/?tenant_id=globex", StatusCode::BAD_REQUEST),
        ("/?tenant=", StatusCode::BAD_REQUEST),
    ] {
        let (got, response) = call(&app, uri, Some("tenant-acme")).await;
        assert_eq!(got, status, "{uri}");
        let body: Value = serde_json::from_str(&text(response).await).unwrap();
        assert!(
            body["parameter"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .starts_with("tenant"),
            "{uri}"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "refused before the store");
}

#[tokio::test]
async fn tenant_scope_hides_other_tenants_entries() {
    let (store, [acme, globex, none]) = two_tenants().await;
    let app = LogRouter::new(store, authorize).into_router();
    let (status, _) = call(&app, &format!("/{}", acme.id), Some("tenant-acme")).await;
    assert_eq!(status, StatusCode::OK);
    for hidden in [globex.id, none.id] {
        let (status, response) = call(&app, &format!("/{hidden}"), Some("tenant-acme")).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "indistinguishable from a missing entry"
        );
        assert!(text(response).await.contains("no activity entry with this id"));
    }
}

#[tokio::test]
async fn tenant_scope_limits_stats_and_export() {
    let (store, [acme, globex, none]) = two_tenants().await;
    let app = LogRouter::new(store, authorize).into_router();

    let (status, response) = call(&app, "/stats", Some("tenant-acme")).await;
    assert_eq!(status, StatusCode::OK);
    let stats: Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(stats["total"], 1);
    assert_eq!(stats["counts"][0]["action"], "update");

    let (status, response) = call(&app, "/export", Some("tenant-acme")).await;
    assert_eq!(status, StatusCode::OK);
    let export = text(response).await;
    assert_eq!(export.lines().count(), 1);
    assert!(export.contains(&acme.id.to_string()));
    assert!(!export.contains(&globex.id.to_string()) && !export.contains(&none.id.to_string()));
}
