//! A streaming body goes to the client chunk by chunk through the wrapper:
//! it is never buffered, even when it is labelled JSON.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_activity::{Action, MemorySink, Outcome, Recorder, audited};
use futures_util::stream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// The handler's stream waits on this before its last chunk.
type Release = Arc<Mutex<Option<oneshot::Receiver<()>>>>;

async fn feed(State(release): State<Release>) -> Response {
    let release = release.lock().unwrap().take().expect("one request");
    let chunks = stream::unfold((0, Some(release)), |(step, release)| async move {
        match step {
            0 => Some((
                Ok::<_, std::io::Error>("{\"id\": \"first-chunk\", ".to_owned()),
                (1, release),
            )),
            1 => {
                // Blocks until the test has seen the first chunk.
                release?.await.ok()?;
                Some((Ok("\"rest\": \"second-chunk\"}".to_owned()), (2, None)))
            }
            _ => None,
        }
    });
    ([("content-type", "application/json")], Body::from_stream(chunks)).into_response()
}

/// Reads from `stream` into `buffer` until `needle` appears.
async fn read_until(stream: &mut TcpStream, buffer: &mut Vec<u8>, needle: &str) {
    let found = |buffer: &[u8]| String::from_utf8_lossy(buffer).contains(needle);
    let reading = async {
        while !found(buffer) {
            let mut chunk = [0; 1024];
            let read = stream.read(&mut chunk).await.unwrap();
            assert!(read > 0, "connection closed before {needle:?}");
            buffer.extend_from_slice(&chunk[..read]);
        }
    };
    // A guard against hanging forever if the body were buffered: the stream
    // cannot end before the test releases it.
    tokio::time::timeout(Duration::from_secs(30), reading)
        .await
        .unwrap_or_else(|_| panic!("{needle:?} never arrived: the body was held back"));
}

#[tokio::test]
async fn first_chunk_reaches_the_client_before_the_stream_ends() {
    let sink = MemorySink::new();
    let recorder = Recorder::builder(sink.clone()).spawn();
    let (release_tx, release_rx) = oneshot::channel();
    let release: Release = Arc::new(Mutex::new(Some(release_rx)));
    let app = Router::new()
        .route("/feed", get(audited(feed, Action::Read, "feed")))
        .with_state(release)
        .layer(axum_activity::layer().recorder(recorder.clone()));

    let (address, server) = support::serve(app).await;

    let mut client = TcpStream::connect(address).await.unwrap();
    client
        .write_all(b"GET /feed HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut received = Vec::new();
    read_until(&mut client, &mut received, "first-chunk").await;
    let head = String::from_utf8_lossy(&received).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(!head.contains("second-chunk"));

    release_tx.send(()).unwrap();
    read_until(&mut client, &mut received, "second-chunk").await;
    server.abort();

    recorder.flush().await;
    let events = sink.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, Outcome::Success);
    assert_eq!(events[0].resource_id, None, "a stream is never read for the id");
    assert_eq!(events[0].ip.as_deref(), Some("127.0.0.1"));
}
