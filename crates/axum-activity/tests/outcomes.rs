//! The outcome of the wrapper's event follows the response: 2xx success, 4xx
//! warning, 5xx error, a panic critical.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use axum_activity::{Action, ActivityEvent, AuditedEvent, MemorySink, Outcome, Recorder, audited, changes};
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_activity::PANIC_ACTION;

async fn events_of(routes: Router, request: Request<Body>) -> (StatusCode, Vec<ActivityEvent>) {
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone()).spawn();
    let app = routes.layer(axum_activity::layer().recorder(recorder.clone()));
    let response = app.oneshot(request).await.unwrap();
    recorder.flush().await;
    (response.status(), sink.events())
}

async fn answers(Path(code): Path<u16>) -> (StatusCode, Json<Value>) {
    let status = StatusCode::from_u16(code).unwrap();
    (status, Json(json!({"id": "r1", "status": code})))
}

#[tokio::test]
async fn each_status_class_gives_its_outcome() {
    for (code, outcome) in [
        (200, Outcome::Success),
        (201, Outcome::Success),
        (204, Outcome::Success),
        (403, Outcome::Warning),
        (404, Outcome::Warning),
        (422, Outcome::Warning),
        (500, Outcome::Error),
        (503, Outcome::Error),
    ] {
        let routes = Router::new().route("/status/{code}", get(audited(answers, Action::Read, "probe")));
        let request = Request::get(format!("/status/{code}"))
            .body(Body::empty())
            .unwrap();
        let (status, events) = events_of(routes, request).await;
        assert_eq!(status.as_u16(), code);
        assert_eq!(events.len(), 1, "{code}: {events:#?}");
        let event = &events[0];
        assert_eq!(event.outcome, outcome, "{code}");
        assert_eq!(event.http_status, Some(code));
        assert_eq!(event.method.as_deref(), Some("GET"));
        assert_eq!(event.route.as_deref(), Some("/status/{code}"));
        let expected_id = (200..300).contains(&code).then_some("r1");
        assert_eq!(
            event.resource_id.as_deref(),
            expected_id,
            "only 2xx bodies give the id ({code})"
        );
    }
}

async fn denies_politely(event: AuditedEvent) -> Json<Value> {
    event.set_outcome(Outcome::Warning);
    event.add_detail("reason", "quota exceeded");
    event.add_detail("password", "hunter2");
    Json(json!({"accepted": false}))
}

#[tokio::test]
async fn handler_can_change_the_outcome_and_add_details_in_one_event() {
    let routes = Router::new().route("/jobs", post(audited(denies_politely, Action::Create, "job")));
    let request = Request::post("/jobs").body(Body::empty()).unwrap();
    let (status, events) = events_of(routes, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, Outcome::Warning);
    let details = events[0].details.as_ref().unwrap().to_value();
    assert_eq!(details["reason"], "quota exceeded");
    assert_eq!(details["password"], "[REDACTED]", "details are scrubbed");
}

async fn takes_json(Json(_body): Json<Value>) -> StatusCode {
    StatusCode::CREATED
}

#[tokio::test]
async fn bad_json_rejection_is_a_warning_with_its_status() {
    let routes = Router::new().route("/users", post(audited(takes_json, Action::Create, "user")));
    let request = Request::post("/users")
        .header("content-type", "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let (status, events) = events_of(routes, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, Outcome::Warning);
    assert_eq!(events[0].http_status, Some(400));
    assert_eq!(events[0].resource_id, None);
}

#[tokio::test]
async fn missing_json_content_type_rejection_is_a_warning_with_its_status() {
    let routes = Router::new().route("/users", post(audited(takes_json, Action::Create, "user")));
    let request = Request::post("/users").body(Body::from("{}")).unwrap();
    let (status, events) = events_of(routes, request).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(events[0].outcome, Outcome::Warning);
    assert_eq!(events[0].http_status, Some(415));
}

async fn takes_number(Path(_id): Path<u64>) -> StatusCode {
    StatusCode::OK
}

#[tokio::test]
async fn bad_path_rejection_is_a_warning_with_its_status() {
    let routes = Router::new().route(
        "/users/{id}",
        get(audited(takes_number, Action::Read, "user").id_from_path("id")),
    );
    let request = Request::get("/users/not-a-number").body(Body::empty()).unwrap();
    let (status, events) = events_of(routes, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, Outcome::Warning);
    assert_eq!(events[0].http_status, Some(400));
    assert_eq!(events[0].resource_id.as_deref(), Some("not-a-number"));
}

async fn panics(event: AuditedEvent, Path(id): Path<String>) -> StatusCode {
    event.set_resource_id(&id);
    event.add_detail("step", "before the crash");
    panic!("ledger out of balance for {id}");
}

#[tokio::test]
async fn panicking_handler_is_one_critical_event_and_a_500() {
    let routes = Router::new().route("/ledgers/{id}", post(audited(panics, Action::Update, "ledger")));
    let request = Request::post("/ledgers/l9").body(Body::empty()).unwrap();
    let (status, events) = events_of(routes, request).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "the layer answers 500");
    assert_eq!(
        events.len(),
        1,
        "the layer must not add a second event: {events:#?}"
    );
    let event = &events[0];
    assert_ne!(event.action.as_str(), PANIC_ACTION);
    assert_eq!(event.action, Action::Update);
    assert_eq!(event.resource_type.as_deref(), Some("ledger"));
    assert_eq!(event.resource_id.as_deref(), Some("l9"));
    assert_eq!(event.outcome, Outcome::Critical);
    assert_eq!(event.http_status, Some(500));
    assert_eq!(event.route.as_deref(), Some("/ledgers/{id}"));
    let details = event.details.as_ref().unwrap().to_value();
    assert_eq!(details["panic"], "ledger out of balance for l9");
    assert_eq!(details["step"], "before the crash");
}

/// A handler whose `call` itself panics, before any future exists.
#[derive(Clone)]
struct PanicsWhenCalled;

impl<S> axum::handler::Handler<(), S> for PanicsWhenCalled {
    type Future = std::future::Ready<axum::response::Response>;

    fn call(self, _request: Request<Body>, _state: S) -> Self::Future {
        panic!("refused to start");
    }
}

#[tokio::test]
async fn panic_in_the_handler_call_itself_is_one_critical_event() {
    let routes = Router::new().route("/boom", post(audited(PanicsWhenCalled, Action::Delete, "boom")));
    let request = Request::post("/boom").body(Body::empty()).unwrap();
    let (status, events) = events_of(routes, request).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].outcome, Outcome::Critical);
    assert_eq!(
        events[0].details.as_ref().unwrap().to_value()["panic"],
        "refused to start"
    );
}

async fn renames(event: AuditedEvent, Json(body): Json<Value>) -> Json<Value> {
    let before = json!({"id": "p1", "name": "Draft", "owner": {"email": "a@example.com", "team": "core"}});
    let after =
        json!({"id": "p1", "name": body["name"], "owner": {"email": "a@example.com", "team": "infra"}});
    event.set_changes(changes(&before, &after).unwrap());
    Json(after)
}

#[tokio::test]
async fn handler_records_what_it_changed_in_the_event() {
    let routes = Router::new().route("/projects", put(audited(renames, Action::Update, "project")));
    let request = Request::put("/projects")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"name": "Launch"}"#))
        .unwrap();
    let (status, events) = events_of(routes, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].resource_id.as_deref(), Some("p1"));
    let details = events[0].details.as_ref().unwrap().to_value();
    assert_eq!(
        details["changes"],
        json!({"name": ["Draft", "Launch"], "owner": {"team": ["core", "infra"]}})
    );
}
