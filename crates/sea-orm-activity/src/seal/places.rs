//! Writing the places of a seal's entries: one `activity_seal_entry` row per
//! entry (its seal and position, salt, commitment, leaf and column digests).

use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, Set, Statement};
use tower_activity::seal::{Salt, SealedEntry};
use uuid::Uuid;

use super::tables::seal_entry;

/// One sealed entry, as its place is written.
pub(super) struct Place {
    /// The entry's id.
    pub(super) entry_id: Uuid,
    /// The salt of its commitment.
    pub(super) salt: Salt,
    /// Its commitment, leaf and column digests.
    pub(super) sealed: SealedEntry,
}

/// Rows per statement: on PostgreSQL one statement binds an array per column
/// (about 170 bytes a row); elsewhere a multi-row `VALUES` list of eight
/// parameters a row, well within every backend's parameter limit.
fn rows_per_statement(backend: DbBackend) -> usize {
    match backend {
        DbBackend::Postgres => 10_000,
        _ => 500,
    }
}

/// Writes the places of `places`, the entries of seal `sequence` of `chain`
/// in order from position 0.
pub(super) async fn write_places<C: ConnectionTrait>(
    db: &C,
    chain: &str,
    sequence: i64,
    places: &[Place],
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    for (chunk, places) in places.chunks(rows_per_statement(backend)).enumerate() {
        let first = (chunk * rows_per_statement(backend)) as i64;
        match backend {
            DbBackend::Postgres => {
                db.execute_raw(unnest_statement(chain, sequence, first, places))
                    .await?;
            }
            _ => {
                let rows = places
                    .iter()
                    .zip(first..)
                    .map(|(place, position)| seal_entry::ActiveModel {
                        entry_id: Set(place.entry_id),
                        chain: Set(chain.to_owned()),
                        sequence: Set(sequence),
                        position: Set(position),
                        salt: Set(Some(place.salt.to_vec())),
                        commitment: Set(place.sealed.commitment.to_vec()),
                        leaf: Set(place.sealed.leaf.to_vec()),
                        column_digests: Set(place.sealed.column_digests.to_vec()),
                    });
                seal_entry::Entity::insert_many(rows)
                    .exec_without_returning(db)
                    .await?;
            }
        }
    }
    Ok(())
}

/// The PostgreSQL insert of `places`: the ids and each byte column bound as
/// one array (sent in PostgreSQL's binary format, which the server copies
/// rather than parses), unnested with their ordinality for the position.
/// The statement is the same whatever the number of rows, so it is prepared
/// once per connection; sea-orm's multi-row insert of the same rows costs
/// several times the insert itself, in the builder and in the server's
/// parsing and planning of thousands of parameters.
fn unnest_statement(chain: &str, sequence: i64, first: i64, places: &[Place]) -> Statement {
    const SQL: &str = "INSERT INTO activity_seal_entry \
        (entry_id, chain, sequence, position, salt, commitment, leaf, column_digests) \
        SELECT entry.id, $1, $2, $3 + entry.n - 1, entry.salt, entry.commitment, entry.leaf, entry.digests \
        FROM UNNEST($4::uuid[], $5::bytea[], $6::bytea[], $7::bytea[], $8::bytea[]) \
        WITH ORDINALITY AS entry (id, salt, commitment, leaf, digests, n)";
    let column = |bytes: fn(&Place) -> &[u8]| -> sea_orm::Value {
        places
            .iter()
            .map(|place| bytes(place).to_vec())
            .collect::<Vec<_>>()
            .into()
    };
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        SQL,
        [
            chain.into(),
            sequence.into(),
            first.into(),
            places
                .iter()
                .map(|place| place.entry_id)
                .collect::<Vec<_>>()
                .into(),
            column(|place| &place.salt),
            column(|place| &place.sealed.commitment),
            column(|place| &place.sealed.leaf),
            column(|place| &place.sealed.column_digests),
        ],
    )
}
