//! Retention: how long entries are kept, and pruning the older ones in
//! bounded chunks.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use sea_orm::{ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter, TransactionTrait};
use tower_activity::{Action, ActivityEvent, Actor};
use uuid::Uuid;

use crate::entity::{Column, Entity};
use crate::filter::{self, action_in};
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
/// [`Action::is_in`] decides: `auth` (or `auth.*`) covers `auth.login.failed`.
/// When several overrides cover an action, the most specific one applies.
///
/// ```
/// use std::time::Duration;
/// use sea_orm_activity::RetentionPolicy;
///
/// const DAY: Duration = Duration::from_secs(86_400);
/// let policy = RetentionPolicy::new(90 * DAY)
///     .keep("auth.*", 365 * DAY)
///     .keep("auth.session.refreshed", 7 * DAY)
///     .keep("read", 30 * DAY);
///
/// assert_eq!(policy.max_age("auth.login.failed"), 365 * DAY);
/// assert_eq!(policy.max_age("auth.session.refreshed"), 7 * DAY);
/// assert_eq!(policy.max_age("invoice.paid"), 90 * DAY);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    max_age: Duration,
    overrides: BTreeMap<String, Duration>,
}

/// What a prune deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Entries deleted in all.
    pub pruned: u64,
    /// Entries deleted under each rule: the override's action name, or
    /// [`DEFAULT_RULE`] for the default age.
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

    /// Keeps entries of `action`, and of the actions under it, for `max_age`
    /// (longer or shorter than the default). A trailing `.*` is ignored:
    /// `auth.*` and `auth` say the same.
    pub fn keep(mut self, action: impl Into<String>, max_age: Duration) -> Self {
        let mut action = action.into();
        if let Some(namespace) = action.strip_suffix(".*") {
            action.truncate(namespace.len());
        }
        self.overrides.insert(action, max_age);
        self
    }

    /// How long entries of the action named `action` are kept.
    pub fn max_age(&self, action: &str) -> Duration {
        self.rule_of(action)
            .and_then(|rule| self.overrides.get(rule).copied())
            .unwrap_or(self.max_age)
    }

    /// The most specific override covering `action`.
    fn rule_of(&self, action: &str) -> Option<&str> {
        self.overrides
            .keys()
            .filter(|rule| covers(rule, action))
            .max_by_key(|rule| rule.len())
            .map(String::as_str)
    }

    /// Each rule's name, the condition selecting the actions it governs, and
    /// the age it keeps them for.
    pub(crate) fn rules(&self) -> Vec<(String, Condition, Duration)> {
        let mut rules = Vec::with_capacity(self.overrides.len() + 1);
        let mut default = Condition::all();
        for rule in self.overrides.keys() {
            default = default.add(action_in(rule).not());
        }
        rules.push((DEFAULT_RULE.to_owned(), default, self.max_age));
        for (rule, max_age) in &self.overrides {
            let mut governed = Condition::all().add(action_in(rule));
            for narrower in self.overrides.keys() {
                if narrower != rule && covers(rule, narrower) {
                    governed = governed.add(action_in(narrower).not());
                }
            }
            rules.push((rule.clone(), governed, *max_age));
        }
        rules
    }
}

/// Whether `rule` covers the action `action`: it is the action or a namespace
/// of it.
fn covers(rule: &str, action: &str) -> bool {
    action
        .strip_prefix(rule)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// `now - age` at the precision times are stored with (microseconds), or the
/// earliest time there is when that is out of range.
fn cutoff(now: DateTime<Utc>, age: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(age)
        .ok()
        .and_then(|age| now.checked_sub_signed(age))
        .map_or(DateTime::<Utc>::MIN_UTC, |cutoff| cutoff.trunc_subsecs(6))
}

impl SeaOrmStore {
    /// Deletes the entries older than `policy` keeps them as of `now`, and
    /// records an [`activity.retention.pruned`](PRUNED_ACTION) event with the
    /// counts.
    ///
    /// An entry is older than an age when it occurred strictly before
    /// `now - age`. Entries are deleted in chunks of
    /// [`chunk_size`](SeaOrmStore::chunk_size), each its own short
    /// transaction, so inserts keep flowing during a large prune; a prune that
    /// fails part-way keeps what it deleted and can simply run again.
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
    ) -> Result<RetentionReport, DbErr> {
        self.prune_with_progress(policy, now, |_| {}).await
    }

    /// [`prune`](Self::prune), calling `progress` with the number of entries
    /// deleted so far after each chunk.
    pub async fn prune_with_progress(
        &self,
        policy: &RetentionPolicy,
        now: DateTime<Utc>,
        progress: impl FnMut(u64) + Send,
    ) -> Result<RetentionReport, DbErr> {
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
    ) -> Result<RetentionReport, DbErr> {
        let mut report = RetentionReport::default();
        for (rule, governed, max_age) in policy.rules() {
            let older = Condition::all()
                .add(governed)
                .add(Column::OccurredAt.lt(cutoff(now, max_age)));
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
            }
            report.by_rule.insert(rule, pruned);
        }
        let event = ActivityEvent::builder(
            Action::custom(PRUNED_ACTION).map_err(|error| DbErr::Custom(error.to_string()))?,
        )
        .actor(Actor::system("activity-retention"))
        .detail("count", report.pruned)
        .detail(
            "rules",
            serde_json::to_value(&report.by_rule).map_err(|error| DbErr::Json(error.to_string()))?,
        )
        .build()
        .map_err(|error| DbErr::Custom(error.to_string()))?;
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
            older = older.add(Column::OccurredAt.gte(from));
        }
        let txn = self.db.begin().await?;
        let rows: Vec<(Uuid, DateTime<Utc>)> = filter::oldest(older, self.chunk_size)
            .into_tuple()
            .all(&txn)
            .await?;
        let last = rows.len() < self.chunk_size;
        let reached = rows.last().map(|(_, time)| *time);
        let deleted = if rows.is_empty() {
            0
        } else {
            Entity::delete_many()
                .filter(Column::Id.is_in(rows.into_iter().map(|(id, _)| id)))
                .exec(&txn)
                .await?
                .rows_affected
        };
        txn.commit().await?;
        Ok(Chunk {
            rows: deleted,
            last,
            reached,
        })
    }
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

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn the_most_specific_override_wins() {
        let policy = RetentionPolicy::new(90 * DAY)
            .keep("auth", 365 * DAY)
            .keep("auth.login.*", 30 * DAY);
        assert_eq!(policy.max_age("auth.logout"), 365 * DAY);
        assert_eq!(policy.max_age("auth.login.failed"), 30 * DAY);
        assert_eq!(policy.max_age("authz.checked"), 90 * DAY);
        assert_eq!(policy.max_age("create"), 90 * DAY);
    }

    #[test]
    fn an_out_of_range_age_prunes_nothing() {
        let now = Utc::now();
        assert_eq!(cutoff(now, Duration::MAX), DateTime::<Utc>::MIN_UTC);
        assert_eq!(cutoff(now, DAY), (now - TimeDelta::days(1)).trunc_subsecs(6));
    }
}
