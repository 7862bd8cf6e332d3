//! The client receives exactly what the unwrapped handler returned, and the
//! body is only read when the id must come from it.

use std::future::ready;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use axum::{Json, Router};
use axum_activity::{Action, ActivityEvent, DEFAULT_MAX_BODY_BYTES, MemorySink, Outcome, Recorder, audited};
use futures_util::stream;
use http_body_util::{BodyExt, Full};
use serde_json::json;
use tower::ServiceExt;

/// One response as the client sees it.
#[derive(Debug, PartialEq)]
struct Seen {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    trailers: Option<HeaderMap>,
}

async fn seen(app: Router, uri: &str) -> Seen {
    let request = Request::get(uri)
        .header("x-request-id", "fixed-request-id")
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let (head, body) = response.into_parts();
    let collected = body.collect().await.unwrap();
    Seen {
        status: head.status,
        headers: head.headers,
        trailers: collected.trailers().cloned(),
        body: collected.to_bytes(),
    }
}

fn recorder() -> (Recorder, MemorySink) {
    let sink = MemorySink::new();
    (Recorder::builder(sink.clone()).spawn(), sink)
}

async fn plain_text() -> &'static str {
    "hello, not json"
}

#[tokio::test]
async fn non_json_2xx_passes_through_and_is_logged_without_id() {
    let (recorder, sink) = recorder();
    let app = Router::new()
        .route("/hello", get(audited(plain_text, Action::Read, "greeting")))
        .layer(axum_activity::layer().recorder(recorder.clone()));
    let response = seen(app, "/hello").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.body, "hello, not json");
    recorder.flush().await;
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, Outcome::Success);
    assert_eq!(events[0].resource_id, None);
}

fn big_json(bytes: usize) -> Json<serde_json::Value> {
    Json(json!({"id": "should-not-be-read", "padding": "x".repeat(bytes)}))
}

async fn over_default_cap() -> Json<serde_json::Value> {
    big_json(DEFAULT_MAX_BODY_BYTES)
}

async fn small_json() -> Json<serde_json::Value> {
    big_json(64)
}

async fn json_over_the_cap_is_intact_and_logged_without_id(route: MethodRouter) {
    let (recorder, sink) = recorder();
    let layer = axum_activity::layer().recorder(recorder.clone());
    let handler_response = {
        let app = Router::new().route("/big", route.clone()).layer(layer.clone());
        seen(app, "/big").await
    };
    assert_eq!(handler_response.status, StatusCode::OK);
    let body: serde_json::Value = serde_json::from_slice(&handler_response.body).unwrap();
    assert_eq!(body["id"], "should-not-be-read");
    recorder.flush().await;
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, Outcome::Success);
    assert_eq!(events[0].resource_id, None, "a body over the cap is not read");
}

#[tokio::test]
async fn json_over_the_default_cap_is_intact_and_logged_without_id() {
    json_over_the_cap_is_intact_and_logged_without_id(get(audited(over_default_cap, Action::Read, "blob")))
        .await;
}

#[tokio::test]
async fn json_over_a_configured_cap_is_intact_and_logged_without_id() {
    json_over_the_cap_is_intact_and_logged_without_id(get(
        audited(small_json, Action::Read, "blob").max_body_bytes(32)
    ))
    .await;
}

#[tokio::test]
async fn json_within_a_configured_cap_is_read() {
    let (recorder, sink) = recorder();
    let app = Router::new()
        .route(
            "/small",
            get(audited(small_json, Action::Read, "blob").max_body_bytes(1024)),
        )
        .layer(axum_activity::layer().recorder(recorder.clone()));
    seen(app, "/small").await;
    recorder.flush().await;
    assert_eq!(
        sink.events()[0].resource_id.as_deref(),
        Some("should-not-be-read")
    );
}

// The response kinds compared with and without the wrapper.

async fn created_json() -> impl IntoResponse {
    (
        StatusCode::CREATED,
        [
            ("location", "/users/7"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
        ],
        Json(json!({"id": 7, "name": "Ada \u{2028} Lovelace", "nested": {"id": [1, 2]}})),
    )
}

async fn problem_json() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        [("content-type", "application/problem+json")],
        r#"{"type":"about:blank","title":"Not Found"}"#,
    )
}

async fn no_content() -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn streamed_json() -> Response {
    let chunks = stream::iter(["{\"id\":", " \"s1\"", "}"].map(Ok::<_, std::io::Error>));
    ([("content-type", "application/json")], Body::from_stream(chunks)).into_response()
}

async fn invalid_json_labelled_json() -> impl IntoResponse {
    ([("content-type", "application/json")], "{\"id\": 3,,,")
}

async fn json_with_trailers() -> Response {
    let mut trailers = HeaderMap::new();
    trailers.insert("x-checksum", HeaderValue::from_static("abc123"));
    let body = Full::new(Bytes::from_static(b"{\"id\":\"t1\"}")).with_trailers(ready(Some(Ok(trailers))));
    ([("content-type", "application/json")], Body::new(body)).into_response()
}

#[tokio::test]
async fn responses_are_byte_for_byte_identical_with_and_without_the_wrapper() {
    let (recorder, sink) = recorder();
    let kinds: [(&str, MethodRouter, MethodRouter); 8] = [
        (
            "created-json",
            get(created_json),
            get(audited(created_json, Action::Create, "user")),
        ),
        (
            "problem-json",
            get(problem_json),
            get(audited(problem_json, Action::Read, "user")),
        ),
        (
            "no-content",
            get(no_content),
            get(audited(no_content, Action::Delete, "user")),
        ),
        (
            "text",
            get(plain_text),
            get(audited(plain_text, Action::Read, "greeting")),
        ),
        (
            "stream",
            get(streamed_json),
            get(audited(streamed_json, Action::Read, "s")),
        ),
        (
            "over-cap",
            get(small_json),
            get(audited(small_json, Action::Read, "blob").max_body_bytes(8)),
        ),
        (
            "invalid-json",
            get(invalid_json_labelled_json),
            get(audited(invalid_json_labelled_json, Action::Read, "x")),
        ),
        (
            "trailers",
            get(json_with_trailers),
            get(audited(json_with_trailers, Action::Read, "t")),
        ),
    ];
    let mut app = Router::new();
    for (name, plain, wrapped) in &kinds {
        app = app
            .route(&format!("/plain/{name}"), plain.clone())
            .route(&format!("/audited/{name}"), wrapped.clone());
    }
    let app = app.layer(axum_activity::layer().recorder(recorder.clone()));
    for (name, _, _) in &kinds {
        let plain = seen(app.clone(), &format!("/plain/{name}")).await;
        let wrapped = seen(app.clone(), &format!("/audited/{name}")).await;
        assert_eq!(wrapped, plain, "{name}");
    }
    recorder.flush().await;
    let ids: Vec<_> = sink
        .events()
        .into_iter()
        .map(|event: ActivityEvent| (event.route.unwrap(), event.resource_id))
        .collect();
    assert_eq!(ids.len(), kinds.len());
    let id_of = |name: &str| {
        ids.iter()
            .find(|(route, _)| **route == *format!("/audited/{name}"))
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(id_of("created-json").as_deref(), Some("7"));
    assert_eq!(
        id_of("trailers").as_deref(),
        Some("t1"),
        "trailers kept and the body read"
    );
    assert_eq!(id_of("stream"), None, "a stream is never read");
    assert_eq!(id_of("invalid-json"), None);
}
