//! What sealing computes for one entry, in one pass over its columns: the
//! same commitment, leaf and column digests as [`commitment`](super::commitment),
//! [`entry_leaf`](super::entry_leaf) and [`column_digests`](super::column_digests),
//! with each column's value encoded once (the details canonicalized once)
//! and hashed without building the bytes in between.

use sha2::{Digest, Sha256};

use super::leaf::{
    COMMITMENT_DOMAIN, DIGEST_BYTES, IN_COMMITMENT, LEAF_DOMAIN, Salt, is_committed, push_cell, push_name,
};
use super::merkle::Hash;
use crate::event::{COLUMNS, Cell};

/// The bytes of [`SealedEntry::column_digests`].
pub const COLUMN_DIGESTS_BYTES: usize = COLUMNS.len() * DIGEST_BYTES;

/// What a sealer keeps of one entry: its salted commitment, its leaf hash and
/// its short column digests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealedEntry {
    /// [`commitment`](super::commitment) of the entry under its salt.
    pub commitment: Hash,
    /// [`entry_leaf`](super::entry_leaf) of the entry and that commitment.
    pub leaf: Hash,
    /// [`column_digests`](super::column_digests) of the entry under its salt.
    pub column_digests: [u8; COLUMN_DIGESTS_BYTES],
}

/// The commitment, leaf and column digests of the entry whose stored values
/// are `cells` (in the order of [`COLUMNS`]), under `salt`.
///
/// ```
/// use tower_activity::seal::{column_digests, commitment, entry_leaf, seal_entry};
/// use tower_activity::{Action, ActivityEvent};
///
/// let event = ActivityEvent::builder(Action::Create).resource("note", 1).build()?;
/// let (cells, salt) = (event.cells(), [9; 16]);
/// let sealed = seal_entry(&cells, &salt);
/// assert_eq!(sealed.commitment, commitment(&cells, &salt));
/// assert_eq!(sealed.leaf, entry_leaf(&cells, &sealed.commitment));
/// assert_eq!(sealed.column_digests.to_vec(), column_digests(&cells, Some(&salt)));
/// # Ok::<(), tower_activity::InvalidAction>(())
/// ```
pub fn seal_entry(cells: &[Cell<'_>; COLUMNS.len()], salt: &Salt) -> SealedEntry {
    // Each column's name and value, as the separate functions encode them,
    // back to back: `names[at]` and `values[at]` end where they say.
    let mut bytes = Vec::with_capacity(1_024);
    let mut names = [(0, 0); COLUMNS.len()];
    let mut values = [(0, 0); COLUMNS.len()];
    for (at, (column, cell)) in COLUMNS.iter().zip(cells).enumerate() {
        let start = bytes.len();
        push_name(&mut bytes, column.name);
        names[at] = (start, bytes.len());
        push_cell(&mut bytes, cell);
        values[at] = (names[at].1, bytes.len());
    }
    let name = |at: usize| &bytes[names[at].0..names[at].1];
    let value = |at: usize| &bytes[values[at].0..values[at].1];

    let mut hasher = Sha256::new();
    hasher.update(COMMITMENT_DOMAIN);
    hasher.update(salt);
    for (at, column) in COLUMNS.iter().enumerate() {
        if is_committed(column.name) {
            hasher.update(name(at));
            hasher.update(value(at));
        }
    }
    let commitment: Hash = hasher.finalize().into();

    // The leaf hash as RFC 6962 hashes a leaf: `SHA-256(0x00 ‖ leaf bytes)`.
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(LEAF_DOMAIN);
    hasher.update((COLUMNS.len() as u32).to_be_bytes());
    for (at, column) in COLUMNS.iter().enumerate() {
        hasher.update(name(at));
        if is_committed(column.name) {
            hasher.update([IN_COMMITMENT]);
        } else {
            hasher.update(value(at));
        }
    }
    hasher.update(commitment);
    let leaf: Hash = hasher.finalize().into();

    let mut column_digests = [0; COLUMN_DIGESTS_BYTES];
    for ((at, column), digest) in COLUMNS
        .iter()
        .enumerate()
        .zip(column_digests.chunks_exact_mut(DIGEST_BYTES))
    {
        let mut hasher = Sha256::new();
        hasher.update(name(at));
        if is_committed(column.name) {
            hasher.update(salt);
        }
        hasher.update(value(at));
        digest.copy_from_slice(&hasher.finalize()[..DIGEST_BYTES]);
    }
    SealedEntry {
        commitment,
        leaf,
        column_digests,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::seal::{column_digests, commitment, entry_leaf};
    use crate::{ActivityEvent, Actor};

    #[test]
    fn one_pass_gives_what_the_separate_functions_give() {
        let full = ActivityEvent::builder("auth.login.failed")
            .actor(Actor::user("u_1").with_label("Ada"))
            .tenant("acme")
            .ip("203.0.113.9".parse().unwrap())
            .resource("session", "s_1")
            .details(json!({"b": 1.0, "a": [1, "x"], "é": null}))
            .build()
            .unwrap();
        let bare = ActivityEvent::builder(crate::Action::Create).build().unwrap();
        for event in [full, bare] {
            let cells = event.cells();
            let salt = [5; 16];
            let sealed = seal_entry(&cells, &salt);
            assert_eq!(sealed.commitment, commitment(&cells, &salt));
            assert_eq!(sealed.leaf, entry_leaf(&cells, &sealed.commitment));
            assert_eq!(
                sealed.column_digests.to_vec(),
                column_digests(&cells, Some(&salt))
            );
        }
    }
}
