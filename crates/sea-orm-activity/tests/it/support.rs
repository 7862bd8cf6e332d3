//! Test databases: a test body runs once on each backend (SQLite in a
//! temporary file, PostgreSQL, MariaDB / MySQL), each time in a database of its
//! own that is dropped afterwards, so tests run in parallel.
//!
//! The servers come from `ACTIVITY_TEST_POSTGRES_URL` and
//! `ACTIVITY_TEST_MYSQL_URL` (defaults: the local servers that
//! `scripts/databases` starts). A URL set to `skip` skips that backend with a
//! notice; a server that does not answer fails the test.

// Each test binary that includes this file uses a part of it.
#![allow(dead_code)]

use std::fmt;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::sync::Once;
use std::time::Duration;

use futures_util::FutureExt;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use sea_orm_activity::{ActivityMigrator, SeaOrmStore};
use sea_orm_migration::MigratorTrait;
use tempfile::TempDir;

const POSTGRES_VAR: &str = "ACTIVITY_TEST_POSTGRES_URL";
const POSTGRES_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";
const MYSQL_VAR: &str = "ACTIVITY_TEST_MYSQL_URL";
const MYSQL_DEFAULT: &str = "mysql://root@127.0.0.1:3306/test";

/// A database server kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::MySql => "MariaDB/MySQL",
        })
    }
}

/// One test's own database.
pub(crate) struct TestDb {
    pub(crate) backend: Backend,
    pub(crate) db: DatabaseConnection,
    /// The URL of this database, for the command line.
    pub(crate) url: String,
    _dir: Option<TempDir>,
}

impl TestDb {
    /// A store over this database.
    pub(crate) fn store(&self) -> SeaOrmStore {
        SeaOrmStore::new(self.db.clone())
    }

    /// Runs a statement given as SQL text.
    pub(crate) async fn execute(&self, sql: &str) {
        self.db
            .execute_unprepared(sql)
            .await
            .unwrap_or_else(|error| panic!("[{}] {sql}: {error}", self.backend));
    }
}

/// Runs `test` on every backend, each time in a fresh database with the
/// table migrated.
pub(crate) async fn each_backend(test: impl AsyncFn(&TestDb)) {
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
        on_backend(backend, true, &test).await;
    }
}

/// Runs `test` on every backend, each time in a fresh, empty database.
pub(crate) async fn each_empty_backend(test: impl AsyncFn(&TestDb)) {
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
        on_backend(backend, false, &test).await;
    }
}

/// Runs `test` on `backend` in a fresh database, migrated if `migrate`.
pub(crate) async fn on_backend(backend: Backend, migrate: bool, test: &impl AsyncFn(&TestDb)) {
    let Some(server) = Server::connect(backend).await else {
        return;
    };
    let test_db = server.create_database().await;
    if migrate {
        ActivityMigrator::up(&test_db.db, None)
            .await
            .unwrap_or_else(|error| panic!("[{backend}] migration failed: {error}"));
    }
    let outcome = AssertUnwindSafe(test(&test_db)).catch_unwind().await;
    let TestDb { db, url, _dir, .. } = test_db;
    let _ = db.close().await;
    server.drop_database(&url).await;
    if let Err(panic) = outcome {
        eprintln!("the test above failed on {backend}");
        std::panic::resume_unwind(panic);
    }
}

/// Says once per test binary that `backend` is skipped. It is written to
/// the process's standard error directly, past the test harness's capture, so
/// it shows in every run.
fn notice_skipped(backend: Backend, var: &str) {
    static POSTGRES: Once = Once::new();
    static MYSQL: Once = Once::new();
    let once = if backend == Backend::Postgres {
        &POSTGRES
    } else {
        &MYSQL
    };
    once.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "NOTICE: {backend} tests are SKIPPED because {var}=skip"
        );
    });
}

/// A server to make test databases on, through an administrative connection.
struct Server {
    backend: Backend,
    base_url: String,
    admin: Option<DatabaseConnection>,
    name: String,
}

impl Server {
    async fn connect(backend: Backend) -> Option<Server> {
        let name = format!("activity_test_{}", uuid::Uuid::now_v7().simple());
        let (var, default) = match backend {
            Backend::Sqlite => {
                return Some(Server {
                    backend,
                    base_url: String::new(),
                    admin: None,
                    name,
                });
            }
            Backend::Postgres => (POSTGRES_VAR, POSTGRES_DEFAULT),
            Backend::MySql => (MYSQL_VAR, MYSQL_DEFAULT),
        };
        let base_url = std::env::var(var).unwrap_or_else(|_| default.to_owned());
        if base_url.trim() == "skip" {
            notice_skipped(backend, var);
            return None;
        }
        let mut options = ConnectOptions::new(&base_url);
        options
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(10));
        let admin = Database::connect(options).await.unwrap_or_else(|error| {
            panic!(
                "{backend} at {base_url} does not answer ({error}). Start it with scripts/databases, \
                 point {var} at a server, or set {var}=skip to skip its tests"
            )
        });
        Some(Server {
            backend,
            base_url,
            admin: Some(admin),
            name,
        })
    }

    async fn create_database(&self) -> TestDb {
        let backend = self.backend;
        let (url, dir) = match (&self.admin, backend) {
            (Some(admin), Backend::Postgres) => {
                run(admin, &format!("CREATE DATABASE \"{}\"", self.name)).await;
                (with_database(&self.base_url, &self.name), None)
            }
            (Some(admin), Backend::MySql) => {
                run(
                    admin,
                    &format!("CREATE DATABASE `{}` CHARACTER SET utf8mb4", self.name),
                )
                .await;
                (with_database(&self.base_url, &self.name), None)
            }
            _ => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let path = dir.path().join("activity.db");
                (format!("sqlite://{}?mode=rwc", path.display()), Some(dir))
            }
        };
        let db = Database::connect(&url)
            .await
            .unwrap_or_else(|error| panic!("[{backend}] connecting to {url}: {error}"));
        TestDb {
            backend,
            db,
            url,
            _dir: dir,
        }
    }

    async fn drop_database(&self, url: &str) {
        let Some(admin) = &self.admin else { return };
        let sql = match self.backend {
            Backend::Postgres => format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
            _ => format!("DROP DATABASE IF EXISTS `{}`", self.name),
        };
        if let Err(error) = admin.execute_unprepared(&sql).await {
            eprintln!("[{}] could not drop {url}: {error}", self.backend);
        }
        let _ = admin.clone().close().await;
    }
}

async fn run(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
}

/// `url` with its database name replaced by `name`, its query kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |at| at + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |at| authority_start + at);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[test]
fn database_names_replace_the_path_and_keep_the_query() {
    assert_eq!(
        with_database("postgres://u@h:5432/test?sslmode=disable", "x"),
        "postgres://u@h:5432/x?sslmode=disable"
    );
    assert_eq!(
        with_database("mysql://root@127.0.0.1:3306", "x"),
        "mysql://root@127.0.0.1:3306/x"
    );
}
