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
/// (about 350 bytes of text a row); elsewhere a multi-row `VALUES` list of
/// eight parameters a row, well within every backend's parameter limit.
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
/// one array literal, unnested with their ordinality for the position. The
/// statement is the same whatever the number of rows, so it is prepared once
/// per connection; building it costs a few string pushes a row, where
/// sea-orm's multi-row insert costs several times the insert itself.
fn unnest_statement(chain: &str, sequence: i64, first: i64, places: &[Place]) -> Statement {
    const SQL: &str = "INSERT INTO activity_seal_entry \
        (entry_id, chain, sequence, position, salt, commitment, leaf, column_digests) \
        SELECT entry.id, $1, $2, $3 + entry.n - 1, entry.salt, entry.commitment, entry.leaf, entry.digests \
        FROM UNNEST($4::uuid[], $5::bytea[], $6::bytea[], $7::bytea[], $8::bytea[]) \
        WITH ORDINALITY AS entry (id, salt, commitment, leaf, digests, n)";
    let mut ids = Array::new(places.len(), 36);
    let mut salts = Array::new(places.len(), 2 * 16);
    let mut commitments = Array::new(places.len(), 2 * 32);
    let mut leaves = Array::new(places.len(), 2 * 32);
    let mut digests = Array::new(places.len(), 2 * 72);
    for place in places {
        ids.push_uuid(place.entry_id);
        salts.push_bytes(&place.salt);
        commitments.push_bytes(&place.sealed.commitment);
        leaves.push_bytes(&place.sealed.leaf);
        digests.push_bytes(&place.sealed.column_digests);
    }
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        SQL,
        [
            chain.into(),
            sequence.into(),
            first.into(),
            ids.finish().into(),
            salts.finish().into(),
            commitments.finish().into(),
            leaves.finish().into(),
            digests.finish().into(),
        ],
    )
}

/// A PostgreSQL array literal being written: `{…,…}` of UUIDs or of `bytea`
/// in hex (`"\\x00ff"`, the backslash escaped for the array's own parser).
/// Neither holds a character that could end an element.
struct Array(String);

impl Array {
    fn new(elements: usize, element_bytes: usize) -> Array {
        let mut text = String::with_capacity(2 + elements * (element_bytes + 6));
        text.push('{');
        Array(text)
    }

    fn separate(&mut self) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
    }

    fn push_uuid(&mut self, id: Uuid) {
        self.separate();
        self.0
            .push_str(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
    }

    fn push_bytes(&mut self, bytes: &[u8]) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        self.separate();
        self.0.push_str("\"\\\\x");
        for byte in bytes {
            self.0.push(char::from(DIGITS[usize::from(byte >> 4)]));
            self.0.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
        }
        self.0.push('"');
    }

    fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_arrays_are_hex_elements_with_the_backslash_escaped() {
        let mut array = Array::new(2, 4);
        array.push_bytes(&[0x00, 0xff]);
        array.push_bytes(&[0x7a]);
        assert_eq!(array.finish(), r#"{"\\x00ff","\\x7a"}"#);
        let mut ids = Array::new(1, 36);
        ids.push_uuid(Uuid::nil());
        assert_eq!(ids.finish(), "{00000000-0000-0000-0000-000000000000}");
    }
}
