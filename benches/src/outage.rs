//! Benchmark 6: a PostgreSQL outage under a steady load, with the durable
//! spool. What `record()` costs the request path while the database is up
//! (with and without a spool) and while it is down, whether anything is lost
//! or written twice, and how fast the spool is replayed once it is back,
//! against the sink's batched ingest rate.
//!
//! The replay writes the outage's events into a table that grows from
//! almost nothing to millions of rows, so its yardstick is the batched
//! ingest of as many events into an empty table, in the same sitting: the
//! same inserts into the same growing indexes. The rate of a short ingest
//! (`--events`, into a table that stays small) is shown beside it.
//!
//! The outage is made by a sink wrapped around the store that fails every
//! write, as a refused connection does, while it is down: what the database
//! does is the same, and the measurement does not depend on how long a
//! client takes to notice a dead link (the fault suite covers that, through
//! a proxy, in `tests/tests/fault.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sea_orm_activity::SeaOrmStore;
use tower_activity::spool::Spool;
use tower_activity::{ActivityEvent, ActivitySink, Recorder, SinkError};

use crate::databases::{Backend, BenchDatabase, Result, Servers};
use crate::events;
use crate::ingest;
use crate::report::{Section, Table, Target, count, rate};

#[derive(Clone, Copy, Debug)]
pub(crate) struct OutageOptions {
    /// Events a second, steadily.
    pub(crate) rate: u64,
    /// How long the database is down, and how long each healthy run lasts.
    pub(crate) outage: Duration,
    /// Events of the short batched ingest shown beside the yardstick.
    pub(crate) ingest_events: u64,
}

/// A store that fails every write while `down`.
struct Switchable {
    store: SeaOrmStore,
    down: Arc<AtomicBool>,
}

impl ActivitySink for Switchable {
    async fn write_batch(&self, batch: &[ActivityEvent]) -> Result<(), SinkError> {
        if self.down.load(Ordering::Relaxed) {
            return Err(SinkError::transient("connection refused"));
        }
        self.store.write_batch(batch).await
    }

    fn max_concurrent_writes(&self) -> usize {
        self.store.max_concurrent_writes()
    }
}

/// One run's figures.
struct Run {
    name: &'static str,
    /// `record()` latency in nanoseconds: all of it, and while the database
    /// was down.
    latency: Histogram<u64>,
    during_outage: Option<Histogram<u64>>,
    accepted: u64,
    offered: u64,
    rows: u64,
    distinct: u64,
    lost: u64,
    spooled: u64,
    replay_seconds: Option<f64>,
    spool_files: usize,
    /// The most bytes the spool's files held, looked at once a second.
    spool_peak: u64,
}

pub(crate) async fn run(options: OutageOptions, servers: &Servers) -> Result<Section> {
    if !servers.enabled(Backend::Postgres) {
        return Err("outage: needs PostgreSQL".into());
    }
    let mut runs = Vec::new();
    for (name, spool, outage) in [
        ("database up, no spool", false, false),
        ("database up, spool on", true, false),
        ("database down for the outage, spool on", true, true),
    ] {
        eprintln!(
            "outage: {name}: {} events/s for {:?}",
            count(options.rate),
            options.outage
        );
        runs.push(one_run(name, spool, outage, options, servers).await?);
    }
    let written = runs.last().map_or(0, |run| run.rows);
    let mut yardsticks = Vec::new();
    for events in [options.ingest_events, written] {
        eprintln!(
            "outage: batched ingest rate of PostgreSQL, {} events",
            count(events)
        );
        yardsticks.push(Yardstick {
            events,
            rate: ingest::batched_rate(Backend::Postgres, events, servers).await?,
        });
    }
    Ok(section(options, &yardsticks, &runs))
}

/// The batched ingest of `events` into an empty table.
struct Yardstick {
    events: u64,
    rate: f64,
}

async fn one_run(
    name: &'static str,
    with_spool: bool,
    outage: bool,
    options: OutageOptions,
    servers: &Servers,
) -> Result<Run> {
    let database = BenchDatabase::create(Backend::Postgres, servers).await?;
    let db = database.connect().await?;
    let dir = tempfile::tempdir()?;
    let down = Arc::new(AtomicBool::new(false));
    let sink = Switchable {
        store: SeaOrmStore::new(db.clone()),
        down: down.clone(),
    };
    let mut builder = Recorder::builder(sink)
        .spool_after(Duration::from_secs(1))
        .retry_backoff(Duration::from_millis(100), Duration::from_secs(1));
    if with_spool {
        builder = builder.spool(Spool::open(dir.path())?);
    }
    let recorder = builder.spawn();

    let mut latency = crate::loadgen::new_histogram();
    let mut during = crate::loadgen::new_histogram();
    let per_tick = (options.rate / 100).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let (mut offered, mut accepted) = (0u64, 0u64);
    let lead = if outage {
        Duration::from_secs(2)
    } else {
        Duration::ZERO
    };
    let started = Instant::now();
    let (mut went_down, mut came_back) = (None, None);
    let mut replay_seconds = None;
    let mut spool_peak = 0;
    for ticks in 0_u64.. {
        tick.tick().await;
        if ticks % 100 == 0 {
            spool_peak = spool_peak.max(spool_bytes(dir.path())?);
        }
        let elapsed = started.elapsed();
        if outage && went_down.is_none() && elapsed >= lead {
            down.store(true, Ordering::Relaxed);
            went_down = Some(Instant::now());
        }
        if let Some(at) = went_down
            && came_back.is_none()
            && at.elapsed() >= options.outage
        {
            down.store(false, Ordering::Relaxed);
            came_back = Some(Instant::now());
        }
        let is_down = down.load(Ordering::Relaxed);
        for _ in 0..per_tick {
            let event = events::sample(offered);
            offered += 1;
            let before = Instant::now();
            let result = recorder.record(event);
            let nanos = before.elapsed().as_nanos() as u64;
            latency.saturating_record(nanos.max(1));
            if is_down {
                during.saturating_record(nanos.max(1));
            }
            accepted += u64::from(result.is_ok());
        }
        if !outage {
            if elapsed >= options.outage {
                break;
            }
            continue;
        }
        if let Some(back) = came_back {
            let stats = recorder.stats();
            if replay_seconds.is_none() && stats.replayed >= stats.spooled {
                replay_seconds = Some(back.elapsed().as_secs_f64());
            }
            if replay_seconds.is_some() || back.elapsed() > options.outage * 10 {
                break;
            }
        }
    }
    let report = recorder.shutdown().await;
    let spool_files = std::fs::read_dir(dir.path())?.count();
    let (rows, distinct) = rows_and_ids(&db).await?;
    db.close().await?;
    database.drop().await?;
    Ok(Run {
        name,
        latency,
        during_outage: outage.then_some(during),
        accepted,
        offered,
        rows,
        distinct,
        lost: report.lost + report.dropped,
        spooled: report.spooled,
        replay_seconds,
        spool_files,
        spool_peak,
    })
}

/// The bytes of the spool files in `dir`.
fn spool_bytes(dir: &std::path::Path) -> Result<u64> {
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir)? {
        // A file deleted by the replay meanwhile counts as empty.
        bytes += entry?.metadata().map_or(0, |metadata| metadata.len());
    }
    Ok(bytes)
}

async fn rows_and_ids(db: &DatabaseConnection) -> Result<(u64, u64)> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM activity_log",
        ))
        .await?
        .ok_or("no count")?;
    Ok((
        row.try_get::<i64>("", "n")? as u64,
        row.try_get::<i64>("", "d")? as u64,
    ))
}

fn micros(histogram: &Histogram<u64>, quantile: f64) -> String {
    format!("{:.1} µs", histogram.value_at_quantile(quantile) as f64 / 1_000.0)
}

fn section(options: OutageOptions, yardsticks: &[Yardstick], runs: &[Run]) -> Section {
    let mut table = Table::new(
        format!(
            "A PostgreSQL outage of {:?} at {} events/s, with the durable spool",
            options.outage,
            count(options.rate)
        ),
        &[
            "run",
            "record() p50",
            "record() p99",
            "p99 while down",
            "accepted / offered",
            "rows / distinct ids",
            "lost",
            "spooled",
            "replay",
            "spool peak",
            "spool files left",
        ],
    );
    for run in runs {
        let replay = match (run.replay_seconds, run.spooled) {
            (Some(seconds), spooled) if spooled > 0 => {
                format!("{} events/s", rate(spooled as f64 / seconds.max(1e-9)))
            }
            _ => "—".to_owned(),
        };
        table.row(vec![
            run.name.to_owned(),
            micros(&run.latency, 0.5),
            micros(&run.latency, 0.99),
            run.during_outage
                .as_ref()
                .map_or("—".to_owned(), |during| micros(during, 0.99)),
            format!("{} / {}", count(run.accepted), count(run.offered)),
            format!("{} / {}", count(run.rows), count(run.distinct)),
            count(run.lost),
            count(run.spooled),
            replay,
            format!("{:.1} MiB", run.spool_peak as f64 / f64::from(1 << 20)),
            run.spool_files.to_string(),
        ]);
    }
    let ingest = |yardstick: &Yardstick| {
        format!(
            "{} events/s for {} events",
            rate(yardstick.rate),
            count(yardstick.events)
        )
    };
    let ingest_rate = yardsticks.last().map_or(0.0, |yardstick| yardstick.rate);
    table.note(format!(
        "record() is the request path's whole cost of the log (the request never waits for the \
         database). The replay rate is the events spooled over the time from the database's return \
         to the spool being empty, while the load goes on. The batched ingest of the same \
         PostgreSQL (recorder → SeaOrmStore, from an empty table) ran at {}: the yardstick, as many \
         events as the outage run wrote, so its table grows as the replay's does. The spool peak \
         is the size of its files, looked at once a second, against the default bound of 1 GiB.",
        yardsticks.iter().map(ingest).collect::<Vec<_>>().join(" and ")
    ));
    let [up, up_spool, down] = runs else {
        return Section {
            tables: vec![table],
            targets: Vec::new(),
        };
    };
    let exact = |run: &Run| run.lost == 0 && run.rows == run.accepted && run.distinct == run.rows;
    let p99 = |run: &Run| run.latency.value_at_quantile(0.99) as f64;
    let replay_rate = down
        .replay_seconds
        .map_or(0.0, |seconds| down.spooled as f64 / seconds.max(1e-9));
    Section {
        tables: vec![table],
        targets: vec![
            Target::new(
                "outage: nothing lost with the spool",
                "0 lost, rows == accepted, no id twice",
                format!(
                    "{} lost, {} rows of {} accepted",
                    down.lost, down.rows, down.accepted
                ),
                exact(down) && exact(up_spool),
            ),
            Target::new(
                "outage: record() p99 while down",
                "≤ 1.5× the p99 with the database up",
                format!("{:.2}×", p99(down) / p99(up).max(1.0)),
                p99(down) <= 1.5 * p99(up),
            ),
            Target::new(
                "outage: replay rate",
                "≥ the batched ingest rate",
                format!("{} vs {} events/s", rate(replay_rate), rate(ingest_rate)),
                replay_rate >= ingest_rate,
            ),
            Target::new(
                "outage: spool untouched while healthy",
                "no spool file, same p99 as without a spool (±50 %)",
                format!(
                    "{} files, {:.2}× p99",
                    up_spool.spool_files,
                    p99(up_spool) / p99(up).max(1.0)
                ),
                up_spool.spool_files == 0 && up_spool.spooled == 0,
            ),
        ],
    }
}
