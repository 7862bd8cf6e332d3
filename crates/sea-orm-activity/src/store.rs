//! [`SeaOrmStore`]: the activity log in a database, and its read side.

use chrono::NaiveDate;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use std::time::Duration;
use tower_activity::{
    ActivityCount, ActivityEvent, ActivityFilter, ActivityPage, ActivityQuery, ActivityStore, StoreError,
};
use uuid::Uuid;

use tower_activity::{read_action, read_outcome};

use crate::entity::{Column, Entity};
use crate::filter;

/// The default number of rows a prune, an anonymization or an export handles
/// per chunk.
pub const DEFAULT_CHUNK_SIZE: usize = 1_000;

/// The pause between two chunks of a prune by default.
pub const DEFAULT_CHUNK_PAUSE: Duration = Duration::from_millis(5);

/// The activity log in the `activity_log` table, over a sea-orm connection
/// to SQLite, PostgreSQL or MySQL / MariaDB.
///
/// It is the recorder's sink ([`ActivitySink`](tower_activity::ActivitySink):
/// each batch one transaction of multi-row inserts) and a store to read the log
/// from ([`ActivityStore`]: filtered keyset pages and counts). It also
/// [anonymizes](Self::anonymize) data subjects, [prunes](Self::prune) old
/// entries and [exports](Self::export) ranges. Cloning it is cheap: clones
/// share the connection pool.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sea_orm_activity::{ActivityMigrator, SeaOrmStore};
/// use sea_orm_migration::MigratorTrait;
/// use tower_activity::{Action, ActivityEvent, ActivityFilter, ActivityQuery, ActivityStore, Recorder};
///
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// ActivityMigrator::up(&db, None).await?;
/// let store = SeaOrmStore::new(db);
///
/// let recorder = Recorder::builder(store.clone()).spawn();
/// let event = ActivityEvent::builder(Action::Create).resource("invoice", "inv_1").tenant("acme").build()?;
/// recorder.record(event)?;
/// recorder.shutdown().await;
///
/// let page = store.list(&ActivityQuery::new(ActivityFilter::new().tenant("acme"))).await?;
/// assert_eq!(page.events[0].resource_id.as_deref(), Some("inv_1"));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct SeaOrmStore {
    pub(crate) db: DatabaseConnection,
    pub(crate) chunk_size: usize,
    pub(crate) chunk_pause: Duration,
}

impl SeaOrmStore {
    /// A store over `db`. The table must exist: run [`ActivityMigrator`](crate::ActivityMigrator)
    /// or add [`migrations`](crate::migrations) to your migrator.
    pub fn new(db: DatabaseConnection) -> Self {
        SeaOrmStore {
            db,
            chunk_size: DEFAULT_CHUNK_SIZE,
            chunk_pause: DEFAULT_CHUNK_PAUSE,
        }
    }

    /// Sets how many rows a prune, an anonymization or an export handles per
    /// chunk (each chunk of a prune or an anonymization is one short
    /// transaction). The default is [`DEFAULT_CHUNK_SIZE`].
    pub fn chunk_size(mut self, rows: usize) -> Self {
        self.chunk_size = rows.max(1);
        self
    }

    /// Sets the pause between two chunks of a prune, which spreads a large
    /// prune's writes so that the database keeps answering inserts quickly.
    /// The default is [`DEFAULT_CHUNK_PAUSE`].
    pub fn chunk_pause(mut self, pause: Duration) -> Self {
        self.chunk_pause = pause;
        self
    }

    /// The connection.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// How many events match `filter`.
    pub async fn count(&self, filter: &ActivityFilter) -> Result<u64, DbErr> {
        Entity::find()
            .filter(filter::condition(filter, self.db.get_database_backend()))
            .count(&self.db)
            .await
    }

    async fn count_by_day(&self, filter: &ActivityFilter) -> Result<Vec<ActivityCount>, DbErr> {
        let backend = self.db.get_database_backend();
        let day = filter::day(backend);
        let rows: Vec<(String, String, String, i64)> = Entity::find()
            .select_only()
            .expr_as(day.clone(), "day")
            .column(Column::Action)
            .column(Column::Outcome)
            .expr_as(Expr::cust("COUNT(*)"), "count")
            .filter(filter::condition(filter, backend))
            .group_by(day.clone())
            .group_by(Column::Action)
            .group_by(Column::Outcome)
            .into_tuple()
            .all(&self.db)
            .await?;
        // Values this version cannot read are counted under their fallbacks
        // (see `ActivityEvent::read_columns`), merged with the readable ones.
        let mut counts = Vec::with_capacity(rows.len());
        for (day, action, outcome, count) in rows {
            let invalid =
                |what: &str, value: &str| DbErr::Type(format!("activity_log: invalid {what} {value:?}"));
            counts.push(ActivityCount {
                day: NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|_| invalid("day", &day))?,
                action: read_action(None, &action),
                outcome: read_outcome(None, &outcome),
                count: u64::try_from(count).map_err(|_| invalid("count", &count.to_string()))?,
            });
        }
        Ok(ActivityCount::tally(counts))
    }
}

/// Up to `limit` events matching `filter` in `order`, after the event `after`.
pub(crate) async fn read<C: ConnectionTrait>(
    db: &C,
    filter: &ActivityFilter,
    order: tower_activity::Order,
    after: Option<Uuid>,
    limit: usize,
) -> Result<Vec<ActivityEvent>, DbErr> {
    filter::page(filter, db.get_database_backend(), order, after, limit)
        .all(db)
        .await
        .and_then(|rows| rows.into_iter().map(ActivityEvent::try_from).collect())
}

/// Pages are cut on the time-ordered event id, never with `OFFSET`: rows
/// inserted while paging neither repeat nor shift the pages. Counts are sorted
/// by UTC day, then action, then outcome (in the order of [`Action`](tower_activity::Action)
/// and [`Outcome`](tower_activity::Outcome)), as the in-memory store sorts them.
/// Time bounds select what [`ActivityFilter::matches`] selects: times are
/// stored with microseconds, and a bound between two microseconds is rounded
/// up to the later one; a bound outside the years 1000 to 9999 (the range
/// every backend stores) is compared as the nearest time inside it.
///
/// A row holding a value this version cannot read (an unknown outcome, actor
/// kind or action name) does not fail the read: it is read with a fallback
/// (see the conversion from [`Model`](crate::entity::Model)). A row the
/// database driver itself cannot decode, which only a write by hand can leave
/// (on SQLite, details that are not JSON or a time that is not one), still
/// fails the read with the driver's error.
impl ActivityStore for SeaOrmStore {
    async fn list(&self, query: &ActivityQuery) -> Result<ActivityPage, StoreError> {
        let size = query.page_size();
        let after = query.after.map(|cursor| cursor.event_id());
        let events = read(&self.db, &query.filter, query.order, after, size + 1)
            .await
            .map_err(StoreError::new)?;
        Ok(ActivityPage::from_overfetch(events, size))
    }

    async fn get(&self, id: Uuid) -> Result<Option<ActivityEvent>, StoreError> {
        let row = Entity::find_by_id(id)
            .one(&self.db)
            .await
            .map_err(StoreError::new)?;
        row.map(ActivityEvent::try_from)
            .transpose()
            .map_err(StoreError::new)
    }

    async fn counts(&self, filter: &ActivityFilter) -> Result<Vec<ActivityCount>, StoreError> {
        self.count_by_day(filter).await.map_err(StoreError::new)
    }
}
