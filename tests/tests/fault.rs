//! The fault suite: PostgreSQL and MariaDB behind a loopback proxy that
//! refuses, cuts and stalls connections, with a recorder spooling to local
//! disk, in this process or in child processes stopped by `SIGTERM` or
//! `kill -9`. Every test counts exactly: rows == events accepted and no id
//! twice.
//!
//! The PostgreSQL outage under load lasts `ACTIVITY_FAULT_OUTAGE_SECS`
//! (60 s by default), the others a few seconds, so the suite takes about
//! two minutes.

#[path = "../../crates/sea-orm-activity/tests/it/support.rs"]
mod support;

#[path = "fault/proxy.rs"]
mod proxy;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement, TransactionTrait};
use sea_orm_activity::SeaOrmStore;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::Instant;
use tower_activity::spool::Spool;
use tower_activity::{Action, ActivityEvent, Recorder};

use proxy::{FaultProxy, Mode};
use support::{Backend, TestDb, on_backend};

/// The network backends: SQLite has no link to break.
const NETWORKED: [Backend; 2] = [Backend::Postgres, Backend::MySql];

/// `url` with its host and port replaced by `addr`.
fn through(url: &str, addr: SocketAddr) -> String {
    let start = url.find("://").map_or(0, |at| at + 3);
    let rest = &url[start..];
    let end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    format!(
        "{}{}{addr}{}",
        &url[..start],
        &authority[..host_start],
        &rest[end..]
    )
}

/// The server's address in `url`.
async fn upstream(url: &str) -> SocketAddr {
    let start = url.find("://").map_or(0, |at| at + 3);
    let rest = &url[start..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let host = &authority[authority.rfind('@').map_or(0, |at| at + 1)..];
    tokio::net::lookup_host(host).await.unwrap().next().unwrap()
}

/// A proxy in front of `db`'s server, and the URL of `db` through it.
async fn proxied(db: &TestDb) -> (FaultProxy, String) {
    let proxy = FaultProxy::start(upstream(&db.url).await).await;
    let url = through(&db.url, proxy.addr());
    (proxy, url)
}

/// A connection through `url` that fails fast while the link is down, and
/// whose pool closes a connection that does not answer a ping when it is
/// given back (see the README: a stalled link).
async fn connect(url: &str) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url);
    options
        .connect_timeout(Duration::from_secs(1))
        .acquire_timeout(Duration::from_secs(1))
        .max_connections(4)
        .sqlx_logging(false)
        // The server ends a transaction whose client went silent, so that
        // its locks do not hold up the retry.
        .map_sqlx_postgres_opts(|opts| opts.options([("idle_in_transaction_session_timeout", "3s")]))
        .map_sqlx_postgres_pool_opts(|pool| pool.after_release(|conn, _| Box::pin(answers(conn))))
        .map_sqlx_mysql_pool_opts(|pool| {
            pool.after_release(|conn, _| Box::pin(answers(conn)))
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        sea_orm::sqlx::Executor::execute(conn, "SET SESSION wait_timeout = 3")
                            .await
                            .map(|_| ())
                    })
                })
        });
    Database::connect(options).await.unwrap()
}

/// Whether `conn` answers a ping within a second; an error closes it.
async fn answers(conn: &mut impl sea_orm::sqlx::Connection) -> Result<bool, sea_orm::sqlx::Error> {
    match tokio::time::timeout(Duration::from_secs(1), conn.ping()).await {
        Ok(answer) => answer.map(|()| true),
        Err(_) => Err(sea_orm::sqlx::Error::PoolTimedOut),
    }
}

/// The table's rows and distinct ids.
async fn rows_and_ids(db: &TestDb) -> (u64, u64) {
    let backend = db.db.get_database_backend();
    let row = db
        .db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM activity_log",
        ))
        .await
        .unwrap()
        .unwrap();
    (
        row.try_get::<i64>("", "n").unwrap() as u64,
        row.try_get::<i64>("", "d").unwrap() as u64,
    )
}

fn event(n: u64) -> ActivityEvent {
    ActivityEvent::builder(Action::Create)
        .resource("item", n)
        .build()
        .unwrap()
}

/// Records `rate` events a second until `until`; returns how many the
/// recorder accepted.
async fn steady_load(recorder: &Recorder, rate: u64, until: Instant, first: &mut u64) -> u64 {
    let mut accepted = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while Instant::now() < until {
        tick.tick().await;
        for _ in 0..rate / 100 {
            if recorder.record(event(*first)).is_ok() {
                accepted += 1;
            }
            *first += 1;
        }
    }
    accepted
}

async fn on_networked(test: impl AsyncFn(&TestDb)) {
    for backend in NETWORKED {
        on_backend(backend, true, &test).await;
    }
}

fn outage(backend: Backend) -> Duration {
    let secs = match backend {
        Backend::Postgres => std::env::var("ACTIVITY_FAULT_OUTAGE_SECS")
            .ok()
            .and_then(|secs| secs.parse().ok())
            .unwrap_or(60),
        _ => 8,
    };
    Duration::from_secs(secs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_database_under_steady_load_loses_and_duplicates_nothing() {
    on_networked(async |db| {
        let (proxy, url) = proxied(db).await;
        let spool = tempfile::tempdir().unwrap();
        let recorder = Recorder::builder(SeaOrmStore::new(connect(&url).await))
            .spool(Spool::open(spool.path()).unwrap())
            .spool_after(Duration::from_millis(500))
            .retry_backoff(Duration::from_millis(50), Duration::from_millis(500))
            .write_timeout(Duration::from_secs(2))
            .spawn();
        let rate = 2_000;
        let mut next = 0;
        let start = Instant::now();
        let mut accepted = steady_load(&recorder, rate, start + Duration::from_secs(1), &mut next).await;
        proxy.set(Mode::Refuse);
        let back = Instant::now() + outage(db.backend);
        accepted += steady_load(&recorder, rate, back, &mut next).await;
        proxy.set(Mode::Pass);
        accepted += steady_load(
            &recorder,
            rate,
            Instant::now() + Duration::from_secs(2),
            &mut next,
        )
        .await;
        let report = recorder.shutdown().await;
        let backend = db.backend;
        assert_eq!(accepted, next, "[{backend}] the queue never refused an event");
        assert_eq!((report.dropped, report.lost), (0, 0), "[{backend}]");
        assert!(report.spooled > 0, "[{backend}] the outage was spooled");
        assert_eq!(report.replayed, report.spooled, "[{backend}] and replayed");
        let (rows, ids) = rows_and_ids(db).await;
        assert_eq!(rows, accepted, "[{backend}] every accepted event written");
        assert_eq!(ids, rows, "[{backend}] none twice");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_link_is_left_and_the_batch_written_on_a_fresh_connection() {
    on_networked(async |db| {
        let (proxy, url) = proxied(db).await;
        let recorder = Recorder::builder(SeaOrmStore::new(connect(&url).await))
            .retry_backoff(Duration::from_millis(50), Duration::from_millis(500))
            .write_timeout(Duration::from_secs(1))
            .spawn();
        for n in 0..100 {
            recorder.record(event(n)).unwrap();
        }
        recorder.flush().await;
        // A write held by a lock, on a connection of its own...
        let lock = db.db.begin().await.unwrap();
        let (take, release) = match db.backend {
            Backend::Postgres => ("LOCK TABLE activity_log IN ACCESS EXCLUSIVE MODE", None),
            _ => ("LOCK TABLES activity_log WRITE", Some("UNLOCK TABLES")),
        };
        lock.execute_unprepared(take).await.unwrap();
        let started = Instant::now();
        for n in 100..1_100 {
            recorder.record(event(n)).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        // ...whose link, like every open one, then passes nothing for good
        // (new connections pass), and the lock released: the server writes
        // the batch, the answer never comes.
        proxy.set(Mode::Stall);
        if let Some(release) = release {
            lock.execute_unprepared(release).await.unwrap();
        }
        lock.commit().await.unwrap();
        tokio::time::timeout(Duration::from_secs(60), recorder.flush())
            .await
            .unwrap_or_else(|_| panic!("[{}] the batches never left the stalled connections", db.backend));
        let recorded_in = started.elapsed();
        assert!(
            recorder.stats().failed_batches > 0,
            "[{}] a write met a stalled connection and timed out",
            db.backend
        );
        let report = recorder.shutdown().await;
        assert_eq!(
            (report.written, report.lost),
            (1_100, 0),
            "[{}] after {recorded_in:?}",
            db.backend
        );
        let (rows, ids) = rows_and_ids(db).await;
        assert_eq!((rows, ids), (1_100, 1_100), "[{}]", db.backend);
        drop(proxy);
    })
    .await;
}

/// The child process of these tests.
struct Writer {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Writer {
    fn start(url: &str, spool: &Path, events: u64, rate: u64, hold: bool) -> Writer {
        let mut command = Command::new(env!("CARGO_BIN_EXE_spool-writer"));
        command
            .args([
                url,
                spool.to_str().unwrap(),
                &events.to_string(),
                &rate.to_string(),
            ])
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if hold {
            command.env("HOLD", "1");
        }
        let mut child = command.spawn().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Writer { child, lines }
    }

    /// The value of `key` on the next line that starts with `prefix`.
    async fn read(&mut self, prefix: &str, key: &str) -> u64 {
        let read = tokio::time::timeout(Duration::from_secs(120), async {
            while let Some(line) = self.lines.next_line().await.unwrap() {
                if let Some(rest) = line.strip_prefix(prefix) {
                    return value(rest, key);
                }
            }
            panic!("spool-writer ended before printing {prefix:?}");
        });
        read.await.expect("spool-writer answered")
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().unwrap().to_string();
        let status = std::process::Command::new("kill")
            .args([signal, pid.as_str()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    async fn exit(mut self) {
        let status = tokio::time::timeout(Duration::from_secs(120), self.child.wait())
            .await
            .expect("spool-writer exited")
            .unwrap();
        assert!(status.success() || status.code().is_none(), "{status}");
    }
}

/// `key=<n>` in `text`, or the first number when `key` is empty.
fn value(text: &str, key: &str) -> u64 {
    text.split_whitespace()
        .find_map(|word| match word.split_once('=') {
            Some((name, n)) if name == key => n.parse().ok(),
            None if key.is_empty() => word.parse().ok(),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {key:?} in {text:?}"))
}

/// Starts a process on an empty event count that replays `spool` into the
/// database and exits, then checks that the table holds each of the
/// `accepted` events once.
async fn replayed_once(db: &TestDb, url: &str, spool: &Path, accepted: u64) {
    let mut writer = Writer::start(url, spool, 0, 100, false);
    let replayed = writer.read("done", "replayed").await;
    writer.exit().await;
    assert!(replayed > 0, "[{}] the restart replayed the spool", db.backend);
    let (rows, ids) = rows_and_ids(db).await;
    assert_eq!(rows, accepted, "[{}] every accepted event written", db.backend);
    assert_eq!(ids, rows, "[{}] none twice", db.backend);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_in_an_outage_spools_and_a_restart_writes_every_event_once() {
    on_networked(async |db| {
        let (proxy, url) = proxied(db).await;
        let spool = tempfile::tempdir().unwrap();
        let mut writer = Writer::start(&url, spool.path(), 1_000_000, 2_000, false);
        tokio::time::sleep(Duration::from_secs(1)).await;
        proxy.set(Mode::Refuse);
        tokio::time::sleep(Duration::from_secs(2)).await;
        writer.signal("-TERM");
        let accepted = writer.read("accepted", "").await;
        let lost = writer.read("done", "lost").await;
        writer.exit().await;
        assert_eq!(lost, 0, "[{}]", db.backend);
        proxy.set(Mode::Pass);
        replayed_once(db, &url, spool.path(), accepted).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_an_outage_then_a_restart_writes_every_spooled_event_once() {
    on_networked(async |db| {
        let (proxy, url) = proxied(db).await;
        let spool = tempfile::tempdir().unwrap();
        let mut writer = Writer::start(&url, spool.path(), 6_000, 2_000, true);
        tokio::time::sleep(Duration::from_secs(1)).await;
        proxy.set(Mode::Refuse);
        // Printed once every event is written or on disk.
        let accepted = writer.read("accepted", "").await;
        writer.signal("-KILL");
        writer.exit().await;
        proxy.set(Mode::Pass);
        replayed_once(db, &url, spool.path(), accepted).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_through_one_outage_both_recover_with_nothing_lost() {
    on_networked(async |db| {
        let (proxy, url) = proxied(db).await;
        let spools = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let mut writers: Vec<Writer> = spools
            .iter()
            .map(|spool| Writer::start(&url, spool.path(), 10_000, 2_000, false))
            .collect();
        tokio::time::sleep(Duration::from_secs(1)).await;
        proxy.set(Mode::Refuse);
        tokio::time::sleep(Duration::from_secs(2)).await;
        proxy.set(Mode::Pass);
        let mut accepted = 0;
        for writer in &mut writers {
            accepted += writer.read("accepted", "").await;
            assert_eq!(writer.read("done", "lost").await, 0);
        }
        for writer in writers {
            writer.exit().await;
        }
        for spool in &spools {
            assert!(
                Spool::open(spool.path()).unwrap().is_empty(),
                "[{}] replayed",
                db.backend
            );
        }
        let (rows, ids) = rows_and_ids(db).await;
        assert_eq!(rows, accepted, "[{}] every accepted event written", db.backend);
        assert_eq!(ids, rows, "[{}] none twice", db.backend);
    })
    .await;
}
