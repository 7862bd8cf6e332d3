//! The first migration: the `activity_log` table and its first indexes.

use sea_orm::sea_query::{Alias, ColumnDef, IndexCreateStatement, Table};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::prelude::{DbErr, MigrationName, MigrationTrait};
use sea_orm_migration::{SchemaManager, async_trait};
use tower_activity::{
    MAX_ACTION_LEN, MAX_ID_CHARS, MAX_IP_CHARS, MAX_METHOD_CHARS, MAX_REQUEST_ID_LEN,
    MAX_RESOURCE_TYPE_CHARS, MAX_ROUTE_CHARS, MAX_USER_AGENT_CHARS,
};

use super::index;
use crate::entity::{Column, Entity};

/// Creates the `activity_log` table and its indexes, as the first version
/// had it: [`AddCategory`](super::AddCategory) adds the `category` column.
///
/// Its name, [`CreateActivityLog::NAME`], is prefixed with the crate's name so
/// it cannot collide with an application's migrations. The table and indexes
/// are created only if missing, so the migration may run through both an
/// application's migrator and [`ActivityMigrator`](super::ActivityMigrator).
///
/// Column sizes follow the limits the event policy enforces
/// ([`MAX_ID_CHARS`] and the others). On MySQL and MariaDB the table is
/// `utf8mb4` (four-byte characters round-trip) and the time is `DATETIME(6)`. The collation is
/// binary and does not pad (`utf8mb4_nopad_bin` on MariaDB, `utf8mb4_0900_bin`
/// on MySQL 8), so ids compare exactly, trailing spaces included.
#[derive(Clone, Copy, Debug, Default)]
pub struct CreateActivityLog;

impl CreateActivityLog {
    /// The migration's name, as recorded in the migrations table.
    pub const NAME: &'static str = "sea_orm_activity_m0001_create_activity_log";
}

impl MigrationName for CreateActivityLog {
    fn name(&self) -> &str {
        Self::NAME
    }
}

/// The indexes behind the queries: each filter followed by the id, so a
/// filtered page is an index range read in id order.
fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        index("ix_activity_log_tenant_id", &[Column::TenantId, Column::Id]),
        index("ix_activity_log_actor_id", &[Column::ActorId, Column::Id]),
        index(
            "ix_activity_log_resource",
            &[Column::ResourceType, Column::ResourceId, Column::Id],
        ),
        index("ix_activity_log_request_id", &[Column::RequestId]),
        index("ix_activity_log_occurred_at", &[Column::OccurredAt]),
    ]
}

/// A binary `utf8mb4` collation that does not pad: ids compare byte for byte,
/// so `acme` matches neither `ACME` nor `acme ` (MariaDB's and MySQL 5.7's
/// `utf8mb4_bin` pads, which would make trailing spaces insignificant).
async fn exact_collation(manager: &SchemaManager<'_>) -> Result<String, DbErr> {
    let query = Statement::from_string(
        DbBackend::MySql,
        "SELECT COLLATION_NAME FROM information_schema.COLLATIONS \
         WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin') \
         ORDER BY COLLATION_NAME DESC",
    );
    match manager.get_connection().query_one_raw(query).await? {
        Some(row) => row.try_get_by_index(0),
        None => Ok("utf8mb4_bin".to_owned()),
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateActivityLog {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let text = |column: Column, chars: usize| {
            let mut def = ColumnDef::new(column);
            def.string_len(chars as u32);
            def
        };
        let mut occurred_at = ColumnDef::new(Column::OccurredAt);
        match backend {
            DbBackend::MySql => occurred_at.custom(Alias::new("DATETIME(6)")),
            _ => occurred_at.timestamp_with_time_zone(),
        };
        let mut details = ColumnDef::new(Column::Details);
        match backend {
            DbBackend::Postgres => details.json_binary(),
            _ => details.json(),
        };
        let mut table = Table::create();
        table
            .table(Entity)
            .if_not_exists()
            .col(ColumnDef::new(Column::Id).uuid().not_null().primary_key())
            .col(occurred_at.not_null())
            .col(text(Column::Action, MAX_ACTION_LEN).not_null())
            .col(text(Column::ResourceType, MAX_RESOURCE_TYPE_CHARS).null())
            .col(text(Column::ResourceId, MAX_ID_CHARS).null())
            .col(text(Column::ActorKind, 16).null())
            .col(text(Column::ActorId, MAX_ID_CHARS).null())
            .col(text(Column::ActorLabel, MAX_ID_CHARS).null())
            .col(text(Column::TenantId, MAX_ID_CHARS).null())
            .col(text(Column::Outcome, 16).not_null())
            .col(ColumnDef::new(Column::HttpStatus).integer().null())
            .col(text(Column::RequestId, MAX_REQUEST_ID_LEN).null())
            .col(text(Column::Ip, MAX_IP_CHARS).null())
            .col(text(Column::UserAgent, MAX_USER_AGENT_CHARS).null())
            .col(text(Column::Method, MAX_METHOD_CHARS).null())
            .col(text(Column::Route, MAX_ROUTE_CHARS).null())
            .col(details.null());
        if backend == DbBackend::MySql {
            // MySQL has no `CREATE INDEX IF NOT EXISTS`: the indexes are part
            // of the table statement, made together with the table or not at all.
            for mut index in indexes() {
                table.index(&mut index);
            }
            let collation = exact_collation(manager).await?;
            table.engine("InnoDB").character_set("utf8mb4").collate(collation);
            return manager.create_table(table).await;
        }
        manager.create_table(table).await?;
        for mut index in indexes() {
            manager.create_index(index.if_not_exists().take()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Entity).if_exists().take())
            .await
    }
}
