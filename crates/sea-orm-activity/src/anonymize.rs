//! GDPR: anonymizing a data subject while keeping what happened auditable.

use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, IsolationLevel, QueryFilter,
    QueryOrder, QuerySelect, SqliteTransactionMode, TransactionOptions, TransactionTrait, TryIntoModel,
};
use serde_json::{Map, Value};
use tower_activity::{Action, ActivityEvent, MAX_ID_CHARS, MAX_ROUTE_CHARS, Scrubber, prepare_event};

use crate::entity::{ActiveModel, Column, Entity, Model};
use crate::filter::like_literal;
use crate::sink::insert_events;
use crate::store::SeaOrmStore;

/// The action of the event that records an anonymization. It carries the
/// number of entries changed, never the subject's identity.
pub const ANONYMIZED_ACTION: &str = "activity.anonymized";

/// What replaces the subject's id, labels, IP addresses and user agents
/// inside details, resource ids and routes.
pub const ANONYMIZED: &str = "[ANONYMIZED]";

/// The detail keys removed by default from the entries by and about the
/// subject; matched as [`Scrubber`] matches secret keys (`email` also matches
/// `userEmail` and `email_address`).
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

/// Why [`SeaOrmStore::anonymize`] failed.
///
/// Its message is this layer's only: the underlying error, if any, is its
/// [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnonymizeError {
    /// The actor id is empty or blank: it names no data subject.
    #[error("cannot anonymize an empty actor id")]
    EmptySubject,
    /// The database failed. Chunks already rewritten stay rewritten; running
    /// the anonymization again finishes the work.
    #[error("reading or rewriting the activity log failed")]
    Database(#[from] DbErr),
}

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
    /// The default policy: [`DEFAULT_PERSONAL_KEYS`] removed from the entries
    /// by and about the subject, `user` as the resource type naming data
    /// subjects, and every entry searched for the subject's id and labels.
    pub fn new() -> Self {
        AnonymizePolicy {
            keys: Scrubber::new()
                .redact_only(DEFAULT_PERSONAL_KEYS)
                .detect_card_numbers(false),
            subject_resource_types: vec!["user".to_owned()],
            search_all_details: true,
        }
    }

    /// Also removes detail keys matching `pattern` from the entries by and
    /// about the subject.
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
    /// resource `resource_type` / subject id is about the subject.
    pub fn subject_resource_type(mut self, resource_type: impl Into<String>) -> Self {
        self.subject_resource_types.push(resource_type.into());
        self
    }

    /// Whether every entry, not only those by and about the subject, is
    /// searched for the subject's id and labels, in its details, resource id
    /// and route (on by default). The search reads the whole table once, in
    /// chunks.
    pub fn search_all_details(mut self, on: bool) -> Self {
        self.search_all_details = on;
        self
    }

    /// Whether `row` is on the subject `subject` as a resource.
    fn is_about(&self, row: &Model, subject: &str) -> bool {
        row.resource_id.as_deref() == Some(subject)
            && row
                .resource_type
                .as_ref()
                .is_some_and(|kind| self.subject_resource_types.contains(kind))
    }

    /// Anonymizes `row` in place for `subject`; returns whether it changed.
    fn apply(&self, row: &mut Model, subject: &Subject) -> bool {
        let before = row.clone();
        let own = row.actor_id.as_deref() == Some(subject.id.as_str());
        let about = self.is_about(row, &subject.id);
        let words = if own || about {
            &subject.traces
        } else {
            &subject.names
        };
        if own {
            row.actor_id = None;
            row.actor_label = None;
            row.ip = None;
            row.user_agent = None;
        }
        if about {
            row.resource_id = None;
        }
        if let Some(details) = &mut row.details {
            if own || about {
                self.remove_keys(details);
            }
            replace_values(details, &words.text);
        }
        replace_in_column(&mut row.resource_id, &words.text, MAX_ID_CHARS);
        replace_in_column(&mut row.route, &words.route, MAX_ROUTE_CHARS);
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

    /// The entries to rewrite besides the subject's own: those about the
    /// subject, and unless the search is off, those that may name them;
    /// `None` when there are none.
    fn others(&self, subject: &Subject, backend: DbBackend) -> Option<Condition> {
        if self.subject_resource_types.is_empty() && !self.search_all_details {
            return None;
        }
        let mut candidates = Condition::any();
        if !self.subject_resource_types.is_empty() {
            candidates = candidates.add(
                Condition::all()
                    .add(Column::ResourceType.is_in(self.subject_resource_types.iter().map(String::as_str)))
                    .add(Column::ResourceId.eq(subject.id.as_str())),
            );
        }
        if self.search_all_details {
            // A coarse search, which may find more than whole words (and, on
            // SQLite and MySQL, ignores case): `apply` decides.
            for name in &subject.names.text {
                let json = Value::from(name.as_str()).to_string();
                candidates = candidates
                    .add(details_text(backend).like(like_literal("%", &json[1..json.len() - 1], "%")))
                    .add(Column::ResourceId.like(like_literal("%", name, "%")));
            }
            for name in &subject.names.route {
                candidates = candidates.add(Column::Route.like(like_literal("%", name, "%")));
            }
        }
        let not_own = Condition::any()
            .add(Column::ActorId.is_null())
            .add(Column::ActorId.ne(subject.id.as_str()));
        Some(Condition::all().add(not_own).add(candidates))
    }
}

/// What identifies a data subject in text.
#[derive(Debug)]
struct Subject {
    /// The subject's actor id.
    id: String,
    /// Searched in every entry covered: the id and the labels the subject
    /// acted under.
    names: Words,
    /// Searched in the entries by and about the subject: the names, and the
    /// IP addresses and user agents the subject acted from.
    traces: Words,
}

/// Texts to replace, longest first, so that a text holding another (`Ada
/// Lovelace` and `Ada`) is replaced whole.
#[derive(Debug, Default)]
struct Words {
    /// As they are: in details and resource ids.
    text: Vec<String>,
    /// As they are and percent-encoded: in routes, which may be raw paths.
    route: Vec<String>,
}

/// What a client may leave unencoded in a path segment: everything but
/// controls, space and the characters that end or split a segment.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// What a client may encode: everything but the unreserved characters.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl Words {
    fn new(texts: Vec<String>) -> Words {
        let mut route = texts.clone();
        for text in &texts {
            for set in [PATH_SEGMENT, NOT_UNRESERVED] {
                route.push(utf8_percent_encode(text, set).to_string());
            }
        }
        Words {
            text: longest_first(texts),
            route: longest_first(route),
        }
    }
}

fn longest_first(mut texts: Vec<String>) -> Vec<String> {
    texts.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    texts.dedup();
    texts
}

impl Subject {
    /// The subject `id`, with the labels, IP addresses and user agents of
    /// their entries. Texts that are blank, or that would be found inside
    /// [`ANONYMIZED`] itself, are left out: they identify no one, and
    /// replacing them would never end.
    async fn find<C: ConnectionTrait>(db: &C, id: &str) -> Result<Subject, DbErr> {
        let mut names = vec![id.to_owned()];
        names.extend(distinct(db, id, Column::ActorLabel).await?);
        let mut traces = names.clone();
        traces.extend(distinct(db, id, Column::Ip).await?);
        traces.extend(distinct(db, id, Column::UserAgent).await?);
        let keep = |texts: Vec<String>| -> Vec<String> {
            texts
                .into_iter()
                .filter(|text| {
                    !text.trim().is_empty() && replace_words(ANONYMIZED, std::slice::from_ref(text)).is_none()
                })
                .collect()
        };
        Ok(Subject {
            id: id.to_owned(),
            names: Words::new(keep(names)),
            traces: Words::new(keep(traces)),
        })
    }
}

/// The distinct values of `column` in the entries by `id`.
async fn distinct<C: ConnectionTrait>(db: &C, id: &str, column: Column) -> Result<Vec<String>, DbErr> {
    Entity::find()
        .select_only()
        .column(column)
        .distinct()
        .filter(Column::ActorId.eq(id))
        .filter(column.is_not_null())
        .into_tuple()
        .all(db)
        .await
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

/// Replaces each of `values`, as a whole word, in `column`, which then keeps
/// at most `max_chars` characters (the column's size).
fn replace_in_column(column: &mut Option<String>, values: &[String], max_chars: usize) {
    if let Some(text) = column
        && let Some(mut replaced) = replace_words(text, values)
    {
        if let Some((at, _)) = replaced.char_indices().nth(max_chars) {
            replaced.truncate(at);
        }
        *text = replaced;
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

/// How a chunk's transaction starts so that the rows it reads stay as read
/// until it commits: the rows are read `FOR UPDATE` on PostgreSQL and MySQL;
/// MySQL runs it at `READ COMMITTED`, so that it locks the rows it reads
/// rather than the gaps between them too, and inserts keep flowing; SQLite,
/// which has no row locks, takes its write lock when the transaction starts.
fn row_locking(backend: DbBackend) -> TransactionOptions {
    match backend {
        DbBackend::Sqlite => TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        },
        DbBackend::MySql => TransactionOptions {
            isolation_level: Some(IsolationLevel::ReadCommitted),
            ..TransactionOptions::default()
        },
        _ => TransactionOptions::default(),
    }
}

impl SeaOrmStore {
    /// Anonymizes the data subject whose actor id is `subject`, in every
    /// tenant, and returns how many entries changed. The entries stay: what
    /// happened remains auditable, but no longer by or about whom.
    ///
    /// First the labels, IP addresses and user agents of the subject's own
    /// entries are collected. Then exactly this is removed:
    ///
    /// - from every entry by the subject (the actor id is the subject's): the
    ///   actor id and label, the IP address and the user agent (the actor
    ///   kind stays);
    /// - from every entry about the subject (the resource type is one of the
    ///   policy's subject resource types, `user` by default, and the resource
    ///   id is the subject's id): the resource id;
    /// - from the details of the entries by and about the subject: the detail
    ///   keys the policy lists ([`DEFAULT_PERSONAL_KEYS`] by default), at any
    ///   depth;
    /// - in the details (values and keys), the resource id and the route of
    ///   every entry, or of the entries by and about the subject only when
    ///   [`search_all_details`](AnonymizePolicy::search_all_details) is off:
    ///   each occurrence, as a whole word, of the subject's id and of each
    ///   label they acted under is replaced by [`ANONYMIZED`]; in the entries
    ///   by and about the subject, so is each of their IP addresses and user
    ///   agents. Routes, which can be raw request paths, are also searched
    ///   for the percent-encoded forms (`Ada%20Lovelace`).
    ///
    /// A label is replaced wherever it occurs as a whole word, even where it
    /// means something else: a subject labelled `Ada` takes `Ada` out of every
    /// entry. IP addresses and user agents in entries neither by nor about the
    /// subject are left as they are, even when the subject once used the same
    /// ones (an address is often shared). A resource id or route that grows
    /// past its column's size is cut.
    ///
    /// The work is done in chunks of [`chunk_size`](SeaOrmStore::chunk_size)
    /// entries, each read and rewritten in its own short transaction, so the
    /// table stays writable. The rows of a chunk are locked while it is
    /// rewritten (`SELECT … FOR UPDATE` on PostgreSQL and MySQL, at `READ
    /// COMMITTED` on MySQL so that inserts are not blocked; a write
    /// transaction from the start on SQLite), so two anonymizations of
    /// entries they share, such as an entry naming two subjects, cannot undo
    /// each other's changes.
    ///
    /// The subject's own entries are rewritten last, so a run that fails
    /// part-way still finds the subject's labels when run again. At the end an
    /// [`activity.anonymized`](ANONYMIZED_ACTION) event is written with the
    /// number of entries changed; it is filled from the current context like
    /// any event, then anonymized itself, so it cannot carry the subject's
    /// identity (not even when the subject asked for their own erasure).
    /// Running it again changes nothing and returns 0.
    ///
    /// Actor ids are taken to identify one person across tenants.
    ///
    /// # Errors
    ///
    /// [`AnonymizeError::EmptySubject`] when `subject` is blank, before
    /// anything is read; [`AnonymizeError::Database`] when the database fails,
    /// leaving the chunks already rewritten as they are.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use sea_orm_activity::{log_activity_in, ActivityMigrator, AnonymizePolicy, SeaOrmStore};
    /// use sea_orm_migration::MigratorTrait;
    /// use tower_activity::{Action, ActivityEvent, ActivityStore, Actor};
    ///
    /// let db = sea_orm::Database::connect("sqlite::memory:").await?;
    /// ActivityMigrator::up(&db, None).await?;
    /// let event = ActivityEvent::builder(Action::Update)
    ///     .actor(Actor::user("u_42").with_label("Ada"))
    ///     .ip("192.0.2.7".parse()?)
    ///     .detail("email", "ada@example.com")
    ///     .build()?;
    /// let own = log_activity_in(&db, event).await?;
    /// let event = ActivityEvent::builder(Action::Update)
    ///     .actor(Actor::admin("root"))
    ///     .resource("user", "u_42")
    ///     .route("/admin/users/u_42")
    ///     .detail("phone", "+44 20 1234")
    ///     .detail("note", "Ada asked for it")
    ///     .build()?;
    /// let about = log_activity_in(&db, event).await?;
    ///
    /// let store = SeaOrmStore::new(db);
    /// assert_eq!(store.anonymize("u_42", &AnonymizePolicy::new()).await?, 2);
    /// assert_eq!(store.anonymize("u_42", &AnonymizePolicy::new()).await?, 0);
    ///
    /// let own = store.get(own.id).await?.unwrap();
    /// assert_eq!((own.actor.unwrap().id, own.ip), (None, None));
    /// assert_eq!(own.details.unwrap(), serde_json::json!({}));
    /// let about = store.get(about.id).await?.unwrap();
    /// assert_eq!((about.resource_id, about.route.as_deref()), (None, Some("/admin/users/[ANONYMIZED]")));
    /// assert_eq!(about.details.unwrap(), serde_json::json!({"note": "[ANONYMIZED] asked for it"}));
    /// # Ok(()) }
    /// ```
    pub async fn anonymize(&self, subject: &str, policy: &AnonymizePolicy) -> Result<u64, AnonymizeError> {
        if subject.trim().is_empty() {
            return Err(AnonymizeError::EmptySubject);
        }
        let subject = Subject::find(&self.db, subject).await?;
        let mut changed = 0;
        if let Some(others) = policy.others(&subject, self.db.get_database_backend()) {
            changed += self.rewrite(others, policy, &subject).await?;
        }
        let own = Condition::all().add(Column::ActorId.eq(subject.id.as_str()));
        changed += self.rewrite(own, policy, &subject).await?;
        record(&self.db, &subject, policy, changed).await?;
        Ok(changed)
    }

    /// Anonymizes the rows matching `condition`, in chunks in id order, each
    /// read with its rows locked and rewritten in one transaction; returns
    /// how many changed.
    async fn rewrite(
        &self,
        condition: Condition,
        policy: &AnonymizePolicy,
        subject: &Subject,
    ) -> Result<u64, DbErr> {
        let options = row_locking(self.db.get_database_backend());
        let mut changed = 0;
        let mut after = None;
        loop {
            let txn = self.db.begin_with_options(options).await?;
            let mut select = Entity::find().filter(condition.clone());
            if let Some(after) = after {
                select = select.filter(Column::Id.gt(after));
            }
            let rows = select
                .order_by_asc(Column::Id)
                .limit(self.chunk_size as u64)
                .lock_exclusive()
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
                return Ok(changed);
            }
        }
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
        .col_expr(Column::Route, Expr::value(row.route))
        .col_expr(Column::Details, Expr::value(row.details))
        .filter(Column::Id.eq(row.id))
        .exec(db)
        .await?;
    Ok(())
}

/// The action of the event recording an anonymization.
fn anonymized_action() -> Action {
    Action::custom(ANONYMIZED_ACTION).expect("ANONYMIZED_ACTION is a valid action name")
}

/// Writes the `activity.anonymized` event, itself anonymized for `subject`.
async fn record<C: ConnectionTrait>(
    db: &C,
    subject: &Subject,
    policy: &AnonymizePolicy,
    changed: u64,
) -> Result<(), DbErr> {
    let event = ActivityEvent::builder(anonymized_action())
        .detail("entries", changed)
        .build()
        .expect("the action is valid");
    let mut row = ActiveModel::from(&prepare_event(event)).try_into_model()?;
    policy.apply(&mut row, subject);
    insert_events(db, &[ActivityEvent::try_from(row)?]).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::error::Error as _;

    fn words(text: &str, values: &[&str]) -> Option<String> {
        let values: Vec<String> = values.iter().map(|value| value.to_string()).collect();
        replace_words(text, &values)
    }

    #[test]
    fn the_recording_action_is_valid() {
        assert_eq!(anonymized_action().as_str(), ANONYMIZED_ACTION);
    }

    #[test]
    fn errors_say_their_cause_once() {
        let error = AnonymizeError::EmptySubject;
        assert_eq!(error.to_string(), "cannot anonymize an empty actor id");
        assert!(error.source().is_none());
        let error = AnonymizeError::from(DbErr::Custom("disk full".to_owned()));
        assert!(!error.to_string().contains("disk full"), "{error}");
        let source = error.source().expect("the database error is the source");
        assert!(source.to_string().contains("disk full"), "{source}");
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

    #[test]
    fn a_longer_name_is_replaced_before_a_name_it_holds() {
        let names = Words::new(vec!["Ada".to_owned(), "Ada Lovelace".to_owned()]);
        assert_eq!(
            replace_words("Ada Lovelace and Ada", &names.text).as_deref(),
            Some("[ANONYMIZED] and [ANONYMIZED]")
        );
    }

    #[test]
    fn routes_are_searched_for_percent_encoded_names() {
        let names = Words::new(vec!["Zoë Ada".to_owned(), "ada+1@example.com".to_owned()]);
        for (route, expected) in [
            ("/users/Zo%C3%AB%20Ada/edit", "/users/[ANONYMIZED]/edit"),
            ("/users/ada+1@example.com", "/users/[ANONYMIZED]"),
            ("/users/ada%2B1%40example.com", "/users/[ANONYMIZED]"),
        ] {
            let mut column = Some(route.to_owned());
            replace_in_column(&mut column, &names.route, MAX_ROUTE_CHARS);
            assert_eq!(column.as_deref(), Some(expected), "{route}");
        }
    }

    #[test]
    fn a_replaced_column_is_cut_to_its_size() {
        let mut column = Some(format!("{} u_42", "é".repeat(243)));
        replace_in_column(&mut column, &["u_42".to_owned()], MAX_ID_CHARS);
        let cut = column.unwrap();
        assert_eq!(cut.chars().count(), MAX_ID_CHARS);
        assert!(cut.ends_with(" [ANONYMIZED"), "{cut}");
    }
}
