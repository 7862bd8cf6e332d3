//! Filters and paging: the rows they select, and the page's address that
//! holds them.

use axum_activity::MemorySink;
use chrono::{Duration as TimeDelta, Utc};
use serde_json::json;
use tower_activity::Outcome;

use crate::browser::{Browser, Scheme};
use crate::events::{deletions, failed_login, renamed};
use crate::fixtures::server;

#[tokio::test]
async fn a_filter_changes_the_rows_and_the_address() {
    let Some(browser) = Browser::start(Scheme::Light).await else {
        return;
    };
    let mut events = deletions("alice", 2, Outcome::Success);
    events.extend(deletions("bob", 3, Outcome::Error));
    let origin = server(MemorySink::new(), &events).await;
    browser.open_as(&origin, "auditor", "/activity/ui").await;
    browser.until_rows(5).await;

    browser
        .eval(r##"document.querySelector("input[name=actor]").value = "bob""##)
        .await;
    browser.click("#filters button[type=submit]").await;
    browser.until_rows(3).await;
    assert!(browser.rows().await.iter().all(|cells| cells[3].contains("bob")));
    let url = browser.client.current_url().await.unwrap();
    assert_eq!(url.query(), Some("actor=bob"));

    // The address is the view: opened afresh, it shows the same filter.
    browser
        .client
        .goto(&format!("{origin}/activity/ui?outcome=success"))
        .await
        .unwrap();
    browser.until_rows(2).await;
    let checked = browser
        .eval(r##"document.querySelector("input[value=success]").checked"##)
        .await;
    assert_eq!(checked, json!(true));
    assert!(
        browser
            .rows()
            .await
            .iter()
            .all(|cells| cells[3].contains("alice"))
    );
    browser.close().await;
}

#[tokio::test]
async fn a_request_id_shows_every_entry_of_its_request() {
    let Some(browser) = Browser::start(Scheme::Light).await else {
        return;
    };
    let mut events = deletions("carol", 3, Outcome::Success);
    events.push(failed_login());
    let origin = server(MemorySink::new(), &events).await;
    browser.open_as(&origin, "auditor", "/activity/ui").await;
    browser.until_rows(4).await;
    browser.click("#rows button.request").await;
    browser.until_rows(1).await;
    assert_eq!(browser.rows().await[0][9], "req-login-1");
    let url = browser.client.current_url().await.unwrap();
    assert_eq!(url.query(), Some("request_id=req-login-1"));
    browser.close().await;
}

#[tokio::test]
async fn a_time_shortcut_limits_the_rows_to_that_range() {
    let Some(browser) = Browser::start(Scheme::Light).await else {
        return;
    };
    let mut events = deletions("ken", 2, Outcome::Success);
    events.push(renamed("acme", 60 * 24 * 3));
    let origin = server(MemorySink::new(), &events).await;
    browser.open_as(&origin, "auditor", "/activity/ui").await;
    browser.until_rows(3).await;
    browser.click("button[data-range='86400']").await;
    browser.until_rows(2).await;
    assert!(browser.rows().await.iter().all(|cells| cells[4] == "delete"));
    let url = browser.client.current_url().await.unwrap();
    let since = url
        .query_pairs()
        .find(|(name, _)| name == "since")
        .expect("since in the address");
    let since = chrono::DateTime::parse_from_rfc3339(&since.1).unwrap();
    let ago = Utc::now() - since.with_timezone(&Utc);
    assert!(
        ago > TimeDelta::hours(23) && ago < TimeDelta::hours(25),
        "since {since}"
    );
    browser.close().await;
}

#[tokio::test]
async fn a_refused_filter_value_is_named_and_its_field_marked() {
    let Some(browser) = Browser::start(Scheme::Light).await else {
        return;
    };
    let origin = server(MemorySink::new(), &deletions("lena", 2, Outcome::Success)).await;
    browser.open_as(&origin, "auditor", "/activity/ui").await;
    browser.until_rows(2).await;
    browser
        .eval(r##"document.querySelector("input[name=ip]").value = "not an address""##)
        .await;
    browser.click("#filters button[type=submit]").await;
    browser
        .until(r##"document.querySelector("#status").classList.contains("error")"##)
        .await;
    let status = browser
        .eval(r##"document.querySelector("#status").textContent"##)
        .await;
    assert!(status.as_str().unwrap().contains("(ip)"), "{status}");
    let invalid = browser
        .eval(r##"document.querySelector("input[name=ip]").getAttribute("aria-invalid")"##)
        .await;
    assert_eq!(invalid, json!("true"));
    browser.close().await;
}

#[tokio::test]
async fn older_loads_the_previous_page() {
    let Some(browser) = Browser::start(Scheme::Light).await else {
        return;
    };
    let events = deletions("dave", 7, Outcome::Success);
    let origin = server(MemorySink::new(), &events).await;
    browser.open_as(&origin, "auditor", "/activity/ui?limit=3").await;
    browser.until_rows(3).await;
    browser.click("#older").await;
    browser.until_rows(6).await;
    browser.click("#older").await;
    browser.until_rows(7).await;
    browser
        .until(r##"document.querySelector("#older").hidden"##)
        .await;
    // Newest first across the pages: note 6 was written last.
    let resources: Vec<String> = browser
        .rows()
        .await
        .iter()
        .map(|cells| cells[5].clone())
        .collect();
    let expected: Vec<String> = (0..7).rev().map(|index| format!("note {index}")).collect();
    assert_eq!(resources, expected);
    browser.close().await;
}
