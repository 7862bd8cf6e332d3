//! The request context layer, driven end to end through a tower service.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Request, Response, StatusCode};
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
use tower_activity::{
    Action, ActivityContext, ActivityEvent, ActivityLayer, Actor, ActorKind, Identity, MemorySink, Outcome,
    PANIC_ACTION, Recorder, TrustedProxies, log_activity,
};

/// Logs one `read` event per request and answers with the context's view of it.
async fn handler(_request: Request<String>) -> Result<Response<String>, Infallible> {
    let context = ActivityContext::current().expect("the layer sets a context");
    let event = ActivityEvent::builder(Action::Read)
        .resource("doc", "d1")
        .build()
        .unwrap();
    let _ = log_activity(event);
    let body = format!(
        "{}|{}|{}",
        context.request_id(),
        context.ip().map(|ip| ip.to_string()).unwrap_or_default(),
        context.user_agent().unwrap_or_default()
    );
    Ok(Response::new(body))
}

fn recorder() -> (Recorder, MemorySink) {
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone())
        .flush_interval(Duration::from_millis(5))
        .spawn();
    (recorder, sink)
}

fn request() -> http::request::Builder {
    Request::builder().uri("/docs/d1?secret=1")
}

fn with_peer(mut request: Request<String>, peer: &str) -> Request<String> {
    request
        .extensions_mut()
        .insert(peer.parse::<SocketAddr>().unwrap());
    request
}

async fn call(layer: ActivityLayer, request: Request<String>) -> Response<String> {
    ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(handler))
        .oneshot(request)
        .await
        .unwrap()
}

#[tokio::test]
async fn valid_request_id_is_kept_echoed_and_recorded() {
    let (recorder, sink) = recorder();
    let layer = ActivityLayer::new().recorder(recorder.clone());
    let response = call(
        layer,
        request()
            .header("x-request-id", "abc-123")
            .body(String::new())
            .unwrap(),
    )
    .await;
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    assert!(response.body().starts_with("abc-123|"));
    recorder.flush().await;
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].request_id.as_deref(), Some("abc-123"));
    assert_eq!(events[0].method.as_deref(), Some("GET"));
    assert_eq!(
        events[0].route.as_deref(),
        Some("/docs/d1"),
        "the path, without the query"
    );
}

#[tokio::test]
async fn ten_kilobyte_request_id_is_replaced_and_never_stored() {
    let (recorder, sink) = recorder();
    let layer = ActivityLayer::new().recorder(recorder.clone());
    let long = "a".repeat(10 * 1024);
    let response = call(
        layer,
        request()
            .header("x-request-id", &long)
            .body(String::new())
            .unwrap(),
    )
    .await;
    let echoed = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(uuid::Uuid::parse_str(&echoed).unwrap().get_version_num(), 7);
    recorder.flush().await;
    assert_eq!(sink.events()[0].request_id.as_deref(), Some(echoed.as_str()));
}

#[tokio::test]
async fn request_id_with_spaces_or_tabs_is_replaced() {
    for bad in ["has space", "tab\tinside", "semi;colon", "caf\u{e9}"] {
        let (recorder, sink) = recorder();
        let layer = ActivityLayer::new().recorder(recorder.clone());
        let value = HeaderValue::from_bytes(bad.as_bytes()).unwrap();
        let response = call(
            layer,
            request()
                .header("x-request-id", value)
                .body(String::new())
                .unwrap(),
        )
        .await;
        let echoed = response.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert!(uuid::Uuid::parse_str(&echoed).is_ok(), "{bad:?} -> {echoed}");
        recorder.flush().await;
        assert_ne!(sink.events()[0].request_id.as_deref(), Some(bad));
    }
}

#[tokio::test]
async fn inner_services_see_the_request_id_the_layer_decided() {
    let layer = ActivityLayer::new();
    let service =
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(|request: Request<String>| async move {
                let header = request.headers()["x-request-id"].to_str().unwrap().to_owned();
                Ok::<_, Infallible>(Response::new(header))
            }));
    let response = service
        .oneshot(request().body(String::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        response.body(),
        response.headers()["x-request-id"].to_str().unwrap()
    );
}

#[tokio::test]
async fn custom_request_id_header_is_read_and_echoed() {
    let layer = ActivityLayer::new().request_id_header(http::HeaderName::from_static("x-correlation-id"));
    let response = call(
        layer,
        request()
            .header("x-correlation-id", "corr-1")
            .body(String::new())
            .unwrap(),
    )
    .await;
    assert_eq!(response.headers()["x-correlation-id"], "corr-1");
}

#[tokio::test]
async fn spoofed_forwarded_for_from_untrusted_peer_changes_nothing() {
    let (recorder, sink) = recorder();
    let layer = ActivityLayer::new()
        .recorder(recorder.clone())
        .trusted_proxies(TrustedProxies::parse(["10.0.0.0/8"]).unwrap());
    let spoofed = request()
        .header("x-forwarded-for", "1.1.1.1")
        .header("x-real-ip", "2.2.2.2")
        .header("forwarded", "for=3.3.3.3")
        .body(String::new())
        .unwrap();
    call(layer, with_peer(spoofed, "198.51.100.9:5555")).await;
    recorder.flush().await;
    assert_eq!(sink.events()[0].ip.as_deref(), Some("198.51.100.9"));
}

#[tokio::test]
async fn forwarded_for_from_trusted_proxy_gives_the_client() {
    let (recorder, sink) = recorder();
    let layer = ActivityLayer::new()
        .recorder(recorder.clone())
        .trusted_proxies(TrustedProxies::parse(["10.0.0.0/8"]).unwrap());
    let forwarded = request()
        .header("x-forwarded-for", "6.6.6.6, 203.0.113.4")
        .header("x-forwarded-for", "10.0.0.3")
        .body(String::new())
        .unwrap();
    call(layer, with_peer(forwarded, "10.0.0.1:4000")).await;
    recorder.flush().await;
    assert_eq!(sink.events()[0].ip.as_deref(), Some("203.0.113.4"));
}

#[tokio::test]
async fn forwarding_headers_are_ignored_without_trusted_proxies() {
    let (recorder, sink) = recorder();
    let layer = ActivityLayer::new().recorder(recorder.clone());
    let forwarded = request()
        .header("x-forwarded-for", "203.0.113.4")
        .body(String::new())
        .unwrap();
    call(layer, with_peer(forwarded, "10.0.0.1:4000")).await;
    recorder.flush().await;
    assert_eq!(sink.events()[0].ip.as_deref(), Some("10.0.0.1"));
}

/// A server that keeps the peer address in an extension of its own.
#[derive(Clone, Copy)]
struct PeerOfMyServer(SocketAddr);

#[tokio::test]
async fn the_layer_can_be_told_where_the_peer_is() {
    let (recorder, sink) = recorder();
    let layer = ActivityLayer::new()
        .recorder(recorder.clone())
        .peer_addr_with(|extensions| extensions.get::<PeerOfMyServer>().map(|peer| peer.0.ip()));
    let mut request = request().body(String::new()).unwrap();
    request
        .extensions_mut()
        .insert(PeerOfMyServer("192.0.2.44:1234".parse().unwrap()));
    call(layer, request).await;
    recorder.flush().await;
    assert_eq!(sink.events()[0].ip.as_deref(), Some("192.0.2.44"));
}

/// A router that keeps the matched route in an extension of its own.
#[derive(Clone)]
struct RouteOfMyRouter(Arc<str>);

#[tokio::test]
async fn the_layer_can_be_told_the_matched_route() {
    let (recorder, sink) = recorder();
    let layer = ActivityLayer::new()
        .recorder(recorder.clone())
        .route_with(|extensions| extensions.get::<RouteOfMyRouter>().map(|route| route.0.clone()));
    let mut request = request().body(String::new()).unwrap();
    request
        .extensions_mut()
        .insert(RouteOfMyRouter(Arc::from("/things/{id}")));
    call(layer, request).await;
    recorder.flush().await;
    assert_eq!(sink.events()[0].route.as_deref(), Some("/things/{id}"));
}

#[tokio::test]
async fn hostile_user_agent_is_cleaned_and_capped() {
    let (recorder, sink) = recorder();
    let layer = ActivityLayer::new().recorder(recorder.clone());
    let mut raw = b"evil\xff\xfe\t".to_vec();
    raw.extend(std::iter::repeat_n(b'x', 5_000));
    let value = HeaderValue::from_bytes(&raw).unwrap();
    let response = call(
        layer,
        request().header("user-agent", value).body(String::new()).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    recorder.flush().await;
    let user_agent = sink.events()[0].user_agent.clone().unwrap();
    assert!(user_agent.starts_with("evil\u{fffd}\u{fffd}x"), "{user_agent:?}");
    assert_eq!(user_agent.chars().count(), 512);
}

#[tokio::test]
async fn non_utf8_forwarding_headers_do_not_fail_the_request() {
    let (recorder, sink) = recorder();
    let layer = ActivityLayer::new()
        .recorder(recorder.clone())
        .trusted_proxies(TrustedProxies::parse(["10.0.0.0/8"]).unwrap());
    let hostile = request()
        .header(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"\xff\xfe, 203.0.113.1").unwrap(),
        )
        .header("x-request-id", HeaderValue::from_bytes(b"\xc3\x28").unwrap())
        .body(String::new())
        .unwrap();
    let response = call(layer, with_peer(hostile, "10.0.0.1:1")).await;
    assert_eq!(response.status(), StatusCode::OK);
    recorder.flush().await;
    assert_eq!(sink.events()[0].ip.as_deref(), Some("203.0.113.1"));
}

#[tokio::test]
async fn identity_resolver_and_later_code_set_actor_and_tenant() {
    let (recorder, sink) = recorder();
    let layer = ActivityLayer::new()
        .recorder(recorder.clone())
        .identify(
            |request: &Request<String>| match request.headers().get("x-tenant") {
                Some(tenant) => {
                    Identity::actor(Actor::anonymous()).with_tenant(tenant.to_str().unwrap_or_default())
                }
                None => Identity::unknown(),
            },
        );
    let service = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(|_request: Request<String>| async {
            let context = ActivityContext::current().unwrap();
            assert_eq!(context.actor().unwrap().kind, ActorKind::Anonymous);
            log_activity(ActivityEvent::builder("auth.login.started").build().unwrap()).unwrap();
            // Authentication decides who the caller is; later events carry it.
            context.set_actor(Actor::user("u_7").with_label("Ada"));
            log_activity(ActivityEvent::builder("auth.login.succeeded").build().unwrap()).unwrap();
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let request = request().header("x-tenant", "acme").body(String::new()).unwrap();
    service.oneshot(request).await.unwrap();
    recorder.flush().await;
    let events = sink.events();
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|event| event.tenant_id.as_deref() == Some("acme"))
    );
    assert_eq!(events[0].actor.as_ref().unwrap().kind, ActorKind::Anonymous);
    assert_eq!(events[1].actor, Some(Actor::user("u_7").with_label("Ada")));
}

#[tokio::test]
async fn panic_in_the_inner_future_is_recorded_and_answered_with_500() {
    let (recorder, sink) = recorder();
    let layer = ActivityLayer::new().recorder(recorder.clone());
    let service = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(|_request: Request<String>| async {
            ActivityContext::current().unwrap().set_actor(Actor::user("u_1"));
            if true {
                panic!("database handle was None");
            }
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let response = service
        .oneshot(
            request()
                .header("x-request-id", "req-panic")
                .body(String::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response.headers()["x-request-id"], "req-panic");
    assert!(response.body().is_empty());
    recorder.flush().await;
    let events = sink.events();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.action.as_str(), PANIC_ACTION);
    assert_eq!(event.outcome, Outcome::Critical);
    assert_eq!(event.http_status, Some(500));
    assert_eq!(event.request_id.as_deref(), Some("req-panic"));
    assert_eq!(event.route.as_deref(), Some("/docs/d1"));
    assert_eq!(event.actor, Some(Actor::user("u_1")));
    assert_eq!(
        event.details.as_ref().unwrap().get("panic").unwrap(),
        "database handle was None"
    );
}

#[derive(Clone)]
struct PanicsInCall;

impl Service<Request<String>> for PanicsInCall {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<String>) -> Self::Future {
        panic!("panicked before returning a future: {}", 42)
    }
}

#[tokio::test]
async fn panic_in_call_itself_is_recorded_and_answered_with_500() {
    let (recorder, sink) = recorder();
    let layer = ActivityLayer::new().recorder(recorder.clone());
    let response = ServiceBuilder::new()
        .layer(layer)
        .service(PanicsInCall)
        .oneshot(request().body(String::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    recorder.flush().await;
    let events = sink.events();
    assert_eq!(
        events[0].details.as_ref().unwrap().get("panic").unwrap(),
        "panicked before returning a future: 42"
    );
}

#[tokio::test]
async fn panic_already_recorded_by_a_wrapper_is_not_recorded_twice() {
    let (recorder, sink) = recorder();
    let layer = ActivityLayer::new().recorder(recorder.clone());
    let service = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(|_request: Request<String>| async {
            let context = ActivityContext::current().unwrap();
            log_activity(
                ActivityEvent::builder(Action::Delete)
                    .outcome(Outcome::Critical)
                    .build()
                    .unwrap(),
            )
            .unwrap();
            context.mark_panic_recorded();
            if true {
                panic!("boom");
            }
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let response = service
        .oneshot(request().body(String::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    recorder.flush().await;
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, Action::Delete);
}

#[tokio::test]
async fn panic_without_any_recorder_still_answers_500() {
    let service = ServiceBuilder::new()
        .layer(ActivityLayer::new())
        .service(service_fn(|_request: Request<String>| async {
            if true {
                panic!("no recorder anywhere");
            }
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let response = service
        .oneshot(request().body(String::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn context_is_read_inside_a_spawned_task_through_the_helper() {
    let (recorder, sink) = recorder();
    let layer = ActivityLayer::new().recorder(recorder.clone());
    let service = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(|_request: Request<String>| async {
            ActivityContext::current().unwrap().set_tenant("acme");
            let plain = tokio::spawn(async { ActivityContext::current().is_some() })
                .await
                .unwrap();
            assert!(!plain, "a plain tokio::spawn does not carry the context");
            let carried = tower_activity::spawn(async {
                log_activity(ActivityEvent::builder("report.generated").build().unwrap()).unwrap();
                ActivityContext::current().map(|context| context.request_id().to_owned())
            })
            .await
            .unwrap();
            Ok::<_, Infallible>(Response::new(carried.unwrap_or_default()))
        }));
    let response = service
        .oneshot(
            request()
                .header("x-request-id", "req-spawn")
                .body(String::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.body(), "req-spawn");
    recorder.flush().await;
    let event = &sink.events()[0];
    assert_eq!(event.request_id.as_deref(), Some("req-spawn"));
    assert_eq!(event.tenant_id.as_deref(), Some("acme"));
}

#[tokio::test]
async fn requests_are_answered_while_the_sink_hangs() {
    struct Hangs;
    impl tower_activity::ActivitySink for Hangs {
        async fn write_batch(&self, _batch: &[ActivityEvent]) -> Result<(), tower_activity::SinkError> {
            std::future::pending().await
        }
    }
    let recorder = Recorder::builder(Hangs)
        .capacity(16)
        .shutdown_timeout(Duration::from_millis(50))
        .spawn();
    let service = ServiceBuilder::new()
        .layer(ActivityLayer::new().recorder(recorder.clone()))
        .service(service_fn(handler));
    let answered = tokio::time::timeout(Duration::from_secs(10), async {
        for _ in 0..500 {
            let response = service
                .clone()
                .oneshot(request().body(String::new()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
    })
    .await;
    assert!(answered.is_ok(), "requests waited on the hanging sink");
    assert!(
        recorder.stats().dropped > 0,
        "the full queue dropped and counted events"
    );
}

#[tokio::test]
async fn a_panicking_identity_resolver_is_answered_with_500_and_recorded() {
    let (recorder, sink) = recorder();
    let layer = ActivityLayer::new()
        .recorder(recorder.clone())
        .identify(|_request: &Request<String>| -> Identity { panic!("claims missing") });
    let service = ServiceBuilder::new().layer(layer).service(service_fn(handler));
    let response = service
        .oneshot(request().body(String::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    recorder.flush().await;
    let events = sink.events();
    assert_eq!(events.len(), 1, "the handler never ran");
    assert_eq!(events[0].action.as_str(), PANIC_ACTION);
    assert_eq!(
        events[0].details.as_ref().unwrap().get("panic").unwrap(),
        "claims missing"
    );
}

#[tokio::test]
async fn incoming_request_ids_can_be_kept_from_trusted_proxies_only() {
    let layer = || {
        ActivityLayer::new()
            .trusted_proxies(TrustedProxies::parse(["10.0.0.0/8"]).unwrap())
            .incoming_request_id(tower_activity::IncomingRequestId::FromTrustedProxies)
    };
    let from = |peer: &str| {
        with_peer(
            request()
                .header("x-request-id", "req-42")
                .body(String::new())
                .unwrap(),
            peer,
        )
    };
    let proxied = call(layer(), from("10.0.0.1:1")).await;
    assert_eq!(proxied.headers()["x-request-id"], "req-42");
    let direct = call(layer(), from("198.51.100.1:1")).await;
    assert_ne!(direct.headers()["x-request-id"], "req-42");
    let ignored = ActivityLayer::new().incoming_request_id(tower_activity::IncomingRequestId::Ignore);
    assert_ne!(
        call(ignored, from("10.0.0.1:1")).await.headers()["x-request-id"],
        "req-42"
    );
}
