//! Writing events: chunked multi-row inserts, idempotent on the event id.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, TransactionTrait};
use tower_activity::{ActivityEvent, ActivitySink, SinkError};

use crate::entity::{ActiveModel, Entity};
use crate::store::SeaOrmStore;

/// The bound parameters of one row.
const COLUMNS: usize = 17;

/// The most bytes of values one insert statement carries, well below the
/// smallest default packet limit (16 MiB on MariaDB).
const MAX_STATEMENT_BYTES: usize = 4 * 1024 * 1024;

/// The most parameters one statement may bind on `backend`.
fn max_parameters(backend: DbBackend) -> usize {
    match backend {
        DbBackend::Sqlite => 32_766,
        _ => 65_535,
    }
}

/// About how many bytes `event`'s values take in a statement.
fn estimated_bytes(event: &ActivityEvent) -> usize {
    let text = |value: Option<&str>| value.map_or(0, str::len);
    let actor = event.actor.as_ref();
    let details = event
        .details
        .as_ref()
        .and_then(|details| serde_json::to_vec(details).ok())
        .map_or(0, |json| json.len());
    128 + text(event.resource_type.as_deref())
        + text(event.resource_id.as_deref())
        + text(actor.and_then(|actor| actor.id.as_deref()))
        + text(actor.and_then(|actor| actor.label.as_deref()))
        + text(event.tenant_id.as_deref())
        + text(event.request_id.as_deref())
        + text(event.ip.as_deref())
        + text(event.user_agent.as_deref())
        + text(event.method.as_deref())
        + text(event.route.as_deref())
        + details
}

/// Inserts `events` with as few multi-row statements as the backend's
/// parameter limit and [`MAX_STATEMENT_BYTES`] allow. An event whose id is
/// already stored is skipped, so writing a batch again keeps one row each.
pub(crate) async fn insert_events<C: ConnectionTrait>(db: &C, events: &[ActivityEvent]) -> Result<(), DbErr> {
    let max_rows = max_parameters(db.get_database_backend()) / COLUMNS;
    let mut rest = events;
    while !rest.is_empty() {
        let mut rows = 0;
        let mut bytes = 0;
        while rows < rest.len() && rows < max_rows {
            bytes += estimated_bytes(&rest[rows]);
            if rows > 0 && bytes > MAX_STATEMENT_BYTES {
                break;
            }
            rows += 1;
        }
        let (chunk, tail) = rest.split_at(rows);
        Entity::insert_many(chunk.iter().map(ActiveModel::from))
            .on_conflict_do_nothing()
            .exec_without_returning(db)
            .await?;
        rest = tail;
    }
    Ok(())
}

/// Each batch is one transaction of multi-row inserts: written whole or not at
/// all, so the recorder's retry of a failed batch cannot leave half of it; an
/// event already stored (a retried batch that had been committed after all)
/// keeps its one row.
impl ActivitySink for SeaOrmStore {
    async fn write_batch(&self, batch: &[ActivityEvent]) -> Result<(), SinkError> {
        let txn = self.db.begin().await.map_err(SinkError::new)?;
        insert_events(&txn, batch).await.map_err(SinkError::new)?;
        txn.commit().await.map_err(SinkError::new)
    }
}
