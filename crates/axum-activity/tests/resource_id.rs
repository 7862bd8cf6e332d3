//! Where the wrapper finds the resource id: JSON field, JSON pointer, path
//! parameter, or the handler.

use axum::body::Body;
use axum::extract::Path;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use axum_activity::{
    Action, ActivityEvent, AuditedEvent, DEFAULT_MAX_BODY_BYTES, MemorySink, Recorder, audited,
};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

/// Sends `request` through `routes` under the layer and returns the one event
/// the request produced.
async fn only_event(routes: Router, request: Request<Body>) -> (StatusCode, ActivityEvent) {
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone()).spawn();
    let app = routes.layer(axum_activity::layer().recorder(recorder.clone()));
    let response = app.oneshot(request).await.unwrap();
    recorder.flush().await;
    let mut events = sink.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    (response.status(), events.remove(0))
}

fn post_json(uri: &str, body: Value) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn created(Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    (StatusCode::CREATED, Json(body))
}

#[tokio::test]
async fn id_comes_from_the_json_id_field_by_default() {
    let routes = Router::new().route("/users", post(audited(created, Action::Create, "user")));
    let (status, event) = only_event(routes, post_json("/users", json!({"id": 41, "name": "Ada"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(event.resource_id.as_deref(), Some("41"));
    assert_eq!(event.resource_type.as_deref(), Some("user"));
    assert_eq!(event.action, Action::Create);
}

#[tokio::test]
async fn numbers_strings_and_uuids_all_become_the_string_id() {
    let uuid = Uuid::now_v7();
    for (id, expected) in [
        (json!(7), "7".to_owned()),
        (json!(-12.5), "-12.5".to_owned()),
        (json!("acme-slug"), "acme-slug".to_owned()),
        (json!(uuid), uuid.to_string()),
    ] {
        let routes = Router::new().route("/things", post(audited(created, Action::Create, "thing")));
        let (_, event) = only_event(routes, post_json("/things", json!({ "id": id }))).await;
        assert_eq!(event.resource_id.as_deref(), Some(expected.as_str()));
    }
}

#[tokio::test]
async fn id_comes_from_a_named_json_field() {
    let routes = Router::new().route(
        "/orders",
        post(audited(created, Action::Create, "order").id_from_json("order_no")),
    );
    let (_, event) = only_event(routes, post_json("/orders", json!({"id": 1, "order_no": "A-77"}))).await;
    assert_eq!(event.resource_id.as_deref(), Some("A-77"));
}

#[tokio::test]
async fn id_comes_from_a_json_pointer() {
    let routes = Router::new().route(
        "/invoices",
        post(audited(created, Action::Create, "invoice").id_from_json("/data/id")),
    );
    let body = json!({"id": "wrong", "data": {"id": "inv_2041"}});
    let (_, event) = only_event(routes, post_json("/invoices", body)).await;
    assert_eq!(event.resource_id.as_deref(), Some("inv_2041"));
}

#[tokio::test]
async fn id_comes_from_a_json_pointer_through_an_array() {
    let routes = Router::new().route(
        "/batches",
        post(audited(created, Action::Create, "batch").id_from_json("/data/0/id")),
    );
    let body = json!({"data": [{"id": 301, "tags": [1, 2]}, {"id": 302}], "id": "wrong"});
    let (_, event) = only_event(routes, post_json("/batches", body)).await;
    assert_eq!(event.resource_id.as_deref(), Some("301"));
}

async fn large_with_the_id_last() -> impl IntoResponse {
    let items: Vec<Value> = (0..10_000)
        .map(|i| json!({"id": i, "label": format!("item number {i}")}))
        .collect();
    let body = format!(
        r#"{{"items": {}, "padding": "{}", "id": "report-2041"}}"#,
        Value::Array(items),
        "p".repeat(400_000)
    );
    assert!(body.len() > 600_000 && body.len() < DEFAULT_MAX_BODY_BYTES);
    ([(CONTENT_TYPE, "application/json")], body)
}

#[tokio::test]
async fn id_is_found_after_a_large_response() {
    let routes = Router::new().route(
        "/reports",
        post(audited(large_with_the_id_last, Action::Create, "report")),
    );
    let request = Request::post("/reports").body(Body::empty()).unwrap();
    let (status, event) = only_event(routes, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(event.resource_id.as_deref(), Some("report-2041"));
}

#[tokio::test]
async fn missing_field_gives_an_event_without_id() {
    let routes = Router::new().route("/users", post(audited(created, Action::Create, "user")));
    let (status, event) = only_event(routes, post_json("/users", json!({"name": "no id"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(event.resource_id, None);
}

async fn no_content(Path(_user_id): Path<String>) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[tokio::test]
async fn id_comes_from_the_path_parameter_of_a_204() {
    let routes = Router::new().route(
        "/users/{user_id}",
        delete(audited(no_content, Action::Delete, "user").id_from_path("user_id")),
    );
    let request = Request::delete("/users/u%2042").body(Body::empty()).unwrap();
    let (status, event) = only_event(routes, request).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(event.resource_id.as_deref(), Some("u 42"), "percent-decoded");
    assert_eq!(event.route.as_deref(), Some("/users/{user_id}"));
}

async fn forbidden(Path(_user_id): Path<String>) -> StatusCode {
    StatusCode::FORBIDDEN
}

#[tokio::test]
async fn path_id_is_kept_when_the_request_is_denied() {
    let routes = Router::new().route(
        "/users/{user_id}",
        delete(audited(forbidden, Action::Delete, "user").id_from_path("user_id")),
    );
    let request = Request::delete("/users/9").body(Body::empty()).unwrap();
    let (status, event) = only_event(routes, request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(event.resource_id.as_deref(), Some("9"));
}

async fn sets_its_own_id(event: AuditedEvent) -> Json<Value> {
    event.set_resource_id(Uuid::nil());
    Json(json!({"id": "from-body"}))
}

#[tokio::test]
async fn id_set_by_the_handler_wins_over_the_body() {
    let routes = Router::new().route("/keys", post(audited(sets_its_own_id, Action::Create, "key")));
    let (_, event) = only_event(routes, post_json("/keys", json!({}))).await;
    assert_eq!(
        event.resource_id.as_deref(),
        Some(Uuid::nil().to_string().as_str())
    );
}

async fn updates(event: AuditedEvent, Path(id): Path<u64>) -> StatusCode {
    event.set_resource_id(id * 10);
    StatusCode::NO_CONTENT
}

#[tokio::test]
async fn id_set_by_the_handler_wins_over_the_path() {
    let routes = Router::new().route(
        "/items/{id}",
        put(audited(updates, Action::Update, "item").id_from_path("id")),
    );
    let request = Request::put("/items/4").body(Body::empty()).unwrap();
    let (_, event) = only_event(routes, request).await;
    assert_eq!(event.resource_id.as_deref(), Some("40"));
}

async fn listing() -> Json<Value> {
    Json(json!({"id": "page-1", "items": []}))
}

#[tokio::test]
async fn handler_only_source_never_takes_the_body_id() {
    let routes = Router::new().route(
        "/users",
        get(audited(listing, Action::Read, "user").id_from_handler()),
    );
    let request = Request::get("/users").body(Body::empty()).unwrap();
    let (status, event) = only_event(routes, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(event.resource_id, None);
}
