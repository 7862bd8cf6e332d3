//! Without the layer the wrapper still records its event, to the global
//! recorder, with what the request itself tells.
//!
//! The global recorder is one per process, so the tests here take turns.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path};
use axum::handler::HandlerWithoutStateExt;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::routing::{delete, post};
use axum::{Json, Router};
use axum_activity::{Action, ActorKind, MemorySink, Outcome, Recorder, audited, set_global_recorder};
use serde_json::{Value, json};
use tokio::sync::{Mutex, MutexGuard};
use tower::ServiceExt;
use uuid::Uuid;

static GLOBAL_RECORDER: Mutex<()> = Mutex::const_new(());

/// Takes this test's turn and installs a fresh global recorder.
async fn global_recorder() -> (MutexGuard<'static, ()>, Recorder, MemorySink) {
    let turn = GLOBAL_RECORDER.lock().await;
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone()).spawn();
    set_global_recorder(recorder.clone());
    (turn, recorder, sink)
}

async fn create(Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    (StatusCode::CREATED, Json(json!({"id": body["id"]})))
}

fn create_request(id: u32) -> Request<Body> {
    let mut request = Request::post("/users")
        .header("content-type", "application/json")
        .header(
            "user-agent",
            HeaderValue::from_bytes(b"curl/8.5\t\xffbot").unwrap(),
        )
        .header("x-request-id", "ignored-without-the-layer")
        .body(Body::from(json!({"id": id}).to_string()))
        .unwrap();
    request.extensions_mut().insert(ConnectInfo(
        "[::ffff:198.51.100.4]:5000".parse::<SocketAddr>().unwrap(),
    ));
    request
}

#[tokio::test]
async fn event_gets_a_fresh_request_id_the_peer_and_an_anonymous_actor() {
    let (_turn, recorder, sink) = global_recorder().await;
    let app = Router::new().route("/users", post(audited(create, Action::Create, "user")));
    for request in [create_request(1), create_request(2)] {
        app.clone().oneshot(request).await.unwrap();
    }
    recorder.flush().await;
    let events = sink.events();
    assert_eq!(events.len(), 2, "{events:#?}");
    for (event, id) in events.iter().zip(["1", "2"]) {
        assert_eq!(event.resource_id.as_deref(), Some(id));
        assert_eq!(event.outcome, Outcome::Success);
        assert_eq!(event.http_status, Some(201));
        assert_eq!(event.method.as_deref(), Some("POST"));
        assert_eq!(event.route.as_deref(), Some("/users"));
        assert_eq!(
            event.ip.as_deref(),
            Some("198.51.100.4"),
            "mapped IPv4 is canonical"
        );
        assert_eq!(
            event.user_agent.as_deref(),
            Some("curl/8.5\u{fffd}bot"),
            "cleaned like the layer's"
        );
        assert_eq!(event.actor.as_ref().unwrap().kind, ActorKind::Anonymous);
        assert_eq!(event.tenant_id, None);
        let request_id = Uuid::parse_str(event.request_id.as_deref().unwrap()).unwrap();
        assert_eq!(request_id.get_version_num(), 7);
    }
    assert_ne!(events[0].request_id, events[1].request_id);
}

async fn crashes(Path(_id): Path<String>) -> StatusCode {
    panic!("disk on fire");
}

#[tokio::test]
async fn panic_is_recorded_and_then_behaves_as_without_the_wrapper() {
    let (_turn, recorder, sink) = global_recorder().await;
    let app = Router::new().route(
        "/files/{id}",
        delete(audited(crashes, Action::Delete, "file").id_from_path("id")),
    );
    let request = Request::delete("/files/f1").body(Body::empty()).unwrap();
    let joined = tokio::spawn(app.oneshot(request)).await;
    let panic = joined.unwrap_err().into_panic();
    assert_eq!(
        panic.downcast_ref::<&str>(),
        Some(&"disk on fire"),
        "the panic is resumed"
    );

    recorder.flush().await;
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, Outcome::Critical);
    assert_eq!(events[0].resource_id.as_deref(), Some("f1"));
    assert_eq!(
        events[0].details.as_ref().unwrap().to_value()["panic"],
        "disk on fire"
    );
}

async fn hello() -> &'static str {
    "hello"
}

#[tokio::test]
async fn without_a_matched_route_the_path_is_the_route() {
    let service = audited(hello, Action::Read, "greeting").into_service();
    let (_turn, recorder, sink) = global_recorder().await;
    let request = Request::get("/raw/path?q=1").body(Body::empty()).unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    recorder.flush().await;
    assert_eq!(sink.events()[0].route.as_deref(), Some("/raw/path"));
}
