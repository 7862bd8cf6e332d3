//! A process that logs events through a recorder with a durable spool into
//! a database, for the fault tests that stop it (`SIGTERM`, `kill -9`) in
//! the middle of an outage and start it again.
//!
//! `spool-writer <database-url> <spool-dir> <events> <events-per-second>`
//!
//! It records `events` events at a steady rate (stopping early on
//! `SIGTERM`), waits until each is written or spooled and prints
//! `accepted <n>`; with `HOLD=1` it then waits for `SIGTERM` (or a
//! `kill -9`). It then shuts the recorder down and prints
//! `done accepted=<n> written=<n> spooled=<n> replayed=<n> lost=<n> dropped=<n>`.
//! Started with 0 events, it only replays the spool.

use std::time::Duration;

use sea_orm::{ConnectOptions, Database};
use sea_orm_activity::SeaOrmStore;
use tokio::signal::unix::{SignalKind, signal};
use tower_activity::spool::Spool;
use tower_activity::{Action, ActivityEvent, Recorder};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, dir, events, rate] = args.as_slice() else {
        return Err("usage: spool-writer <database-url> <spool-dir> <events> <events-per-second>".into());
    };
    let events: u64 = events.parse()?;
    let rate: u64 = rate.parse::<u64>()?.max(100);
    let mut options = ConnectOptions::new(url.as_str());
    options
        .connect_timeout(Duration::from_secs(1))
        .acquire_timeout(Duration::from_secs(1))
        .max_connections(4)
        .sqlx_logging(false);
    let db = Database::connect(options).await?;
    let recorder = Recorder::builder(SeaOrmStore::new(db))
        .spool(Spool::open(dir)?)
        .spool_after(Duration::from_millis(500))
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(500))
        .write_timeout(Duration::from_secs(2))
        .shutdown_timeout(Duration::from_secs(20))
        .spawn();

    let mut terminate = signal(SignalKind::terminate())?;
    let mut accepted = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let per_tick = rate / 100;
    let mut sent = 0u64;
    'record: while sent < events {
        tokio::select! {
            _ = terminate.recv() => break 'record,
            _ = tick.tick() => {}
        }
        for _ in 0..per_tick.min(events - sent) {
            let event = ActivityEvent::builder(Action::Create)
                .resource("item", sent)
                .build()?;
            sent += 1;
            if recorder.record(event).is_ok() {
                accepted += 1;
            }
        }
    }
    recorder.flush().await;
    println!("accepted {accepted}");
    if std::env::var_os("HOLD").is_some() {
        terminate.recv().await;
    }
    let report = recorder.shutdown().await;
    println!(
        "done accepted={accepted} written={} spooled={} replayed={} lost={} dropped={}",
        report.written, report.spooled, report.replayed, report.lost, report.dropped
    );
    Ok(())
}
