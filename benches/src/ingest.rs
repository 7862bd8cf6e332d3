//! Benchmark 2: events per second through the recorder into each backend,
//! against one insert statement per event, and against PostgreSQL `COPY` of
//! the same rows as the ceiling.

use std::io::Write as _;
use std::time::{Duration, Instant};

use sea_orm::sqlx::postgres::PgPoolCopyExt;
use sea_orm::{DatabaseConnection, EntityTrait};
use sea_orm_activity::SeaOrmStore;
use sea_orm_activity::entity::{ActiveModel, Entity};
use tower_activity::{ActivityEvent, Recorder};

use crate::databases::{Backend, BenchDatabase, Result, Servers, count_rows};
use crate::events;
use crate::report::{Section, Table, Target, count, percent, rate};

/// How many events each method writes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IngestOptions {
    /// Events through the recorder, and through `COPY`.
    pub(crate) events: u64,
    /// Events written with one insert statement each (a slower method, so
    /// fewer; the rate does not depend on the count).
    pub(crate) single_row_events: u64,
}

/// One method's run.
#[derive(Debug)]
struct Run {
    backend: Backend,
    method: &'static str,
    events: u64,
    seconds: f64,
    rows: u64,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.events as f64 / self.seconds
    }
}

pub(crate) async fn run(options: IngestOptions, servers: &Servers) -> Result<Section> {
    let mut runs = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::MariaDb] {
        if !servers.enabled(backend) {
            continue;
        }
        eprintln!(
            "ingest: {backend}: {} events through the recorder",
            count(options.events)
        );
        runs.push(batched(backend, options.events, servers).await?);
        let single = options.single_row_events.min(options.events);
        eprintln!("ingest: {backend}: {} single-row inserts", count(single));
        runs.push(single_rows(backend, single, servers).await?);
        if backend == Backend::Postgres {
            eprintln!("ingest: {backend}: COPY of {} rows", count(options.events));
            runs.push(copy(options.events, servers).await?);
        }
    }
    for run in &runs {
        eprintln!(
            "ingest: {} {}: {} events/s ({} rows)",
            run.backend,
            run.method,
            rate(run.per_second()),
            run.rows
        );
    }
    Ok(section(options, &runs))
}

/// Every event through a recorder on a [`SeaOrmStore`], waiting for room
/// when the queue is full, timed from the first event to the end of the
/// recorder's shutdown.
async fn batched(backend: Backend, n: u64, servers: &Servers) -> Result<Run> {
    let database = BenchDatabase::create(backend, servers).await?;
    let db = database.connect().await?;
    let seconds = through_recorder(backend, &db, n).await?;
    finish(
        backend,
        "recorder → SeaOrmStore (batched)",
        n,
        seconds,
        db,
        database,
    )
    .await
}

/// Writes `n` sample events through a recorder on a [`SeaOrmStore`] over
/// `db`, waiting for room when the queue is full; returns the seconds from
/// the first event to the end of the recorder's shutdown.
pub(crate) async fn through_recorder(backend: Backend, db: &DatabaseConnection, n: u64) -> Result<f64> {
    let events: Vec<ActivityEvent> = (0..n).map(events::sample).collect();
    let started = Instant::now();
    let recorder = Recorder::builder(SeaOrmStore::new(db.clone())).spawn();
    for event in events {
        recorder
            .record_wait(event, Duration::from_secs(60))
            .await
            .map_err(|error| format!("ingest into {backend}: {error}"))?;
    }
    let report = recorder.shutdown().await;
    let seconds = started.elapsed().as_secs_f64();
    if report.dropped > 0 {
        return Err(format!("ingest into {backend}: {} events dropped", report.dropped).into());
    }
    Ok(seconds)
}

/// The events per second [`batched`] writes into `backend`.
pub(crate) async fn batched_rate(backend: Backend, n: u64, servers: &Servers) -> Result<f64> {
    Ok(batched(backend, n, servers).await?.per_second())
}

/// The same events, one insert statement (and so one transaction) each.
async fn single_rows(backend: Backend, n: u64, servers: &Servers) -> Result<Run> {
    let events: Vec<ActivityEvent> = (0..n).map(events::sample).collect();
    let database = BenchDatabase::create(backend, servers).await?;
    let db = database.connect().await?;
    let started = Instant::now();
    for event in &events {
        Entity::insert(ActiveModel::from(event))
            .exec_without_returning(&db)
            .await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    finish(backend, "one INSERT per event", n, seconds, db, database).await
}

/// The same rows through PostgreSQL `COPY … FROM STDIN` (text format),
/// encoding included.
async fn copy(n: u64, servers: &Servers) -> Result<Run> {
    const CHUNK: usize = 1 << 20;
    let events: Vec<ActivityEvent> = (0..n).map(events::sample).collect();
    let database = BenchDatabase::create(Backend::Postgres, servers).await?;
    let db = database.connect().await?;
    let started = Instant::now();
    let mut copy = db
        .get_postgres_connection_pool()
        .copy_in_raw(
            "COPY activity_log (id, occurred_at, action, resource_type, resource_id, actor_kind, actor_id, \
             actor_label, tenant_id, outcome, http_status, request_id, ip, user_agent, method, route, \
             details) FROM STDIN",
        )
        .await?;
    let mut buffer = Vec::with_capacity(CHUNK + 4096);
    for event in &events {
        copy_row(&mut buffer, event)?;
        if buffer.len() >= CHUNK {
            copy.send(buffer.as_slice()).await?;
            buffer.clear();
        }
    }
    copy.send(buffer.as_slice()).await?;
    copy.finish().await?;
    let seconds = started.elapsed().as_secs_f64();
    finish(
        Backend::Postgres,
        "COPY (reference ceiling)",
        n,
        seconds,
        db,
        database,
    )
    .await
}

async fn finish(
    backend: Backend,
    method: &'static str,
    events: u64,
    seconds: f64,
    db: DatabaseConnection,
    database: BenchDatabase,
) -> Result<Run> {
    let rows = count_rows(&db).await?;
    db.close().await?;
    database.drop().await?;
    Ok(Run {
        backend,
        method,
        events,
        seconds,
        rows,
    })
}

/// One row of `COPY`'s text format: tab-separated, `\N` for NULL.
fn copy_row(out: &mut Vec<u8>, event: &ActivityEvent) -> Result<()> {
    let actor = event.actor.as_ref();
    write!(
        out,
        "{}\t{}\t",
        event.id,
        event.occurred_at.format("%Y-%m-%d %H:%M:%S%.6f+00")
    )?;
    let details = event.details.as_ref().map(serde_json::to_string).transpose()?;
    let status = event.http_status.map(|status| status.to_string());
    let fields = [
        Some(event.action.as_str()),
        event.resource_type.as_deref(),
        event.resource_id.as_deref(),
        actor.map(|actor| actor.kind.as_str()),
        actor.and_then(|actor| actor.id.as_deref()),
        actor.and_then(|actor| actor.label.as_deref()),
        event.tenant_id.as_deref(),
        Some(event.outcome.as_str()),
        status.as_deref(),
        event.request_id.as_deref(),
        event.ip.as_deref(),
        event.user_agent.as_deref(),
        event.method.as_deref(),
        event.route.as_deref(),
        details.as_deref(),
    ];
    for (n, field) in fields.into_iter().enumerate() {
        if n > 0 {
            out.push(b'\t');
        }
        match field {
            None => out.extend_from_slice(b"\\N"),
            Some(text) => {
                for byte in text.bytes() {
                    match byte {
                        b'\\' => out.extend_from_slice(b"\\\\"),
                        b'\t' => out.extend_from_slice(b"\\t"),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        other => out.push(other),
                    }
                }
            }
        }
    }
    out.push(b'\n');
    Ok(())
}

fn section(options: IngestOptions, runs: &[Run]) -> Section {
    let copy_rate = runs
        .iter()
        .find(|run| run.method.starts_with("COPY"))
        .map_or(0.0, Run::per_second);
    let mut table = Table::new(
        "Ingest: events/s into each backend",
        &[
            "backend",
            "method",
            "events",
            "seconds",
            "events/s",
            "vs one INSERT each",
            "vs PostgreSQL COPY",
            "rows",
        ],
    );
    for run in runs {
        let single = runs
            .iter()
            .find(|other| other.backend == run.backend && other.method == "one INSERT per event")
            .map_or(0.0, Run::per_second);
        table.row(vec![
            run.backend.to_string(),
            run.method.to_owned(),
            count(run.events),
            format!("{:.2}", run.seconds),
            rate(run.per_second()),
            if single > 0.0 {
                format!("{:.1}×", run.per_second() / single)
            } else {
                String::from("n/a")
            },
            percent(run.per_second(), copy_rate),
            if run.rows == run.events {
                count(run.rows)
            } else {
                format!("{} (MISMATCH)", count(run.rows))
            },
        ]);
    }
    table.note(format!(
        "Batched: `Recorder::record_wait` (waits for room, never drops) with default settings (queue \
         50,000, batches of 500), timed from the first event to the end of `shutdown()`; each batch is \
         one transaction (on PostgreSQL one `UNNEST` insert, elsewhere multi-row inserts). One INSERT per event: sea-orm `Entity::insert(..)`, \
         awaited one after the other, each its own transaction, on the first {} events (the rate does \
         not depend on the count). COPY: text format from the same events, encoding included, one \
         statement. Every run starts from an empty, migrated table with its indexes.",
        count(options.single_row_events.min(options.events))
    ));
    let mut targets = Vec::new();
    if let Some(batched) = runs
        .iter()
        .find(|run| run.backend == Backend::Postgres && run.method.starts_with("recorder"))
        && copy_rate > 0.0
    {
        targets.push(Target::new(
            "batched PostgreSQL ingest vs COPY",
            "≥ 50 % of COPY",
            format!(
                "{} ({} vs {} rows/s)",
                percent(batched.per_second(), copy_rate),
                rate(batched.per_second()),
                rate(copy_rate)
            ),
            batched.per_second() >= 0.5 * copy_rate,
        ));
    }
    let short: Vec<String> = runs
        .iter()
        .filter(|run| run.rows != run.events)
        .map(|run| format!("{} {}: {} of {}", run.backend, run.method, run.rows, run.events))
        .collect();
    targets.push(Target::new(
        "ingest: zero events lost",
        "rows == events in every run",
        if short.is_empty() {
            String::from("all equal")
        } else {
            short.join("; ")
        },
        short.is_empty(),
    ));
    Section {
        tables: vec![table],
        targets,
    }
}
