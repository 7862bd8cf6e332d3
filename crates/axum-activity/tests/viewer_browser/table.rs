//! The table: each entry's values, the row that opens to its details, the
//! keyboard, values from hostile hands, and the chart.

use axum_activity::{Action, ActivityEvent, Actor, MemorySink};
use fantoccini::Locator;
use fantoccini::key::Key;
use serde_json::{Value, json};
use tower_activity::Outcome;

use crate::browser::{Browser, Scheme};
use crate::events::{deletions, failed_login, renamed};
use crate::fixtures::server;

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
async fn the_keyboard_moves_between_rows_and_opens_one() {
    let Some(browser) = Browser::start(Scheme::Light).await else {
        return;
    };
    let origin = server(MemorySink::new(), &deletions("mia", 3, Outcome::Success)).await;
    browser.open_as(&origin, "auditor", "/activity/ui").await;
    browser.until_rows(3).await;
    let first = browser
        .client
        .find(Locator::Css("#rows button.expand"))
        .await
        .unwrap();
    first.send_keys(&Key::Down.to_string()).await.unwrap();
    let focused = browser
        .eval("document.activeElement.closest('tr').dataset.id")
        .await;
    let second = browser
        .eval(r##"document.querySelectorAll("#rows tr.entry")[1].dataset.id"##)
        .await;
    assert_eq!(focused, second);
    browser
        .client
        .active_element()
        .await
        .unwrap()
        .send_keys(&Key::Enter.to_string())
        .await
        .unwrap();
    browser
        .until("document.activeElement.getAttribute('aria-expanded') === 'true'")
        .await;
    let shown = browser
        .eval("!document.activeElement.closest('tr').nextElementSibling.hidden")
        .await;
    assert_eq!(shown, json!(true));
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
async fn the_chart_counts_entries_per_day_by_outcome() {
    let Some(browser) = Browser::start(Scheme::Light).await else {
        return;
    };
    let at = |day: &str, outcome: Outcome| {
        ActivityEvent::builder(Action::Read)
            .outcome(outcome)
            .occurred_at(format!("{day}T12:00:00Z").parse().unwrap())
            .build()
            .unwrap()
    };
    let events = [
        at("2026-03-01", Outcome::Success),
        at("2026-03-01", Outcome::Success),
        at("2026-03-01", Outcome::Critical),
        at("2026-03-03", Outcome::Error),
    ];
    let origin = server(MemorySink::new(), &events).await;
    browser.open_as(&origin, "auditor", "/activity/ui").await;
    browser
        .until(r##"document.querySelector("#chart svg") !== null"##)
        .await;
    // One bar per outcome and day, the empty day between kept as a gap.
    let bars = browser
        .eval(r##"[...document.querySelectorAll("#chart rect")].map((bar) => bar.textContent)"##)
        .await;
    assert_eq!(
        bars,
        json!([
            "2026-03-01: 2 success",
            "2026-03-01: 1 critical",
            "2026-03-03: 1 error"
        ])
    );
    let x = browser
        .eval(
            r##"[...document.querySelectorAll("#chart rect")].map((bar) => Number(bar.getAttribute("x")))"##,
        )
        .await;
    let x: Vec<f64> = serde_json::from_value(x).unwrap();
    assert!(
        x[0] == x[1] && x[2] > x[0],
        "stacked on one day, the third two days later: {x:?}"
    );
    let label = browser
        .eval(r##"document.querySelector("#chart svg").getAttribute("aria-label")"##)
        .await;
    assert_eq!(label, json!("4 entries from 2026-03-01 to 2026-03-03 (UTC days)"));
    browser.close().await;
}
