//! The third migration: the indexes of the later filters.

use sea_orm_migration::prelude::{DbErr, MigrationName, MigrationTrait};
use sea_orm_migration::{SchemaManager, async_trait};

use super::{create_index_if_missing, drop_index_if_present};
use crate::entity::Column;

/// Adds the indexes of the later filters: (ip, id), behind the exact
/// client-IP filter ([`ActivityFilter::ip`](tower_activity::ActivityFilter::ip)
/// with an address), so that its pages are range reads in id order as the
/// tenant's and the actor's are. The other filters have no index (see
/// `BENCHMARKS.md` for their cost).
///
/// Indexes are made only if missing, so the migration may run through both
/// an application's migrator and
/// [`ActivityMigrator`](super::ActivityMigrator).
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

#[async_trait::async_trait]
impl MigrationTrait for AddFilterIndexes {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns) in FILTER_INDEXES {
            create_index_if_missing(manager, name, columns).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in FILTER_INDEXES {
            drop_index_if_present(manager, name).await?;
        }
        Ok(())
    }
}
