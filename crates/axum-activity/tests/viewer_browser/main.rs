//! The viewer in a real browser: headless Chromium, driven over WebDriver,
//! against the log router on a loopback server. Runs when
//! `ACTIVITY_TEST_CHROMIUM` names the browser (as `scripts/test` does);
//! without it each test prints a notice and checks nothing.

#[path = "../support/roles.rs"]
mod roles;
#[path = "../support/mod.rs"]
mod support;

mod browser;
mod fixtures;

use std::net::{IpAddr, Ipv4Addr};

use axum::http::StatusCode;
use axum_activity::{Action, ActivityEvent, ActivitySink, Actor, MemorySink};
use chrono::{Duration as TimeDelta, Utc};
use serde_json::{Value, json};
use tower_activity::{Outcome, changes};

use self::browser::{Browser, Scheme};
use self::fixtures::server;

/// A failed sign-in by a known user, with every column filled.
fn failed_login() -> ActivityEvent {
    ActivityEvent::builder(Action::custom("auth.login.failed").unwrap())
        .category("auth")
        .actor(Actor::user("u-42").with_label("Ada Lovelace"))
        .tenant("acme")
        .resource("session", "s-9")
        .outcome(Outcome::Warning)
        .status(StatusCode::UNAUTHORIZED)
        .request_id("req-login-1")
        .ip(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)))
        .method("POST")
        .route("/login")
        .build()
        .unwrap()
}

/// An update whose details hold a change diff.
fn renamed(tenant: &str, minutes_ago: i64) -> ActivityEvent {
    let before = json!({"name": "Old name", "plan": "free"});
    let after = json!({"name": "New name", "plan": "free"});
    ActivityEvent::builder(Action::Update)
        .actor(Actor::admin(format!("admin-of-{tenant}")))
        .tenant(tenant)
        .resource("project", format!("{tenant}-project"))
        .changes(changes(&before, &after).unwrap())
        .occurred_at(Utc::now() - TimeDelta::minutes(minutes_ago))
        .build()
        .unwrap()
}

/// `count` deletions of notes by `actor`, a minute apart, the newest ten
/// minutes ago and written last.
fn deletions(actor: &str, count: u8, outcome: Outcome) -> Vec<ActivityEvent> {
    let status = match outcome {
        Outcome::Success => StatusCode::NO_CONTENT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (0..count)
        .map(|index| {
            ActivityEvent::builder(Action::Delete)
                .actor(Actor::user(actor))
                .tenant("acme")
                .resource("note", index)
                .outcome(outcome)
                .status(status)
                .method("DELETE")
                .route("/notes/{id}")
                .request_id(format!("req-{actor}-{index}"))
                .ip(IpAddr::V4(Ipv4Addr::new(198, 51, 100, index)))
                .occurred_at(Utc::now() - TimeDelta::minutes(10 + i64::from(count - index)))
                .build()
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn rows_render_the_entries_values_and_expand_to_their_details() {
    let Some(browser) = Browser::start(Scheme::Light).await else {
        return;
    };
    // Listed by id, newest first: the rename, then the sign-in.
    let rename = renamed("acme", 30);
    let login = failed_login();
    let origin = server(MemorySink::new(), &[rename, login.clone()]).await;
    browser.open_as(&origin, "auditor", "/activity/ui").await;
    browser.until_rows(2).await;

    let rows = browser.rows().await;
    let cells = &rows[0];
    assert_eq!(cells[2], "acme", "tenant");
    assert!(
        cells[3].contains("user") && cells[3].contains("u-42") && cells[3].contains("Ada Lovelace"),
        "actor: {}",
        cells[3]
    );
    assert!(
        cells[4].contains("auth.login.failed") && cells[4].contains("auth"),
        "action: {}",
        cells[4]
    );
    assert!(
        cells[4].contains("A sign-in attempt failed"),
        "the catalogue's description: {}",
        cells[4]
    );
    assert!(
        cells[5].contains("session") && cells[5].contains("s-9"),
        "resource: {}",
        cells[5]
    );
    assert_eq!(cells[6], "warning401", "outcome and status");
    assert_eq!(cells[7], "203.0.113.7");
    assert_eq!(cells[8], "POST /login");
    assert_eq!(cells[9], "req-login-1");
    assert!(rows[1][4].starts_with("update"));

    // Warnings stand out; the time shows UTC on hover.
    let row = r##"document.querySelector("#rows tr.entry")"##;
    assert_eq!(
        browser
            .eval(&format!("{row}.classList.contains('row-warning')"))
            .await,
        json!(true)
    );
    let title = browser.eval(&format!("{row}.querySelector('time').title")).await;
    let utc = login
        .occurred_at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    assert_eq!(title, json!(format!("{utc} (UTC)")));

    // The rename's row opens to its change diff.
    browser.click("#rows tr.entry:nth-of-type(3) button.expand").await;
    browser
        .until(r##"!document.querySelector("#rows tr.details:nth-of-type(4)").hidden"##)
        .await;
    let diff = browser
        .eval(r##"[...document.querySelectorAll("table.diff tbody tr")].map((row) => row.textContent)"##)
        .await;
    assert_eq!(diff, json!(["nameOld nameNew name"]));
    let expanded = browser
        .eval(r##"document.querySelector("button.expand[aria-expanded=true]") !== null"##)
        .await;
    assert_eq!(expanded, json!(true));
    browser.close().await;
}

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

#[tokio::test]
async fn live_mode_puts_a_new_entry_at_the_top() {
    let Some(browser) = Browser::start(Scheme::Light).await else {
        return;
    };
    let store = MemorySink::new();
    let origin = server(store.clone(), &deletions("erin", 2, Outcome::Success)).await;
    browser.open_as(&origin, "auditor", "/activity/ui").await;
    browser.until_rows(2).await;
    browser.click("#live").await;
    browser
        .until(r##"document.querySelector("#status").textContent.startsWith("Live: new")"##)
        .await;

    let arriving = failed_login();
    store.write_batch(std::slice::from_ref(&arriving)).await.unwrap();
    browser
        .until(&format!(
            r##"document.querySelector("#rows tr.entry").dataset.id === "{}""##,
            arriving.id
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

#[tokio::test]
async fn hostile_values_render_as_text_and_run_nothing() {
    let Some(browser) = Browser::start(Scheme::Light).await else {
        return;
    };
    let payload = r##"<img src=x onerror="window.hacked=1;alert(1)">"##;
    let closing = r##"</script><script>window.hacked=2</script>"##;
    let event = ActivityEvent::builder(Action::Update)
        .actor(Actor::user("mallory").with_label(payload))
        .resource(closing, payload)
        .detail("note", payload)
        .build()
        .unwrap();
    let origin = server(MemorySink::new(), &[event]).await;
    browser.open_as(&origin, "auditor", "/activity/ui").await;
    browser.until_rows(1).await;
    browser.click("#rows button.expand").await;
    browser
        .until(r##"document.querySelector("pre.json") !== null"##)
        .await;

    // In full in the expanded row: the label, the resource and the detail.
    let text = browser
        .eval(r##"document.querySelector("#rows").textContent"##)
        .await;
    let text = text.as_str().unwrap();
    assert!(
        text.contains(&format!("mallory \u{b7} {payload}")),
        "the label shows as text: {text}"
    );
    assert!(text.contains(closing), "the resource type shows as text: {text}");
    let details = browser
        .eval(r##"document.querySelector("pre.json").textContent"##)
        .await;
    let details: Value = serde_json::from_str(details.as_str().unwrap()).unwrap();
    assert_eq!(details, json!({"note": payload}), "the detail shows as text");
    assert_eq!(
        browser
            .eval("document.querySelectorAll('img, #rows script').length")
            .await,
        json!(0)
    );
    assert_eq!(browser.eval("window.hacked === undefined").await, json!(true));
    assert!(browser.client.get_alert_text().await.is_err(), "no dialog opened");
    browser.close().await;
}

#[tokio::test]
async fn a_tenant_scoped_reader_sees_and_requests_only_its_tenant() {
    let Some(browser) = Browser::start(Scheme::Light).await else {
        return;
    };
    let globex = renamed("globex", 5);
    let origin = server(
        MemorySink::new(),
        &[renamed("acme", 10), globex.clone(), failed_login()],
    )
    .await;
    browser.open_as(&origin, "tenant-acme", "/activity/ui").await;
    browser.until_rows(2).await;
    let text = browser.eval("document.querySelector('#rows').textContent").await;
    assert!(!text.as_str().unwrap().contains("globex"));
    // No tenant filter and no tenant column.
    assert_eq!(
        browser
            .eval(r##"document.querySelector("label[data-field=tenant]").hidden"##)
            .await,
        json!(true)
    );
    assert_eq!(
        browser
            .eval(r##"document.querySelector("th[data-field=tenant]").hidden"##)
            .await,
        json!(true)
    );
    assert_eq!(
        browser.eval("document.querySelector('#scope').textContent").await,
        json!("Tenant acme")
    );

    // Asking for another tenant from the page is refused by the server.
    let statuses = browser
        .client
        .execute_async(
            &format!(
                r##"const done = arguments[arguments.length - 1];
                Promise.all(["/activity?tenant=globex", "/activity/{}", "/activity/stats?tenant=globex"]
                    .map((url) => fetch(url).then((response) => response.status))).then(done);"##,
                globex.id
            ),
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(statuses, json!([403, 404, 403]));
    browser.close().await;
}

#[tokio::test]
async fn the_page_runs_under_its_content_security_policy() {
    let Some(browser) = Browser::start(Scheme::Light).await else {
        return;
    };
    let origin = server(MemorySink::new(), &deletions("heidi", 1, Outcome::Success)).await;
    browser.open_as(&origin, "auditor", "/activity/ui").await;
    // The page's own scripts ran: the row is there.
    browser.until_rows(1).await;
    // An inline script is refused by the policy, and the refusal reported.
    browser
        .eval(
            r##"(() => {
                document.addEventListener("securitypolicyviolation", (violation) => {
                    window.violated = violation.effectiveDirective;
                });
                const script = document.createElement("script");
                script.textContent = "window.inline = 1";
                document.body.append(script);
                return true;
            })()"##,
        )
        .await;
    browser.until("window.violated !== undefined").await;
    assert_eq!(browser.eval("window.violated").await, json!("script-src-elem"));
    assert_eq!(browser.eval("window.inline === undefined").await, json!(true));
    browser.close().await;
}

/// Screenshots of the main view, wide and narrow, in the scheme given; the
/// narrow one shows cards, the dark one a dark page.
async fn screenshots(scheme: Scheme) {
    let Some(browser) = Browser::start(scheme).await else {
        return;
    };
    let mut events = vec![failed_login(), renamed("acme", 3), renamed("globex", 60 * 26)];
    events.extend(deletions("ivan", 3, Outcome::Error));
    events.extend(deletions("judy", 4, Outcome::Success));
    let origin = server(MemorySink::new(), &events).await;
    let name = match scheme {
        Scheme::Light => "light",
        Scheme::Dark => "dark",
    };
    browser.client.set_window_size(1400, 1000).await.unwrap();
    browser.open_as(&origin, "auditor", "/activity/ui").await;
    browser.until_rows(10).await;
    browser
        .until(r##"document.querySelector("#chart svg") !== null"##)
        .await;
    let background = browser
        .eval("getComputedStyle(document.body).backgroundColor")
        .await;
    let dark = scheme == Scheme::Dark;
    assert_eq!(
        background == json!("rgb(255, 255, 255)"),
        !dark,
        "background {background}"
    );
    browser.screenshot(&format!("{name}-wide")).await;

    browser.client.set_window_size(360, 900).await.unwrap();
    browser.client.refresh().await.unwrap();
    browser.until_rows(10).await;
    browser
        .until(r##"getComputedStyle(document.querySelector("#log thead")).position === "absolute""##)
        .await;
    browser.screenshot(&format!("{name}-narrow")).await;
    browser.close().await;
}

#[tokio::test]
async fn light_screenshots_wide_and_narrow() {
    screenshots(Scheme::Light).await;
}

#[tokio::test]
async fn dark_screenshots_wide_and_narrow() {
    screenshots(Scheme::Dark).await;
}
