//! Headless Chromium over WebDriver: chromedriver started for each test on a
//! free loopback port, driving the browser the environment names.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::Method;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, MutexGuard};

/// Names the Chromium binary; set by `scripts/test`, which installs it
/// (`skip` skips the browser tests, as when unset).
const CHROMIUM_VARIABLE: &str = "ACTIVITY_TEST_CHROMIUM";
/// Names chromedriver; `/usr/bin/chromedriver` (Debian's) when unset.
const DRIVER_VARIABLE: &str = "ACTIVITY_TEST_CHROMEDRIVER";
/// How long a wait for the page lasts before the test fails.
const PATIENCE: Duration = Duration::from_secs(15);

/// One browser at a time: the tests share two cores with everything else.
static TURN: Mutex<()> = Mutex::const_new(());

/// The colour scheme the browser reports to the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    Light,
    Dark,
}

/// A browser session; [`Browser::close`] ends it.
pub(crate) struct Browser {
    pub(crate) client: Client,
    pub(crate) downloads: TempDir,
    driver: Child,
    _turn: MutexGuard<'static, ()>,
}

impl Browser {
    /// A fresh browser, or `None` (with a notice) when the environment does
    /// not name one. Fails when it names one that cannot be started.
    pub(crate) async fn start(scheme: Scheme) -> Option<Browser> {
        let Some(chromium) = std::env::var_os(CHROMIUM_VARIABLE) else {
            eprintln!(
                "skipped: set {CHROMIUM_VARIABLE} to a Chromium binary to run the viewer's browser tests"
            );
            return None;
        };
        let chromium = PathBuf::from(chromium);
        assert!(
            chromium.is_file(),
            "{CHROMIUM_VARIABLE}={} is not a file",
            chromium.display()
        );
        let driver_path = std::env::var_os(DRIVER_VARIABLE)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
        assert!(
            driver_path.is_file(),
            "chromedriver not found at {} (set {DRIVER_VARIABLE})",
            driver_path.display()
        );
        let turn = TURN.lock().await;
        let port = free_port().await;
        // In a process group of its own, which the browsers it starts join:
        // dropping the session ends them all, even when a test fails.
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .process_group(0)
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", driver_path.display()));
        let downloads = tempfile::tempdir().unwrap();
        let client = connect(port, &chromium, scheme, downloads.path()).await;
        // Headless Chromium downloads only where it is told to.
        client
            .issue_cmd(DevTools {
                command: "Browser.setDownloadBehavior",
                params: json!({"behavior": "allow", "downloadPath": downloads.path()}),
            })
            .await
            .unwrap();
        Some(Browser {
            client,
            downloads,
            driver,
            _turn: turn,
        })
    }

    /// Opens `url` signed in as `role` (the test server's cookie).
    pub(crate) async fn open_as(&self, origin: &str, role: &str, path: &str) {
        // A cookie is set for the page's origin, so visit it first.
        self.client.goto(&format!("{origin}/")).await.unwrap();
        self.eval(&format!(
            "document.cookie = 'role={role}; path=/; SameSite=Strict'"
        ))
        .await;
        self.client.goto(&format!("{origin}{path}")).await.unwrap();
    }

    /// The value of the JavaScript `expression` in the page.
    pub(crate) async fn eval(&self, expression: &str) -> Value {
        self.client
            .execute(&format!("return ({expression});"), Vec::new())
            .await
            .unwrap()
    }

    /// Waits until `expression` is true in the page; fails after
    /// [`PATIENCE`] naming what it waited for.
    pub(crate) async fn until(&self, expression: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if self.eval(expression).await == json!(true) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the page never got to: {expression}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the table shows `count` entries.
    pub(crate) async fn until_rows(&self, count: usize) {
        self.until(&format!(
            r##"document.querySelectorAll("#rows tr.entry").length === {count}"##
        ))
        .await;
    }

    /// Waits for the element `css` and clicks it.
    pub(crate) async fn click(&self, css: &str) {
        let element = self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no {css}: {error}"));
        element.click().await.unwrap();
    }

    /// The text of each table row, cell by cell.
    pub(crate) async fn rows(&self) -> Vec<Vec<String>> {
        let rows = self
            .eval(
                r##"[...document.querySelectorAll("#rows tr.entry")].map(
                    (row) => [...row.cells].map((cell) => cell.textContent.trim()))"##,
            )
            .await;
        serde_json::from_value(rows).unwrap()
    }

    /// Saves a screenshot of the window as `name`.png in the test output.
    pub(crate) async fn screenshot(&self, name: &str) -> PathBuf {
        let directory = Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer-screenshots");
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join(format!("{name}.png"));
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Ends the session, and the browser with it.
    pub(crate) async fn close(self) {
        self.client.clone().close().await.unwrap();
    }
}

impl Drop for Browser {
    /// Ends chromedriver's process group: the driver and any browser a
    /// failed test left open.
    fn drop(&mut self) {
        if let Some(group) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{group}")])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// A DevTools protocol command, sent through chromedriver's own endpoint.
#[derive(Debug)]
struct DevTools {
    command: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for DevTools {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        let body = json!({"cmd": self.command, "params": self.params});
        (Method::POST, Some(body.to_string()))
    }
}

async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// Connects to the driver once it listens, asking for a headless browser.
async fn connect(port: u16, chromium: &Path, scheme: Scheme, downloads: &Path) -> Client {
    let mut args = vec![
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-crash-reporter",
        "--window-size=1400,1000",
    ];
    if scheme == Scheme::Dark {
        args.push("--force-dark-mode");
        args.push("--blink-settings=preferredColorScheme=0");
    }
    let capabilities = json!({
        "browserName": "chrome",
        "unhandledPromptBehavior": "ignore",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": args,
            "prefs": {
                "download.default_directory": downloads,
                "download.prompt_for_download": false,
            },
        },
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!("an object")
    };
    let url = format!("http://127.0.0.1:{port}");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let attempt = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&url)
            .await;
        match attempt {
            Ok(client) => return client,
            Err(error) if tokio::time::Instant::now() < deadline => {
                let _ = error;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("cannot start a browser session through chromedriver: {error}"),
        }
    }
}
