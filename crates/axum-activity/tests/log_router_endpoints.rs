//! The log router's listing, single entry and stats, its filters (namespaces,
//! client IP, details and free text among them), and its answers to bad input
//! and to a failing store.

use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum_activity::router::{LogAccess, LogRouter};
use axum_activity::{Action, ActivityEvent, ActivitySink, ActivityStore, Actor, MemorySink, Outcome};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_activity::{ActivityCount, ActivityFilter, ActivityPage, ActivityQuery, StoreError};
use uuid::Uuid;

fn everything(_request: &Parts) -> std::future::Ready<Result<LogAccess, Response>> {
    std::future::ready(Ok(LogAccess::All))
}

fn app(store: impl ActivityStore) -> Router {
    Router::new().nest("/log", LogRouter::new(store, everything).into_router())
}

async fn get(app: &Router, uri: &str) -> (StatusCode, Value) {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// Writes `n` events, one minute apart: actions alternate create / delete,
/// tenants cycle a, b, c, every third is a warning.
async fn seeded(n: usize) -> (MemorySink, Vec<ActivityEvent>) {
    let sink = MemorySink::new();
    let start = ActivityEvent::now() - chrono::Duration::days(1);
    let events: Vec<_> = (0..n)
        .map(|i| {
            let mut event = ActivityEvent::builder(if i % 2 == 0 {
                Action::Create
            } else {
                Action::Delete
            })
            .resource("doc", i)
            .tenant(["a", "b", "c"][i % 3])
            .actor(Actor::user(format!("u{}", i % 4)))
            .outcome(if i % 3 == 0 {
                Outcome::Warning
            } else {
                Outcome::Success
            })
            .request_id(format!("r{i}"))
            .build()
            .unwrap();
            event.occurred_at = start + chrono::Duration::minutes(i as i64);
            event
        })
        .collect();
    sink.write_batch(&events).await.unwrap();
    (sink, events)
}

fn ids(body: &Value) -> Vec<String> {
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn listing_pages_through_every_match_with_the_cursor() {
    let (sink, events) = seeded(23).await;
    let app = app(sink);
    let expected: Vec<String> = events
        .iter()
        .rev()
        .filter(|event| event.tenant_id.as_deref() == Some("b"))
        .map(|event| event.id.to_string())
        .collect();
    let mut seen = Vec::new();
    let mut uri = "/log?tenant=b&limit=3".to_owned();
    loop {
        let (status, body) = get(&app, &uri).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["events"].as_array().unwrap().len() <= 3);
        seen.extend(ids(&body));
        match body["next"].as_str() {
            Some(next) => uri = format!("/log?tenant=b&limit=3&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, expected, "newest first, each once");
}

#[tokio::test]
async fn listing_applies_every_filter_and_the_order() {
    let (sink, events) = seeded(30).await;
    let app = app(sink);
    let (status, body) = get(
        &app,
        "/log?action=create&action=delete&outcome=warning&order=oldest_first&limit=1000",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let expected: Vec<String> = events
        .iter()
        .filter(|event| event.outcome == Outcome::Warning)
        .map(|event| event.id.to_string())
        .collect();
    assert_eq!(ids(&body), expected);
    assert_eq!(body["next"], Value::Null);

    let (_, body) = get(
        &app,
        "/log?actor=u1&action=delete&resource_type=doc&resource_id=5",
    )
    .await;
    assert_eq!(ids(&body), vec![events[5].id.to_string()]);
    let (_, body) = get(&app, "/log?request_id=r7").await;
    assert_eq!(ids(&body), vec![events[7].id.to_string()]);

    let time = |i: usize| {
        events[i]
            .occurred_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    };
    let uri = format!("/log?since={}&until={}&order=oldest_first", time(10), time(20));
    let (status, body) = get(&app, &uri).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let expected: Vec<String> = events[10..20].iter().map(|event| event.id.to_string()).collect();
    assert_eq!(ids(&body), expected, "since inclusive, until exclusive");
}

#[tokio::test]
async fn single_entry_is_found_by_id() {
    let (sink, events) = seeded(3).await;
    let app = app(sink);
    let (status, body) = get(&app, &format!("/log/{}", events[1].id)).await;
    assert_eq!(status, StatusCode::OK);
    let entry: ActivityEvent = serde_json::from_value(body).unwrap();
    assert_eq!(entry, events[1]);

    let (status, body) = get(&app, &format!("/log/{}", Uuid::now_v7())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("no activity entry"));

    let (status, body) = get(&app, "/log/not-a-uuid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["parameter"], "id");
}

#[tokio::test]
async fn stats_count_by_day_action_and_outcome() {
    let (sink, _) = seeded(12).await;
    let app = app(sink);
    let (status, body) = get(&app, "/log/stats?tenant=a").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 4);
    let counts: Vec<ActivityCount> = serde_json::from_value(body["counts"].clone()).unwrap();
    let creates: u64 = counts
        .iter()
        .filter(|count| count.action == Action::Create)
        .map(|count| count.count)
        .sum();
    assert_eq!(
        creates, 2,
        "tenant a holds events 0, 3, 6, 9: creates are 0 and 6"
    );
    assert!(counts.iter().all(|count| count.outcome == Outcome::Warning));
}

#[tokio::test]
async fn bad_parameters_are_400_naming_the_parameter() {
    let app = app(MemorySink::new());
    for (uri, parameter) in [
        ("/log?limit=0", "limit"),
        ("/log?limit=1001", "limit"),
        ("/log?limit=ten", "limit"),
        ("/log?cursor=c1nothex", "cursor"),
        ("/log?order=sideways", "order"),
        ("/log?action=Not%20An%20Action", "action"),
        ("/log?outcome=fine", "outcome"),
        ("/log?since=yesterday", "since"),
        ("/log?until=2025-13-01T00:00:00Z", "until"),
        (
            "/log?since=2025-02-01T00:00:00Z&until=2025-01-01T00:00:00Z",
            "until",
        ),
        ("/log?tenant=", "tenant"),
        ("/log?tenant=a&tenant=b", "tenant"),
        ("/log?tennant=a", "tennant"),
        ("/log/stats?limit=5", "limit"),
        ("/log/stream?cursor=c1", "cursor"),
        ("/log/export?format=xml", "format"),
    ] {
        let (status, body) = get(&app, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["parameter"], parameter, "{uri}: {body}");
        assert!(!body["error"].as_str().unwrap().is_empty());
    }
    let long = format!("/log?actor={}", "x".repeat(300));
    let (status, body) = get(&app, &long).await;
    assert_eq!(
        (status, body["parameter"].as_str()),
        (StatusCode::BAD_REQUEST, Some("actor"))
    );
}

/// A store whose every call fails with an error full of internals.
struct BrokenStore;

impl ActivityStore for BrokenStore {
    async fn list(&self, _query: &ActivityQuery) -> Result<ActivityPage, StoreError> {
        Err(StoreError::new(
            "connection to postgres://admin:hunter2@db-7 refused",
        ))
    }

    async fn get(&self, _id: Uuid) -> Result<Option<ActivityEvent>, StoreError> {
        Err(StoreError::new(
            "connection to postgres://admin:hunter2@db-7 refused",
        ))
    }

    async fn counts(&self, _filter: &ActivityFilter) -> Result<Vec<ActivityCount>, StoreError> {
        Err(StoreError::new(
            "connection to postgres://admin:hunter2@db-7 refused",
        ))
    }
}

#[tokio::test]
async fn store_failures_are_500_without_internals() {
    let app = app(BrokenStore);
    let id = Uuid::now_v7();
    for uri in [
        "/log".to_owned(),
        format!("/log/{id}"),
        "/log/stats".to_owned(),
        "/log/export".to_owned(),
        "/log/stream".to_owned(),
    ] {
        let (status, body) = get(&app, &uri).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
        let text = body.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("postgres"),
            "{uri}: {text}"
        );
        assert!(text.contains("could not be read"), "{uri}: {text}");
    }
}

#[tokio::test]
async fn router_nests_into_an_application_with_state() {
    #[derive(Clone)]
    struct AppState;
    let (sink, events) = seeded(1).await;
    let app: Router<AppState> =
        Router::new().nest("/admin/activity", LogRouter::new(sink, everything).into_router());
    let app = app.with_state(AppState);
    let (status, body) = get(&app, &format!("/admin/activity/{}", events[0].id)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], events[0].id.to_string());
}

#[tokio::test]
async fn router_nested_under_a_path_parameter_serves_entries() {
    let (sink, events) = seeded(2).await;
    let app: Router = Router::new().nest(
        "/orgs/{org}/activity",
        LogRouter::new(sink, everything).into_router(),
    );
    let (status, body) = get(&app, "/orgs/acme/activity").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&body).len(), 2);

    let (status, body) = get(&app, &format!("/orgs/acme/activity/{}", events[1].id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], events[1].id.to_string());

    let (status, body) = get(&app, "/orgs/acme/activity/not-a-uuid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["parameter"], "id");
}

#[tokio::test]
async fn router_nested_under_a_parameter_also_called_id_reads_its_own() {
    let (sink, events) = seeded(1).await;
    let app: Router = Router::new().nest(
        "/tenants/{id}/activity",
        LogRouter::new(sink, everything).into_router(),
    );
    let (status, body) = get(&app, &format!("/tenants/t1/activity/{}", events[0].id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], events[0].id.to_string());
}

/// A router over four entries, and their ids.
async fn filtered_app() -> (Router, Vec<String>) {
    let mut events = vec![
        ActivityEvent::builder("auth.login.failed")
            .detail("reason", "bad_password")
            .ip("10.1.2.3".parse().unwrap())
            .build()
            .unwrap(),
        ActivityEvent::builder("authz.checked")
            .actor(Actor::user("u1").with_label("O'Hara 50%_off"))
            .ip("2001:db8::7".parse().unwrap())
            .build()
            .unwrap(),
        ActivityEvent::builder("billing.plan_2.changed")
            .details(json!({"reason": "upgrade", "k\u{0}": "v"}))
            .ip("192.0.2.1".parse().unwrap())
            .build()
            .unwrap(),
        ActivityEvent::builder("read")
            .resource("doc", "a\\b")
            .build()
            .unwrap(),
    ];
    events[3].ip = Some("6f1ed002ab5595859014ebf0951522d9".into());
    let sink = MemorySink::new();
    sink.write_batch(&events).await.unwrap();
    let ids = events.iter().map(|event| event.id.to_string()).collect();
    let app = Router::new().nest(
        "/log",
        LogRouter::new(sink, everything).audit_reads(false).into_router(),
    );
    (app, ids)
}

/// The ids a listing returns, oldest first.
async fn listed(app: &Router, query: &str) -> Vec<String> {
    let (status, body) = get(app, &format!("/log?order=oldest_first&{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    let entries = body["events"].as_array().unwrap_or_else(|| panic!("{body}"));
    entries
        .iter()
        .map(|entry| entry["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn each_new_filter_selects_its_entries() {
    let (app, ids) = filtered_app().await;
    for (query, expected) in [
        ("action=auth.*", vec![0]),
        ("action=auth.*&action=authz.*", vec![0, 1]),
        ("action=billing.plan_2.*&action=read", vec![2, 3]),
        ("ip=10.0.0.0/8", vec![0]),
        ("ip=10.1.2.3", vec![0]),
        ("ip=2001:db8::/32", vec![1]),
        ("ip=0.0.0.0/0", vec![0, 2]),
        ("detail=reason:bad_password", vec![0]),
        ("detail=reason:upgrade&detail=k%00:v", vec![2]),
        ("detail=reason:bad%25", vec![]),
        ("text=50%25_off", vec![1]),
        ("text=O'Hara", vec![1]),
        ("text=%25", vec![1]),
        ("text=a%5Cb", vec![3]),
        ("text=upgrade&action=billing.*", vec![2]),
    ] {
        let wanted: Vec<String> = expected.iter().map(|&i| ids[i].clone()).collect();
        assert_eq!(listed(&app, query).await, wanted, "{query}");
    }
}

#[tokio::test]
async fn hostile_filter_values_are_400_naming_the_parameter() {
    let (app, _) = filtered_app().await;
    for (uri, parameter, message) in [
        ("/log?ip=10.0.0.0/33", "ip", "invalid IP filter"),
        ("/log?ip=10.0.0.1%27%20OR%201=1", "ip", "invalid IP filter"),
        ("/log/stats?ip=::1/129", "ip", "invalid IP filter"),
        ("/log?ip=10.0.0.0/8&ip=::/0", "ip", "given more than once"),
        ("/log?detail=reason", "detail", "expected KEY:VALUE"),
        ("/log?detail=reason:%FF", "detail", "not valid UTF-8"),
        ("/log/export?text=%C3%28", "text", "not valid UTF-8"),
        ("/log?text=", "text", "must not be empty"),
        ("/log?action=auth.%2A.%2A", "action", "invalid action pattern"),
        ("/log/stream?action=Auth.*", "action", "invalid action pattern"),
    ] {
        let (status, body) = get(&app, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["parameter"], parameter, "{uri}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(message), "{uri}: {error}");
    }
}
