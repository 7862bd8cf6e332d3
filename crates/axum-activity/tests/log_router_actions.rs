//! `GET /actions` serves the action catalogue behind the authorization
//! check, and records the read; the handler wrapper's events go through the
//! recorder's catalogue.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum_activity::router::{LogAccess, LogRouter};
use axum_activity::{Action, Actor, Catalogue, CatalogueEntry, MemorySink, Outcome, Recorder, audited};
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_activity::{DetailSpec, DetailType, Identity, VIEWED_ACTION};

fn catalogue() -> Catalogue {
    Catalogue::new()
        .action(
            CatalogueEntry::new("auth.login.failed", "A sign-in attempt failed")
                .detail("reason", DetailSpec::required(DetailType::String))
                .detail("email", DetailSpec::optional(DetailType::String).personal()),
        )
        .unwrap()
        .action(CatalogueEntry::new("create", "A resource was created").category("crud"))
        .unwrap()
}

/// Only requests with `x-auditor: yes` may read the log.
fn auditors(request: &Parts) -> std::future::Ready<Result<LogAccess, Response>> {
    let allowed = request
        .headers
        .get("x-auditor")
        .is_some_and(|value| value == "yes");
    std::future::ready(match allowed {
        true => Ok(LogAccess::All),
        false => Err(StatusCode::FORBIDDEN.into_response()),
    })
}

/// The router under the layer, with `catalogue` if given; reads are
/// recorded in the returned sink.
fn app(catalogue: Option<Catalogue>) -> (Router, Recorder, MemorySink) {
    let reads = MemorySink::new();
    let recorder = Recorder::builder(reads.clone()).spawn();
    let layer = axum_activity::layer()
        .recorder(recorder.clone())
        .identify(|_: &Request<Body>| Identity::actor(Actor::user("auditor_1")));
    let mut router = LogRouter::new(MemorySink::new(), auditors);
    if let Some(catalogue) = catalogue {
        router = router.catalogue(catalogue);
    }
    let app = Router::new().nest("/activity", router.into_router()).layer(layer);
    (app, recorder, reads)
}

async fn get(app: &Router, uri: &str, auditor: bool) -> (StatusCode, Value) {
    let mut request = Request::get(uri);
    if auditor {
        request = request.header("x-auditor", "yes");
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn actions_serves_the_catalogue_and_records_the_read() {
    let (app, recorder, reads) = app(Some(catalogue()));
    let (status, body) = get(&app, "/activity/actions", true).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::to_value(catalogue()).unwrap());
    assert_eq!(body["actions"][0]["action"], "auth.login.failed");
    assert_eq!(body["actions"][0]["category"], "auth");
    assert_eq!(
        body["actions"][0]["details"]["email"],
        json!({"type": "string", "required": false, "personal": true})
    );
    recorder.shutdown().await;
    let recorded = reads.events();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].action.as_str(), VIEWED_ACTION);
    assert_eq!(
        recorded[0].actor.as_ref().unwrap().id.as_deref(),
        Some("auditor_1")
    );
    let details = recorded[0].details.as_ref().unwrap();
    assert_eq!(details.get("via"), Some(json!("actions")));
    assert_eq!(details.get("returned"), Some(json!(2)));
}

#[tokio::test]
async fn actions_is_an_empty_list_without_a_catalogue() {
    let (app, recorder, _) = app(None);
    assert_eq!(
        get(&app, "/activity/actions", true).await,
        (StatusCode::OK, json!({"actions": []}))
    );
    recorder.shutdown().await;
}

#[tokio::test]
async fn actions_is_authorization_checked_and_a_refusal_recorded() {
    let (app, recorder, reads) = app(Some(catalogue()));
    assert_eq!(
        get(&app, "/activity/actions", false).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = get(&app, "/activity/actions?category=auth", true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.to_string().contains("category"), "{body}");
    recorder.shutdown().await;
    let recorded = reads.events();
    assert_eq!(recorded[0].action.as_str(), VIEWED_ACTION);
    assert_eq!(recorded[0].outcome, Outcome::Warning);
    assert_eq!(recorded[0].http_status, Some(403));
    assert_eq!(
        recorded[0].details.as_ref().unwrap().get("via"),
        Some(json!("actions"))
    );
}

async fn create() -> (StatusCode, axum::Json<Value>) {
    (StatusCode::CREATED, axum::Json(json!({"id": "n1"})))
}

#[tokio::test]
async fn the_wrapper_s_events_go_through_the_catalogue() {
    for (catalogue, expected) in [
        (catalogue().strict(), Some("crud")),
        (Catalogue::new().strict(), None),
    ] {
        let sink = MemorySink::new();
        let recorder = Recorder::builder(sink.clone()).catalogue(catalogue).spawn();
        let app = Router::new()
            .route("/notes", post(audited(create, Action::Create, "note")))
            .layer(axum_activity::layer().recorder(recorder.clone()));
        let response = app
            .oneshot(Request::post("/notes").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "a refused event never fails the request"
        );
        recorder.shutdown().await;
        let categories: Vec<_> = sink.events().iter().map(|event| event.category.clone()).collect();
        match expected {
            Some(category) => assert_eq!(categories, [Some(category.into())]),
            None => {
                assert!(categories.is_empty());
                assert_eq!(recorder.stats().catalogue_refused, 1);
            }
        }
    }
}
