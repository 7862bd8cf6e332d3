//! The whole chain on every backend: requests through the layer and the
//! wrapper, batched into the database, read back through the log router.

#[path = "../../crates/sea-orm-activity/tests/it/support.rs"]
mod support;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::Path;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_activity::router::{LogAccess, LogRouter};
use axum_activity::{Action, Actor, Identity, Recorder, audited};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_activity::{ActivityEvent, Outcome};

async fn create_order(Json(order): Json<Value>) -> (StatusCode, Json<Value>) {
    (
        StatusCode::CREATED,
        Json(json!({"id": "ord_1", "total": order["total"]})),
    )
}

async fn read_order(Path(id): Path<String>) -> Result<Json<Value>, StatusCode> {
    match id.as_str() {
        "ord_1" => Ok(Json(json!({"id": "ord_1"}))),
        _ => Err(StatusCode::NOT_FOUND),
    }
}

fn identify(request: &Request<Body>) -> Identity {
    let header = |name| request.headers().get(name).and_then(|value| value.to_str().ok());
    match (header("x-user"), header("x-tenant")) {
        (Some(user), Some(tenant)) => Identity::actor(Actor::user(user)).with_tenant(tenant),
        _ => Identity::unknown(),
    }
}

/// The log router, scoped to the tenant in `x-auditor-of`.
fn log_router(store: sea_orm_activity::SeaOrmStore) -> Router {
    let authorize = |request: &Parts| {
        let tenant = request.headers.get("x-auditor-of").cloned();
        async move {
            match tenant.as_ref().and_then(|value| value.to_str().ok()) {
                Some(tenant) => Ok(LogAccess::Tenant(tenant.to_owned())),
                None => Err::<_, Response>(StatusCode::UNAUTHORIZED.into_response()),
            }
        }
    };
    Router::new().nest("/activity", LogRouter::new(store, authorize).into_router())
}

async fn call(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let mut request = request;
    request.extensions_mut().insert(axum::extract::ConnectInfo(
        "203.0.113.7:50000".parse::<SocketAddr>().unwrap(),
    ));
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn audited_requests_are_persisted_and_served_by_the_log_router_on_every_backend() {
    support::each_backend(async |test_db| {
        let store = test_db.store();
        let recorder = Recorder::builder(store.clone()).spawn();
        let app = Router::new()
            .route("/orders", post(audited(create_order, Action::Create, "order")))
            .route(
                "/orders/{id}",
                get(audited(read_order, Action::Read, "order").id_from_path("id")),
            )
            .layer(
                axum_activity::layer()
                    .recorder(recorder.clone())
                    .identify(identify),
            );

        let mut ok = 0;
        for (tenant, user) in [("acme", "ada"), ("globex", "hank"), ("acme", "bob")] {
            let request = Request::post("/orders")
                .header("content-type", "application/json")
                .header("x-user", user)
                .header("x-tenant", tenant)
                .header("x-request-id", format!("req-{user}"))
                .body(Body::from(r#"{"total": 12.5}"#))
                .unwrap();
            let (status, _) = call(&app, request).await;
            assert_eq!(status, StatusCode::CREATED);
            ok += 1;
        }
        let missing = Request::get("/orders/ord_404")
            .header("x-user", "bob")
            .header("x-tenant", "acme")
            .body(Body::empty())
            .unwrap();
        assert_eq!(call(&app, missing).await.0, StatusCode::NOT_FOUND);

        // Graceful shutdown writes everything: one event per request.
        let report = recorder.shutdown().await;
        assert_eq!(report.written, ok + 1);
        assert_eq!(report.dropped, 0);

        let reader = log_router(store);
        let unauthorized = Request::get("/activity").body(Body::empty()).unwrap();
        assert_eq!(call(&reader, unauthorized).await.0, StatusCode::UNAUTHORIZED);

        let listing = Request::get("/activity?order=oldest_first")
            .header("x-auditor-of", "acme")
            .body(Body::empty())
            .unwrap();
        let (status, page) = call(&reader, listing).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let events: Vec<ActivityEvent> = serde_json::from_value(page["events"].clone()).unwrap();
        assert_eq!(events.len(), 3, "only acme's entries: {events:?}");
        let created = &events[0];
        assert_eq!(created.action, Action::Create);
        assert_eq!(created.resource_id.as_deref(), Some("ord_1"));
        assert_eq!(created.actor, Some(Actor::user("ada")));
        assert_eq!(created.tenant_id.as_deref(), Some("acme"));
        assert_eq!(created.request_id.as_deref(), Some("req-ada"));
        assert_eq!(created.ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(created.route.as_deref(), Some("/orders"));
        assert_eq!(created.http_status, Some(201));
        let not_found = &events[2];
        assert_eq!(
            (not_found.outcome, not_found.http_status),
            (Outcome::Warning, Some(404))
        );
        assert_eq!(not_found.resource_id.as_deref(), Some("ord_404"));

        let other_tenant = Request::get("/activity?tenant=globex")
            .header("x-auditor-of", "acme")
            .body(Body::empty())
            .unwrap();
        assert_eq!(call(&reader, other_tenant).await.0, StatusCode::FORBIDDEN);
    })
    .await;
}
