//! The leaf of one stored entry: the canonical bytes a seal's Merkle tree
//! covers, and the salted commitment that stands in for the erasable columns.
//!
//! A leaf is computed from the values a store reads back, column by column
//! as [`COLUMNS`] declares them, in an encoding that no database round trip
//! changes: UUIDs as their 16 bytes (the case of their text is irrelevant),
//! times as UTC microseconds, text and integers with a length or a tag, and
//! JSON in its RFC 8785 canonical form (key order, whitespace and number
//! spelling do not matter; PostgreSQL `jsonb` and MySQL `JSON` may change
//! all three).
//!
//! The columns that [`anonymize`](https://docs.rs/sea-orm-activity) may
//! rewrite, [`COMMITTED_COLUMNS`], enter the leaf only through
//! `SHA-256(salt ‖ their values)`, stored with the entry. Erasing them drops
//! the salt and keeps the commitment: the entry still verifies, and what was
//! erased cannot be recovered by hashing guesses (an IPv4 address is only
//! 2^32 of them) since the salt is gone.

use sha2::{Digest, Sha256};

use super::merkle::Hash;
use crate::event::{COLUMNS, Cell};

/// The first bytes of every leaf.
pub(super) const LEAF_DOMAIN: &[u8] = b"tower-activity entry v1\n";
/// The first bytes of every commitment.
pub(super) const COMMITMENT_DOMAIN: &[u8] = b"tower-activity commitment v1\n";

/// The columns a leaf covers only through its entry's salted commitment:
/// the personal data (actor id and label, IP address, user agent) and the
/// columns an anonymization rewrites where a data subject is named (resource
/// id, route, details). Each leaf names them, so a verifier needs no
/// configuration to know which columns were committed.
pub const COMMITTED_COLUMNS: [&str; 7] = [
    "resource_id",
    "actor_id",
    "actor_label",
    "ip",
    "user_agent",
    "route",
    "details",
];

/// The random salt of one entry's commitment.
pub type Salt = [u8; 16];

/// The tag of a column whose value is in the commitment, not in the leaf.
pub(super) const IN_COMMITMENT: u8 = 2;

/// A fresh random salt from the operating system's generator, or `None`
/// when it cannot give one.
pub fn new_salt() -> Option<Salt> {
    let mut salt = [0; 16];
    getrandom::fill(&mut salt).ok()?;
    Some(salt)
}

/// `count` fresh random salts, from one call to the operating system's
/// generator, or `None` when it cannot give them.
pub fn new_salts(count: usize) -> Option<Vec<Salt>> {
    let mut salts = vec![[0; 16]; count];
    getrandom::fill(salts.as_flattened_mut()).ok()?;
    Some(salts)
}

/// Whether the column `name` is one of [`COMMITTED_COLUMNS`].
pub fn is_committed(name: &str) -> bool {
    COMMITTED_COLUMNS.contains(&name)
}

/// The commitment to the [`COMMITTED_COLUMNS`] of the entry whose stored
/// values are `cells` (in the order of [`COLUMNS`]):
/// `SHA-256(domain ‖ salt ‖ each committed column's name and value)`.
pub fn commitment(cells: &[Cell<'_>; COLUMNS.len()], salt: &Salt) -> Hash {
    let mut hash = Sha256::new();
    hash.put(COMMITMENT_DOMAIN);
    hash.put(salt);
    for (column, cell) in COLUMNS.iter().zip(cells) {
        if is_committed(column.name) {
            push_name(&mut hash, column.name);
            push_cell(&mut hash, cell);
        }
    }
    hash.finalize().into()
}

/// The leaf hash of the entry whose stored values are `cells` (in the order
/// of [`COLUMNS`]) and whose commitment is `commitment`: every column's name,
/// then its value, or for a [committed](COMMITTED_COLUMNS) column a mark that
/// its value is in the commitment; then the commitment. Hashed as RFC 6962
/// hashes a leaf ([`leaf_hash`](super::leaf_hash)), without the bytes being
/// gathered first.
pub fn entry_leaf(cells: &[Cell<'_>; COLUMNS.len()], commitment: &Hash) -> Hash {
    let mut hash = Sha256::new();
    // `leaf_hash`'s prefix.
    hash.put(&[0x00]);
    put_leaf(&mut hash, cells, commitment);
    hash.finalize().into()
}

/// The bytes [`entry_leaf`] hashes.
pub fn entry_leaf_bytes(cells: &[Cell<'_>; COLUMNS.len()], commitment: &Hash) -> Vec<u8> {
    let mut bytes = Vec::new();
    put_leaf(&mut bytes, cells, commitment);
    bytes
}

fn put_leaf(bytes: &mut impl Put, cells: &[Cell<'_>; COLUMNS.len()], commitment: &Hash) {
    bytes.put(LEAF_DOMAIN);
    bytes.put(&(COLUMNS.len() as u32).to_be_bytes());
    for (column, cell) in COLUMNS.iter().zip(cells) {
        push_name(bytes, column.name);
        if is_committed(column.name) {
            bytes.put(&[IN_COMMITMENT]);
        } else {
            push_cell(bytes, cell);
        }
    }
    bytes.put(commitment);
}

/// Where canonical bytes go: gathered, or straight into a hash.
pub(super) trait Put {
    fn put(&mut self, bytes: &[u8]);
}

impl Put for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Put for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

/// How many bytes of each column's digest [`column_digests`] keeps.
pub(super) const DIGEST_BYTES: usize = 4;

/// Four bytes of a digest of each column's value, in the order of
/// [`COLUMNS`]: kept beside a sealed entry to name the column that differs
/// when its leaf no longer matches. A [committed](COMMITTED_COLUMNS) column's
/// digest is salted (so it tells nothing once the salt is erased); without a
/// salt it is left as zeros.
///
/// The digests only point at a change: the leaf and the seal's root are what
/// detect it.
pub fn column_digests(cells: &[Cell<'_>; COLUMNS.len()], salt: Option<&Salt>) -> Vec<u8> {
    let mut digests = Vec::with_capacity(COLUMNS.len() * DIGEST_BYTES);
    for (column, cell) in COLUMNS.iter().zip(cells) {
        digests.extend_from_slice(&column_digest(column.name, cell, salt));
    }
    digests
}

/// The first column whose digest in `stored` (as [`column_digests`] made
/// them) differs from `cells`' value; committed columns are compared only
/// with a salt.
pub fn changed_column(
    stored: &[u8],
    cells: &[Cell<'_>; COLUMNS.len()],
    salt: Option<&Salt>,
) -> Option<&'static str> {
    COLUMNS
        .iter()
        .zip(cells)
        .zip(stored.chunks(DIGEST_BYTES).chain(std::iter::repeat(&[][..])))
        .find(|((column, cell), digest)| {
            (salt.is_some() || !is_committed(column.name))
                && *digest != column_digest(column.name, cell, salt)
        })
        .map(|((column, _), _)| column.name)
}

/// Whether `stored` (digests as [`column_digests`] made them) holds, for
/// the column `name`, the digest of `cell` under `salt`: how a verifier tells
/// which entries held a value when they were sealed, whatever they hold now.
/// `false` when `name` is no column or `stored` has no digest for it; for a
/// [committed](COMMITTED_COLUMNS) column only with a salt.
///
/// Four bytes of a digest: about one value in four billion matches another.
pub fn column_digest_is(stored: &[u8], name: &str, cell: &Cell<'_>, salt: Option<&Salt>) -> bool {
    let Some(at) = COLUMNS.iter().position(|column| column.name == name) else {
        return false;
    };
    if is_committed(name) && salt.is_none() {
        return false;
    }
    stored.get(at * DIGEST_BYTES..(at + 1) * DIGEST_BYTES) == Some(&column_digest(name, cell, salt)[..])
}

fn column_digest(name: &str, cell: &Cell<'_>, salt: Option<&Salt>) -> [u8; DIGEST_BYTES] {
    let mut hash = Sha256::new();
    push_name(&mut hash, name);
    if is_committed(name) {
        let Some(salt) = salt else {
            return [0; DIGEST_BYTES];
        };
        hash.put(salt);
    }
    push_cell(&mut hash, cell);
    let digest = hash.finalize();
    let mut short = [0; DIGEST_BYTES];
    short.copy_from_slice(&digest[..DIGEST_BYTES]);
    short
}

pub(super) fn push_name(bytes: &mut impl Put, name: &str) {
    push_bytes(bytes, name.as_bytes());
}

fn push_bytes(bytes: &mut impl Put, value: &[u8]) {
    bytes.put(&(value.len() as u64).to_be_bytes());
    bytes.put(value);
}

/// One value: a tag (0 for none, 1 for a value) then the value at a fixed
/// size or with its length.
pub(super) fn push_cell(bytes: &mut impl Put, cell: &Cell<'_>) {
    match cell {
        Cell::Uuid(id) => {
            bytes.put(&[1]);
            bytes.put(id.as_bytes());
        }
        Cell::Time(time) => {
            bytes.put(&[1]);
            bytes.put(&time.timestamp_micros().to_be_bytes());
        }
        Cell::Text(None) | Cell::Integer(None) | Cell::Json(None) => bytes.put(&[0]),
        Cell::Text(Some(text)) => {
            bytes.put(&[1]);
            push_bytes(bytes, text.as_bytes());
        }
        Cell::Integer(Some(number)) => {
            bytes.put(&[1]);
            bytes.put(&i64::from(*number).to_be_bytes());
        }
        Cell::Json(Some(details)) => {
            bytes.put(&[1]);
            // A JSON value always serializes; its own text is the fallback.
            let canonical = serde_json_canonicalizer::to_vec(&*details.as_value())
                .unwrap_or_else(|_| details.as_json().into_owned().into_bytes());
            push_bytes(bytes, &canonical);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::seal::leaf_hash;
    use crate::{ActivityEvent, Actor, Details};

    fn event() -> ActivityEvent {
        ActivityEvent::builder("auth.login.failed")
            .actor(Actor::user("u_1").with_label("Ada"))
            .tenant("acme")
            .ip("203.0.113.9".parse().unwrap())
            .resource("session", "s_1")
            .details(json!({"b": 1.0, "a": [1, "x"]}))
            .build()
            .unwrap()
    }

    #[test]
    fn committed_columns_are_columns() {
        for name in COMMITTED_COLUMNS {
            assert!(COLUMNS.iter().any(|column| column.name == name), "{name}");
        }
    }

    #[test]
    fn json_is_hashed_in_its_canonical_form() {
        let event = event();
        let mut reordered = event.clone();
        reordered.details = Some(Details::from_json(r#"{ "a" : [1,"x"], "b": 1 }"#).unwrap());
        let salt = [7; 16];
        assert_eq!(
            commitment(&event.cells(), &salt),
            commitment(&reordered.cells(), &salt)
        );
    }

    #[test]
    fn every_column_changes_the_leaf_or_the_commitment() {
        let original = event();
        let salt = [3; 16];
        let (commit, leaf) = {
            let cells = original.cells();
            let commit = commitment(&cells, &salt);
            (commit, entry_leaf(&cells, &commit))
        };
        for (at, column) in COLUMNS.iter().enumerate() {
            let mut changed = original.clone();
            match column.name {
                "id" => changed.id = uuid::Uuid::now_v7(),
                "occurred_at" => changed.occurred_at += chrono::TimeDelta::microseconds(1),
                "http_status" => changed.http_status = Some(500),
                "details" => changed.details = Some(Details::new(json!({"b": 2}))),
                "actor_kind" | "actor_id" | "actor_label" => {
                    let mut actor = Actor::admin("u_1").with_label("Ada");
                    if column.name == "actor_id" {
                        actor = Actor::user("u_2").with_label("Ada");
                    }
                    if column.name == "actor_label" {
                        actor = Actor::user("u_1").with_label("Bob");
                    }
                    changed.actor = Some(actor);
                }
                _ => {
                    let cells = changed.cells();
                    assert!(matches!(cells[at], Cell::Text(_)), "{}", column.name);
                    changed = with_text(&changed, column.name);
                }
            }
            let cells = changed.cells();
            assert_ne!(cells[at], original.cells()[at], "{}", column.name);
            let same_commitment = commitment(&cells, &salt) == commit;
            let same_leaf = entry_leaf(&cells, &commit) == leaf;
            assert!(
                is_committed(column.name) != same_commitment,
                "{}: commitment",
                column.name
            );
            assert_eq!(is_committed(column.name), same_leaf, "{}: leaf", column.name);
            let digests = column_digests(&original.cells(), Some(&salt));
            assert_eq!(changed_column(&digests, &cells, Some(&salt)), Some(column.name));
        }
    }

    #[test]
    fn the_leaf_is_the_leaf_hash_of_its_bytes() {
        let event = event();
        let cells = event.cells();
        let commit = commitment(&cells, &[9; 16]);
        assert_eq!(
            entry_leaf(&cells, &commit),
            leaf_hash(&entry_leaf_bytes(&cells, &commit))
        );
    }

    #[test]
    fn a_stored_digest_tells_which_value_a_column_held() {
        let event = event();
        let salt = [5; 16];
        let digests = column_digests(&event.cells(), Some(&salt));
        let acme = Cell::Text(Some("acme"));
        assert!(column_digest_is(&digests, "tenant_id", &acme, None));
        assert!(!column_digest_is(
            &digests,
            "tenant_id",
            &Cell::Text(Some("other")),
            None
        ));
        assert!(!column_digest_is(&digests, "tenant_id", &Cell::Text(None), None));
        // Erased digests, an unknown column, a committed column without its salt.
        assert!(!column_digest_is(&[], "tenant_id", &acme, None));
        assert!(!column_digest_is(&digests, "no_such_column", &acme, None));
        let actor = Cell::Text(Some("u_1"));
        assert!(!column_digest_is(&digests, "actor_id", &actor, None));
        assert!(column_digest_is(&digests, "actor_id", &actor, Some(&salt)));
    }

    /// `event` with the text column `name` set to another value.
    fn with_text(event: &ActivityEvent, name: &str) -> ActivityEvent {
        let mut event = event.clone();
        let other = Some(std::sync::Arc::<str>::from("other"));
        match name {
            "action" => event.action = crate::Action::Update,
            "resource_type" => event.resource_type = other,
            "resource_id" => event.resource_id = other,
            "tenant_id" => event.tenant_id = other,
            "outcome" => event.outcome = crate::Outcome::Critical,
            "request_id" => event.request_id = other,
            "ip" => event.ip = other,
            "user_agent" => event.user_agent = other,
            "method" => event.method = other,
            "route" => event.route = other,
            "category" => event.category = other,
            other => panic!("no change for the column {other}"),
        }
        event
    }
}
