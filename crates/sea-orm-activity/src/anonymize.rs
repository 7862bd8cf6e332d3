//! GDPR: anonymizing a data subject while keeping what happened auditable.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait, TryIntoModel,
};
use serde_json::{Map, Value};
use tower_activity::{Action, ActivityEvent, Scrubber, prepare_event};

use crate::entity::{ActiveModel, Column, Entity, Model};
use crate::filter::like_literal;
use crate::sink::insert_events;
use crate::store::SeaOrmStore;

/// The action of the event that records an anonymization. It carries the
/// number of entries changed, never the subject's identity.
pub const ANONYMIZED_ACTION: &str = "activity.anonymized";

/// What replaces the subject's id, IP address or user agent inside details.
pub const ANONYMIZED: &str = "[ANONYMIZED]";

/// The detail keys removed by default from the subject's entries; matched as
/// [`Scrubber`] matches secret keys (`email` also matches `userEmail` and
/// `email_address`).
pub const DEFAULT_PERSONAL_KEYS: &[&str] = &[
    "email",
    "first_name",
    "last_name",
    "full_name",
    "display_name",
    "username",
    "phone",
    "address",
    "birth_date",
    "ip",
    "ip_address",
    "user_agent",
];

/// What anonymizing a data subject removes; see [`SeaOrmStore::anonymize`].
///
/// ```
/// use sea_orm_activity::AnonymizePolicy;
///
/// let policy = AnonymizePolicy::new()
///     .remove_key("iban")
///     .subject_resource_type("customer");
/// # let _ = policy;
/// ```
#[derive(Clone, Debug)]
pub struct AnonymizePolicy {
    keys: Scrubber,
    subject_resource_types: Vec<String>,
    search_all_details: bool,
}

impl Default for AnonymizePolicy {
    fn default() -> Self {
        AnonymizePolicy::new()
    }
}

impl AnonymizePolicy {
    /// The default policy: [`DEFAULT_PERSONAL_KEYS`] removed from the
    /// subject's entries, `user` as the resource type naming data subjects,
    /// and the details of every entry searched for the subject's id.
    pub fn new() -> Self {
        AnonymizePolicy {
            keys: Scrubber::new()
                .redact_only(DEFAULT_PERSONAL_KEYS)
                .detect_card_numbers(false),
            subject_resource_types: vec!["user".to_owned()],
            search_all_details: true,
        }
    }

    /// Also removes detail keys matching `pattern` from the subject's entries.
    pub fn remove_key(mut self, pattern: &str) -> Self {
        self.keys = self.keys.redact_key(pattern);
        self
    }

    /// Removes exactly the detail keys matching `patterns`, replacing the
    /// defaults.
    pub fn remove_only<I>(mut self, patterns: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.keys = self.keys.redact_only(patterns);
        self
    }

    /// Also treats `resource_type` as naming data subjects: an entry on the
    /// resource `resource_type` / subject id loses its resource id.
    pub fn subject_resource_type(mut self, resource_type: impl Into<String>) -> Self {
        self.subject_resource_types.push(resource_type.into());
        self
    }

    /// Whether the details of every entry, not only the subject's own, are
    /// searched for the subject's id (on by default). The search reads the
    /// whole table once, in chunks.
    pub fn search_all_details(mut self, on: bool) -> Self {
        self.search_all_details = on;
        self
    }

    /// Anonymizes `row` in place for `subject`; returns whether it changed.
    fn apply(&self, row: &mut Model, subject: &str) -> bool {
        let before = row.clone();
        let mut values = vec![subject.to_owned()];
        if row.actor_id.as_deref() == Some(subject) {
            row.actor_id = None;
            row.actor_label = None;
            values.extend(row.ip.take());
            values.extend(row.user_agent.take());
            if let Some(details) = &mut row.details {
                self.remove_keys(details);
            }
        }
        if row.resource_id.as_deref() == Some(subject)
            && row
                .resource_type
                .as_ref()
                .is_some_and(|kind| self.subject_resource_types.contains(kind))
        {
            row.resource_id = None;
        }
        if let Some(details) = &mut row.details {
            replace_values(details, &values);
        }
        *row != before
    }

    /// Removes the listed keys at any depth.
    fn remove_keys(&self, details: &mut Value) {
        let mut stack = vec![details];
        while let Some(value) = stack.pop() {
            match value {
                Value::Object(map) => {
                    map.retain(|key, _| !self.keys.is_secret_key(key));
                    stack.extend(map.values_mut());
                }
                Value::Array(items) => stack.extend(items.iter_mut()),
                _ => {}
            }
        }
    }
}

/// Replaces every occurrence of each of `values`, as a whole word, in the
/// strings and keys of `details` by [`ANONYMIZED`].
fn replace_values(details: &mut Value, values: &[String]) {
    let mut stack = vec![details];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(text) => {
                if let Some(replaced) = replace_words(text, values) {
                    *text = replaced;
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => {
                if map.keys().any(|key| replace_words(key, values).is_some()) {
                    let mut renamed = Map::new();
                    for (key, value) in std::mem::take(map) {
                        renamed.insert(replace_words(&key, values).unwrap_or(key), value);
                    }
                    *map = renamed;
                }
                stack.extend(map.values_mut());
            }
            _ => {}
        }
    }
}

/// `text` with every whole-word occurrence of each of `values` replaced, or
/// `None` when there is none. A word boundary is the text's start or end or a
/// character that is neither alphanumeric nor `_`, so `u_42` is found in
/// `"merged u_42"` but not in `"u_420"`.
fn replace_words(text: &str, values: &[String]) -> Option<String> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut current: Option<String> = None;
    for value in values.iter().filter(|value| !value.is_empty()) {
        let source = current.as_deref().unwrap_or(text);
        let mut out = String::new();
        let (mut copied, mut from) = (0, 0);
        while let Some(offset) = source[from..].find(value.as_str()) {
            let at = from + offset;
            let end = at + value.len();
            let before = source[..at].chars().next_back();
            let after = source[end..].chars().next();
            if before.is_some_and(is_word) || after.is_some_and(is_word) {
                from = at + source[at..].chars().next().map_or(1, char::len_utf8);
                continue;
            }
            out.push_str(&source[copied..at]);
            out.push_str(ANONYMIZED);
            (copied, from) = (end, end);
        }
        if copied > 0 {
            out.push_str(&source[copied..]);
            current = Some(out);
        }
    }
    current
}

/// The details as text, for a `LIKE` search.
fn details_text(backend: DbBackend) -> Expr {
    Expr::cust(match backend {
        DbBackend::Postgres => "CAST(details AS text)",
        DbBackend::MySql => "CAST(details AS CHAR)",
        _ => "details",
    })
}

impl SeaOrmStore {
    /// Anonymizes the data subject whose actor id is `subject`, in every
    /// tenant, and returns how many entries changed. The entries stay: what
    /// happened remains auditable, but no longer by whom.
    ///
    /// Exactly this is removed:
    ///
    /// - from every entry where the subject is the actor: the actor id and
    ///   label, the IP address and the user agent (the actor kind stays), and
    ///   the detail keys listed in the policy, at any depth;
    /// - from every entry on the subject as a resource (the resource type is
    ///   one of the policy's subject resource types, `user` by default, and
    ///   the resource id is the subject's id): the resource id;
    /// - inside the details of those entries, and of every other entry unless
    ///   [`search_all_details`](AnonymizePolicy::search_all_details) is off:
    ///   each occurrence of the subject's id as a whole word, in values and in
    ///   keys, and in the subject's own entries of their IP address and user
    ///   agent, is replaced by [`ANONYMIZED`].
    ///
    /// IP addresses and user agents in entries of other actors are left as
    /// they are, even when the subject once used the same ones.
    ///
    /// The work is done in chunks of [`chunk_size`](SeaOrmStore::chunk_size)
    /// entries, each its own short transaction, so the table stays writable.
    /// At the end an [`activity.anonymized`](ANONYMIZED_ACTION) event is
    /// written with the number of entries changed; it is filled from the
    /// current context like any event, then anonymized itself, so it cannot
    /// carry the subject's identity (not even when the subject asked for their
    /// own erasure). Running it again changes nothing and returns 0.
    ///
    /// Actor ids are taken to identify one person across tenants.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sea_orm_activity::{log_activity_in, ActivityMigrator, AnonymizePolicy, SeaOrmStore};
    /// use sea_orm_migration::MigratorTrait;
    /// use tower_activity::{Action, ActivityEvent, Actor};
    ///
    /// let db = sea_orm::Database::connect("sqlite::memory:").await?;
    /// ActivityMigrator::up(&db, None).await?;
    /// let event = ActivityEvent::builder(Action::Update)
    ///     .actor(Actor::user("u_42").with_label("Ada"))
    ///     .ip("192.0.2.7".parse()?)
    ///     .detail("email", "ada@example.com")
    ///     .build()?;
    /// let written = log_activity_in(&db, event).await?;
    ///
    /// let store = SeaOrmStore::new(db);
    /// assert_eq!(store.anonymize("u_42", &AnonymizePolicy::new()).await?, 1);
    /// assert_eq!(store.anonymize("u_42", &AnonymizePolicy::new()).await?, 0);
    /// # use tower_activity::ActivityStore;
    /// let kept = store.get(written.id).await?.unwrap();
    /// assert_eq!((kept.actor.unwrap().id, kept.ip), (None, None));
    /// assert_eq!(kept.details, Some(serde_json::json!({})));
    /// # Ok(()) }
    /// ```
    pub async fn anonymize(&self, subject: &str, policy: &AnonymizePolicy) -> Result<u64, DbErr> {
        if subject.trim().is_empty() {
            return Err(DbErr::Custom("cannot anonymize an empty actor id".to_owned()));
        }
        let mut candidates = Condition::any().add(Column::ActorId.eq(subject));
        if !policy.subject_resource_types.is_empty() {
            candidates = candidates.add(
                Condition::all()
                    .add(Column::ResourceType.is_in(policy.subject_resource_types.iter().map(String::as_str)))
                    .add(Column::ResourceId.eq(subject)),
            );
        }
        if policy.search_all_details {
            let json = serde_json::to_string(subject).map_err(|error| DbErr::Json(error.to_string()))?;
            let escaped = &json[1..json.len() - 1];
            candidates = candidates
                .add(details_text(self.db.get_database_backend()).like(like_literal("%", escaped, "%")));
        }
        let mut changed = 0;
        let mut after = None;
        loop {
            let txn = self.db.begin().await?;
            let mut select = Entity::find().filter(candidates.clone());
            if let Some(after) = after {
                select = select.filter(Column::Id.gt(after));
            }
            let rows = select
                .order_by_asc(Column::Id)
                .limit(self.chunk_size as u64)
                .all(&txn)
                .await?;
            let done = rows.len() < self.chunk_size;
            after = rows.last().map(|row| row.id);
            for mut row in rows {
                if policy.apply(&mut row, subject) {
                    update(&txn, row).await?;
                    changed += 1;
                }
            }
            txn.commit().await?;
            if done {
                break;
            }
        }
        record(&self.db, subject, policy, changed).await?;
        Ok(changed)
    }
}

/// Writes the anonymized columns of `row`.
async fn update<C: ConnectionTrait>(db: &C, row: Model) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::ActorId, Expr::value(row.actor_id))
        .col_expr(Column::ActorLabel, Expr::value(row.actor_label))
        .col_expr(Column::Ip, Expr::value(row.ip))
        .col_expr(Column::UserAgent, Expr::value(row.user_agent))
        .col_expr(Column::ResourceId, Expr::value(row.resource_id))
        .col_expr(Column::Details, Expr::value(row.details))
        .filter(Column::Id.eq(row.id))
        .exec(db)
        .await?;
    Ok(())
}

/// Writes the `activity.anonymized` event, itself anonymized for `subject`.
async fn record<C: ConnectionTrait>(
    db: &C,
    subject: &str,
    policy: &AnonymizePolicy,
    changed: u64,
) -> Result<(), DbErr> {
    let event = ActivityEvent::builder(
        Action::custom(ANONYMIZED_ACTION).map_err(|error| DbErr::Custom(error.to_string()))?,
    )
    .detail("entries", changed)
    .build()
    .map_err(|error| DbErr::Custom(error.to_string()))?;
    let mut row = ActiveModel::from(&prepare_event(event)).try_into_model()?;
    policy.apply(&mut row, subject);
    insert_events(db, &[ActivityEvent::try_from(row)?]).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(text: &str, values: &[&str]) -> Option<String> {
        let values: Vec<String> = values.iter().map(|value| value.to_string()).collect();
        replace_words(text, &values)
    }

    #[test]
    fn only_whole_word_occurrences_are_replaced() {
        assert_eq!(words("u_42", &["u_42"]).as_deref(), Some(ANONYMIZED));
        assert_eq!(
            words("merged u_42 into u_7 (u_42)", &["u_42"]).as_deref(),
            Some("merged [ANONYMIZED] into u_7 ([ANONYMIZED])")
        );
        assert_eq!(words("u_420 xu_42", &["u_42"]), None);
        assert_eq!(
            words("u_420 u_42", &["u_42"]).as_deref(),
            Some("u_420 [ANONYMIZED]")
        );
        assert_eq!(words("aaa", &["aa"]), None);
        assert_eq!(
            words("from 10.0.0.1 by u_42", &["u_42", "10.0.0.1"]).as_deref(),
            Some("from [ANONYMIZED] by [ANONYMIZED]")
        );
        assert_eq!(words("anything", &[""]), None);
    }

    #[test]
    fn keys_and_nested_values_are_replaced() {
        let mut details = json!({"u_42": {"members": ["u_1", "u_42"]}, "note": "u_42"});
        replace_values(&mut details, &["u_42".to_owned()]);
        assert_eq!(
            details,
            json!({ANONYMIZED: {"members": ["u_1", ANONYMIZED]}, "note": ANONYMIZED})
        );
    }

    #[test]
    fn listed_keys_are_removed_at_any_depth() {
        let policy = AnonymizePolicy::new().remove_key("iban");
        let mut details =
            json!({"profile": {"userEmail": "a@b", "IBAN": "DE00", "plan": "pro"}, "phone": "1"});
        policy.remove_keys(&mut details);
        assert_eq!(details, json!({"profile": {"plan": "pro"}}));
    }
}
