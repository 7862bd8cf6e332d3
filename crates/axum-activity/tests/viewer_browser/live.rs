//! Live mode and export.

use axum_activity::{ActivitySink, MemorySink};
use serde_json::{Value, json};
use tower_activity::Outcome;

use crate::browser::{Browser, Scheme};
use crate::events::{deletions, failed_login};
use crate::fixtures::server;

#[tokio::test]
async fn live_mode_puts_a_new_entry_at_the_top_without_moving_the_reader() {
    let Some(browser) = Browser::start(Scheme::Light).await else {
        return;
    };
    let store = MemorySink::new();
    let origin = server(store.clone(), &deletions("erin", 40, Outcome::Success)).await;
    browser.open_as(&origin, "auditor", "/activity/ui").await;
    browser.until_rows(40).await;
    browser.click("#live").await;
    browser
        .until(r##"document.querySelector("#status").textContent.startsWith("Live: new")"##)
        .await;

    // The reader is looking at the twentieth entry.
    let twentieth = r##"document.querySelectorAll("#rows tr.entry")[19]"##;
    browser.eval(&format!("{twentieth}.scrollIntoView()")).await;
    let before = browser
        .eval(&format!("{twentieth}.getBoundingClientRect().top"))
        .await;
    let id = browser.eval(&format!("{twentieth}.dataset.id")).await;

    let arriving = failed_login();
    store.write_batch(std::slice::from_ref(&arriving)).await.unwrap();
    browser
        .until(&format!(
            r##"document.querySelector("#rows tr.entry").dataset.id === "{}""##,
            arriving.id
        ))
        .await;
    assert_eq!(browser.rows().await.len(), 41);
    // The same entry, at the same place on the screen.
    let same = format!(
        r##"document.querySelector("#rows tr[data-id='{}']")"##,
        id.as_str().unwrap()
    );
    let after = browser.eval(&format!("{same}.getBoundingClientRect().top")).await;
    assert!(
        (before.as_f64().unwrap() - after.as_f64().unwrap()).abs() < 1.0,
        "moved from {before} to {after}"
    );
    browser.close().await;
}

#[tokio::test]
async fn live_mode_catches_up_with_entries_written_before_the_stream_opened() {
    let Some(browser) = Browser::start(Scheme::Light).await else {
        return;
    };
    let store = MemorySink::new();
    let origin = server(store.clone(), &deletions("erin", 2, Outcome::Success)).await;
    browser.open_as(&origin, "auditor", "/activity/ui").await;
    browser.until_rows(2).await;
    // Written after the listing, before live mode starts: the stream alone
    // would never send it.
    let missed = failed_login();
    store.write_batch(std::slice::from_ref(&missed)).await.unwrap();
    browser.click("#live").await;
    browser
        .until(&format!(
            r##"document.querySelector("#rows tr.entry").dataset.id === "{}""##,
            missed.id
        ))
        .await;
    assert_eq!(browser.rows().await.len(), 3);
    browser.close().await;
}

#[tokio::test]
async fn export_downloads_the_filtered_rows() {
    let Some(browser) = Browser::start(Scheme::Light).await else {
        return;
    };
    let mut events = deletions("frank", 2, Outcome::Success);
    events.extend(deletions("grace", 3, Outcome::Error));
    let origin = server(MemorySink::new(), &events).await;
    browser
        .open_as(&origin, "auditor", "/activity/ui?outcome=error")
        .await;
    browser.until_rows(3).await;

    browser.click("#export-jsonl").await;
    let file = browser.downloads.path().join("activity-log.jsonl");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    while !file.exists() {
        assert!(tokio::time::Instant::now() < deadline, "nothing was downloaded");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let lines = std::fs::read_to_string(&file).unwrap();
    let exported: Vec<Value> = lines
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(exported.len(), 3);
    assert!(
        exported
            .iter()
            .all(|entry| entry["outcome"] == "error" && entry["actor"]["id"] == "grace")
    );
    let csv = browser
        .eval(r##"document.querySelector("#export-csv").getAttribute("href")"##)
        .await;
    assert_eq!(csv, json!("/activity/export?outcome=error&format=csv"));
    browser.close().await;
}
