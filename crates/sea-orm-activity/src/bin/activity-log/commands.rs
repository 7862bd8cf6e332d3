//! What each command does.

use std::error::Error;
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use sea_orm_activity::{ActivityMigrator, AnonymizePolicy, RetentionPolicy, SeaOrmStore};
use sea_orm_migration::MigratorTrait;
use tokio::io::AsyncWrite;
use tower_activity::export::ExportFormat;
use tower_activity::{
    ActivityContext, ActivityEvent, ActivityFilter, ActivityQuery, ActivitySink, ActivityStore, Actor,
    Catalogue, DEFAULT_LOOKBACK, EventPolicy, Follower, LogRead, Order, read_event,
};

use crate::args::{Cli, Command};
use crate::seal_commands;
use crate::table;

pub(crate) type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// An error with what was being done.
#[derive(Debug)]
struct Failed {
    doing: &'static str,
    cause: BoxError,
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.doing)
    }
}

impl Error for Failed {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.cause)
    }
}

/// Wraps an error with what was being done.
pub(crate) fn doing<E: Into<BoxError>>(doing: &'static str) -> impl FnOnce(E) -> BoxError {
    move |cause| {
        Box::new(Failed {
            doing,
            cause: cause.into(),
        })
    }
}

/// How long to wait for the database to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) async fn run(cli: Cli) -> Result<(), BoxError> {
    // The catalogue is a file, not the log: no database, no read recorded.
    if let Command::Actions { catalogue, json } = &cli.command {
        let catalogue = read_catalogue(catalogue)?;
        return match json {
            true => print(&format!("{}\n", serde_json::to_string_pretty(&catalogue)?)),
            false => print(&table::catalogue(&catalogue)),
        };
    }
    let url = cli
        .database_url
        .ok_or("no database given: pass --database-url or set DATABASE_URL")?;
    let db = connect(&url).await?;
    let store = SeaOrmStore::new(db.clone());
    let context = ActivityContext::system("activity-log");
    let reads = Reads {
        store: store.clone(),
        audit: !cli.no_audit,
    };
    context.scope(execute(cli.command, db, store, reads)).await
}

/// Records the command's reads of the log, as the log router does.
struct Reads {
    store: SeaOrmStore,
    audit: bool,
}

impl Reads {
    /// Records that `count` entries matching `filter` were read by `how`,
    /// by this command run as the operating system's user.
    async fn record(
        &self,
        read: LogRead,
        how: &str,
        filter: &ActivityFilter,
        count: u64,
    ) -> Result<(), BoxError> {
        if !self.audit {
            return Ok(());
        }
        let mut event = read_event(read, how, filter, count);
        let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).ok();
        let actor = Actor::system("activity-log");
        event.actor = Some(match user {
            Some(user) => actor.with_label(user),
            None => actor,
        });
        EventPolicy::new().apply(&mut event);
        self.store
            .write_batch(&[event])
            .await
            .map_err(doing("the read was done but could not be recorded in the log"))
    }
}

async fn connect(url: &str) -> Result<DatabaseConnection, BoxError> {
    let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
    if !matches!(scheme, "sqlite" | "postgres" | "postgresql" | "mysql") {
        return Err("unsupported database URL: expected sqlite://FILE, postgres://… or mysql://…".into());
    }
    let mut options = ConnectOptions::new(url);
    options
        .connect_timeout(CONNECT_TIMEOUT)
        .acquire_timeout(CONNECT_TIMEOUT)
        .sqlx_logging(false);
    Database::connect(options)
        .await
        .map_err(doing("cannot connect to the database"))
}

async fn execute(
    command: Command,
    db: DatabaseConnection,
    store: SeaOrmStore,
    reads: Reads,
) -> Result<(), BoxError> {
    match command {
        Command::Actions { .. } => unreachable!("answered before connecting"),
        Command::Verify(args) => seal_commands::verify(&store, args).await,
        Command::Checkpoint { chain } => seal_commands::checkpoint(&store, &chain).await,
        Command::Migrate => {
            let pending = ActivityMigrator::get_pending_migrations(&db)
                .await
                .map_err(doing("cannot read the applied migrations"))?
                .len();
            ActivityMigrator::up(&db, None)
                .await
                .map_err(doing("migration failed"))?;
            if pending == 0 {
                print("the activity_log table is up to date\n")
            } else {
                print(&format!(
                    "applied {pending} migration(s): the activity_log table is up to date\n"
                ))
            }
        }
        Command::Query {
            filter,
            limit,
            oldest_first,
            after,
            json,
        } => {
            let order = if oldest_first {
                Order::OldestFirst
            } else {
                Order::NewestFirst
            };
            let query = ActivityQuery::new(filter.filter())
                .order(order)
                .after(after)
                .limit(limit.into());
            let page = store.list(&query).await.map_err(doing("query failed"))?;
            let returned = page.events.len() as u64;
            reads
                .record(LogRead::Viewed, "cli query", &query.filter, returned)
                .await?;
            if json {
                print_json_lines(&page.events)?;
            } else {
                print(&table::events(&page.events))?;
            }
            if page.events.is_empty() {
                note("no matching entries");
            }
            if let Some(next) = page.next {
                note(&format!("more entries: continue with --after {next}"));
            }
            Ok(())
        }
        Command::Tail {
            filter,
            lines,
            interval,
            json,
        } => {
            let filter = filter.filter();
            reads.record(LogRead::Streamed, "cli tail", &filter, 0).await?;
            tail(&store, filter, lines.into(), interval, json).await
        }
        Command::Stats { filter, json } => {
            let filter = filter.filter();
            let counts = store.counts(&filter).await.map_err(doing("counting failed"))?;
            let total = counts.iter().map(|count| count.count).sum();
            reads.record(LogRead::Viewed, "cli stats", &filter, total).await?;
            if json {
                let mut out = Vec::new();
                for count in &counts {
                    serde_json::to_writer(&mut out, count)?;
                    out.push(b'\n');
                }
                print(&String::from_utf8(out)?)
            } else {
                print(&table::counts(&counts))
            }
        }
        Command::Export {
            filter,
            format,
            output,
        } => {
            let filter = filter.filter();
            let total = store
                .count(&filter)
                .await
                .map_err(doing("counting the entries failed"))?;
            let bar = progress(
                ProgressBar::new(total),
                "{bar:40} {pos}/{len} entries ({eta} left)",
            );
            let mut out: Box<dyn AsyncWrite + Unpin + Send> = match &output {
                Some(path) => Box::new(
                    tokio::fs::File::create(path)
                        .await
                        .map_err(doing("cannot create the output file"))?,
                ),
                None => Box::new(tokio::io::stdout()),
            };
            let written = store
                .export_with_progress(&filter, format, &mut out, |n| bar.set_position(n))
                .await
                .map_err(doing("export failed"))?;
            bar.finish_and_clear();
            reads
                .record(LogRead::Exported, "cli export", &filter, written)
                .await?;
            if output.is_some() || io::stderr().is_terminal() {
                note(&format!("exported {written} entries"));
            }
            Ok(())
        }
        Command::Prune { older_than, keep } => {
            let policy = keep
                .into_iter()
                .fold(RetentionPolicy::new(older_than), |policy, (pattern, age)| {
                    policy.keep(pattern, age)
                });
            let spinner = progress(ProgressBar::new_spinner(), "{spinner} pruned {pos} entries");
            spinner.enable_steady_tick(Duration::from_millis(120));
            let report = store
                .prune_with_progress(&policy, Utc::now(), |n| spinner.set_position(n))
                .await
                .map_err(doing("prune failed"))?;
            spinner.finish_and_clear();
            let mut text = format!("pruned {} entries\n", report.pruned);
            if report.by_rule.len() > 1 {
                for (rule, count) in &report.by_rule {
                    text.push_str(&format!("  {rule}: {count}\n"));
                }
            }
            print(&text)
        }
        Command::Anonymize { actor, catalogue } => {
            let mut policy = AnonymizePolicy::new();
            if let Some(path) = catalogue {
                policy = policy.catalogue(&read_catalogue(&path)?);
            }
            let changed = store
                .anonymize(&actor, &policy)
                .await
                .map_err(doing("anonymization failed"))?;
            print(&format!("anonymized {changed} entries\n"))
        }
    }
}

/// The catalogue in the JSON file at `path`, in the form the log router
/// serves; an error names the file and what is wrong.
fn read_catalogue(path: &Path) -> Result<Catalogue, BoxError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read the catalogue {}: {error}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|error| format!("{} is not a valid catalogue: {error}", path.display()).into())
}

/// A progress display on standard error, drawn only when it is a terminal.
pub(crate) fn progress(bar: ProgressBar, template: &str) -> ProgressBar {
    bar.set_draw_target(ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// Prints the latest `lines` entries, then every new one, until interrupted.
/// New entries are followed with a [`Follower`], so entries that reach the
/// database late (a recorder writes its batches some time after the events
/// are made) are still shown, once.
async fn tail(
    store: &SeaOrmStore,
    filter: ActivityFilter,
    lines: usize,
    interval: Duration,
    json: bool,
) -> Result<(), BoxError> {
    let show = |events: &[ActivityEvent]| -> Result<(), BoxError> {
        if json {
            print_json_lines(events)
        } else {
            let mut text = String::new();
            for event in events {
                text.push_str(&table::event_line(event));
                text.push('\n');
            }
            print(&text)
        }
    };
    // What is already there is not new: only the latest `lines` of it are
    // shown. The follower starts first, so an entry arriving in between is
    // shown too.
    let mut follower = Follower::start(store, filter.clone(), DEFAULT_LOOKBACK)
        .await
        .map_err(doing("query failed"))?;
    if lines > 0 {
        let latest = store
            .list(&ActivityQuery::new(filter).limit(lines))
            .await
            .map_err(doing("query failed"))?;
        let mut events = latest.events;
        events.reverse();
        show(&events)?;
        follower.mark_seen(&events);
    }
    loop {
        // A backlog (more than a page arrived at once) is read without waiting.
        if follower.caught_up() {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(()),
                () = tokio::time::sleep(interval) => {}
            }
        }
        let new = follower.poll(store).await.map_err(doing("query failed"))?;
        show(&new)?;
    }
}

fn print_json_lines(events: &[ActivityEvent]) -> Result<(), BoxError> {
    let mut out = Vec::new();
    ExportFormat::JsonLines.encode_chunk(events, true, &mut out)?;
    let mut stdout = io::stdout().lock();
    stdout.write_all(&out)?;
    stdout.flush()?;
    Ok(())
}

pub(crate) fn print(text: &str) -> Result<(), BoxError> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// A message for the person at the terminal, on standard error.
fn note(text: &str) {
    let _ = writeln!(io::stderr(), "{text}");
}
