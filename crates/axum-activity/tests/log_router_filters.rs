//! The log router's namespace, IP, detail and free-text filters: read from
//! the query string into the store's filter, and hostile values refused by
//! name or matched literally, never a server error.

use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum_activity::router::{LogAccess, LogRouter};
use axum_activity::{ActivityEvent, ActivitySink, Actor, MemorySink};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

fn everything(_request: &Parts) -> std::future::Ready<Result<LogAccess, Response>> {
    std::future::ready(Ok(LogAccess::All))
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

/// A router over four entries, and their ids.
async fn app() -> (Router, Vec<String>) {
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
    let (app, ids) = app().await;
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
    let (app, _) = app().await;
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
