//! Benchmark 7: what sealing costs. Ingest through the recorder into
//! PostgreSQL with a sealer running beside it, against without; then
//! `verify` over the sealed log, its rate and the memory it takes.

use std::time::Instant;

use sea_orm_activity::{SeaOrmStore, Sealer, VerifyOptions, VerifyReport};
use tower_activity::seal::SealSigningKey;

use crate::databases::{Backend, BenchDatabase, Result, Servers, count_rows, count_sealed};
use crate::ingest::through_recorder;
use crate::process_stats::rss_kib;
use crate::report::{Section, Table, Target, count, percent, rate};

#[derive(Clone, Copy, Debug)]
pub(crate) struct SealingOptions {
    /// Events written in each run, and verified.
    pub(crate) events: u64,
    /// Leaves the verification out: the ingest runs only.
    pub(crate) skip_verify: bool,
}

pub(crate) async fn run(options: SealingOptions, servers: &Servers) -> Result<Section> {
    let mut table = Table::new(
        format!(
            "Sealing: {} events through the recorder into PostgreSQL{}",
            count(options.events),
            if options.skip_verify {
                ""
            } else {
                ", then verified"
            }
        ),
        &["run", "seconds", "events/s", "vs without sealing"],
    );
    if !servers.enabled(Backend::Postgres) {
        table.note("skipped: the PostgreSQL URL is `skip`");
        return Ok(Section {
            tables: vec![table],
            targets: Vec::new(),
        });
    }
    let n = options.events;
    eprintln!("sealing: {} events without sealing", count(n));
    let database = BenchDatabase::create(Backend::Postgres, servers).await?;
    let db = database.connect().await?;
    let plain = through_recorder(Backend::Postgres, &db, n).await?;
    db.close().await?;
    database.drop().await?;

    eprintln!("sealing: {} events with a sealer running", count(n));
    let database = BenchDatabase::create(Backend::Postgres, servers).await?;
    let db = database.connect().await?;
    let store = SeaOrmStore::new(db.clone());
    let key = SealSigningKey::generate().ok_or("no random key")?;
    let sealer = Sealer::new(store.clone()).signing_key(key.clone()).spawn();
    let started = Instant::now();
    let sealed = through_recorder(Backend::Postgres, &db, n).await?;
    sealer.shutdown().await;
    let all_sealed = started.elapsed().as_secs_f64();

    let verified = if options.skip_verify {
        None
    } else {
        Some(verify(&store, &key, n).await?)
    };
    let rows = count_rows(&db).await?;
    let sealed_entries = count_sealed(&db).await?;
    db.close().await?;
    database.drop().await?;
    if let Some(verified) = &verified
        && (!verified.report.is_intact() || verified.report.entries_verified != rows)
    {
        return Err(format!("sealing: verification failed: {}", verified.report).into());
    }
    if sealed_entries != rows {
        return Err(format!("sealing: {sealed_entries} of {rows} entries sealed").into());
    }

    let per_second = |seconds: f64| n as f64 / seconds;
    table.row(vec![
        "recorder → SeaOrmStore, no sealer".to_owned(),
        format!("{plain:.2}"),
        rate(per_second(plain)),
        "100%".to_owned(),
    ]);
    table.row(vec![
        "recorder → SeaOrmStore, Sealer running (default interval, signed)".to_owned(),
        format!("{sealed:.2}"),
        rate(per_second(sealed)),
        percent(per_second(sealed), per_second(plain)),
    ]);
    table.row(vec![
        "… until the last entry is sealed (the sealer's last round)".to_owned(),
        format!("{all_sealed:.2}"),
        rate(per_second(all_sealed)),
        percent(per_second(all_sealed), per_second(plain)),
    ]);
    let ingest_ratio = per_second(sealed) / per_second(plain);
    let mut targets = vec![Target::new(
        "ingest with sealing on, PostgreSQL",
        "≥ 90% of the rate without",
        percent(per_second(sealed), per_second(plain)),
        ingest_ratio >= 0.9,
    )];
    match verified {
        Some(verified) => {
            let verify_rate = verified.report.entries_verified as f64 / verified.seconds;
            table.row(vec![
                format!(
                    "`SeaOrmStore::verify`, {} seals, signatures checked",
                    count(verified.report.seals_verified)
                ),
                format!("{:.2}", verified.seconds),
                rate(verify_rate),
                "-".to_owned(),
            ]);
            table.note(format!(
                "Resident memory grew by {} KiB during the verification (it reads seals and entries in pages).",
                count(verified.rss_grown_kib)
            ));
            targets.push(Target::new(
                "verify, PostgreSQL",
                "≥ 100,000 entries/s",
                format!("{} entries/s", rate(verify_rate)),
                verify_rate >= 100_000.0,
            ));
        }
        None => table.note("The verification was skipped (`--skip-verify`)."),
    }
    Ok(Section {
        tables: vec![table],
        targets,
    })
}

/// What one verification of the sealed log found and took.
struct Verified {
    report: VerifyReport,
    seconds: f64,
    rss_grown_kib: u64,
}

/// Verifies the `n` entries of `store`'s sealed log against `key`.
async fn verify(store: &SeaOrmStore, key: &SealSigningKey, n: u64) -> Result<Verified> {
    eprintln!("sealing: verifying {} entries", count(n));
    let rss_before = rss_kib().unwrap_or(0);
    let mut rss_peak = rss_before;
    let started = Instant::now();
    let report = store
        .verify_with_progress(&VerifyOptions::new().public_key(key.public_key()), |_| {
            rss_peak = rss_peak.max(rss_kib().unwrap_or(0));
        })
        .await?;
    Ok(Verified {
        report,
        seconds: started.elapsed().as_secs_f64(),
        rss_grown_kib: rss_peak.saturating_sub(rss_before),
    })
}
