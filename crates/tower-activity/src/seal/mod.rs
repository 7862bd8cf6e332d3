//! Tamper evidence, the storage-free part: the Merkle tree a seal commits
//! its entries to, and the proof that one entry is in it.

mod merkle;

pub use self::merkle::{
    Hash, MerkleRoot, inclusion_proof, leaf_hash, merkle_root, node_hash, verify_inclusion,
};
