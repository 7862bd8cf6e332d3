//! The `activity-log` command, run as a program against each real database.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Output, Stdio};
use std::time::Duration;

use chrono::Utc;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};
use tower_activity::COLUMNS;
use tower_activity::{
    Action, ActivityCount, ActivityEvent, ActivityFilter, ActivityQuery, ActivityStore, Actor,
};

use sea_orm_activity::PRUNED_ACTION;
use tower_activity::{EXPORTED_ACTION, VIEWED_ACTION};

use crate::events::{self, at, days_before, varied};
use crate::support::{TestDb, each_backend, each_empty_backend};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_activity-log");

/// Runs the command on `db` with `args`, without recording its reads (so
/// that one command's read does not show in the next one's output; the
/// recording has its own test).
pub(crate) async fn run(db: &TestDb, args: &[&str]) -> Output {
    run_audited(db, &[&["--no-audit"], args].concat()).await
}

/// Runs the command on `db` with `args`, its reads recorded.
pub(crate) async fn run_audited(db: &TestDb, args: &[&str]) -> Output {
    run_without_database(&[&["--database-url", db.url.as_str()], args].concat()).await
}

/// Runs the command with `args` alone: no `DATABASE_URL` from the
/// environment, no input.
pub(crate) async fn run_without_database(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("the command runs")
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Asserts the command succeeded, and returns its standard output.
pub(crate) fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}, stderr: {}",
        output.status,
        stderr(output)
    );
    stdout(output)
}

/// Asserts the command failed with `status` and one `error:` line, and
/// returns that line.
pub(crate) fn failed(output: &Output, status: i32) -> String {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(status), "stderr: {text}");
    assert!(output.stdout.is_empty(), "stdout: {}", stdout(output));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {text}");
    assert!(lines[0].starts_with("error: "), "{text}");
    assert!(
        !text.contains("panicked") && !text.contains("backtrace"),
        "{text}"
    );
    lines[0].to_owned()
}

#[tokio::test]
async fn migrate_creates_the_table_once() {
    each_empty_backend(async |db| {
        let first = succeeded(&run(db, &["migrate"]).await);
        assert_eq!(
            first,
            format!(
                "applied {} migration(s): the activity_log table is up to date\n",
                sea_orm_activity::migrations().len()
            )
        );
        events::write(db, &[varied(1)]).await;
        let again = succeeded(&run(db, &["migrate"]).await);
        assert_eq!(again, "the activity_log table is up to date\n");
        assert_eq!(db.store().count(&ActivityFilter::new()).await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn query_prints_an_aligned_table_or_json_lines_and_pages_on() {
    let events: Vec<ActivityEvent> = (0..60).map(varied).collect();
    let filter = ActivityFilter::new().tenant("tenant_1");
    let matching: Vec<&ActivityEvent> = events
        .iter()
        .rev()
        .filter(|event| filter.matches(event))
        .collect();
    each_backend(async |db| {
        events::write(db, &events).await;

        let output = run(db, &["query", "--tenant", "tenant_1", "--limit", "5"]).await;
        let table = succeeded(&output);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 6, "a header and five rows:\n{table}");
        assert!(lines[0].starts_with("TIME") && lines[0].contains("ACTION") && lines[0].contains("TENANT"));
        let action_column = lines[0].find("ACTION").unwrap();
        for (line, event) in lines[1..].iter().zip(&matching) {
            assert_eq!(
                &line[action_column..action_column + event.action.as_str().len()],
                event.action.as_str()
            );
            assert!(line.contains("tenant_1"), "{line}");
        }
        let hint = stderr(&output);
        let cursor = hint
            .trim()
            .strip_prefix("more entries: continue with --after ")
            .unwrap_or_else(|| panic!("{hint}"));

        let output = run(
            db,
            &[
                "query", "--tenant", "tenant_1", "--limit", "5", "--after", cursor, "--json",
            ],
        )
        .await;
        let next: Vec<ActivityEvent> = succeeded(&output)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(next.iter().collect::<Vec<_>>(), matching[5..10]);

        let output = run(
            db,
            &[
                "query",
                "--action",
                "delete",
                "--outcome",
                "warning",
                "--json",
                "--limit",
                "1000",
            ],
        )
        .await;
        let wanted = ActivityFilter::new()
            .action(Action::Delete)
            .outcome(tower_activity::Outcome::Warning);
        let expected = db
            .store()
            .list(&ActivityQuery::new(wanted).limit(1000))
            .await
            .unwrap()
            .events;
        assert!(!expected.is_empty());
        let listed: Vec<ActivityEvent> = succeeded(&output)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(listed, expected);
    })
    .await;
}

/// The next line the command writes, waiting for it.
async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> ActivityEvent {
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("a line within a minute")
        .unwrap()
        .expect("the command is still running");
    serde_json::from_str(&line).unwrap()
}

#[tokio::test]
async fn tail_prints_the_latest_entries_then_follows_new_ones() {
    each_backend(async |db| {
        let old: Vec<ActivityEvent> = (0..5).map(varied).collect();
        events::write(db, &old).await;
        let mut child = Command::new(BIN)
            .args([
                "--database-url",
                &db.url,
                "--no-audit",
                "tail",
                "--json",
                "-n",
                "2",
                "--interval",
                "50ms",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(next_line(&mut lines).await, old[3]);
        assert_eq!(next_line(&mut lines).await, old[4]);

        let new = ActivityEvent::builder(Action::Create)
            .tenant("acme")
            .build()
            .unwrap();
        events::write(db, std::slice::from_ref(&new)).await;
        assert_eq!(next_line(&mut lines).await, new);

        // Made earlier, written later: a recorder flushing its batch after
        // another writer's.
        let late = ActivityEvent::builder(Action::Update).build().unwrap();
        let early = ActivityEvent::builder(Action::Delete).build().unwrap();
        events::write(db, std::slice::from_ref(&early)).await;
        assert_eq!(next_line(&mut lines).await, early);
        events::write(db, std::slice::from_ref(&late)).await;
        assert_eq!(next_line(&mut lines).await, late);

        child.kill().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn stats_counts_by_day_action_and_outcome() {
    let events: Vec<ActivityEvent> = (0..90).map(varied).collect();
    each_backend(async |db| {
        events::write(db, &events).await;
        let expected = db
            .store()
            .counts(&ActivityFilter::new().tenant("tenant_2"))
            .await
            .unwrap();
        let output = run(db, &["stats", "--tenant", "tenant_2", "--json"]).await;
        let counts: Vec<ActivityCount> = succeeded(&output)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(counts, expected);

        let table = succeeded(&run(db, &["stats"]).await);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("DAY") && lines[0].ends_with("COUNT"),
            "{table}"
        );
        assert_eq!(lines.last(), Some(&"total: 90"));
    })
    .await;
}

#[tokio::test]
async fn reads_by_the_command_are_recorded_in_the_log() {
    let events: Vec<ActivityEvent> = (0..12).map(varied).collect();
    each_backend(async |db| {
        events::write(db, &events).await;
        let in_tenant = events
            .iter()
            .filter(|event| event.tenant_id.as_deref() == Some("tenant_1"))
            .count();
        succeeded(&run_audited(db, &["query", "--tenant", "tenant_1"]).await);
        succeeded(&run_audited(db, &["export", "--format", "csv"]).await);
        succeeded(&run(db, &["stats"]).await);
        let filter = ActivityFilter::new().resource_type("activity_log");
        let page = db
            .store()
            .list(&ActivityQuery::new(filter).order(tower_activity::Order::OldestFirst))
            .await
            .unwrap();
        let recorded: Vec<(String, serde_json::Value)> = page
            .events
            .iter()
            .map(|event| {
                let actor = event.actor.as_ref().unwrap();
                assert_eq!(
                    (actor.kind, actor.id.as_deref()),
                    (tower_activity::ActorKind::System, Some("activity-log"))
                );
                let details = event.details.as_ref().unwrap().to_value();
                (
                    event.action.as_str().to_owned(),
                    serde_json::json!([details["via"], details["filter"], details["returned"]]),
                )
            })
            .collect();
        assert_eq!(
            recorded,
            [
                (
                    VIEWED_ACTION.to_owned(),
                    serde_json::json!(["cli query", {"tenant_id": "tenant_1"}, in_tenant])
                ),
                // The export also holds the query's own record.
                (
                    EXPORTED_ACTION.to_owned(),
                    serde_json::json!(["cli export", {}, events.len() + 1])
                ),
            ],
            "`--no-audit` leaves the stats unrecorded"
        );
    })
    .await;
}

#[tokio::test]
async fn export_writes_csv_or_json_lines_and_is_quiet_when_piped() {
    let events: Vec<ActivityEvent> = (0..40).map(varied).collect();
    each_backend(async |db| {
        events::write(db, &events).await;
        let output = run(db, &["export", "--format", "csv", "--since", "2000-01-01"]).await;
        let csv = succeeded(&output);
        assert_eq!(stderr(&output), "", "no progress or summary on a pipe");
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        assert_eq!(
            reader.headers().unwrap().iter().collect::<Vec<_>>(),
            COLUMNS.map(|column| column.name)
        );
        let ids: Vec<String> = reader.records().map(|row| row.unwrap()[0].to_owned()).collect();
        let expected: Vec<String> = events.iter().map(|event| event.id.to_string()).collect();
        assert_eq!(ids, expected);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("export.jsonl");
        let output = run(
            db,
            &[
                "export",
                "--format",
                "jsonl",
                "--actor",
                "u_1",
                "--output",
                path.to_str().unwrap(),
            ],
        )
        .await;
        succeeded(&output);
        let expected: Vec<&ActivityEvent> = events
            .iter()
            .filter(|event| ActivityFilter::new().actor("u_1").matches(event))
            .collect();
        assert_eq!(stderr(&output), format!("exported {} entries\n", expected.len()));
        let written: Vec<ActivityEvent> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(written.iter().collect::<Vec<_>>(), expected);
    })
    .await;
}

#[tokio::test]
async fn prune_deletes_entries_older_than_the_age_and_keeps_overrides_longer() {
    let now = Utc::now();
    let events = [
        at("create", days_before(now, 100)),
        at("auth.login.failed", days_before(now, 100)),
        at("auth.login.failed", days_before(now, 400)),
        at("create", days_before(now, 10)),
    ];
    each_backend(async |db| {
        events::write(db, &events).await;
        let output = run(db, &["prune", "--older-than", "90d", "--keep", "auth=365d"]).await;
        assert_eq!(succeeded(&output), "pruned 2 entries\n  *: 1\n  auth: 1\n");
        assert_eq!(stderr(&output), "");
        let left: Vec<_> = events::all(db)
            .await
            .into_iter()
            .filter(|event| event.action.as_str() != PRUNED_ACTION)
            .map(|event| event.id)
            .collect();
        assert_eq!(left, [events[1].id, events[3].id]);
    })
    .await;
}

#[tokio::test]
async fn anonymize_removes_the_actor_from_their_entries() {
    let mine = ActivityEvent::builder(Action::Update)
        .actor(Actor::user("u_42").with_label("Ada"))
        .ip("192.0.2.1".parse().unwrap())
        .build()
        .unwrap();
    let other = ActivityEvent::builder(Action::Update)
        .actor(Actor::user("u_7"))
        .build()
        .unwrap();
    each_backend(async |db| {
        events::write(db, &[mine.clone(), other.clone()]).await;
        assert_eq!(
            succeeded(&run(db, &["anonymize", "--actor", "u_42"]).await),
            "anonymized 1 entries\n"
        );
        let store = db.store();
        let anonymized = store.get(mine.id).await.unwrap().unwrap();
        assert_eq!(anonymized.actor.unwrap().id, None);
        assert_eq!(anonymized.ip, None);
        assert_eq!(store.get(other.id).await.unwrap(), Some(other.clone()));
        assert_eq!(
            succeeded(&run(db, &["anonymize", "--actor", "u_42"]).await),
            "anonymized 0 entries\n"
        );
    })
    .await;
}

#[tokio::test]
async fn an_error_chain_names_each_cause_once() {
    each_empty_backend(async |db| {
        for (args, doing, library) in [
            (&["query"][..], "query failed", "activity store failed"),
            (
                &["prune", "--older-than", "90d"],
                "prune failed",
                "reading or deleting activity log entries failed",
            ),
            (
                &["anonymize", "--actor", "u_42"],
                "anonymization failed",
                "reading or rewriting the activity log failed",
            ),
        ] {
            let line = failed(&run(db, args).await, 1);
            let database = line
                .strip_prefix(&format!("error: {doing}: {library}: "))
                .unwrap_or_else(|| panic!("{args:?}: {line}"));
            // The database's own message, which names the missing table,
            // comes once.
            assert!(!database.is_empty(), "{line}");
            assert_eq!(line.matches("activity_log").count(), 1, "{line}");
        }
    })
    .await;
    each_backend(async |db| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("export.csv");
        let os = std::fs::File::create(&path).unwrap_err().to_string();
        let output = run(
            db,
            &["export", "--format", "jsonl", "--output", path.to_str().unwrap()],
        )
        .await;
        assert_eq!(
            failed(&output, 1),
            format!("error: cannot create the output file: {os}")
        );
    })
    .await;
}

#[tokio::test]
async fn errors_are_one_line_and_a_non_zero_status() {
    each_empty_backend(async |db| {
        let line = failed(&run(db, &["query"]).await, 1);
        assert!(line.starts_with("error: query failed: "), "{line}");
        assert!(line.contains("activity_log"), "names the missing table: {line}");

        let line = failed(&run(db, &["prune", "--older-than", "90x"]).await, 2);
        assert!(line.contains("--older-than"), "{line}");
        let line = failed(
            &run(db, &["prune", "--older-than", "90d", "--keep", "Auth=365d"]).await,
            2,
        );
        assert!(line.contains("invalid action pattern \"Auth\""), "{line}");
        let line = failed(&run(db, &["query", "--after", "c1'; DROP TABLE x"]).await, 2);
        assert!(line.contains("invalid cursor"), "{line}");
        let line = failed(&run(db, &["export", "--format", "xlsx"]).await, 2);
        assert!(line.contains("jsonl or csv"), "{line}");
        let line = failed(&run(db, &["anonymize", "--actor", ""]).await, 1);
        assert!(line.contains("empty actor id"), "{line}");
        for (subcommand, flag) in [
            ("query", "--actor"),
            ("export", "--actor"),
            ("anonymize", "--actor"),
            ("query", "--text"),
            ("export", "--detail"),
        ] {
            let not_utf8 = Command::new(BIN)
                .args(["--database-url", &db.url, subcommand, flag])
                .arg(OsStr::from_bytes(b"\xff\xfe"))
                .stdin(Stdio::null())
                .output()
                .await
                .unwrap();
            let line = failed(&not_utf8, 2);
            assert!(
                line.contains(&format!("'{flag} <")) && line.contains("not valid UTF-8"),
                "{line}"
            );
        }
        let line = failed(&run(db, &["query", "--ip", "10.0.0.0/33"]).await, 2);
        assert!(
            line.contains("'--ip <") && line.contains("invalid IP filter"),
            "{line}"
        );
    })
    .await;
    let no_url = Command::new(BIN)
        .arg("stats")
        .env_remove("DATABASE_URL")
        .output()
        .await
        .unwrap();
    let line = failed(&no_url, 1);
    assert!(line.contains("--database-url"), "{line}");
    let bad_scheme = Command::new(BIN)
        .args(["--database-url", "oracle://scott:tiger@db/x", "stats"])
        .output()
        .await
        .unwrap();
    let line = failed(&bad_scheme, 1);
    assert!(
        line.contains("unsupported database URL") && !line.contains("tiger"),
        "{line}"
    );
    let from_env = Command::new(BIN)
        .arg("stats")
        .env("DATABASE_URL", "sqlite:///nonexistent-dir/x.db")
        .output()
        .await
        .unwrap();
    let line = failed(&from_env, 1);
    assert!(
        line.starts_with("error: cannot connect to the database"),
        "{line}"
    );
}
