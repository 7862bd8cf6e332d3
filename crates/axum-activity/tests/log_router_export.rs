//! The log router's export: every matching entry, streamed one store page at
//! a time, as JSON lines or CSV.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum_activity::router::{LogAccess, LogRouter};
use axum_activity::{Action, ActivityEvent, ActivitySink, ActivityStore, MemorySink};
use http_body_util::BodyExt;
use tower::ServiceExt;
use tower_activity::{ActivityCount, ActivityFilter, ActivityPage, ActivityQuery, StoreError};
use uuid::Uuid;

/// A store that keeps the page size of every listing, and can fail from a
/// given call on.
#[derive(Clone, Default)]
struct RecordingStore {
    inner: MemorySink,
    page_sizes: Arc<Mutex<Vec<usize>>>,
    fail_from_call: Option<usize>,
}

impl ActivityStore for RecordingStore {
    async fn list(&self, query: &ActivityQuery) -> Result<ActivityPage, StoreError> {
        let calls = {
            let mut sizes = self.page_sizes.lock().unwrap();
            sizes.push(query.page_size());
            sizes.len()
        };
        if self.fail_from_call.is_some_and(|from| calls >= from) {
            return Err(StoreError::new("replica went away"));
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

fn everything(_request: &Parts) -> std::future::Ready<Result<LogAccess, Response>> {
    std::future::ready(Ok(LogAccess::All))
}

async fn store_with(n: usize) -> (RecordingStore, Vec<ActivityEvent>) {
    let store = RecordingStore::default();
    let events: Vec<_> = (0..n)
        .map(|i| {
            ActivityEvent::builder(Action::Read)
                .resource("doc", i)
                .tenant(if i % 2 == 0 { "even" } else { "odd" })
                .build()
                .unwrap()
        })
        .collect();
    store.inner.write_batch(&events).await.unwrap();
    (store, events)
}

async fn export(app: Router, uri: &str) -> Response {
    app.oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn json_lines_export_streams_every_match_page_by_page() {
    let (store, events) = store_with(2_400).await;
    let page_sizes = store.page_sizes.clone();
    let app = LogRouter::new(store, everything).into_router();
    let response = export(app, "/export?tenant=even&order=oldest_first").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"activity-log.jsonl\""
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let exported: Vec<ActivityEvent> = std::str::from_utf8(&body)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let expected: Vec<ActivityEvent> = events.into_iter().step_by(2).collect();
    assert_eq!(exported, expected, "every match, once, in order");

    let sizes = page_sizes.lock().unwrap().clone();
    assert!(sizes.len() >= 3, "1200 entries need several pages: {sizes:?}");
    assert!(
        sizes.iter().all(|&size| size <= 500),
        "never more than a page at once: {sizes:?}"
    );
}

#[tokio::test]
async fn empty_export_is_an_empty_body() {
    let (store, _) = store_with(3).await;
    let app = LogRouter::new(store, everything).into_router();
    let response = export(app, "/export?tenant=nobody").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .is_empty()
    );
}

#[tokio::test]
async fn store_failure_after_the_first_page_aborts_the_download() {
    let (mut store, _) = store_with(1_200).await;
    store.fail_from_call = Some(2);
    let app = LogRouter::new(store, everything).into_router();
    let response = export(app, "/export").await;
    assert_eq!(response.status(), StatusCode::OK, "the first page was read");
    let result = response.into_body().collect().await;
    assert!(
        result.is_err(),
        "the body must end in an error, not look complete"
    );
}

#[cfg(feature = "csv")]
#[tokio::test]
async fn csv_export_has_one_header_and_neutralized_formulas() {
    let (store, mut events) = store_with(1_100).await;
    let hostile = ActivityEvent::builder(Action::Update)
        .resource("note", "=HYPERLINK(\"http://evil\")")
        .tenant("even")
        .build()
        .unwrap();
    store
        .inner
        .write_batch(std::slice::from_ref(&hostile))
        .await
        .unwrap();
    events.push(hostile.clone());
    let app = LogRouter::new(store, everything).into_router();
    let response = export(app, "/export?format=csv&order=oldest_first").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let mut reader = csv::Reader::from_reader(body.as_ref());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        tower_activity::COLUMNS.map(|column| column.name)
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), events.len(), "one header, then one row per entry");
    for (row, event) in rows.iter().zip(&events) {
        assert_eq!(&row[0], event.id.to_string());
    }
    let resource_id = tower_activity::COLUMNS
        .iter()
        .position(|column| column.name == "resource_id")
        .unwrap();
    assert_eq!(&rows.last().unwrap()[resource_id], "'=HYPERLINK(\"http://evil\")");
}

#[cfg(feature = "csv")]
#[tokio::test]
async fn empty_csv_export_still_has_its_header() {
    let (store, _) = store_with(0).await;
    let app = LogRouter::new(store, everything).into_router();
    let response = export(app, "/export?format=csv").await;
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        format!(
            "{}\r\n",
            tower_activity::COLUMNS.map(|column| column.name).join(",")
        )
    );
}

#[cfg(not(feature = "csv"))]
#[tokio::test]
async fn csv_without_the_feature_is_a_400_that_says_so() {
    let (store, _) = store_with(1).await;
    let app = LogRouter::new(store, everything).into_router();
    let response = export(app, "/export?format=csv").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["parameter"], "format");
    assert!(body["error"].as_str().unwrap().contains("`csv` feature"));
}
