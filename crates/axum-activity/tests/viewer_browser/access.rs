//! What the page may do: a tenant-scoped reader, the Content-Security-Policy.

use axum_activity::MemorySink;
use serde_json::json;
use tower_activity::Outcome;

use crate::browser::{Browser, Scheme};
use crate::events::{deletions, failed_login, renamed};
use crate::fixtures::server;

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
    // The page came with the policy.
    let policy = browser
        .client
        .execute_async(
            r##"const done = arguments[arguments.length - 1];
            fetch(window.location.href).then((page) => done(page.headers.get("content-security-policy")));"##,
            Vec::new(),
        )
        .await
        .unwrap();
    let policy = policy.as_str().expect("a Content-Security-Policy header");
    assert!(
        policy.contains("script-src 'self'") && !policy.contains("unsafe"),
        "{policy}"
    );
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
