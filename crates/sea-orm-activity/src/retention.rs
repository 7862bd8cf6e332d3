//! Retention: how long entries are kept, and pruning the older ones in
//! bounded chunks.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use tower_activity::{Action, ActionPattern, ActivityEvent, Actor};
use uuid::Uuid;

use crate::entity::{Column, Entity};
use crate::filter::{self, action_in};
use crate::rewrite_lock::{self, row_locking};
use crate::seal::prune_record::{SEALED_PRUNE_ACTION, record_sealed_prune};
use crate::store::SeaOrmStore;
use crate::transactional::log_activity_in;

/// The action of the event that records a prune, with the number of entries
/// deleted.
pub const PRUNED_ACTION: &str = "activity.retention.pruned";

/// The name [`RetentionReport::by_rule`] gives the default age.
pub const DEFAULT_RULE: &str = "*";

/// How long entries are kept: a default age, and longer or shorter ages for
/// some actions.
///
/// An override names an action and covers every action under it, as
/// [`Action::is_in`] decides: `auth` (or `auth.*`) covers `auth.login.failed`,
/// but not `authz.checked`. Names compare exactly, case included, on every
/// backend. When several overrides cover an action, the most specific one
/// applies. An age reaching back before the year 1000, such as
/// [`Duration::MAX`], keeps entries forever (see [`SeaOrmStore::prune`]).
///
/// ```
/// # fn main() -> Result<(), tower_activity::InvalidActionPattern> {
/// use std::time::Duration;
/// use sea_orm_activity::RetentionPolicy;
///
/// const DAY: Duration = Duration::from_secs(86_400);
/// let policy = RetentionPolicy::new(90 * DAY)
///     .keep("auth.*".parse()?, 365 * DAY)
///     .keep("auth.session.refreshed".parse()?, 7 * DAY)
///     .keep("read".parse()?, 30 * DAY);
///
/// assert_eq!(policy.max_age("auth.login.failed"), 365 * DAY);
/// assert_eq!(policy.max_age("auth.session.refreshed"), 7 * DAY);
/// assert_eq!(policy.max_age("invoice.paid"), 90 * DAY);
///
/// // A mistyped rule is refused instead of silently covering nothing.
/// assert!("Auth".parse::<tower_activity::ActionPattern>().is_err());
/// assert!("auth*".parse::<tower_activity::ActionPattern>().is_err());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    max_age: Duration,
    overrides: BTreeMap<ActionPattern, Duration>,
}

/// Why a prune ([`SeaOrmStore::prune`]) failed.
///
/// Its message is this layer's only: the underlying error is its
/// [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetentionError {
    /// The database failed. The chunks already deleted stay deleted; running
    /// the prune again finishes the work.
    #[error("reading or deleting activity log entries failed")]
    Database(#[from] DbErr),
}

/// What a prune deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Entries deleted in all.
    pub pruned: u64,
    /// Entries deleted under each rule: the override's action name (as
    /// [`ActionPattern::as_str`] gives it), or [`DEFAULT_RULE`] for the
    /// default age.
    pub by_rule: BTreeMap<String, u64>,
}

impl RetentionPolicy {
    /// Keeps entries for `max_age`, unless an override says otherwise.
    pub fn new(max_age: Duration) -> Self {
        RetentionPolicy {
            max_age,
            overrides: BTreeMap::new(),
        }
    }

    /// Keeps the entries `pattern` covers for `max_age` (longer or shorter
    /// than the default), replacing an earlier override of the same pattern.
    pub fn keep(mut self, pattern: ActionPattern, max_age: Duration) -> Self {
        self.overrides.insert(pattern, max_age);
        self
    }

    /// How long entries of the action named `action` are kept.
    pub fn max_age(&self, action: &str) -> Duration {
        self.rule_of(action)
            .and_then(|rule| self.overrides.get(rule).copied())
            .unwrap_or(self.max_age)
    }

    /// The most specific override covering `action`.
    fn rule_of(&self, action: &str) -> Option<&ActionPattern> {
        self.overrides
            .keys()
            .filter(|rule| rule.covers(action))
            .max_by_key(|rule| rule.as_str().len())
    }

    /// Each rule's name, the condition selecting the actions it governs, and
    /// the age it keeps them for.
    pub(crate) fn rules(&self) -> Vec<(String, Condition, Duration)> {
        let mut rules = Vec::with_capacity(self.overrides.len() + 1);
        let mut default = Condition::all();
        for rule in self.overrides.keys() {
            default = default.add(action_in(rule.as_str()).not());
        }
        rules.push((DEFAULT_RULE.to_owned(), default, self.max_age));
        for (rule, max_age) in &self.overrides {
            let mut governed = Condition::all().add(action_in(rule.as_str()));
            for narrower in self.overrides.keys() {
                if narrower != rule && rule.covers(narrower.as_str()) {
                    governed = governed.add(action_in(narrower.as_str()).not());
                }
            }
            rules.push((rule.as_str().to_owned(), governed, *max_age));
        }
        rules
    }
}

/// The action of the event recording a prune.
fn pruned_action() -> Action {
    Action::custom(PRUNED_ACTION).expect("PRUNED_ACTION is a valid action name")
}

/// `now - age` rounded up to the precision times are stored with
/// (microseconds), so that an entry stored in the same microsecond but
/// before it still counts as older, or
/// `None` when that is before the year 1000, the earliest time every backend
/// stores: such a rule keeps everything, even what PostgreSQL or SQLite may
/// hold from before.
fn cutoff(now: DateTime<Utc>, age: Duration) -> Option<DateTime<Utc>> {
    TimeDelta::from_std(age)
        .ok()
        .and_then(|age| now.checked_sub_signed(age))
        .map(filter::ceil_micros)
        .filter(|cutoff| *cutoff >= filter::earliest_stored())
}

impl SeaOrmStore {
    /// Deletes the entries older than `policy` keeps them as of `now`, and
    /// records an [`activity.retention.pruned`](PRUNED_ACTION) event with the
    /// counts.
    ///
    /// An entry is older than an age when it occurred strictly before
    /// `now - age`. A rule whose `now - age` lies before the year 1000 (the
    /// earliest time every backend stores), such as one keeping entries for
    /// [`Duration::MAX`], deletes nothing. Entries are deleted in chunks of
    /// [`chunk_size`](SeaOrmStore::chunk_size), each its own short
    /// transaction, with a [pause](SeaOrmStore::chunk_pause) between them, so
    /// inserts keep flowing during a large prune; a prune that fails part-way
    /// keeps what it deleted and can simply run again.
    ///
    /// # Errors
    ///
    /// [`RetentionError::Database`] when the database fails.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use chrono::Utc;
    /// use sea_orm_activity::{ActivityMigrator, RetentionPolicy, SeaOrmStore};
    /// use sea_orm_migration::MigratorTrait;
    ///
    /// let db = sea_orm::Database::connect("sqlite::memory:").await?;
    /// ActivityMigrator::up(&db, None).await?;
    /// let store = SeaOrmStore::new(db);
    ///
    /// let policy = RetentionPolicy::new(Duration::from_secs(90 * 86_400));
    /// let report = store.prune(&policy, Utc::now()).await?;
    /// assert_eq!(report.pruned, 0);
    /// # Ok(()) }
    /// ```
    pub async fn prune(
        &self,
        policy: &RetentionPolicy,
        now: DateTime<Utc>,
    ) -> Result<RetentionReport, RetentionError> {
        self.prune_with_progress(policy, now, |_| {}).await
    }

    /// [`prune`](Self::prune), calling `progress` with the number of entries
    /// deleted so far after each chunk.
    pub async fn prune_with_progress(
        &self,
        policy: &RetentionPolicy,
        now: DateTime<Utc>,
        progress: impl FnMut(u64) + Send,
    ) -> Result<RetentionReport, RetentionError> {
        self.prune_until(policy, now, progress, || false).await
    }

    /// [`prune_with_progress`](Self::prune_with_progress), stopping between
    /// chunks once `stop` says so; what was deleted is still recorded.
    pub(crate) async fn prune_until(
        &self,
        policy: &RetentionPolicy,
        now: DateTime<Utc>,
        mut progress: impl FnMut(u64) + Send,
        stop: impl Fn() -> bool + Send + Sync,
    ) -> Result<RetentionReport, RetentionError> {
        let backend = self.db.get_database_backend();
        let mut report = RetentionReport::default();
        for (rule, governed, max_age) in policy.rules() {
            let Some(cutoff) = cutoff(now, max_age) else {
                report.by_rule.insert(rule, 0);
                continue;
            };
            let older = Condition::all()
                .add(governed)
                .add(Column::OccurredAt.lt(filter::time_value(backend, cutoff)))
                // Verification needs them for as long as the seals are kept.
                .add(Column::Action.ne(SEALED_PRUNE_ACTION));
            let mut pruned = 0;
            let mut reached = None;
            while !stop() {
                let deleted = self.delete_chunk(older.clone(), reached).await?;
                pruned += deleted.rows;
                report.pruned += deleted.rows;
                progress(report.pruned);
                match deleted.reached {
                    Some(time) if !deleted.last => reached = Some(time),
                    _ => break,
                }
                if !self.chunk_pause.is_zero() {
                    tokio::time::sleep(self.chunk_pause).await;
                }
            }
            report.by_rule.insert(rule, pruned);
        }
        let rules: serde_json::Map<String, serde_json::Value> = report
            .by_rule
            .iter()
            .map(|(rule, count)| (rule.clone(), (*count).into()))
            .collect();
        let event = ActivityEvent::builder(pruned_action())
            .actor(Actor::system("activity-retention"))
            .detail("count", report.pruned)
            .detail("rules", rules)
            .build()
            .expect("the action is valid");
        log_activity_in(&self.db, event).await?;
        Ok(report)
    }

    /// Deletes the oldest chunk of the rows matching `older` from the time
    /// `from` on, in one transaction. Each chunk starts where the previous one
    /// ended, so rows the rule keeps are read past once, not once a chunk.
    /// MySQL allows no `LIMIT` in an `IN` subquery, so the ids are read first.
    async fn delete_chunk(&self, older: Condition, from: Option<DateTime<Utc>>) -> Result<Chunk, DbErr> {
        let mut older = older;
        if let Some(from) = from {
            older =
                older.add(Column::OccurredAt.gte(filter::time_value(self.db.get_database_backend(), from)));
        }
        let backend = self.db.get_database_backend();
        let txn = self.db.begin_with_options(row_locking(backend)).await?;
        rewrite_lock::shared(&txn).await?;
        let rows: Vec<(Uuid, DateTime<Utc>)> = filter::oldest(older, self.chunk_size)
            .into_tuple()
            .all(&txn)
            .await?;
        let last = rows.len() < self.chunk_size;
        let reached = rows.last().map(|(_, time)| *time);
        let deleted = if let Some(up_to) = reached {
            let mut ids: Vec<Uuid> = rows.into_iter().map(|(id, _)| id).collect();
            if backend == DbBackend::MySql {
                ids = lock_in_id_order(&txn, ids).await?;
            }
            record_sealed_prune(&txn, &ids, up_to).await?;
            Entity::delete_many()
                .filter(Column::Id.is_in(ids))
                .exec(&txn)
                .await?
                .rows_affected
        } else {
            0
        };
        txn.commit().await?;
        Ok(Chunk {
            rows: deleted,
            last,
            reached,
        })
    }
}

/// Locks the rows of `ids` that are still stored, in id order, and returns
/// their ids. A sealing round on MySQL reads its entries `FOR UPDATE` in id
/// order: a chunk that locks its rows the same way before looking for their
/// places waits for a round under way (and a round for it) without the two
/// ever waiting for each other at once, so an entry sealed meanwhile is
/// recorded as pruned, never deleted from behind its seal.
async fn lock_in_id_order<C: ConnectionTrait>(txn: &C, ids: Vec<Uuid>) -> Result<Vec<Uuid>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::Id.is_in(ids))
        .order_by_asc(Column::Id)
        .lock_exclusive()
        .into_tuple()
        .all(txn)
        .await
}

/// What one chunk of a prune did.
struct Chunk {
    /// Rows deleted.
    rows: u64,
    /// Whether it was the last chunk: fewer rows matched than a chunk holds.
    last: bool,
    /// The time of the newest row it deleted.
    reached: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_activity::MAX_ACTION_LEN;

    const DAY: Duration = Duration::from_secs(86_400);

    fn pattern(text: &str) -> ActionPattern {
        text.parse().unwrap()
    }

    #[test]
    fn the_recording_action_is_valid() {
        assert_eq!(pruned_action().as_str(), PRUNED_ACTION);
    }

    #[test]
    fn errors_say_their_cause_once() {
        use std::error::Error as _;

        let error = RetentionError::from(DbErr::Custom("disk full".to_owned()));
        assert!(!error.to_string().contains("disk full"), "{error}");
        let source = error.source().expect("the database error is the source");
        assert!(source.to_string().contains("disk full"), "{source}");
    }

    #[test]
    fn the_most_specific_override_wins() {
        let policy = RetentionPolicy::new(90 * DAY)
            .keep(pattern("auth"), 365 * DAY)
            .keep(pattern("auth.login.*"), 30 * DAY);
        assert_eq!(policy.max_age("auth.logout"), 365 * DAY);
        assert_eq!(policy.max_age("auth.login.failed"), 30 * DAY);
        assert_eq!(policy.max_age("authz.checked"), 90 * DAY);
        assert_eq!(policy.max_age("create"), 90 * DAY);
    }

    #[test]
    fn patterns_are_action_names_or_namespaces() {
        for (text, name) in [
            ("auth", "auth"),
            ("auth.*", "auth"),
            ("auth.login.failed", "auth.login.failed"),
            ("auth.login.*", "auth.login"),
            ("read", "read"),
            ("billing.plan_2", "billing.plan_2"),
        ] {
            assert_eq!(pattern(text).as_str(), name, "{text}");
        }
        for text in [
            "",
            "*",
            ".*",
            "auth*",
            "Auth",
            "AUTH.login",
            "auth.",
            "auth..x",
            "auth.*.*",
            "auth.**",
            "1auth",
            "auth login",
            "auth.lögin",
            "auth=365d",
        ] {
            let error = text.parse::<ActionPattern>().unwrap_err().to_string();
            assert!(error.contains(&format!("{text:?}")), "{error}");
            assert!(error.contains("namespace followed by .*"), "{error}");
        }
        let longest = format!("a.{}", "b".repeat(MAX_ACTION_LEN - 2));
        assert_eq!(pattern(&longest).as_str(), longest);
        assert!(format!("{longest}b").parse::<ActionPattern>().is_err());
    }

    #[test]
    fn an_age_reaching_before_the_year_1000_has_no_cutoff() {
        let now = Utc::now();
        assert_eq!(cutoff(now, Duration::MAX), None);
        assert_eq!(cutoff(now, 1_100 * 365 * DAY), None);
        assert_eq!(
            cutoff(now, DAY),
            Some(filter::ceil_micros(now - TimeDelta::days(1)))
        );
        // Stored entries have whole microseconds: one at 00:00:00.000001 is
        // older than a cutoff at 00:00:00.0000015.
        let now: DateTime<Utc> = "2026-01-02T00:00:00.000001500Z".parse().unwrap();
        let expected: DateTime<Utc> = "2026-01-01T00:00:00.000002Z".parse().unwrap();
        assert_eq!(cutoff(now, DAY), Some(expected));
        let thousand = filter::earliest_stored() + TimeDelta::days(1);
        assert_eq!(cutoff(thousand, DAY), Some(filter::earliest_stored()));
        assert_eq!(cutoff(thousand, 2 * DAY), None);
    }
}
