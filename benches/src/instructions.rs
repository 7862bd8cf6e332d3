//! Benchmark 6: instructions per request, counted by callgrind. Each variant
//! serves the same requests in-process (the hidden `requests` subcommand) in
//! a child process run under `valgrind --tool=callgrind`; the count does not
//! depend on what else the machine is doing, so two runs of one build agree
//! to the instruction.

use std::path::Path;
use std::process::Stdio;

use tokio::process::Command;

use crate::app::Variant;
use crate::databases::{BenchDatabase, Result, Servers};
use crate::report::{Section, Table, Target, count};

/// What the instruction benchmark runs.
#[derive(Clone, Debug)]
pub(crate) struct InstructionOptions {
    /// Requests per variant.
    pub(crate) requests: u64,
}

/// The variants counted: the baseline, the comparison, and the toolkit with
/// the null sink and with PostgreSQL (its client side).
const VARIANTS: [Variant; 4] = [
    Variant::Bare,
    Variant::TowerHttp,
    Variant::NullSink,
    Variant::Postgres,
];

/// The most instructions per request the toolkit with PostgreSQL may add
/// over bare axum, client side.
const MAX_POSTGRES_OVER_BARE: f64 = 15_000.0;

pub(crate) async fn run(options: &InstructionOptions, servers: &Servers) -> Result<Section> {
    let mut counted = Vec::new();
    for variant in VARIANTS {
        let database = match variant.backend() {
            Some(backend) if !servers.enabled(backend) => continue,
            Some(backend) => Some(BenchDatabase::create(backend, servers).await?),
            None => None,
        };
        let url = database.as_ref().map(|database| database.url.as_str());
        let instructions = callgrind(variant, options.requests, url).await;
        if let Some(database) = database {
            database.drop().await?;
        }
        counted.push((variant, instructions? as f64 / options.requests as f64));
    }
    let per_request = |wanted: Variant| {
        counted
            .iter()
            .find(|(variant, _)| *variant == wanted)
            .map(|(_, per_request)| *per_request)
    };
    let bare = per_request(Variant::Bare).ok_or("bare axum was not counted")?;
    let mut table = Table::new(
        "Instructions per request (callgrind)",
        &["variant", "instructions per request", "over bare axum"],
    );
    for (variant, instructions) in &counted {
        table.row(vec![
            variant.description().to_owned(),
            thousands(*instructions),
            match variant {
                Variant::Bare => "—".to_owned(),
                _ => format!("+{}", thousands(instructions - bare)),
            },
        ]);
    }
    table.note(format!(
        "{} requests per variant (a JSON create and a read, alternately) through the app in-process, \
         under `valgrind --tool=callgrind`; the recorder is shut down before the count ends, so its \
         writer's work is included. PostgreSQL: the client side only (the server is another process).",
        count(options.requests)
    ));
    let mut targets = Vec::new();
    if let (Some(tower_http), Some(null_sink)) =
        (per_request(Variant::TowerHttp), per_request(Variant::NullSink))
    {
        targets.push(Target::new(
            "instructions: null sink",
            "over bare axum ≤ tower-http's request id + trace",
            format!(
                "+{} against +{}",
                thousands(null_sink - bare),
                thousands(tower_http - bare)
            ),
            null_sink <= tower_http,
        ));
    }
    if let Some(postgres) = per_request(Variant::Postgres) {
        targets.push(Target::new(
            "instructions: PostgreSQL, client side",
            format!("over bare axum ≤ +{}", thousands(MAX_POSTGRES_OVER_BARE)),
            format!("+{}", thousands(postgres - bare)),
            postgres - bare <= MAX_POSTGRES_OVER_BARE,
        ));
    }
    Ok(Section {
        tables: vec![table],
        targets,
    })
}

/// Instructions `variant` spends on `requests` requests, counted by
/// callgrind in a child process.
async fn callgrind(variant: Variant, requests: u64, database_url: Option<&str>) -> Result<u64> {
    let dir = tempfile::Builder::new()
        .prefix("activity-bench-callgrind-")
        .tempdir()?;
    let out = dir.path().join("callgrind.out");
    let mut command = Command::new("valgrind");
    command
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(std::env::current_exe()?)
        .args(["requests", "--variant", variant.name()])
        .args(["--count", &requests.to_string()]);
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    let output = command
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|error| format!("cannot run valgrind (install Debian's `valgrind`): {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "callgrind run of {} failed: {}",
            variant.name(),
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    total(&out)
}

/// The total of a callgrind output file (its `summary:` line).
fn total(path: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .find_map(|line| line.strip_prefix("summary:"))
        .and_then(|total| total.trim().parse().ok())
        .ok_or_else(|| format!("no summary line in {}", path.display()).into())
}

/// `value` rounded to a tenth of a thousand: `14.1k`.
fn thousands(value: f64) -> String {
    format!("{:.1}k", value / 1_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_is_the_total() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        std::fs::write(
            &path,
            "version: 1\ncmd: x\nsummary: 322128833\ntotals: 322128833\n",
        )
        .unwrap();
        assert_eq!(total(&path).unwrap(), 322_128_833);
        std::fs::write(&path, "version: 1\n").unwrap();
        assert!(total(&path).is_err());
    }

    #[test]
    fn thousands_round_to_a_tenth() {
        assert_eq!(thousands(14_149.0), "14.1k");
        assert_eq!(thousands(9_800.4), "9.8k");
    }
}
