//! Tamper evidence, the storage-free part: the Merkle tree a seal commits
//! its entries to and the proof that one entry is in it ([`merkle_root`],
//! [`inclusion_proof`]), the leaf of one stored entry and the salted
//! commitment that stands in for its erasable columns ([`entry_leaf`],
//! [`commitment`]), the seal itself ([`Seal`]), its Ed25519 signature
//! ([`SealSigningKey`], [`SealPublicKey`]), and the check that seals follow
//! one another on their chain ([`ChainCheck`]), the [`Checkpoint`] kept off
//! the server, and the [`InclusionProof`] of one entry a [`SealStore`] serves.

mod chain;
mod checkpoint;
mod leaf;
mod merkle;
mod proof;
mod record;
mod sealed_entry;
mod signing;

pub use self::chain::{ChainBreak, ChainCheck};
pub use self::checkpoint::{Checkpoint, InvalidCheckpoint};
pub use self::leaf::{
    COMMITTED_COLUMNS, Salt, changed_column, column_digest_is, column_digests, commitment, entry_leaf,
    entry_leaf_bytes, is_committed, new_salt, new_salts,
};
pub use self::merkle::{
    Hash, MerkleRoot, inclusion_proof, leaf_hash, merkle_root, node_hash, verify_inclusion,
};
pub use self::proof::{InclusionProof, SealStore};
pub use self::record::Seal;
pub use self::sealed_entry::{COLUMN_DIGESTS_BYTES, SealedEntry, seal_entry};
pub use self::signing::{BadSignature, InvalidPublicKey, SealPublicKey, SealSignature, SealSigningKey};
