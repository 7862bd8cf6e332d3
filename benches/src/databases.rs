//! The database servers the benchmarks write to: where they are, a fresh
//! database (or SQLite file) per run, and dropping it afterwards.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement};
use sea_orm_activity::ActivityMigrator;
use sea_orm_migration::MigratorTrait;
use tempfile::TempDir;
use tower_activity::DROPPED_ACTION;

/// The result of a benchmark step; errors are reported as they are.
pub(crate) type Result<T, E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

/// A database backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
    MariaDb,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::MariaDb => "MariaDB",
        })
    }
}

/// Where the PostgreSQL and MariaDB servers are. A URL set to `skip` leaves
/// that backend out of every benchmark.
#[derive(Clone, Debug)]
pub(crate) struct Servers {
    pub(crate) postgres_url: String,
    pub(crate) mysql_url: String,
}

impl Servers {
    /// Whether `backend` is to be benchmarked.
    pub(crate) fn enabled(&self, backend: Backend) -> bool {
        match backend {
            Backend::Sqlite => true,
            Backend::Postgres => self.postgres_url != "skip",
            Backend::MariaDb => self.mysql_url != "skip",
        }
    }
}

/// A database made for one benchmark run, dropped by [`BenchDatabase::drop`].
#[derive(Debug)]
pub(crate) struct BenchDatabase {
    pub(crate) backend: Backend,
    /// The URL of the new database, for this process or a server child.
    pub(crate) url: String,
    /// The server database it was created from, and its name.
    admin: Option<(String, String)>,
    /// The directory of the SQLite file, removed on drop.
    _dir: Option<TempDir>,
}

static NEXT_DATABASE: AtomicU32 = AtomicU32::new(0);

impl BenchDatabase {
    /// Creates an empty database on `backend` and migrates it.
    pub(crate) async fn create(backend: Backend, servers: &Servers) -> Result<Self> {
        let database = match backend {
            Backend::Sqlite => {
                let dir = tempfile::Builder::new().prefix("activity-bench-").tempdir()?;
                let path = dir.path().join("activity.db");
                BenchDatabase {
                    backend,
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    admin: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres | Backend::MariaDb => {
                let admin_url = match backend {
                    Backend::Postgres => &servers.postgres_url,
                    _ => &servers.mysql_url,
                };
                let name = format!(
                    "activity_bench_{}_{}",
                    std::process::id(),
                    NEXT_DATABASE.fetch_add(1, Ordering::Relaxed)
                );
                let admin = admin_connection(backend, admin_url).await?;
                let quoted = quote(backend, &name);
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {quoted}"))
                    .await?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {quoted}"))
                    .await?;
                admin.close().await?;
                BenchDatabase {
                    backend,
                    url: with_database(admin_url, &name),
                    admin: Some((admin_url.clone(), name)),
                    _dir: None,
                }
            }
        };
        migrate(&database.url).await?;
        Ok(database)
    }

    /// A new connection pool to this database.
    pub(crate) async fn connect(&self) -> Result<DatabaseConnection> {
        connect(&self.url).await
    }

    /// How many rows `activity_log` holds, not counting the recorder's own
    /// reports of dropped events.
    pub(crate) async fn count_events(&self) -> Result<u64> {
        let db = self.connect().await?;
        let count = count_where(&db, &format!("action <> '{DROPPED_ACTION}'")).await?;
        db.close().await?;
        Ok(count)
    }

    /// Drops the database (or removes the SQLite file).
    pub(crate) async fn drop(self) -> Result<()> {
        if let Some((admin_url, name)) = &self.admin {
            let admin = admin_connection(self.backend, admin_url).await?;
            let force = if self.backend == Backend::Postgres {
                " WITH (FORCE)"
            } else {
                ""
            };
            admin
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS {}{force}",
                    quote(self.backend, name)
                ))
                .await?;
            admin.close().await?;
        }
        Ok(())
    }
}

/// Brings the database at `url` to the latest activity log schema.
pub(crate) async fn migrate(url: &str) -> Result<()> {
    let db = connect(url).await?;
    ActivityMigrator::up(&db, None).await?;
    db.close().await?;
    Ok(())
}

/// Connects to `url` as the benchmarks and their servers do: statement
/// logging off, SQLite in WAL mode with `synchronous = NORMAL`, and otherwise
/// sea-orm's defaults (one connection for SQLite, ten for the servers).
pub(crate) async fn connect(url: &str) -> Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url);
    options.sqlx_logging(false).map_sqlx_sqlite_opts(|sqlite| {
        sqlite
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
    });
    Ok(Database::connect(options).await?)
}

async fn admin_connection(backend: Backend, url: &str) -> Result<DatabaseConnection> {
    connect(url).await.map_err(|error| {
        let variable = match backend {
            Backend::Postgres => "ACTIVITY_BENCH_POSTGRES_URL",
            _ => "ACTIVITY_BENCH_MYSQL_URL",
        };
        format!(
            "{backend} does not answer at {url}: {error}. Start it (scripts/databases starts the local \
             servers), point {variable} at a server, or set it to `skip` to leave {backend} out"
        )
        .into()
    })
}

/// How many rows `activity_log` holds.
pub(crate) async fn count_rows(db: &DatabaseConnection) -> Result<u64> {
    count_where(db, "TRUE").await
}

/// The rows of `activity_seal_entry`: how many entries are sealed.
pub(crate) async fn count_sealed(db: &DatabaseConnection) -> Result<u64> {
    count_sql(db, "SELECT COUNT(*) FROM activity_seal_entry").await
}

async fn count_where(db: &DatabaseConnection, condition: &str) -> Result<u64> {
    count_sql(
        db,
        &format!("SELECT COUNT(*) FROM activity_log WHERE {condition}"),
    )
    .await
}

async fn count_sql(db: &DatabaseConnection, sql: &str) -> Result<u64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or("COUNT(*) returned no row")?;
    let count: i64 = row.try_get_by_index(0)?;
    Ok(u64::try_from(count)?)
}

/// The version string of the server (or library) behind `db`.
pub(crate) async fn server_version(db: &DatabaseConnection) -> Result<String, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SHOW server_version",
        DbBackend::MySql => "SELECT VERSION()",
        _ => "SELECT sqlite_version()",
    };
    let row = db.query_one_raw(Statement::from_string(backend, sql)).await?;
    row.map_or(Ok(String::from("?")), |row| row.try_get_by_index(0))
}

fn quote(backend: Backend, name: &str) -> String {
    match backend {
        Backend::MariaDb => format!("`{name}`"),
        _ => format!("\"{name}\""),
    }
}

/// `url` with its database (the path after the host) replaced by `name`,
/// query parameters kept.
fn with_database(url: &str, name: &str) -> String {
    let authority_start = url.find("://").map_or(0, |at| at + 3);
    let (base, query) = match url.find('?') {
        Some(at) => (&url[..at], &url[at..]),
        None => (url, ""),
    };
    let host_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |at| authority_start + at);
    format!("{}/{name}{query}", &base[..host_end])
}
