//! The command line: commands, options, and parsing of times and durations.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use clap::builder::{OsStringValueParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use ipnet::IpNet;
use sea_orm_activity::ExportFormat;

pub(crate) use crate::seal_commands::VerifyArgs;
use tower_activity::{
    ActionPattern, ActionSelector, ActivityFilter, ActorKind, Cursor, InvalidActionSelector, Outcome,
};

/// Operate on the activity log of an application: migrate, query, follow,
/// count, export, prune and anonymize, verify its seals; print its action
/// catalogue.
#[derive(Debug, Parser)]
#[command(name = "activity-log", version)]
pub(crate) struct Cli {
    /// The database: sqlite://FILE, postgres://… or mysql://…
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub(crate) database_url: Option<String>,

    /// Do not record this read of the log (query, tail, stats, export) in the
    /// log itself; for development only.
    #[arg(long, global = true)]
    pub(crate) no_audit: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create or update the activity_log table (with its own migrations table).
    Migrate,
    /// List entries, newest first, one page at a time.
    Query {
        #[command(flatten)]
        filter: FilterArgs,
        /// How many entries (at most 1000).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=1000))]
        limit: u16,
        /// Oldest first instead of newest first.
        #[arg(long)]
        oldest_first: bool,
        /// Continue after this cursor (printed after a full page).
        #[arg(long, value_name = "CURSOR")]
        after: Option<Cursor>,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the latest entries, then follow new ones until interrupted.
    Tail {
        #[command(flatten)]
        filter: FilterArgs,
        /// How many of the latest entries to print first.
        #[arg(long, short = 'n', default_value_t = 10)]
        lines: u16,
        /// How often to look for new entries (500ms, 2s, …).
        #[arg(long, default_value = "1s", value_parser = duration)]
        interval: Duration,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Count entries by day, action and outcome.
    Stats {
        #[command(flatten)]
        filter: FilterArgs,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write entries, oldest first, as CSV or JSON lines.
    Export {
        #[command(flatten)]
        filter: FilterArgs,
        /// csv or jsonl.
        #[arg(long, value_parser = export_format)]
        format: ExportFormat,
        /// Write to this file instead of standard output.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Delete entries older than an age, in chunks.
    Prune {
        /// The age past which entries are deleted (90d, 12h, 30m, …).
        #[arg(long, value_parser = duration, value_name = "AGE")]
        older_than: Duration,
        /// Keep an action and those under it for another age (auth=365d); repeatable.
        #[arg(long, value_parser = keep_rule, value_name = "ACTION=AGE")]
        keep: Vec<(ActionPattern, Duration)>,
    },
    /// Remove a data subject's personal data from every entry; the entries stay.
    Anonymize {
        /// The subject's actor id.
        #[arg(long, value_name = "ID", value_parser = text())]
        actor: String,
        /// Also clear the detail keys this catalogue file marks personal.
        #[arg(long, value_name = "FILE")]
        catalogue: Option<PathBuf>,
    },
    /// Check that no entry or seal was changed, removed or added behind the
    /// sealer's back: every leaf, root, link and signature recomputed from the
    /// stored rows. Exits with status 1 on any tampering.
    Verify(VerifyArgs),
    /// Print the newest seal as a checkpoint: a small text file to keep
    /// elsewhere and give to `verify --checkpoint`.
    Checkpoint {
        /// The chain of seals.
        #[arg(long, default_value = "main", value_parser = text())]
        chain: String,
    },
    /// Print an action catalogue: each action, its category, its detail keys
    /// and what it means. It reads a file, not the log: it needs no database
    /// and records no read.
    Actions {
        /// The catalogue, as JSON: what the log router's GET /actions serves.
        #[arg(long, value_name = "FILE")]
        catalogue: PathBuf,
        /// The catalogue as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Which entries.
#[derive(Debug, Args)]
pub(crate) struct FilterArgs {
    /// Only this tenant's entries.
    #[arg(long, value_parser = text())]
    tenant: Option<String>,
    /// Only entries by this actor id.
    #[arg(long, value_parser = text())]
    actor: Option<String>,
    /// Only actors of this kind (user, admin, service, system, anonymous); repeatable.
    #[arg(long, value_name = "KIND", value_parser = actor_kind)]
    actor_kind: Vec<ActorKind>,
    /// Only this action, or a namespace followed by .* (auth.*) for every
    /// action under it; repeatable.
    #[arg(long, value_name = "ACTION", value_parser = action)]
    action: Vec<ActionSelector>,
    /// Only this category (auth, billing, …); repeatable.
    #[arg(long, value_name = "CATEGORY", value_parser = text())]
    category: Vec<String>,
    /// Only this outcome (success, warning, error, critical); repeatable.
    #[arg(long, value_name = "OUTCOME", value_parser = outcome)]
    outcome: Vec<Outcome>,
    /// Only entries on this resource type.
    #[arg(long, value_parser = text())]
    resource_type: Option<String>,
    /// Only entries on the resource with this id.
    #[arg(long, value_parser = text())]
    resource_id: Option<String>,
    /// Only entries of this request.
    #[arg(long, value_parser = text())]
    request_id: Option<String>,
    /// Only entries from this client address (203.0.113.7) or network
    /// (10.0.0.0/8, 2001:db8::/32).
    #[arg(long, value_parser = ip)]
    ip: Option<IpNet>,
    /// Only entries whose details hold KEY with the string VALUE (split at
    /// the first =); repeatable, each must match.
    #[arg(long, value_name = "KEY=VALUE", value_parser = detail())]
    detail: Vec<(String, String)>,
    /// Only entries whose resource id, actor label or a string in their
    /// details contains this text, case included.
    #[arg(long, value_parser = text())]
    text: Option<String>,
    /// Only entries at or after this time: RFC 3339, a date, or an age (24h).
    #[arg(long, value_parser = time, value_name = "TIME")]
    since: Option<DateTime<Utc>>,
    /// Only entries before this time: RFC 3339, a date, or an age (24h).
    #[arg(long, value_parser = time, value_name = "TIME")]
    until: Option<DateTime<Utc>>,
}

impl FilterArgs {
    pub(crate) fn filter(&self) -> ActivityFilter {
        let filter = ActivityFilter {
            tenant_id: self.tenant.clone(),
            actor_id: self.actor.clone(),
            actor_kinds: self.actor_kind.clone(),
            // From `action`, below: each value goes to one list or the other.
            actions: Vec::new(),
            action_patterns: Vec::new(),
            categories: self.category.clone(),
            outcomes: self.outcome.clone(),
            resource_type: self.resource_type.clone(),
            resource_id: self.resource_id.clone(),
            request_id: self.request_id.clone(),
            ip: self.ip,
            detail_values: self.detail.clone(),
            text: self.text.clone(),
            since: self.since,
            until: self.until,
        };
        (self.action.iter()).fold(filter, |filter, selector| filter.select_action(selector.clone()))
    }
}

/// `90d`, `12h`, `30m`, `1h30m`, `500ms`.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|error| format!("{error} (expected an age such as 90d, 12h or 30m)"))
}

/// `ACTION=AGE`, where ACTION is an action name, a namespace, or a namespace
/// followed by `.*`.
fn keep_rule(text: &str) -> Result<(ActionPattern, Duration), String> {
    let (action, age) = text
        .split_once('=')
        .ok_or_else(|| "expected ACTION=AGE, such as auth=365d".to_owned())?;
    let pattern = action
        .parse::<ActionPattern>()
        .map_err(|error| error.to_string())?;
    Ok((pattern, duration(age)?))
}

/// A text argument, refused by name when it is not UTF-8 (clap's own check
/// does not say which argument it was).
pub(crate) fn text() -> impl TypedValueParser<Value = String> {
    OsStringValueParser::new().try_map(|text| text.into_string().map_err(|_| "not valid UTF-8"))
}

/// RFC 3339, `YYYY-MM-DD` (UTC midnight), or an age before now.
pub(crate) fn time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.to_utc());
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    let age = humantime::parse_duration(text)
        .map_err(|_| "expected an RFC 3339 time, a date (2025-01-31) or an age (24h)".to_owned())?;
    TimeDelta::from_std(age)
        .ok()
        .and_then(|age| Utc::now().checked_sub_signed(age))
        .ok_or_else(|| "that age reaches before the earliest time".to_owned())
}

/// An action name, or a namespace followed by `.*`.
fn action(text: &str) -> Result<ActionSelector, String> {
    text.parse()
        .map_err(|error: InvalidActionSelector| error.to_string())
}

fn ip(text: &str) -> Result<IpNet, String> {
    tower_activity::parse_ip_filter(text).map_err(|error| error.to_string())
}

/// `KEY=VALUE`, split at the first `=`; refused by name when not UTF-8.
fn detail() -> impl TypedValueParser<Value = (String, String)> {
    text().try_map(|text| match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err("expected KEY=VALUE, such as reason=bad_password"),
    })
}

fn actor_kind(text: &str) -> Result<ActorKind, String> {
    text.parse()
        .map_err(|error: tower_activity::UnknownActorKind| error.to_string())
}

fn outcome(text: &str) -> Result<Outcome, String> {
    text.parse()
        .map_err(|error: tower_activity::UnknownOutcome| error.to_string())
}

fn export_format(text: &str) -> Result<ExportFormat, String> {
    text.parse()
        .map_err(|error: sea_orm_activity::UnknownExportFormat| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use tower_activity::Action;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ages_read_as_durations() {
        assert_eq!(duration("90d").unwrap(), Duration::from_secs(90 * 86_400));
        assert_eq!(duration("12h").unwrap(), Duration::from_secs(12 * 3_600));
        assert_eq!(duration("30m").unwrap(), Duration::from_secs(30 * 60));
        assert!(duration("ninety days").unwrap_err().contains("90d"));
    }

    #[test]
    fn keep_rules_name_an_action_or_namespace() {
        let (pattern, age) = keep_rule("auth=365d").unwrap();
        assert_eq!(
            (pattern.as_str(), age),
            ("auth", Duration::from_secs(365 * 86_400))
        );
        assert_eq!(keep_rule("auth.*=1d").unwrap().0.as_str(), "auth");
        assert_eq!(keep_rule("read=7d").unwrap().0.as_str(), "read");
        assert!(keep_rule("auth").unwrap_err().contains("ACTION=AGE"));
        for mistyped in ["Auth Login=1d", "Auth=1d", "auth*=1d"] {
            assert!(
                keep_rule(mistyped)
                    .unwrap_err()
                    .contains("invalid action pattern"),
                "{mistyped}"
            );
        }
        assert!(keep_rule("auth=soon").is_err());
    }

    #[test]
    fn filter_arguments_read_namespaces_networks_and_details() {
        let cli = Cli::try_parse_from([
            "activity-log",
            "query",
            "--action",
            "auth.*",
            "--action",
            "read",
            "--ip",
            "10.0.0.0/8",
            "--detail",
            "reason=bad=password",
            "--detail",
            "a b=",
            "--text",
            "50%_off",
        ])
        .unwrap();
        let Command::Query { filter, .. } = cli.command else {
            panic!("not a query")
        };
        let expected = ActivityFilter::new()
            .action(Action::Read)
            .action_pattern("auth".parse().unwrap())
            .ip("10.0.0.0/8".parse::<IpNet>().unwrap())
            .detail("reason", "bad=password")
            .detail("a b", "")
            .text("50%_off");
        assert_eq!(filter.filter(), expected);
        for (flag, bad, message) in [
            ("--ip", "10.0.0.0/33", "invalid IP filter"),
            ("--action", "Auth.*", "invalid action pattern"),
            ("--detail", "reason", "KEY=VALUE"),
            ("--detail", "=x", "KEY=VALUE"),
        ] {
            let error = Cli::try_parse_from(["activity-log", "query", flag, bad])
                .unwrap_err()
                .to_string();
            assert!(error.contains(message) && error.contains(flag), "{error}");
        }
    }

    #[test]
    fn times_are_instants_dates_or_ages() {
        assert_eq!(
            time("2025-01-31T10:00:00+01:00").unwrap().to_rfc3339(),
            "2025-01-31T09:00:00+00:00"
        );
        assert_eq!(
            time("2025-01-31").unwrap().to_rfc3339(),
            "2025-01-31T00:00:00+00:00"
        );
        let day_ago = time("1d").unwrap();
        assert!(day_ago < Utc::now() - TimeDelta::hours(23));
        assert!(time("yesterday").is_err());
    }
}
