//! The quickstart: a small notes API whose requests are audited and stored in
//! SQLite, driven by a few requests (a burst of failed logins among them,
//! which raises a security alert), then the log they produced, a filtered
//! query, an anonymization and a prune, all sealed into a signed hash chain
//! and verified at the end.
//!
//! Run it with `cargo run -p activity-examples --example quickstart`. It writes
//! `activity-quickstart.db` in the current directory (replaced on every run),
//! keeps its spool in `activity-quickstart-spool/` (empty unless the
//! database failed), and writes the seals' public key
//! (`activity-quickstart.pub`) and a checkpoint
//! (`activity-quickstart.checkpoint`) beside it; look at the log and verify
//! it afterwards with the `activity-log` commands it prints.
//!
//! With `-- --serve` it keeps serving after the demo, on 127.0.0.1:3000 (or
//! a free port when that one is taken), with the log router and its viewer
//! mounted at `/activity`: open the address it prints to browse the log the
//! demo's requests produced, and send more requests to watch them arrive.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{Method, Request, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_activity::router::{LogAccess, LogRouter};
use axum_activity::{
    Action, ActivityEvent, Actor, CurrentActivity, Identity, Recorder, audited, log_activity,
};
use chrono::Utc;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sea_orm_activity::{
    ActivityMigrator, AnonymizePolicy, RetentionPolicy, SeaOrmStore, Sealer, VerifyOptions, log_activity_in,
};
use sea_orm_migration::MigratorTrait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_activity::seal::SealSigningKey;
use tower_activity::spool::Spool;
use tower_activity::{ActivityFilter, ActivityQuery, ActivityStore, AlertRule, Alerts, Order, Outcome};

const DATABASE_FILE: &str = "activity-quickstart.db";
/// Where batches wait while the database cannot take them.
const SPOOL_DIR: &str = "activity-quickstart-spool";
const PUBLIC_KEY_FILE: &str = "activity-quickstart.pub";
const CHECKPOINT_FILE: &str = "activity-quickstart.checkpoint";
const DAY: Duration = Duration::from_secs(86_400);

#[derive(Clone, Default)]
struct Notes {
    notes: Arc<Mutex<BTreeMap<u64, Note>>>,
    next_id: Arc<AtomicU64>,
}

#[derive(Clone, Serialize)]
struct Note {
    id: u64,
    owner: String,
    text: String,
}

#[derive(Deserialize)]
struct NoteText {
    text: String,
}

#[derive(Deserialize)]
struct Share {
    with: String,
}

#[derive(Deserialize)]
struct Login {
    user: String,
}

/// Who is calling. A real service verifies a session or a token here; the
/// quickstart trusts an `x-user` header to keep the example short.
fn identify(request: &Request<Body>) -> Identity {
    let header = |name| request.headers().get(name).and_then(|value| value.to_str().ok());
    match header("x-user") {
        Some(user) => Identity::actor(Actor::user(user)).with_tenant(header("x-tenant").unwrap_or("default")),
        None => Identity::unknown(),
    }
}

fn caller(activity: &CurrentActivity) -> String {
    activity
        .actor()
        .and_then(|actor| actor.id)
        .map(|id| id.to_string())
        .unwrap_or_default()
}

async fn create_note(
    State(notes): State<Notes>,
    activity: CurrentActivity,
    Json(body): Json<NoteText>,
) -> (StatusCode, Json<Note>) {
    let id = notes.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    let note = Note {
        id,
        owner: caller(&activity),
        text: body.text,
    };
    notes.notes.lock().unwrap().insert(id, note.clone());
    (StatusCode::CREATED, Json(note))
}

async fn read_note(State(notes): State<Notes>, Path(id): Path<u64>) -> Result<Json<Note>, StatusCode> {
    let notes = notes.notes.lock().unwrap();
    notes.get(&id).cloned().map(Json).ok_or(StatusCode::NOT_FOUND)
}

async fn update_note(
    State(notes): State<Notes>,
    activity: CurrentActivity,
    Path(id): Path<u64>,
    Json(body): Json<NoteText>,
) -> Result<Json<Note>, StatusCode> {
    let mut notes = notes.notes.lock().unwrap();
    let note = notes.get_mut(&id).ok_or(StatusCode::NOT_FOUND)?;
    if note.owner != caller(&activity) {
        return Err(StatusCode::FORBIDDEN);
    }
    note.text = body.text;
    Ok(Json(note.clone()))
}

async fn delete_note(
    State(notes): State<Notes>,
    activity: CurrentActivity,
    Path(id): Path<u64>,
) -> StatusCode {
    let mut notes = notes.notes.lock().unwrap();
    match notes.get(&id) {
        None => StatusCode::NOT_FOUND,
        Some(note) if note.owner != caller(&activity) => StatusCode::FORBIDDEN,
        Some(_) => {
            notes.remove(&id);
            StatusCode::NO_CONTENT
        }
    }
}

/// Business logic that logs its own event by hand: sharing is not a CRUD
/// verb, so it gets a namespaced action.
async fn share_note(Path(id): Path<u64>, Json(share): Json<Share>) -> StatusCode {
    let event = ActivityEvent::builder("note.shared")
        .resource("note", id)
        .detail("with", share.with)
        .build()
        .expect("a valid action name");
    // Never waits on the database; a full queue is counted and reported.
    let _ = log_activity(event);
    StatusCode::NO_CONTENT
}

/// A login that always fails (the quickstart has no accounts). Each failure is
/// logged as `auth.login.failed` for the account tried: the failed-login
/// alert rules count them.
async fn login(Json(login): Json<Login>) -> StatusCode {
    let event = ActivityEvent::builder("auth.login.failed")
        .actor(Actor::user(login.user))
        .outcome(Outcome::Warning)
        .build()
        .expect("a valid action name");
    let _ = log_activity(event);
    StatusCode::UNAUTHORIZED
}

/// Who may read the log. A real service checks the reader's session here
/// and may limit them to one tenant with `LogAccess::Tenant`; the quickstart
/// serves on the loopback address only and lets its one local reader see
/// everything.
fn local_reader(_request: &Parts) -> std::future::Ready<Result<LogAccess, Response>> {
    std::future::ready(Ok(LogAccess::All))
}

/// The notes API, with `more` (such as the log router) mounted beside it,
/// all under the activity layer.
fn app(notes: Notes, recorder: Recorder, more: Router) -> Router {
    Router::new()
        .route("/notes", post(audited(create_note, Action::Create, "note")))
        .route(
            "/notes/{id}",
            get(audited(read_note, Action::Read, "note").id_from_path("id"))
                .put(audited(update_note, Action::Update, "note").id_from_path("id"))
                .delete(audited(delete_note, Action::Delete, "note").id_from_path("id")),
        )
        .route("/notes/{id}/share", post(share_note))
        .route("/login", post(login))
        .with_state(notes)
        .merge(more)
        .layer(axum_activity::layer().recorder(recorder).identify(identify))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. The log lives in SQLite, in a local file: nothing to install.
    let _ = std::fs::remove_file(DATABASE_FILE);
    let db = sea_orm::Database::connect(format!("sqlite://{DATABASE_FILE}?mode=rwc")).await?;
    ActivityMigrator::up(&db, None).await?;
    let store = SeaOrmStore::new(db.clone());

    // 2. The recorder batches events into the table, off the request path,
    //    and watches them for suspicious activity: the built-in rules, with
    //    failed logins per IP lowered to 5 so that the demo stays short.
    let alerts = Alerts::new()
        .rules(AlertRule::builtins())
        .rule(AlertRule::failed_logins_per_ip().threshold(5))
        .on_alert(|alert| async move {
            println!(
                "  ALERT {}: {} matching events from {} (a page, an email, a ticket...)",
                alert.rule, alert.count, alert.key
            );
        });
    //    With a spool, an outage of the database loses nothing: batches wait
    //    on local disk and are written once it is back (also after a restart).
    let recorder = Recorder::builder(store.clone())
        .alerts(alerts)
        .spool(Spool::open(SPOOL_DIR)?)
        .spawn();

    //    Every entry, whichever path writes it, is sealed within a fifth of a
    //    second into a hash chain signed with the application's key (a real
    //    service loads it from its secret store); verifiers get the public key.
    let key = SealSigningKey::generate().ok_or("no random key")?;
    std::fs::write(PUBLIC_KEY_FILE, hex(&key.public_key().to_bytes()))?;
    let sealer = Sealer::new(store.clone())
        .signing_key(key.clone())
        .interval(Duration::from_millis(200))
        .spawn();

    // 3. Serve the app, with the client's address available to the layer.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(
            listener,
            app(Notes::default(), recorder.clone(), Router::new())
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .into_future(),
    );

    // 4. A newcomer's requests.
    println!("Requests:");
    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let send = |method: Method, path: &str, user: Option<&str>, body: Option<serde_json::Value>| {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{addr}{path}"))
            .header("user-agent", "quickstart/1.0");
        if let Some(user) = user {
            request = request.header("x-user", user).header("x-tenant", "acme");
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let request = request.body(body).expect("a valid request");
        let client = client.clone();
        async move {
            let response = client.request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            println!("  {status:<24} {}", String::from_utf8_lossy(&body));
            Ok::<_, Box<dyn std::error::Error>>(())
        }
    };
    let note = json!({"text": "buy milk"});
    send(Method::POST, "/notes", Some("ada"), Some(note)).await?;
    send(Method::GET, "/notes/1", Some("ada"), None).await?;
    send(
        Method::PUT,
        "/notes/1",
        Some("ada"),
        Some(json!({"text": "buy oat milk"})),
    )
    .await?;
    send(
        Method::POST,
        "/notes/1/share",
        Some("ada"),
        Some(json!({"with": "bob"})),
    )
    .await?;
    send(Method::DELETE, "/notes/1", Some("bob"), None).await?;
    send(Method::GET, "/notes/42", None, None).await?;
    send(Method::POST, "/notes", Some("bob"), Some(json!({"txt": "typo"}))).await?;
    send(Method::DELETE, "/notes/1", Some("ada"), None).await?;
    // Someone guessing passwords: five failed logins from one address.
    for guess in ["123456", "password", "qwerty", "letmein", "dragon"] {
        let attempt = json!({"user": "ada", "password": guess});
        send(Method::POST, "/login", None, Some(attempt)).await?;
    }

    // 5. Graceful shutdown: stop the server, then write everything queued.
    let _ = stop.send(());
    server.await??;
    let report = recorder.shutdown().await;
    println!(
        "\nRecorder: {} events written, {} dropped",
        report.written, report.dropped
    );

    // 6. The log those requests produced, oldest first.
    let everything = ActivityQuery::new(ActivityFilter::new()).order(Order::OldestFirst);
    print_events("The log", &store.list(&everything).await?.events);

    // 7. A filtered query: what was refused or failed.
    let refused = ActivityFilter::new()
        .tenant("acme")
        .outcome(Outcome::Warning)
        .outcome(Outcome::Error);
    let page = store
        .list(&ActivityQuery::new(refused).order(Order::OldestFirst))
        .await?;
    print_events("Refused or failed, tenant acme", &page.events);

    // 8. GDPR: Ada asks to be forgotten. Her entries stay, her data goes;
    //    sealed entries keep verifying (sealed here at once rather than
    //    waiting for the background round, to show it).
    Sealer::new(store.clone())
        .signing_key(key.clone())
        .seal_pending()
        .await?;
    let changed = store.anonymize("ada", &AnonymizePolicy::new()).await?;
    let ada_now = store
        .list(&ActivityQuery::new(ActivityFilter::new().actor("ada")))
        .await?;
    println!(
        "\nAnonymized ada: {changed} entries changed; entries still naming her: {}",
        ada_now.events.len()
    );

    // 9. Retention: an entry from a year ago goes, recent ones stay; logins
    //    would be kept for two years.
    let mut old = ActivityEvent::builder("report.exported")
        .resource("report", "2025-q3")
        .build()?;
    old.occurred_at = Utc::now() - chrono::Duration::days(365);
    log_activity_in(&db, old).await?;
    let policy = RetentionPolicy::new(90 * DAY).keep("auth".parse()?, 730 * DAY);
    let pruned = store.prune(&policy, Utc::now()).await?;
    println!("Pruned entries older than 90 days: {}", pruned.pruned);
    print_events("The log now", &store.list(&everything).await?.events);

    // 10. Tamper evidence: the last round seals what is left; verification
    //     recomputes every entry, seal and signature from the stored rows.
    sealer.shutdown().await;
    let report = store
        .verify(&VerifyOptions::new().public_key(key.public_key()))
        .await?;
    println!("\nVerified with the public key:\n{report}");
    if let Some(checkpoint) = &report.newest {
        std::fs::write(CHECKPOINT_FILE, checkpoint.to_string())?;
    }

    let cli = "cargo run -p sea-orm-activity --features cli --bin activity-log --";
    println!("\nExplore it: {cli} --database-url sqlite://{DATABASE_FILE} query");
    println!(
        "Verify it:  {cli} --database-url sqlite://{DATABASE_FILE} verify \
         --public-key {PUBLIC_KEY_FILE} --checkpoint {CHECKPOINT_FILE}"
    );
    if std::env::args().any(|arg| arg == "--serve") {
        serve(store, key).await?;
    } else {
        println!("Or browse it: run again with `-- --serve` and open the viewer it prints.");
    }
    Ok(())
}

/// Serves the notes API again, with the log router and its viewer at
/// `/activity`, until Ctrl-C; new entries are sealed with the same key.
async fn serve(store: SeaOrmStore, key: SealSigningKey) -> Result<(), Box<dyn std::error::Error>> {
    let recorder = Recorder::builder(store.clone())
        .spool(Spool::open(SPOOL_DIR)?)
        .spawn();
    let sealer = Sealer::new(store.clone()).signing_key(key).spawn();
    let log = Router::new().nest(
        "/activity",
        LogRouter::new(store, local_reader).into_sealed_router(),
    );
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:3000").await {
        Ok(listener) => listener,
        Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0").await?,
    };
    let addr = listener.local_addr()?;
    println!("\nServing on http://{addr} until Ctrl-C.");
    println!("  The viewer:   http://{addr}/activity/ui");
    println!(
        "  More entries: curl -X POST http://{addr}/notes -H 'x-user: ada' -H 'x-tenant: acme' \\\n    \
         -H 'content-type: application/json' -d '{{\"text\": \"hello\"}}'"
    );
    axum::serve(
        listener,
        app(Notes::default(), recorder.clone(), log).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    let report = recorder.shutdown().await;
    sealer.shutdown().await;
    println!("Recorder: {} more events written", report.written);
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn print_events(title: &str, events: &[ActivityEvent]) {
    println!("\n{title}:");
    for event in events {
        let actor = event
            .actor
            .as_ref()
            .map_or("-".to_owned(), |actor| match &actor.id {
                Some(id) => format!("{}:{id}", actor.kind),
                None => actor.kind.to_string(),
            });
        let resource = format!(
            "{}/{}",
            event.resource_type.as_deref().unwrap_or("-"),
            event.resource_id.as_deref().unwrap_or("-")
        );
        let status = event
            .http_status
            .map_or("-".to_owned(), |status| status.to_string());
        println!(
            "  {}  {:<26} {:<8} {:>3}  {:<26} {:<9} {:<10} {}",
            event.occurred_at.format("%H:%M:%S%.3f"),
            event.action.as_str(),
            event.outcome.as_str(),
            status,
            actor,
            resource,
            event.ip.as_deref().unwrap_or("-"),
            event.route.as_deref().unwrap_or("-"),
        );
    }
}
