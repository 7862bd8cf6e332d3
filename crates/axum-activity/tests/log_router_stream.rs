//! The log router's live stream, over a real connection: entries written
//! after the client connected arrive as server-sent events.

mod support;

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
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tower_activity::{ActivityCount, ActivityFilter, ActivityPage, ActivityQuery, StoreError};
use uuid::Uuid;

type Authorize = fn(&Parts) -> std::future::Ready<Result<LogAccess, Response>>;

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
    serve_with(store, |router| router).await
}

/// Serves the log router over `store`, polling every 10 ms, as `configure`
/// leaves it.
async fn serve_with<S: ActivityStore>(
    store: S,
    configure: impl FnOnce(LogRouter<S, Authorize>) -> LogRouter<S, Authorize>,
) -> std::net::SocketAddr {
    let router = LogRouter::new(store, authorize as Authorize).poll_interval(Duration::from_millis(10));
    let app: Router = Router::new().nest("/log", configure(router).into_router());
    support::serve(app).await.0
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

/// The entry made `ago` before `than`, written whenever the test says.
fn made_before(than: &ActivityEvent, ago: Duration) -> ActivityEvent {
    let mut entry = event("acme");
    let (seconds, nanos) = than.id.get_timestamp().unwrap().to_unix();
    let millis = seconds * 1000 + u64::from(nanos) / 1_000_000 - ago.as_millis() as u64;
    entry.id = uuid::Builder::from_unix_timestamp_millis(millis, &[7; 10]).into_uuid();
    entry
}

#[tokio::test]
async fn entry_written_after_a_newer_one_was_streamed_is_streamed_once() {
    let store = MemorySink::new();
    let address = serve(store.clone()).await;
    let mut client = Client::open(address, "/log/stream", &[]).await;
    client.read_until("\r\n\r\n").await;

    let newer = event("acme");
    let late = made_before(&newer, Duration::from_secs(2));
    store.write_batch(std::slice::from_ref(&newer)).await.unwrap();
    client.read_until(&format!("id: {}", newer.id)).await;
    // Made before `newer`, written after it was streamed: a lagging writer.
    store.write_batch(std::slice::from_ref(&late)).await.unwrap();
    client.read_until(&format!("id: {}", late.id)).await;

    let marker = event("acme");
    store.write_batch(std::slice::from_ref(&marker)).await.unwrap();
    client.read_until(&format!("id: {}", marker.id)).await;
    let text = client.text();
    assert_eq!(text.matches(&format!("id: {}", late.id)).count(), 1, "{text}");
    assert_eq!(text.matches(&format!("id: {}", newer.id)).count(), 1, "{text}");
}

#[tokio::test]
async fn lookback_bounds_how_late_an_entry_may_arrive() {
    let store = MemorySink::new();
    let address = serve_with(store.clone(), |router| router.lookback(Duration::ZERO)).await;
    let mut client = Client::open(address, "/log/stream", &[]).await;
    client.read_until("\r\n\r\n").await;

    let newer = event("acme");
    let late = made_before(&newer, Duration::from_secs(2));
    store.write_batch(std::slice::from_ref(&newer)).await.unwrap();
    client.read_until(&format!("id: {}", newer.id)).await;
    store.write_batch(std::slice::from_ref(&late)).await.unwrap();
    // Written after `late`, so read by the same poll or a later one.
    let marker = event("acme");
    store.write_batch(std::slice::from_ref(&marker)).await.unwrap();
    client.read_until(&format!("id: {}", marker.id)).await;
    assert!(!client.text().contains(&late.id.to_string()), "{}", client.text());
}

/// A store whose listings after the first wait for the test's permits.
#[derive(Clone)]
struct GatedStore {
    inner: MemorySink,
    listings: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
}

impl ActivityStore for GatedStore {
    async fn list(&self, query: &ActivityQuery) -> Result<ActivityPage, StoreError> {
        if self.listings.fetch_add(1, Ordering::SeqCst) > 0 {
            self.gate.acquire().await.unwrap().forget();
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
async fn resuming_far_behind_streams_the_backlog_page_by_page() {
    let store = GatedStore {
        inner: MemorySink::new(),
        listings: Arc::default(),
        gate: Arc::new(Semaphore::new(0)),
    };
    // An hour-old backlog, larger than the store's largest page.
    let reference = event("acme");
    let backlog: Vec<ActivityEvent> = (0..1_500)
        .map(|i| made_before(&reference, Duration::from_secs(3_600) - Duration::from_millis(i)))
        .collect();
    store.inner.write_batch(&backlog).await.unwrap();
    let address = serve(store.clone()).await;

    let resume_after = backlog[0].id.to_string();
    let mut client = Client::open(address, "/log/stream", &[("last-event-id", &resume_after)]).await;
    // No second listing can be answered yet: the first entries are sent
    // from the first page alone.
    client.read_until(&format!("id: {}", backlog[1].id)).await;

    store.gate.add_permits(1_000_000);
    let live = event("acme");
    store
        .inner
        .write_batch(std::slice::from_ref(&live))
        .await
        .unwrap();
    client.read_until(&format!("id: {}", live.id)).await;
    let streamed: Vec<String> = client
        .text()
        .lines()
        .filter_map(|line| line.strip_prefix("id: "))
        .map(str::to_owned)
        .collect();
    let expected: Vec<String> = backlog[1..]
        .iter()
        .chain([&live])
        .map(|entry| entry.id.to_string())
        .collect();
    assert_eq!(streamed, expected);
}
