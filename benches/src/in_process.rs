//! Requests driven through an app in-process, without sockets: for counting
//! the instructions a variant spends per request under callgrind, which is
//! repeatable whatever else the machine is doing.
//!
//! ```text
//! valgrind --tool=callgrind target/release/activity-bench requests --variant null-sink --count 20000
//! ```
//!
//! The database variants write to the database at `--database-url`, which is
//! migrated first.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use tower_service::Service;

use crate::app::{self, Variant};
use crate::databases::{self, Result};

/// Sends `count` requests (a JSON create, then a read of it, alternately) to
/// `variant`'s app, one at a time, then shuts its recorder down, so the
/// writer's work is counted too.
pub(crate) async fn run(variant: Variant, count: u64, database_url: Option<&str>) -> Result<()> {
    if let Some(url) = database_url {
        databases::migrate(url).await?;
    }
    let (mut app, recorder) = app::build(variant, database_url).await?;
    let peer: SocketAddr = "203.0.113.9:51000".parse()?;
    let mut last_id = String::from("1");
    for n in 0..count {
        let request = if n % 2 == 0 {
            Request::post("/items")
                .header("content-type", "application/json")
                .header("user-agent", "activity-bench/1")
                .body(Body::from(r#"{"name":"widget","price":12}"#))?
        } else {
            Request::get(format!("/items/{last_id}"))
                .header("user-agent", "activity-bench/1")
                .body(Body::empty())?
        };
        if n % 256 == 0
            && let Some(recorder) = &recorder
        {
            // Lets the recorder's writer catch up, as it would on another
            // core, so its work is counted and nothing is dropped.
            recorder.flush().await;
        }
        let mut request = request;
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = app.call(request).await?;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
        if !status.is_success() {
            return Err(format!("request {n} answered {status}").into());
        }
        if n % 2 == 0 {
            let item: serde_json::Value = serde_json::from_slice(&body)?;
            last_id = item["id"].to_string();
        }
    }
    if let Some(recorder) = recorder {
        let report = recorder.shutdown().await;
        eprintln!("{} events written, {} dropped", report.written, report.dropped);
    }
    Ok(())
}
