//! The log router's live stream, over a real connection: entries written
//! after the client connected arrive as server-sent events.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use axum_activity::router::{LogAccess, LogRouter};
use axum_activity::{Action, ActivityEvent, ActivitySink, ActivityStore, MemorySink};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower_activity::{ActivityCount, ActivityFilter, ActivityPage, ActivityQuery, StoreError};
use uuid::Uuid;

/// `x-tenant: <id>` reads one tenant; without it, everything.
fn authorize(request: &Parts) -> std::future::Ready<Result<LogAccess, Response>> {
    let tenant = request
        .headers
        .get("x-tenant")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    std::future::ready(Ok(match tenant {
        Some(tenant) => LogAccess::Tenant(tenant),
        None => LogAccess::All,
    }))
}

async fn serve(store: impl ActivityStore) -> std::net::SocketAddr {
    let app: Router = Router::new().nest(
        "/log",
        LogRouter::new(store, authorize)
            .poll_interval(Duration::from_millis(10))
            .into_router(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

/// A raw HTTP/1.1 client reading an event stream.
struct Client {
    stream: TcpStream,
    received: Vec<u8>,
}

impl Client {
    async fn open(address: std::net::SocketAddr, path: &str, headers: &[(&str, &str)]) -> Client {
        let mut stream = TcpStream::connect(address).await.unwrap();
        let mut request = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\naccept: text/event-stream\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        Client {
            stream,
            received: Vec::new(),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.received).into_owned()
    }

    /// Reads until `needle` has arrived; a guard fails the test instead of
    /// hanging if it never does.
    async fn read_until(&mut self, needle: &str) {
        let reading = async {
            while !self.text().contains(needle) {
                let mut chunk = [0; 4096];
                let read = self.stream.read(&mut chunk).await.unwrap();
                assert!(read > 0, "stream closed before {needle:?}: {}", self.text());
                self.received.extend_from_slice(&chunk[..read]);
            }
        };
        tokio::time::timeout(Duration::from_secs(30), reading)
            .await
            .unwrap_or_else(|_| panic!("{needle:?} never arrived; got {}", self.text()));
    }
}

fn event(tenant: &str) -> ActivityEvent {
    ActivityEvent::builder(Action::Create)
        .tenant(tenant)
        .build()
        .unwrap()
}

#[tokio::test]
async fn entry_written_after_connecting_is_streamed() {
    let store = MemorySink::new();
    let before = event("acme");
    store.write_batch(std::slice::from_ref(&before)).await.unwrap();
    let address = serve(store.clone()).await;

    let mut client = Client::open(address, "/log/stream", &[]).await;
    // The head is sent once the stream knows where it starts.
    client.read_until("\r\n\r\n").await;
    assert!(client.text().starts_with("HTTP/1.1 200"), "{}", client.text());
    assert!(client.text().contains("content-type: text/event-stream"));

    let after = event("acme");
    store.write_batch(std::slice::from_ref(&after)).await.unwrap();
    client.read_until(&format!("id: {}", after.id)).await;
    let text = client.text();
    assert!(text.contains("event: activity"), "{text}");
    assert!(
        !text.contains(&before.id.to_string()),
        "only entries after connecting"
    );
    let data = text
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .expect("a data line");
    let streamed: ActivityEvent = serde_json::from_str(data).unwrap();
    assert_eq!(streamed, after);
}

#[tokio::test]
async fn last_event_id_resumes_after_that_entry() {
    let store = MemorySink::new();
    let events = [event("acme"), event("acme"), event("acme")];
    store.write_batch(&events).await.unwrap();
    let address = serve(store).await;

    let last_seen = events[0].id.to_string();
    let mut client = Client::open(address, "/log/stream", &[("last-event-id", &last_seen)]).await;
    client.read_until(&format!("id: {}", events[2].id)).await;
    let text = client.text();
    assert!(text.contains(&format!("id: {}", events[1].id)));
    assert!(!text.contains(&format!("id: {last_seen}")));
}

#[tokio::test]
async fn tenant_scoped_stream_skips_other_tenants() {
    let store = MemorySink::new();
    let address = serve(store.clone()).await;
    let mut client = Client::open(address, "/log/stream", &[("x-tenant", "acme")]).await;
    client.read_until("\r\n\r\n").await;

    let other = event("globex");
    let own = event("acme");
    store.write_batch(&[other.clone(), own.clone()]).await.unwrap();
    client.read_until(&format!("id: {}", own.id)).await;
    assert!(
        !client.text().contains(&other.id.to_string()),
        "{}",
        client.text()
    );
}

#[tokio::test]
async fn malformed_last_event_id_is_a_400() {
    let address = serve(MemorySink::new()).await;
    let mut client = Client::open(address, "/log/stream", &[("last-event-id", "yesterday")]).await;
    client.read_until("Last-Event-ID").await;
    let status = StatusCode::BAD_REQUEST;
    assert!(
        client.text().starts_with(&format!("HTTP/1.1 {status}")),
        "{}",
        client.text()
    );
}

/// A store whose second and third listings fail.
#[derive(Clone, Default)]
struct FlakyStore {
    inner: MemorySink,
    listings: Arc<AtomicUsize>,
}

impl ActivityStore for FlakyStore {
    async fn list(&self, query: &ActivityQuery) -> Result<ActivityPage, StoreError> {
        let call = self.listings.fetch_add(1, Ordering::SeqCst) + 1;
        if (2..=3).contains(&call) {
            return Err(StoreError::new("replica lag: secret-host-9"));
        }
        self.inner.list(query).await
    }

    async fn get(&self, id: Uuid) -> Result<Option<ActivityEvent>, StoreError> {
        self.inner.get(id).await
    }

    async fn counts(&self, filter: &ActivityFilter) -> Result<Vec<ActivityCount>, StoreError> {
        self.inner.counts(filter).await
    }
}

#[tokio::test]
async fn store_outage_is_reported_once_and_the_stream_goes_on() {
    let store = FlakyStore::default();
    let address = serve(store.clone()).await;
    let mut client = Client::open(address, "/log/stream", &[]).await;
    client.read_until("event: error").await;

    let after_outage = event("acme");
    store
        .inner
        .write_batch(std::slice::from_ref(&after_outage))
        .await
        .unwrap();
    client.read_until(&format!("id: {}", after_outage.id)).await;
    let text = client.text();
    assert_eq!(text.matches("event: error").count(), 1, "{text}");
    assert!(!text.contains("secret-host-9"), "{text}");
    assert!(store.listings.load(Ordering::SeqCst) >= 4);
}
