//! The schema: the migration that creates the `activity_log` table and its
//! indexes, and a standalone migrator for applications that have none.

use sea_orm::sea_query::{Alias, ColumnDef, Index, IndexCreateStatement, Table};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::prelude::{DbErr, DynIden, IntoIden, MigrationName, MigrationTrait, MigratorTrait};
use sea_orm_migration::{SchemaManager, async_trait};
use tower_activity::{
    MAX_ACTION_LEN, MAX_ID_CHARS, MAX_IP_CHARS, MAX_METHOD_CHARS, MAX_REQUEST_ID_LEN,
    MAX_RESOURCE_TYPE_CHARS, MAX_ROUTE_CHARS, MAX_USER_AGENT_CHARS,
};

use crate::entity::{Column, Entity};

/// The name of the table where [`ActivityMigrator`] records the migrations
/// it has applied, apart from an application's own `seaql_migrations`.
pub const MIGRATIONS_TABLE: &str = "activity_log_migrations";

/// Every migration of this crate, in order: add them to your own `Migrator`.
///
/// Later versions of the crate append to this list, so extending your list
/// with it keeps the table up to date.
///
/// ```
/// use sea_orm_migration::prelude::*;
///
/// struct Migrator;
///
/// impl MigratorTrait for Migrator {
///     fn migrations() -> Vec<Box<dyn MigrationTrait>> {
///         let mut migrations: Vec<Box<dyn MigrationTrait>> = vec![/* your own migrations */];
///         migrations.extend(sea_orm_activity::migrations());
///         migrations
///     }
/// }
/// # assert_eq!(Migrator::migrations().len(), 2);
/// ```
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(CreateActivityLog), Box::new(AddFilterIndexes)]
}

/// Applies [`migrations`] and records them in its own table,
/// [`MIGRATIONS_TABLE`], for applications that do not use sea-orm migrations
/// themselves (the `activity-log migrate` command runs it).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), sea_orm::DbErr> {
/// use sea_orm_activity::ActivityMigrator;
/// use sea_orm_migration::MigratorTrait;
///
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// ActivityMigrator::up(&db, None).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ActivityMigrator;

impl MigratorTrait for ActivityMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        migrations()
    }

    fn migration_table_name() -> DynIden {
        Alias::new(MIGRATIONS_TABLE).into_iden()
    }
}

/// Creates the `activity_log` table and its indexes.
///
/// Its name, [`CreateActivityLog::NAME`], is prefixed with the crate's name so
/// it cannot collide with an application's migrations. The table and indexes
/// are created only if missing, so the migration may run through both an
/// application's migrator and [`ActivityMigrator`].
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

/// The index `name` on `columns` of the table.
fn index(name: &str, columns: &[Column]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(Entity);
    for column in columns {
        index.col(*column);
    }
    index
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

/// Adds the indexes of the later filters: (ip, id), behind the exact
/// client-IP filter ([`ActivityFilter::ip`](tower_activity::ActivityFilter::ip)
/// with an address), so that its pages are range reads in id order as the
/// tenant's and the actor's are. The other filters have no index (see
/// `BENCHMARKS.md` for their cost).
///
/// Indexes are made only if missing, so the migration may run through both
/// an application's migrator and [`ActivityMigrator`].
#[derive(Clone, Copy, Debug, Default)]
pub struct AddFilterIndexes;

impl AddFilterIndexes {
    /// The migration's name, as recorded in the migrations table.
    pub const NAME: &'static str = "sea_orm_activity_m0003_filter_indexes";
}

impl MigrationName for AddFilterIndexes {
    fn name(&self) -> &str {
        Self::NAME
    }
}

/// The indexes [`AddFilterIndexes`] makes: name and columns.
const FILTER_INDEXES: [(&str, &[Column]); 1] = [("ix_activity_log_ip", &[Column::Ip, Column::Id])];

/// Whether the table has the index `name` (MySQL, which has no
/// `CREATE INDEX IF NOT EXISTS`).
async fn has_index(manager: &SchemaManager<'_>, name: &str) -> Result<bool, DbErr> {
    let query = Statement::from_sql_and_values(
        DbBackend::MySql,
        "SELECT 1 FROM information_schema.STATISTICS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = ? LIMIT 1",
        ["activity_log".into(), name.into()],
    );
    Ok(manager.get_connection().query_one_raw(query).await?.is_some())
}

#[async_trait::async_trait]
impl MigrationTrait for AddFilterIndexes {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mysql = manager.get_database_backend() == DbBackend::MySql;
        for (name, columns) in FILTER_INDEXES {
            let mut index = index(name, columns);
            if !mysql {
                manager.create_index(index.if_not_exists().take()).await?;
            } else if !has_index(manager, name).await? {
                manager.create_index(index).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mysql = manager.get_database_backend() == DbBackend::MySql;
        for (name, _) in FILTER_INDEXES {
            if mysql && !has_index(manager, name).await? {
                continue;
            }
            let mut drop = Index::drop();
            drop.name(name).table(Entity);
            if !mysql {
                drop.if_exists();
            }
            manager.drop_index(drop).await?;
        }
        Ok(())
    }
}
