//! Screenshots of the main view, light and dark, wide and narrow, saved as
//! test output.

use axum_activity::MemorySink;
use serde_json::json;
use tower_activity::Outcome;

use crate::browser::{Browser, Scheme};
use crate::events::{deletions, failed_login, renamed};
use crate::fixtures::server;

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
