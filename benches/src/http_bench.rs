//! Benchmark 1: HTTP throughput and latency of each server variant under the
//! same load, as ratios to bare axum, and the events persisted after a
//! graceful shutdown against the 2xx responses.

use std::time::Duration;

use crate::app::Variant;
use crate::databases::{BenchDatabase, Result, Servers};
use crate::loadgen::{self, LoadConfig, LoadReport};
use crate::process_stats::{MachineCpu, cpu_seconds};
use crate::report::{Section, Table, Target, count, percent, rate, ratio};
use crate::server::{ServerProcess, ServerShutdown};

/// How hard and how long each variant is loaded.
#[derive(Clone, Debug)]
pub(crate) struct HttpOptions {
    pub(crate) connections: usize,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    /// Each variant runs this many times, the variants interleaved; the
    /// medians are reported.
    pub(crate) rounds: usize,
    pub(crate) variants: Vec<Variant>,
}

/// What one variant did.
#[derive(Debug)]
struct Outcome {
    variant: Variant,
    load: LoadReport,
    /// CPU seconds of the server and of this (client) process in the measured
    /// window.
    server_cpu: Option<f64>,
    client_cpu: Option<f64>,
    /// Cores' worth of CPU other processes used in the measured window.
    foreign_cores: Option<f64>,
    shutdown: ServerShutdown,
    /// Rows in the database after shutdown, or events the null sink took.
    persisted: Option<u64>,
}

impl Outcome {
    fn persisted_all(&self) -> Option<bool> {
        self.persisted.map(|persisted| persisted == self.load.ok)
    }
}

/// Runs every variant in turn, `rounds` times over, and reports them side by
/// side.
pub(crate) async fn run(options: &HttpOptions, servers: &Servers) -> Result<Section> {
    let mut skipped = Vec::new();
    let mut variants = Vec::new();
    for &variant in &options.variants {
        match variant.backend() {
            Some(backend) if !servers.enabled(backend) => {
                skipped.push(format!("{} skipped: its {backend} URL is `skip`", variant.name()));
            }
            _ => variants.push(variant),
        }
    }
    if let Some(before) = MachineCpu::now() {
        tokio::time::sleep(Duration::from_secs(2)).await;
        if let Some(after) = MachineCpu::now() {
            let cores = before.foreign_since(after) / 2.0;
            if cores > 0.05 {
                eprintln!(
                    "http: WARNING: other processes use {cores:.2} cores; the figures will not be \
                     reliable until the machine is quiet"
                );
            }
        }
    }
    let mut runs: Vec<Vec<Outcome>> = variants.iter().map(|_| Vec::new()).collect();
    for round in 1..=options.rounds {
        for (&variant, runs) in variants.iter().zip(&mut runs) {
            eprintln!(
                "http: round {round}/{}: {} ({} connections, {:?} warmup, {:?} measured)",
                options.rounds,
                variant.name(),
                options.connections,
                options.warmup,
                options.duration
            );
            let outcome = run_variant(variant, options, servers).await?;
            eprintln!(
                "http: {}: {} req/s, p50 {:.3} ms, p99 {:.3} ms, 2xx {}, persisted {:?}",
                variant.name(),
                rate(outcome.load.requests_per_second),
                outcome.load.latency_ms(50.0),
                outcome.load.latency_ms(99.0),
                outcome.load.ok,
                outcome.persisted
            );
            runs.push(outcome);
        }
    }
    let summaries: Vec<Summary> = runs.iter().map(|runs| Summary::of(runs)).collect();
    Ok(section(options, &summaries, skipped))
}

/// A variant's rounds together: medians of the figures, sums of the counts.
#[derive(Debug)]
struct Summary {
    variant: Variant,
    rps: f64,
    rps_min: f64,
    rps_max: f64,
    p50: f64,
    p99: f64,
    server_us: Option<f64>,
    client_us: Option<f64>,
    /// The most CPU other processes used in one round's window, in cores.
    foreign_cores: f64,
    ok: u64,
    not_ok: u64,
    errors: u64,
    recorded: u64,
    dropped: u64,
    persisted: Option<u64>,
    /// Rounds in which the events persisted equalled the 2xx responses, of
    /// those checked.
    equal_rounds: Option<(usize, usize)>,
}

impl Summary {
    fn of(runs: &[Outcome]) -> Self {
        let median = |f: &dyn Fn(&Outcome) -> Option<f64>| {
            let mut values: Vec<f64> = runs.iter().filter_map(f).collect();
            values.sort_by(f64::total_cmp);
            values.get(values.len() / 2).copied()
        };
        let per_request = |cpu: Option<f64>, load: &LoadReport| {
            cpu.filter(|_| load.measured > 0)
                .map(|seconds| seconds * 1e6 / load.measured as f64)
        };
        let rps: Vec<f64> = runs.iter().map(|run| run.load.requests_per_second).collect();
        let sum = |f: fn(&Outcome) -> u64| runs.iter().map(f).sum::<u64>();
        let checked: Vec<bool> = runs.iter().filter_map(Outcome::persisted_all).collect();
        Summary {
            variant: runs[0].variant,
            rps: median(&|run| Some(run.load.requests_per_second)).unwrap_or_default(),
            rps_min: rps.iter().copied().fold(f64::INFINITY, f64::min),
            rps_max: rps.iter().copied().fold(0.0, f64::max),
            p50: median(&|run| Some(run.load.latency_ms(50.0))).unwrap_or_default(),
            p99: median(&|run| Some(run.load.latency_ms(99.0))).unwrap_or_default(),
            server_us: median(&|run| per_request(run.server_cpu, &run.load)),
            client_us: median(&|run| per_request(run.client_cpu, &run.load)),
            foreign_cores: runs
                .iter()
                .filter_map(|run| run.foreign_cores)
                .fold(0.0, f64::max),
            ok: sum(|run| run.load.ok),
            not_ok: sum(|run| run.load.not_ok),
            errors: sum(|run| run.load.errors),
            recorded: sum(|run| run.shutdown.recorded),
            dropped: sum(|run| run.shutdown.dropped),
            persisted: runs[0]
                .persisted
                .map(|_| sum(|run| run.persisted.unwrap_or_default())),
            equal_rounds: (!checked.is_empty())
                .then(|| (checked.iter().filter(|equal| **equal).count(), checked.len())),
        }
    }

    fn all_persisted(&self) -> Option<bool> {
        self.equal_rounds.map(|(equal, of)| equal == of)
    }
}

async fn run_variant(variant: Variant, options: &HttpOptions, servers: &Servers) -> Result<Outcome> {
    let database = match variant.backend() {
        Some(backend) => Some(BenchDatabase::create(backend, servers).await?),
        None => None,
    };
    let server = ServerProcess::spawn(variant, database.as_ref().map(|db| db.url.as_str())).await?;
    let server_pid = server.pid().ok_or("the server exited")?;
    let (warmup, duration) = (options.warmup, options.duration);
    let cpu = tokio::spawn(async move {
        let own_pid = std::process::id();
        tokio::time::sleep(warmup).await;
        let before = (cpu_seconds(server_pid), cpu_seconds(own_pid), MachineCpu::now());
        tokio::time::sleep(duration).await;
        let after = (cpu_seconds(server_pid), cpu_seconds(own_pid), MachineCpu::now());
        let spent = |before: Option<f64>, after: Option<f64>| Some(after? - before?);
        let foreign = before
            .2
            .zip(after.2)
            .map(|(before, after)| before.foreign_since(after));
        (spent(before.0, after.0), spent(before.1, after.1), foreign)
    });
    let load = loadgen::run(LoadConfig {
        addr: server.addr,
        connections: options.connections,
        warmup,
        duration,
    })
    .await;
    let (server_cpu, client_cpu, foreign_cpu) = cpu.await?;
    let shutdown = server.finish().await?;
    let persisted = match database {
        Some(database) => {
            let rows = database.count_events().await?;
            database.drop().await?;
            Some(rows)
        }
        None if variant.records_events() => Some(shutdown.written),
        None => None,
    };
    Ok(Outcome {
        variant,
        load,
        server_cpu,
        client_cpu,
        foreign_cores: foreign_cpu.map(|seconds| seconds / duration.as_secs_f64()),
        shutdown,
        persisted,
    })
}

fn section(options: &HttpOptions, summaries: &[Summary], skipped: Vec<String>) -> Section {
    let find = |variant| summaries.iter().find(|summary| summary.variant == variant);
    let bare = find(Variant::Bare);
    let (bare_rps, bare_p50, bare_p99) = bare.map_or((0.0, 0.0, 0.0), |bare| (bare.rps, bare.p50, bare.p99));
    let rounds = if options.rounds > 1 {
        format!(", median of {} rounds", options.rounds)
    } else {
        String::new()
    };
    let mut speed = Table::new(
        format!(
            "HTTP: {} connections, {:?} warmup + {:?} measured, loopback{rounds}",
            options.connections, options.warmup, options.duration
        ),
        &[
            "variant",
            "req/s",
            "vs bare",
            "req/s range",
            "p50 ms",
            "vs bare",
            "p99 ms",
            "vs bare",
            "server CPU µs/req",
            "client CPU µs/req",
            "other CPU (cores)",
        ],
    );
    let mut persistence = Table::new(
        format!(
            "HTTP: events persisted after graceful shutdown vs 2xx responses{}",
            if options.rounds > 1 { ", all rounds" } else { "" }
        ),
        &[
            "variant",
            "2xx",
            "non-2xx",
            "conn errors",
            "recorded",
            "dropped",
            "persisted",
            "check",
        ],
    );
    let micros = |value: Option<f64>| value.map_or(String::from("n/a"), |us| format!("{us:.1}"));
    for summary in summaries {
        speed.row(vec![
            summary.variant.description().to_owned(),
            rate(summary.rps),
            percent(summary.rps, bare_rps),
            format!("{}–{}", rate(summary.rps_min), rate(summary.rps_max)),
            format!("{:.3}", summary.p50),
            ratio(summary.p50, bare_p50),
            format!("{:.3}", summary.p99),
            ratio(summary.p99, bare_p99),
            micros(summary.server_us),
            micros(summary.client_us),
            format!("{:.2}", summary.foreign_cores),
        ]);
        let recorder = matches!(
            summary.variant,
            Variant::NullSink | Variant::Sqlite | Variant::Postgres | Variant::Mariadb
        );
        let if_recorder = |n: u64| if recorder { count(n) } else { String::from("—") };
        persistence.row(vec![
            summary.variant.description().to_owned(),
            count(summary.ok),
            count(summary.not_ok),
            count(summary.errors),
            if_recorder(summary.recorded),
            if_recorder(summary.dropped),
            summary.persisted.map_or(String::from("—"), count),
            match summary.equal_rounds {
                Some((equal, of)) if equal == of => String::from("OK"),
                Some((equal, of)) => format!("MISMATCH ({} of {of} rounds equal)", equal),
                None => String::from("—"),
            },
        ]);
    }
    speed.note(
        "Every variant is the same axum app (`POST /items` JSON create → 201, `GET /items/{id}` → 200) \
         in a child process on a multi-thread Tokio runtime, served with connect info and TCP_NODELAY; \
         the client is this process (its own multi-thread runtime, one task per keep-alive connection, \
         alternating create and read), on the same 2 cores. Latency is per request, from send to the \
         last body byte. CPU µs/req is user + system time over the measured window divided by the \
         requests completed in it (the database servers' own CPU is not included).",
    );
    speed.note(
        "Other CPU: the most CPU that processes other than the benchmark and the database servers \
         used during one round's measured window, in cores (of 2). Above about 0.05 the machine was \
         not quiet and the figures of that variant are not reliable.",
    );
    speed.note(
        "tower-http: SetRequestId (UUID v4) + Trace (new_for_http) + PropagateRequestId. No tracing \
         subscriber is installed in any variant.",
    );
    persistence.note(
        "2xx counts every request, warmup included. Persisted is the number of rows in `activity_log` \
         after the server's graceful shutdown, not counting the recorder's `activity.dropped` reports \
         (for the null sink: the events it was given); each round is checked on its own. Recorder: \
         default settings (queue 50,000, batches of 500 or 100 ms).",
    );
    for note in skipped {
        persistence.note(note);
    }

    let mut targets = Vec::new();
    let rps = |variant| find(variant).map(|summary: &Summary| summary.rps);
    if bare_rps > 0.0 {
        if let Some(null) = rps(Variant::NullSink) {
            targets.push(Target::new(
                "null sink vs bare",
                "≥ 95 % of bare",
                percent(null, bare_rps),
                null >= 0.95 * bare_rps,
            ));
            if let Some(tower_http) = rps(Variant::TowerHttp) {
                targets.push(Target::new(
                    "null sink vs tower-http",
                    "cheaper than request id + trace",
                    format!("{} vs {}", percent(null, bare_rps), percent(tower_http, bare_rps)),
                    null > tower_http,
                ));
            }
        }
        for (variant, naive, share, times) in [
            (Variant::Postgres, Variant::NaivePostgres, 0.50, 6.0),
            (Variant::Sqlite, Variant::NaiveSqlite, 0.40, 10.0),
        ] {
            let Some(ours) = rps(variant) else { continue };
            targets.push(Target::new(
                format!("{} vs bare", variant.description()),
                format!("≥ {:.0} % of bare", share * 100.0),
                percent(ours, bare_rps),
                ours >= share * bare_rps,
            ));
            if let Some(naive_rps) = rps(naive) {
                targets.push(Target::new(
                    format!("{} vs naive", variant.description()),
                    format!("≥ {times:.0}× {}", naive.name()),
                    ratio(ours, naive_rps),
                    ours >= times * naive_rps,
                ));
            }
        }
    }
    let checked: Vec<&Summary> = summaries.iter().filter(|s| s.equal_rounds.is_some()).collect();
    if !checked.is_empty() {
        let mismatched: Vec<String> = checked
            .iter()
            .filter(|summary| summary.all_persisted() == Some(false))
            .map(|summary| {
                format!(
                    "{}: {} of {}",
                    summary.variant.name(),
                    count(summary.persisted.unwrap_or_default()),
                    count(summary.ok)
                )
            })
            .collect();
        targets.push(Target::new(
            "HTTP: zero events lost",
            "persisted == 2xx in every run",
            if mismatched.is_empty() {
                format!("{} of {} variants equal", checked.len(), checked.len())
            } else {
                mismatched.join("; ")
            },
            mismatched.is_empty(),
        ));
    }
    Section {
        tables: vec![speed, persistence],
        targets,
    }
}
