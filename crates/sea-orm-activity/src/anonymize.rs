//! GDPR: anonymizing a data subject while keeping what happened auditable.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait, TryIntoModel,
};
use tower_activity::{Action, ActivityEvent, prepare_event};

use crate::anonymize_policy::AnonymizePolicy;
use crate::anonymize_words::{Words, replace_words};
use crate::entity::{ActiveModel, Column, Entity, Model};
use crate::rewrite_lock::{self, row_locking};
use crate::seal::tables::seal_entry;
use crate::sink::insert_events;
use crate::store::SeaOrmStore;

/// The action of the event that records an anonymization. It carries the
/// number of entries changed, never the subject's identity.
pub const ANONYMIZED_ACTION: &str = "activity.anonymized";

/// What replaces the subject's id, labels, IP addresses and user agents
/// inside details, resource ids and routes.
pub const ANONYMIZED: &str = "[ANONYMIZED]";

/// The detail keys removed by default from the entries by and about the
/// subject; matched as [`Scrubber`](tower_activity::Scrubber) matches secret keys (`email` also matches
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

/// What identifies a data subject in text.
#[derive(Debug)]
pub(crate) struct Subject {
    /// The subject's actor id.
    pub(crate) id: String,
    /// Searched in every entry covered: the id and the labels the subject
    /// acted under.
    pub(crate) names: Words,
    /// Searched in the entries by and about the subject: the names, and the
    /// IP addresses and user agents the subject acted from.
    pub(crate) traces: Words,
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

/// The details as text, for a `LIKE` search.
pub(crate) fn details_text(backend: DbBackend) -> Expr {
    Expr::cust(match backend {
        DbBackend::Postgres => "CAST(details AS text)",
        DbBackend::MySql => "CAST(details AS CHAR)",
        _ => "details",
    })
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
            rewrite_lock::shared(&txn).await?;
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
    // A sealed entry keeps its commitment and loses its salt: it still
    // verifies, and the erased values cannot be guessed back from it.
    seal_entry::Entity::update_many()
        .col_expr(seal_entry::Column::Salt, Expr::value(Option::<Vec<u8>>::None))
        .filter(seal_entry::Column::EntryId.eq(row.id))
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
    // The toolkit's own actions pass every catalogue.
    let event = prepare_event(event).map_err(|violation| DbErr::Custom(violation.to_string()))?;
    let mut row = ActiveModel::from(&event).try_into_model()?;
    policy.apply(&mut row, subject);
    insert_events(db, &[ActivityEvent::try_from(row)?]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::error::Error as _;

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
}
