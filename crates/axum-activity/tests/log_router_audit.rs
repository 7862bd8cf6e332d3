//! Reading the log is itself logged: every listing, entry, stats, export and
//! stream records who read what, with the filter and the count, and a refused
//! attempt records who tried.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_activity::router::{LogAccess, LogRouter};
use axum_activity::{Action, ActivityEvent, ActivitySink, Actor, MemorySink, Outcome, Recorder};
use serde_json::json;
use tower::ServiceExt;
use tower_activity::{EXPORTED_ACTION, Identity, STREAMED_ACTION, VIEWED_ACTION};

fn everything(_request: &Parts) -> std::future::Ready<Result<LogAccess, Response>> {
    std::future::ready(Ok(LogAccess::All))
}

/// A store holding three `delete` entries and two `read` ones, served under
/// the layer, whose recorder writes to the returned sink; the reader is
/// `auditor_1`.
async fn app(audit_reads: bool) -> (Router, Recorder, MemorySink, Vec<ActivityEvent>) {
    let store = MemorySink::new();
    let entries: Vec<ActivityEvent> = [
        Action::Delete,
        Action::Delete,
        Action::Delete,
        Action::Read,
        Action::Read,
    ]
    .into_iter()
    .map(|action| ActivityEvent::builder(action).tenant("acme").build().unwrap())
    .collect();
    store.write_batch(&entries).await.unwrap();
    let reads = MemorySink::new();
    let recorder = Recorder::builder(reads.clone()).spawn();
    let layer = axum_activity::layer()
        .recorder(recorder.clone())
        .identify(|_: &Request<Body>| Identity::actor(Actor::user("auditor_1")));
    let router = LogRouter::new(store, everything)
        .audit_reads(audit_reads)
        .into_router();
    let app = Router::new().nest("/activity", router).layer(layer);
    (app, recorder, reads, entries)
}

/// Sends a request and drops the response unread, as a client that goes
/// away does.
async fn open_and_leave(app: &Router, uri: &str) -> StatusCode {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    response.status()
}

async fn get(app: &Router, uri: &str) -> (StatusCode, Vec<u8>) {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec(),
    )
}

#[tokio::test]
async fn every_read_records_the_reader_the_filter_and_the_count() {
    let (app, recorder, reads, entries) = app(true).await;
    assert_eq!(
        get(&app, "/activity?action=delete&limit=2").await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&app, &format!("/activity/{}", entries[0].id)).await.0,
        StatusCode::OK
    );
    assert_eq!(get(&app, "/activity/stats?action=read").await.0, StatusCode::OK);
    let (status, body) = get(&app, "/activity/export?format=jsonl").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.iter().filter(|&&byte| byte == b'\n').count(), 5);
    recorder.shutdown().await;

    let recorded = reads.events();
    let summary: Vec<(&str, serde_json::Value)> = recorded
        .iter()
        .map(|event| {
            let details = event.details.as_ref().unwrap().to_value();
            (
                event.action.as_str(),
                json!([details["via"], details["filter"], details["returned"]]),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (VIEWED_ACTION, json!(["list", {"actions": ["delete"]}, 2])),
            (VIEWED_ACTION, json!(["entry", {}, 1])),
            (VIEWED_ACTION, json!(["stats", {"actions": ["read"]}, 2])),
            (EXPORTED_ACTION, json!(["jsonl", {}, 5])),
        ]
    );
    for event in &recorded {
        assert_eq!(
            event.actor.as_ref().unwrap().id.as_deref(),
            Some("auditor_1"),
            "{event:?}"
        );
        assert_eq!(event.resource_type.as_deref(), Some("activity_log"));
        assert!(event.request_id.is_some());
    }
    assert_eq!(
        recorded[1].resource_id.as_deref(),
        Some(&*entries[0].id.to_string())
    );
}

#[tokio::test]
async fn a_missing_entry_and_a_stream_are_recorded_too() {
    let (app, recorder, reads, _) = app(true).await;
    let missing = uuid::Uuid::now_v7();
    assert_eq!(
        get(&app, &format!("/activity/{missing}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        open_and_leave(&app, "/activity/stream?tenant=acme").await,
        StatusCode::OK
    );
    recorder.shutdown().await;
    let recorded = reads.events();
    assert_eq!(recorded.len(), 2);
    assert_eq!(
        recorded[0].details.as_ref().unwrap().get("returned"),
        Some(json!(0))
    );
    assert_eq!(recorded[0].resource_id.as_deref(), Some(&*missing.to_string()));
    assert_eq!(recorded[1].action.as_str(), STREAMED_ACTION);
    assert_eq!(
        recorded[1].details.as_ref().unwrap().get("filter"),
        Some(json!({"tenant_id": "acme"}))
    );
}

#[tokio::test]
async fn reads_can_be_left_unrecorded_for_development() {
    let (app, recorder, reads, _) = app(false).await;
    assert_eq!(get(&app, "/activity").await.0, StatusCode::OK);
    assert_eq!(get(&app, "/activity/export").await.0, StatusCode::OK);
    recorder.shutdown().await;
    assert!(reads.events().is_empty());
}

#[tokio::test]
async fn a_refused_attempt_is_recorded_with_its_status() {
    fn nobody(_request: &Parts) -> std::future::Ready<Result<LogAccess, Response>> {
        std::future::ready(Err(StatusCode::FORBIDDEN.into_response()))
    }
    let reads = MemorySink::new();
    let recorder = Recorder::builder(reads.clone()).spawn();
    let layer = axum_activity::layer()
        .recorder(recorder.clone())
        .identify(|_: &Request<Body>| Identity::actor(Actor::user("intruder")));
    let router = LogRouter::new(MemorySink::new(), nobody).into_router();
    let app = Router::new().nest("/activity", router).layer(layer);
    assert_eq!(
        get(&app, "/activity/export?format=jsonl").await.0,
        StatusCode::FORBIDDEN
    );
    recorder.shutdown().await;
    let recorded = reads.events();
    assert_eq!(recorded.len(), 1);
    let event = &recorded[0];
    assert_eq!(event.action.as_str(), EXPORTED_ACTION);
    assert_eq!((event.outcome, event.http_status), (Outcome::Warning, Some(403)));
    assert_eq!(event.actor.as_ref().unwrap().id.as_deref(), Some("intruder"));
}

#[tokio::test]
async fn an_export_the_client_abandons_is_recorded_with_what_was_sent() {
    let (app, recorder, reads, _) = app(true).await;
    // The client goes away before reading the body.
    assert_eq!(
        open_and_leave(&app, "/activity/export?format=jsonl").await,
        StatusCode::OK
    );
    recorder.shutdown().await;
    let recorded = reads.events();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].action.as_str(), EXPORTED_ACTION);
    assert_eq!(
        recorded[0].details.as_ref().unwrap().get("returned"),
        Some(json!(0))
    );
}
