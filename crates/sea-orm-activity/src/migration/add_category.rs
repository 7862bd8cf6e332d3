//! The second migration: the event's catalogue category.

use sea_orm::sea_query::{ColumnDef, Table};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::prelude::{DbErr, MigrationName, MigrationTrait};
use sea_orm_migration::{SchemaManager, async_trait};
use tower_activity::MAX_CATEGORY_LEN;

use super::{create_index_if_missing, drop_index_if_present};
use crate::entity::{Column, Entity};

/// Adds the nullable `category` column (the action's catalogue category, at
/// most [`MAX_CATEGORY_LEN`] characters) and the index `(category, id)` that
/// filtering by category reads, to a table
/// [`CreateActivityLog`](super::CreateActivityLog) made.
///
/// Existing rows keep no category. Like the first migration it may run
/// twice (through an application's migrator and
/// [`ActivityMigrator`](super::ActivityMigrator)): the
/// column and the index are added only when missing, as the schema
/// (`information_schema`, or SQLite's `pragma_table_info`) reports them,
/// since MySQL 8 has no `ADD COLUMN IF NOT EXISTS`.
#[derive(Clone, Copy, Debug, Default)]
pub struct AddCategory;

impl AddCategory {
    /// The migration's name, as recorded in the migrations table.
    pub const NAME: &'static str = "sea_orm_activity_m0002_add_category";
    /// The index on `(category, id)`.
    const INDEX: &'static str = "ix_activity_log_category";
}

impl MigrationName for AddCategory {
    fn name(&self) -> &str {
        Self::NAME
    }
}

/// Whether `sql`, a query of the schema, finds a row.
async fn schema_has(manager: &SchemaManager<'_>, sql: &str) -> Result<bool, DbErr> {
    let backend = manager.get_database_backend();
    let row = manager
        .get_connection()
        .query_one_raw(Statement::from_string(backend, sql))
        .await?;
    Ok(row.is_some())
}

/// Whether the `activity_log` table has the `category` column.
async fn has_category(manager: &SchemaManager<'_>) -> Result<bool, DbErr> {
    let sql = match manager.get_database_backend() {
        DbBackend::Sqlite => "SELECT 1 FROM pragma_table_info('activity_log') WHERE name = 'category'",
        DbBackend::Postgres => {
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name = 'activity_log' AND column_name = 'category'"
        }
        _ => {
            "SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = 'activity_log' AND COLUMN_NAME = 'category'"
        }
    };
    schema_has(manager, sql).await
}

#[async_trait::async_trait]
impl MigrationTrait for AddCategory {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !has_category(manager).await? {
            let mut column = ColumnDef::new(Column::Category);
            column.string_len(MAX_CATEGORY_LEN as u32).null();
            manager
                .alter_table(Table::alter().table(Entity).add_column(&mut column).take())
                .await?;
        }
        create_index_if_missing(manager, Self::INDEX, &[Column::Category, Column::Id]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !has_category(manager).await? {
            return Ok(());
        }
        drop_index_if_present(manager, Self::INDEX).await?;
        manager
            .alter_table(Table::alter().table(Entity).drop_column(Column::Category).take())
            .await
    }
}
