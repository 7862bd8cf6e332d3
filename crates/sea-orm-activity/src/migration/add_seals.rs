//! The fourth migration: the tables of sealing.

use sea_orm::DbBackend;
use sea_orm::sea_query::{Alias, ColumnDef, Index, IndexCreateStatement, Table, TableCreateStatement};
use sea_orm_migration::prelude::{DbErr, MigrationName, MigrationTrait};
use sea_orm_migration::{SchemaManager, async_trait};

use crate::seal::tables::{seal_entry, seal_row};

/// The most characters of a chain's name.
const MAX_CHAIN_CHARS: usize = 64;

/// Creates the two tables of a sealed log beside `activity_log`:
///
/// - `activity_seal`, one row per seal: its chain and sequence number (the
///   key), the previous seal's hash, the Merkle root, the count and the id
///   range of its entries, its time and its Ed25519 signature;
/// - `activity_seal_entry`, one row per sealed entry (keyed by the entry's
///   id, so no entry is sealed twice): its seal and place in it (unique),
///   the salt and the commitment to its erasable columns, its leaf hash and
///   short column digests.
///
/// The event's own table is unchanged: sealing stays storage beside the
/// event, so exports, the insert path and the event's fields do not change.
/// The tables stay empty unless a `Sealer` runs. Made only if missing, so the
/// migration may run through both an application's migrator and
/// [`ActivityMigrator`](super::ActivityMigrator).
#[derive(Clone, Copy, Debug, Default)]
pub struct AddSeals;

impl AddSeals {
    /// The migration's name, as recorded in the migrations table.
    pub const NAME: &'static str = "sea_orm_activity_m0004_add_seals";
    /// The unique index on a sealed entry's place.
    const PLACE_INDEX: &'static str = "ux_activity_seal_entry_place";
}

impl MigrationName for AddSeals {
    fn name(&self) -> &str {
        Self::NAME
    }
}

fn bytes(column: impl sea_orm::sea_query::IntoIden, length: u32) -> ColumnDef {
    let mut def = ColumnDef::new(column);
    def.var_binary(length);
    def
}

fn seals(backend: DbBackend) -> TableCreateStatement {
    use seal_row::{Column, Entity};
    let mut sealed_at = ColumnDef::new(Column::SealedAt);
    match backend {
        DbBackend::MySql => sealed_at.custom(Alias::new("DATETIME(6)")),
        _ => sealed_at.timestamp_with_time_zone(),
    };
    let mut table = Table::create();
    table
        .table(Entity)
        .if_not_exists()
        .col(
            ColumnDef::new(Column::Chain)
                .string_len(MAX_CHAIN_CHARS as u32)
                .not_null(),
        )
        .col(ColumnDef::new(Column::Sequence).big_integer().not_null())
        .col(bytes(Column::Previous, 32).not_null())
        .col(bytes(Column::Root, 32).not_null())
        .col(ColumnDef::new(Column::Count).big_integer().not_null())
        .col(ColumnDef::new(Column::FirstEntry).uuid().not_null())
        .col(ColumnDef::new(Column::LastEntry).uuid().not_null())
        .col(sealed_at.not_null())
        .col(bytes(Column::Signature, 64).null())
        .primary_key(Index::create().col(Column::Chain).col(Column::Sequence));
    table
}

fn place_index() -> IndexCreateStatement {
    use seal_entry::{Column, Entity};
    Index::create()
        .name(AddSeals::PLACE_INDEX)
        .table(Entity)
        .col(Column::Chain)
        .col(Column::Sequence)
        .col(Column::Position)
        .unique()
        .take()
}

fn seal_entries() -> TableCreateStatement {
    use seal_entry::{Column, Entity};
    let mut table = Table::create();
    table
        .table(Entity)
        .if_not_exists()
        .col(ColumnDef::new(Column::EntryId).uuid().not_null().primary_key())
        .col(
            ColumnDef::new(Column::Chain)
                .string_len(MAX_CHAIN_CHARS as u32)
                .not_null(),
        )
        .col(ColumnDef::new(Column::Sequence).big_integer().not_null())
        .col(ColumnDef::new(Column::Position).big_integer().not_null())
        .col(bytes(Column::Salt, 16).null())
        .col(bytes(Column::Commitment, 32).not_null())
        .col(bytes(Column::Leaf, 32).not_null())
        .col(bytes(Column::ColumnDigests, 128).not_null());
    table
}

#[async_trait::async_trait]
impl MigrationTrait for AddSeals {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let mut seals = seals(backend);
        let mut entries = seal_entries();
        if backend == DbBackend::MySql {
            // No `CREATE INDEX IF NOT EXISTS`: the index is made with the table.
            entries.index(&mut place_index());
            for table in [&mut seals, &mut entries] {
                table
                    .engine("InnoDB")
                    .character_set("utf8mb4")
                    .collate("utf8mb4_bin");
            }
            manager.create_table(seals).await?;
            return manager.create_table(entries).await;
        }
        manager.create_table(seals).await?;
        manager.create_table(entries).await?;
        manager.create_index(place_index().if_not_exists().take()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(seal_entry::Entity).if_exists().take())
            .await?;
        manager
            .drop_table(Table::drop().table(seal_row::Entity).if_exists().take())
            .await
    }
}
