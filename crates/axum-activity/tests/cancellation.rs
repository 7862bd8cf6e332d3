//! A request whose handler future is dropped before it answered (the client
//! went away, a timeout fired) is still recorded, once.

mod support;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::delete;
use axum_activity::{
    Action, ActivityContext, ActivityEvent, AuditedEvent, MemorySink, Outcome, Recorder, audited,
};
use http_body::{Frame, SizeHint};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};

/// Fails the test instead of hanging when `future` never completes.
async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("{what} never happened"))
}

/// What the test sees of the handler and controls in it.
#[derive(Clone)]
struct Probe {
    deleted: mpsc::UnboundedSender<u32>,
    dropped: mpsc::UnboundedSender<()>,
    release: Arc<Notify>,
}

/// Tells the test when the handler's future is dropped.
struct SignalOnDrop(mpsc::UnboundedSender<()>);

impl Drop for SignalOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

async fn delete_user(State(probe): State<Probe>, event: AuditedEvent, Path(id): Path<u32>) -> StatusCode {
    let _signal = SignalOnDrop(probe.dropped.clone());
    event.add_detail("hard", true);
    // The deletion is done...
    probe.deleted.send(id).unwrap();
    // ...and the handler is still busy when the client leaves.
    probe.release.notified().await;
    StatusCode::NO_CONTENT
}

#[tokio::test]
async fn client_leaving_mid_handler_leaves_a_cancelled_event() {
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone()).spawn();
    let (deleted, mut deletions) = mpsc::unbounded_channel();
    let (dropped, mut drops) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let probe = Probe {
        deleted,
        dropped,
        release: release.clone(),
    };
    let app = Router::new()
        .route(
            "/users/{id}",
            delete(audited(delete_user, Action::Delete, "user").id_from_path("id")),
        )
        .with_state(probe)
        .layer(axum_activity::layer().recorder(recorder.clone()));
    let (address, server) = support::serve(app).await;

    let mut client = TcpStream::connect(address).await.unwrap();
    client
        .write_all(b"DELETE /users/7 HTTP/1.1\r\nhost: localhost\r\nx-request-id: req-gone\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(within("the deletion", deletions.recv()).await, Some(7));
    drop(client);
    within("the drop of the handler", drops.recv()).await;
    server.abort();

    recorder.flush().await;
    let events = sink.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event.action, Action::Delete);
    assert_eq!(event.resource_type.as_deref(), Some("user"));
    assert_eq!(event.resource_id.as_deref(), Some("7"));
    assert_eq!(event.outcome, Outcome::Error);
    assert_eq!(event.http_status, None, "no status was sent");
    assert_eq!(
        event.details.as_ref().map(|details| details.to_value()),
        Some(json!({"cancelled": true, "hard": true}))
    );
    assert_eq!(event.request_id.as_deref(), Some("req-gone"));
    assert_eq!(event.route.as_deref(), Some("/users/{id}"));
    assert_eq!(event.ip.as_deref(), Some("127.0.0.1"));
    release.notify_waiters();
}

/// An audited handler's future, driven by hand with the request context of
/// a background job whose events go to `sink`.
struct Driven<F> {
    future: Pin<Box<F>>,
    context: ActivityContext,
    recorder: Recorder,
    sink: MemorySink,
}

fn drive<H, T>(handler: H) -> Driven<H::Future>
where
    H: Handler<T, ()>,
{
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone()).spawn();
    let context = ActivityContext::system("tests").with_recorder(recorder.clone());
    let request = Request::delete("/things/1").body(Body::empty()).unwrap();
    let future = context.clone().sync_scope(|| Box::pin(handler.call(request, ())));
    Driven {
        future,
        context,
        recorder,
        sink,
    }
}

impl<F: Future + std::fmt::Debug> Driven<F> {
    fn poll(&mut self) -> Poll<F::Output> {
        let mut cx = Context::from_waker(Waker::noop());
        let future = self.future.as_mut();
        self.context.clone().sync_scope(|| future.poll(&mut cx))
    }

    fn state(&self) -> String {
        format!("{:?}", self.future)
    }

    /// Drops the future with its context current and returns the events.
    async fn drop_future(self) -> Vec<ActivityEvent> {
        let Driven {
            future,
            context,
            recorder,
            sink,
        } = self;
        context.sync_scope(|| drop(future));
        recorder.flush().await;
        sink.events()
    }
}

async fn slow(event: AuditedEvent) -> StatusCode {
    event.set_resource_id("t_1");
    event.set_outcome(Outcome::Success);
    event.add_detail("step", "started");
    std::future::pending::<()>().await;
    StatusCode::NO_CONTENT
}

#[tokio::test]
async fn dropped_while_the_handler_runs_records_it_as_cancelled() {
    let mut driven = drive(audited(slow, Action::Delete, "thing"));
    assert!(driven.poll().is_pending());
    assert!(driven.state().contains("handling"), "{}", driven.state());
    let events = driven.drop_future().await;
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event.outcome, Outcome::Error, "the handler's outcome is not kept");
    assert_eq!(event.http_status, None);
    assert_eq!(event.resource_id.as_deref(), Some("t_1"));
    assert_eq!(
        event.details.as_ref().map(|details| details.to_value()),
        Some(json!({"cancelled": true, "step": "started"}))
    );
}

#[tokio::test]
async fn dropped_before_the_first_poll_records_it_as_cancelled() {
    let driven = drive(audited(slow, Action::Delete, "thing"));
    let events = driven.drop_future().await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].outcome, Outcome::Error);
    assert_eq!(events[0].http_status, None);
    assert_eq!(
        events[0].details.as_ref().map(|details| details.to_value()),
        Some(json!({"cancelled": true}))
    );
}

/// A JSON body of a known size that never arrives.
struct Stalled;

impl http_body::Body for Stalled {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Pending
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(12)
    }
}

async fn created_with_a_stalled_body(event: AuditedEvent) -> Response {
    event.add_detail("step", "answered");
    (
        StatusCode::CREATED,
        [("content-type", "application/json")],
        Body::new(Stalled),
    )
        .into_response()
}

#[tokio::test]
async fn dropped_while_reading_the_body_records_the_status_without_an_id() {
    let mut driven = drive(audited(created_with_a_stalled_body, Action::Create, "thing"));
    assert!(driven.poll().is_pending());
    assert!(driven.state().contains("reading body"), "{}", driven.state());
    let events = driven.drop_future().await;
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event.outcome, Outcome::Success);
    assert_eq!(event.http_status, Some(201));
    assert_eq!(event.resource_id, None);
    assert_eq!(
        event.details.as_ref().map(|details| details.to_value()),
        Some(json!({"step": "answered"})),
        "not cancelled"
    );
}

/// A handler whose `call` itself panics, before any future exists.
#[derive(Clone)]
struct PanicsWhenCalled;

impl<S> Handler<(), S> for PanicsWhenCalled {
    type Future = std::future::Ready<Response>;

    fn call(self, _request: Request, _state: S) -> Self::Future {
        panic!("refused to start");
    }
}

#[tokio::test]
async fn dropped_with_an_unresumed_panic_records_the_panic_once() {
    let driven = drive(audited(PanicsWhenCalled, Action::Delete, "thing"));
    assert!(driven.state().contains("panicked"), "{}", driven.state());
    let events = driven.drop_future().await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].outcome, Outcome::Critical);
    assert_eq!(events[0].http_status, Some(500));
    assert_eq!(
        events[0].details.as_ref().map(|details| details.to_value()),
        Some(json!({"panic": "refused to start"}))
    );
}

async fn quick() -> StatusCode {
    StatusCode::NO_CONTENT
}

#[tokio::test]
async fn dropped_after_completing_records_nothing_more() {
    let mut driven = drive(audited(quick, Action::Delete, "thing"));
    assert!(driven.poll().is_ready());
    assert!(driven.state().contains("done"), "{}", driven.state());
    let events = driven.drop_future().await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].outcome, Outcome::Success);
    assert_eq!(events[0].http_status, Some(204));
    assert_eq!(events[0].details, None);
}
