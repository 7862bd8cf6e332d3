//! `activity-bench`: what auditing every request costs, measured side by side
//! with what applications use without this toolkit.
//!
//! ```text
//! cargo run --release -p activity-bench -- all
//! ```
//!
//! runs every benchmark (`http`, `ingest`, `query-depth`, `retention`,
//! `overload`, `instructions`, `sealing`; each is also a subcommand of its own) and prints one table per
//! benchmark, with ratios, and the targets with PASS or MISS. `--markdown
//! FILE` also writes the tables as Markdown; `--quick` is a short smoke run.
//! PostgreSQL and MariaDB are reached at `ACTIVITY_BENCH_POSTGRES_URL` and
//! `ACTIVITY_BENCH_MYSQL_URL` (the local servers by default; `skip` leaves
//! one out); every run creates and drops its own database.

mod app;
mod bulk_load;
mod databases;
mod environment;
mod events;
mod http_bench;
mod in_process;
mod ingest;
mod instructions;
mod loadgen;
mod outage;
mod overload;
mod process_stats;
mod query_depth;
mod report;
mod retention;
mod sealing;
mod server;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::app::Variant;
use crate::databases::{Result, Servers};
use crate::report::{Section, targets_table};

/// Benchmarks of the activity log toolkit, each against what applications
/// use without it, printed as ratios measured in one run.
#[derive(Debug, Parser)]
#[command(name = "activity-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    options: Options,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every benchmark, in order.
    All,
    /// HTTP throughput and latency of each server variant, and events
    /// persisted against 2xx responses.
    Http,
    /// Events/s into each backend: batched, one insert each, PostgreSQL COPY.
    Ingest,
    /// A tenant's first page against a page deep in its entries (PostgreSQL).
    QueryDepth,
    /// Insert latency while a large prune runs (PostgreSQL).
    Retention,
    /// Peak memory and drop count with a stalled sink and a flood of events.
    Overload,
    /// A PostgreSQL outage under steady load with the durable spool: losses,
    /// record() latency, replay rate.
    Outage,
    /// Instructions per request of bare axum, tower-http, and the toolkit
    /// with the null sink and PostgreSQL, counted by callgrind (needs
    /// `valgrind`).
    Instructions,
    /// Ingest into PostgreSQL with a sealer running against without, and
    /// the rate of `verify` over the sealed log.
    Sealing,
    /// Serves one variant until standard input closes (run by `http`).
    #[command(hide = true)]
    Serve {
        #[arg(long, value_enum)]
        variant: Variant,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Sends requests to one variant in-process, without sockets: for counting
    /// instructions per request with callgrind.
    #[command(hide = true)]
    Requests {
        #[arg(long, value_enum)]
        variant: Variant,
        #[arg(long, default_value_t = 20_000)]
        count: u64,
        #[arg(long)]
        database_url: Option<String>,
    },
    /// One overload measurement in a fresh process (run by `overload`).
    #[command(hide = true)]
    OverloadChild {
        #[arg(long, value_enum)]
        measure: overload::Measure,
    },
}

#[derive(Debug, Args)]
struct Options {
    /// A short smoke run: smaller counts and shorter durations throughout.
    #[arg(long, global = true)]
    quick: bool,
    /// Also write the tables as Markdown to this file.
    #[arg(long, global = true, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// The PostgreSQL server; `skip` leaves PostgreSQL out.
    #[arg(
        long,
        global = true,
        env = "ACTIVITY_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    postgres_url: String,
    /// The MySQL / MariaDB server; `skip` leaves it out.
    #[arg(
        long,
        global = true,
        env = "ACTIVITY_BENCH_MYSQL_URL",
        default_value = "mysql://root@127.0.0.1:3306/test"
    )]
    mysql_url: String,

    /// http: concurrent keep-alive connections.
    #[arg(long, global = true, default_value_t = 64)]
    connections: usize,
    /// http: warmup per variant, not measured [default: 2s, quick: 500ms].
    #[arg(long, global = true, value_parser = humantime::parse_duration)]
    warmup: Option<Duration>,
    /// http: measured time per variant [default: 10s, quick: 2s].
    #[arg(long, global = true, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// http: rounds over all variants, interleaved; medians are reported [default: 3, quick: 1].
    #[arg(long, global = true)]
    rounds: Option<usize>,
    /// http: the variants to run, comma-separated [default: all].
    #[arg(long, global = true, value_enum, value_delimiter = ',')]
    variants: Vec<Variant>,

    /// ingest, sealing and outage: events through the recorder and COPY (outage: the short ingest shown beside its yardstick) [default: 200000, quick: 20000].
    #[arg(long, global = true)]
    events: Option<u64>,
    /// sealing: leave out the verification of the sealed log (the ingest runs only).
    #[arg(long, global = true)]
    skip_verify: bool,
    /// ingest: events written one insert each [default: 10000, quick: 2000].
    #[arg(long, global = true)]
    single_row_events: Option<u64>,

    /// query-depth: rows in the table [default: 1000000, quick: 100000].
    #[arg(long, global = true)]
    query_rows: Option<u64>,
    /// query-depth: how deep the deep page's cursor sits [default: half of --query-rows].
    #[arg(long, global = true)]
    depth: Option<u64>,
    /// query-depth: timed runs of each page [default: 21, quick: 5].
    #[arg(long, global = true)]
    query_runs: Option<usize>,

    /// retention: old rows to prune [default: 1000000, quick: 100000].
    #[arg(long, global = true)]
    prune_rows: Option<u64>,
    /// retention: inserts per second during the measurement.
    #[arg(long, global = true, default_value_t = 1_000)]
    insert_rate: u32,
    /// retention: tasks inserting concurrently.
    #[arg(long, global = true, default_value_t = 8)]
    insert_tasks: u32,
    /// retention: inserts measured without a prune [default: 10s, quick: 2s].
    #[arg(long, global = true, value_parser = humantime::parse_duration)]
    baseline: Option<Duration>,

    /// overload: the recorder's queue capacity.
    #[arg(long, global = true, default_value_t = 10_000)]
    capacity: u64,
    /// overload: events flooded [default: 2000000, quick: 200000].
    #[arg(long, global = true)]
    flood: Option<u64>,

    /// outage: events a second during the outage benchmark.
    #[arg(long, global = true, default_value_t = 20_000)]
    outage_rate: u64,
    /// outage: how long the database is down [default: 60s, quick: 5s].
    #[arg(long, global = true, value_parser = humantime::parse_duration)]
    outage: Option<Duration>,

    /// instructions: requests per variant [default: 20000, quick: 2000].
    #[arg(long, global = true)]
    requests: Option<u64>,
}

impl Options {
    fn pick<T>(&self, value: Option<T>, full: T, quick: T) -> T {
        value.unwrap_or(if self.quick { quick } else { full })
    }

    fn servers(&self) -> Servers {
        Servers {
            postgres_url: self.postgres_url.clone(),
            mysql_url: self.mysql_url.clone(),
        }
    }

    fn http(&self) -> http_bench::HttpOptions {
        http_bench::HttpOptions {
            connections: self.connections,
            warmup: self.pick(self.warmup, Duration::from_secs(2), Duration::from_millis(500)),
            duration: self.pick(self.duration, Duration::from_secs(10), Duration::from_secs(2)),
            rounds: self.pick(self.rounds, 3, 1).max(1),
            variants: if self.variants.is_empty() {
                Variant::ALL.to_vec()
            } else {
                self.variants.clone()
            },
        }
    }

    fn ingest(&self) -> ingest::IngestOptions {
        ingest::IngestOptions {
            events: self.pick(self.events, 200_000, 20_000),
            single_row_events: self.pick(self.single_row_events, 10_000, 2_000),
        }
    }

    fn query_depth(&self) -> query_depth::QueryOptions {
        let rows = self.pick(self.query_rows, 1_000_000, 100_000);
        query_depth::QueryOptions {
            rows,
            depth: self.depth.unwrap_or(rows / 2),
            runs: self.pick(self.query_runs, 21, 5).max(1),
        }
    }

    fn retention(&self) -> retention::RetentionOptions {
        retention::RetentionOptions {
            rows: self.pick(self.prune_rows, 1_000_000, 100_000),
            insert_rate: self.insert_rate,
            tasks: self.insert_tasks.max(1),
            baseline: self.pick(self.baseline, Duration::from_secs(10), Duration::from_secs(2)),
        }
    }

    fn instructions(&self) -> instructions::InstructionOptions {
        instructions::InstructionOptions {
            requests: self.pick(self.requests, 20_000, 2_000).max(1),
        }
    }

    fn outage(&self) -> outage::OutageOptions {
        outage::OutageOptions {
            rate: self.outage_rate.max(100),
            outage: self.pick(self.outage, Duration::from_secs(60), Duration::from_secs(5)),
            ingest_events: self.pick(self.events, 200_000, 20_000),
        }
    }

    fn sealing(&self) -> sealing::SealingOptions {
        sealing::SealingOptions {
            events: self.pick(self.events, 200_000, 20_000),
            skip_verify: self.skip_verify,
        }
    }

    fn overload(&self) -> overload::OverloadOptions {
        overload::OverloadOptions {
            capacity: self.capacity.max(1),
            events: self.pick(self.flood, 2_000_000, 200_000),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("activity-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let options = &cli.options;
    let servers = options.servers();
    let sections = match cli.command {
        Command::Serve {
            variant,
            database_url,
        } => {
            return server::serve(variant, database_url.as_deref()).await;
        }
        Command::Requests {
            variant,
            count,
            database_url,
        } => return in_process::run(variant, count, database_url.as_deref()).await,
        Command::OverloadChild { measure } => return overload::child(measure, options.overload()).await,
        Command::All => {
            let mut sections = Vec::new();
            sections.push(shown(http_bench::run(&options.http(), &servers).await?));
            sections.push(shown(ingest::run(options.ingest(), &servers).await?));
            sections.push(shown(query_depth::run(options.query_depth(), &servers).await?));
            sections.push(shown(retention::run(options.retention(), &servers).await?));
            sections.push(shown(overload::run(options.overload()).await?));
            sections.push(shown(outage::run(options.outage(), &servers).await?));
            sections.push(shown(instructions::run(&options.instructions(), &servers).await?));
            sections.push(shown(sealing::run(options.sealing(), &servers).await?));
            sections
        }
        Command::Http => vec![shown(http_bench::run(&options.http(), &servers).await?)],
        Command::Ingest => vec![shown(ingest::run(options.ingest(), &servers).await?)],
        Command::QueryDepth => vec![shown(query_depth::run(options.query_depth(), &servers).await?)],
        Command::Retention => vec![shown(retention::run(options.retention(), &servers).await?)],
        Command::Overload => vec![shown(overload::run(options.overload()).await?)],
        Command::Outage => vec![shown(outage::run(options.outage(), &servers).await?)],
        Command::Instructions => vec![shown(instructions::run(&options.instructions(), &servers).await?)],
        Command::Sealing => vec![shown(sealing::run(options.sealing(), &servers).await?)],
    };
    let targets: Vec<_> = sections
        .iter()
        .flat_map(|section| section.targets.clone())
        .collect();
    let summary = targets_table(&targets);
    if sections.len() > 1 {
        println!("\n{}", summary.text());
    }
    if let Some(path) = &options.markdown {
        let environment = environment::describe(&servers).await;
        let mut markdown = environment.markdown();
        markdown.push('\n');
        for table in sections.iter().flat_map(|section| &section.tables) {
            markdown.push_str(&table.markdown());
            markdown.push('\n');
        }
        markdown.push_str(&summary.markdown());
        std::fs::write(path, markdown)?;
        eprintln!("activity-bench: wrote {}", path.display());
    }
    Ok(())
}

fn shown(section: Section) -> Section {
    section.print();
    section
}
