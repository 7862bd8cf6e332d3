//! A missing layer, recorder or wrapper is a clear `500` that says what to
//! add, never a panic. No test here sets a global recorder.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum_activity::{ActivityLogger, AuditedEvent, CurrentActivity};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn call(app: Router) -> (StatusCode, String) {
    let response = app
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

async fn reads_context(activity: CurrentActivity) -> String {
    activity.request_id().to_owned()
}

#[tokio::test]
async fn current_activity_without_the_layer_says_to_add_it() {
    let (status, body) = call(Router::new().route("/", get(reads_context))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("add `ActivityLayer` to the router"), "{body}");
}

#[tokio::test]
async fn current_activity_under_the_layer_is_the_request_context() {
    let app = Router::new()
        .route("/", get(reads_context))
        .layer(axum_activity::layer());
    let response = app
        .oneshot(
            Request::get("/")
                .header("x-request-id", "ctx-1")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "ctx-1");
}

async fn optional_context(activity: Option<CurrentActivity>) -> &'static str {
    if activity.is_some() { "with" } else { "without" }
}

#[tokio::test]
async fn optional_current_activity_is_none_without_the_layer() {
    let (status, body) = call(Router::new().route("/", get(optional_context))).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "without"));
    let layered = Router::new()
        .route("/", get(optional_context))
        .layer(axum_activity::layer());
    assert_eq!(call(layered).await.1, "with");
}

async fn logs(_logger: ActivityLogger) -> &'static str {
    "logged"
}

#[tokio::test]
async fn logger_without_the_layer_says_to_add_it() {
    let (status, body) = call(Router::new().route("/", get(logs))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("add `ActivityLayer` to the router"), "{body}");
}

#[tokio::test]
async fn logger_without_any_recorder_says_to_add_one() {
    let app = Router::new().route("/", get(logs)).layer(axum_activity::layer());
    let (status, body) = call(app).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("no activity recorder"), "{body}");
    assert!(body.contains("set_global_recorder"), "{body}");
}

async fn enriches(event: AuditedEvent) -> &'static str {
    event.add_detail("k", "v");
    "enriched"
}

#[tokio::test]
async fn audited_event_in_an_unwrapped_handler_says_to_wrap_it() {
    let (status, body) = call(Router::new().route("/", get(enriches))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("wrapped by `audited(..)`"), "{body}");
}
