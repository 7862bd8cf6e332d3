//! Benchmark 4: insert latency while a large prune runs, against without it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use hdrhistogram::Histogram;
use sea_orm::DatabaseConnection;
use sea_orm_activity::{RetentionPolicy, SeaOrmStore, log_activity_in};
use tokio::time::MissedTickBehavior;

use crate::bulk_load;
use crate::databases::{Backend, BenchDatabase, Result, Servers};
use crate::events;
use crate::loadgen::new_histogram;
use crate::report::{Section, Table, Target, count, rate};

#[derive(Clone, Copy, Debug)]
pub(crate) struct RetentionOptions {
    /// Old rows to prune.
    pub(crate) rows: u64,
    /// Inserts per second, all tasks together.
    pub(crate) insert_rate: u32,
    /// Tasks inserting concurrently.
    pub(crate) tasks: u32,
    /// How long inserts are measured without a prune.
    pub(crate) baseline: Duration,
}

pub(crate) async fn run(options: RetentionOptions, servers: &Servers) -> Result<Section> {
    if !servers.enabled(Backend::Postgres) {
        let mut table = Table::new("Retention under load", &["phase"]);
        table.note("skipped: the PostgreSQL URL is `skip`");
        return Ok(Section {
            tables: vec![table],
            targets: Vec::new(),
        });
    }
    let database = BenchDatabase::create(Backend::Postgres, servers).await?;
    let db = database.connect().await?;
    eprintln!(
        "retention: loading {} old rows into PostgreSQL",
        count(options.rows)
    );
    let load_seconds = bulk_load::load(&db, options.rows, Utc::now() - TimeDelta::days(400)).await?;
    let store = SeaOrmStore::new(db.clone());
    let next = Arc::new(AtomicU64::new(0));

    eprintln!("retention: warming up inserts for 2 s");
    let stop = Arc::new(AtomicBool::new(false));
    let inserts = spawn_inserts(&db, options, &stop, &next);
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    inserts.await??;

    eprintln!("retention: inserts without a prune for {:?}", options.baseline);
    let stop = Arc::new(AtomicBool::new(false));
    let inserts = spawn_inserts(&db, options, &stop, &next);
    tokio::time::sleep(options.baseline).await;
    stop.store(true, Ordering::Relaxed);
    let (baseline, baseline_seconds) = inserts.await??;

    eprintln!("retention: inserts during the prune");
    let stop = Arc::new(AtomicBool::new(false));
    let inserts = spawn_inserts(&db, options, &stop, &next);
    let started = Instant::now();
    let pruned = store
        .prune(
            &RetentionPolicy::new(Duration::from_secs(90 * 86_400)),
            Utc::now(),
        )
        .await?;
    let prune_seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let (during, during_seconds) = inserts.await??;
    db.close().await?;
    database.drop().await?;
    if pruned.pruned != options.rows {
        return Err(format!("retention: pruned {} of {} old rows", pruned.pruned, options.rows).into());
    }

    let p99 = |histogram: &Histogram<u64>| histogram.value_at_quantile(0.99) as f64 / 1_000.0;
    let mut table = Table::new(
        format!(
            "Retention under load: pruning {} old entries in PostgreSQL while inserts continue",
            count(options.rows)
        ),
        &[
            "phase",
            "seconds",
            "inserts",
            "p50 ms",
            "p99 ms",
            "max ms",
            "p99 vs without prune",
        ],
    );
    for (phase, histogram, seconds) in [
        ("inserts, no prune", &baseline, baseline_seconds),
        ("inserts during the prune", &during, during_seconds),
    ] {
        table.row(vec![
            phase.to_owned(),
            format!("{seconds:.1}"),
            count(histogram.len()),
            format!("{:.3}", histogram.value_at_quantile(0.5) as f64 / 1_000.0),
            format!("{:.3}", p99(histogram)),
            format!("{:.3}", histogram.max() as f64 / 1_000.0),
            format!("{:.2}×", p99(histogram) / p99(&baseline)),
        ]);
    }
    table.row(vec![
        format!(
            "prune (`SeaOrmStore::prune`, chunks of {} {} ms apart)",
            count(sea_orm_activity::DEFAULT_CHUNK_SIZE as u64),
            sea_orm_activity::DEFAULT_CHUNK_PAUSE.as_millis()
        ),
        format!("{prune_seconds:.1}"),
        format!("{} deleted", count(pruned.pruned)),
        format!("{} rows/s", rate(pruned.pruned as f64 / prune_seconds)),
        String::new(),
        String::new(),
        String::new(),
    ]);
    table.note(format!(
        "{} tasks insert {} events/s in all, each with `log_activity_in` on the pool (one INSERT, its \
         own transaction). Latency is from the insert's scheduled time to its commit, so a stall also \
         counts for the inserts queued behind it. The old rows were loaded in {load_seconds:.1} s and \
         the table `VACUUM ANALYZE`d and checkpointed, and inserts ran 2 s unmeasured, before the \
         baseline.",
        options.tasks, options.insert_rate
    ));
    let ratio = p99(&during) / p99(&baseline);
    Ok(Section {
        tables: vec![table],
        targets: vec![Target::new(
            "insert p99 during a large prune",
            "within 3× of without",
            format!("{ratio:.2}× ({:.3} ms vs {:.3} ms)", p99(&during), p99(&baseline)),
            ratio <= 3.0,
        )],
    })
}

/// Inserts at a steady rate from several tasks until `stop`, returning the
/// latencies in microseconds and how long it ran.
fn spawn_inserts(
    db: &DatabaseConnection,
    options: RetentionOptions,
    stop: &Arc<AtomicBool>,
    next: &Arc<AtomicU64>,
) -> tokio::task::JoinHandle<Result<(Histogram<u64>, f64)>> {
    let period = Duration::from_secs_f64(f64::from(options.tasks) / f64::from(options.insert_rate.max(1)));
    let tasks: Vec<_> = (0..options.tasks)
        .map(|_| {
            let (db, stop, next) = (db.clone(), stop.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = new_histogram();
                let mut ticks = tokio::time::interval(period);
                ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
                loop {
                    let scheduled = ticks.tick().await;
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let event = events::sample(next.fetch_add(1, Ordering::Relaxed));
                    log_activity_in(&db, event).await?;
                    let micros = u64::try_from(scheduled.elapsed().as_micros()).unwrap_or(u64::MAX);
                    let _ = latencies.record(micros.max(1));
                }
                Ok::<_, sea_orm::DbErr>(latencies)
            })
        })
        .collect();
    tokio::spawn(async move {
        let started = Instant::now();
        let mut all = new_histogram();
        for task in tasks {
            all.add(task.await??)?;
        }
        Ok((all, started.elapsed().as_secs_f64()))
    })
}
