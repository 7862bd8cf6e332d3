//! Under the layer, the wrapper's event carries everything the request context
//! holds, in any router shape.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_activity::{
    Action, ActivityEvent, ActivityLogger, Actor, ActorKind, CurrentActivity, MemorySink, Recorder, audited,
};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt};

fn recorder() -> (Recorder, MemorySink) {
    let sink = MemorySink::new();
    (Recorder::builder(sink.clone()).spawn(), sink)
}

#[derive(Clone)]
struct AppState {
    prefix: &'static str,
}

async fn sign_and_create(
    activity: CurrentActivity,
    State(state): State<AppState>,
    Path(org): Path<String>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    activity.set_actor(Actor::admin("root").with_label("Root"));
    activity.set_tenant(org);
    (
        StatusCode::CREATED,
        Json(json!({"id": format!("{}{}", state.prefix, body["n"])})),
    )
}

#[tokio::test]
async fn event_carries_the_context_in_a_nested_router_with_state() {
    let (recorder, sink) = recorder();
    let api = Router::new()
        .route(
            "/orgs/{org}/projects",
            get(|| async { "listing" }).post(audited(sign_and_create, Action::Create, "project")),
        )
        .with_state(AppState { prefix: "p_" });
    let app = Router::new()
        .nest("/api/v1", api)
        .layer(axum_activity::layer().recorder(recorder.clone()));

    let mut request = Request::post("/api/v1/orgs/acme/projects")
        .header("content-type", "application/json")
        .header("x-request-id", "req-77")
        .header("user-agent", "tests/1.0")
        .body(Body::from(r#"{"n": 5}"#))
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo("203.0.113.9:4711".parse::<SocketAddr>().unwrap()));
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["x-request-id"], "req-77");

    recorder.flush().await;
    let events = sink.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event.resource_id.as_deref(), Some("p_5"));
    assert_eq!(event.route.as_deref(), Some("/api/v1/orgs/{org}/projects"));
    assert_eq!(event.method.as_deref(), Some("POST"));
    assert_eq!(event.request_id.as_deref(), Some("req-77"));
    assert_eq!(event.user_agent.as_deref(), Some("tests/1.0"));
    assert_eq!(event.ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(event.tenant_id.as_deref(), Some("acme"));
    let actor = event.actor.as_ref().unwrap();
    assert_eq!(
        (actor.kind, actor.id.as_deref()),
        (ActorKind::Admin, Some("root"))
    );
}

async fn logs_by_hand(logger: ActivityLogger, Path(id): Path<u32>) -> Json<Value> {
    logger.context().set_tenant("globex");
    let logger_in_task = logger.clone();
    tokio::spawn(async move {
        let event = ActivityEvent::builder("report.mailed")
            .resource("report", id)
            .build()
            .unwrap();
        logger_in_task.log(event).unwrap();
    })
    .await
    .unwrap();
    Json(json!({"id": id}))
}

#[tokio::test]
async fn manual_events_share_the_request_id_route_and_tenant_with_the_wrapper_event() {
    let (recorder, sink) = recorder();
    let app = Router::new()
        .route(
            "/reports/{id}",
            post(audited(logs_by_hand, Action::Read, "report")),
        )
        .layer(axum_activity::layer().recorder(recorder.clone()));
    let request = Request::post("/reports/12").body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    recorder.flush().await;
    let events = sink.events();
    assert_eq!(events.len(), 2, "{events:#?}");
    let manual = events
        .iter()
        .find(|event| event.action.as_str() == "report.mailed")
        .unwrap();
    let wrapper = events.iter().find(|event| event.action == Action::Read).unwrap();
    assert_eq!(
        manual.route.as_deref(),
        Some("/reports/{id}"),
        "the wrapper published the route"
    );
    assert_eq!(manual.request_id, wrapper.request_id);
    assert_eq!(manual.tenant_id.as_deref(), Some("globex"));
    assert_eq!(wrapper.tenant_id.as_deref(), Some("globex"));
    assert_eq!(wrapper.resource_id.as_deref(), Some("12"));
    assert_eq!(manual.resource_id.as_deref(), Some("12"));
}

#[tokio::test]
async fn manual_events_carry_the_route_when_the_layer_wraps_the_whole_router() {
    let (recorder, sink) = recorder();
    let routes = Router::new().route(
        "/reports/{id}",
        post(audited(logs_by_hand, Action::Read, "report")),
    );
    // Outside the router: the layer runs before any route is matched.
    let app = axum_activity::layer().recorder(recorder.clone()).layer(routes);
    let request = Request::post("/reports/12").body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    recorder.flush().await;
    let events = sink.events();
    assert_eq!(events.len(), 2, "{events:#?}");
    for event in &events {
        assert_eq!(event.route.as_deref(), Some("/reports/{id}"), "{event:#?}");
    }
}

async fn names_its_route(activity: CurrentActivity) -> StatusCode {
    activity.set_route("/reports/{id}/render");
    StatusCode::NO_CONTENT
}

#[tokio::test]
async fn a_route_the_handler_sets_comes_before_the_matched_one() {
    let (recorder, sink) = recorder();
    let app = Router::new()
        .route(
            "/reports/{id}",
            post(audited(names_its_route, Action::Read, "report").id_from_path("id")),
        )
        .layer(axum_activity::layer().recorder(recorder.clone()));
    let request = Request::post("/reports/12").body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    recorder.flush().await;
    let events = sink.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].route.as_deref(), Some("/reports/{id}/render"));
    assert_eq!(events[0].resource_id.as_deref(), Some("12"));
}

/// The one event a handler at `route` logs by hand for `request`, under
/// `axum_activity::layer()`.
async fn logged_by_hand(route: &str, request: Request<Body>) -> ActivityEvent {
    let (recorder, sink) = recorder();
    let app = Router::new()
        .route(
            route,
            get(|| async {
                let _ = axum_activity::log_activity(ActivityEvent::builder("doc.previewed").build().unwrap());
            }),
        )
        .layer(axum_activity::layer().recorder(recorder.clone()));
    app.oneshot(request).await.unwrap();
    recorder.flush().await;
    sink.events().remove(0)
}

#[tokio::test]
async fn the_axum_layer_reads_connect_info_as_the_peer() {
    let mut request = Request::get("/").body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo("192.0.2.44:1234".parse::<SocketAddr>().unwrap()));
    let event = logged_by_hand("/", request).await;
    assert_eq!(event.ip.as_deref(), Some("192.0.2.44"));
}

#[tokio::test]
async fn events_logged_by_hand_carry_the_route_axum_matched() {
    let request = Request::get("/docs/d1").body(Body::empty()).unwrap();
    let event = logged_by_hand("/docs/{id}", request).await;
    assert_eq!(event.route.as_deref(), Some("/docs/{id}"));
}
