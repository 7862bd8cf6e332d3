//! Proving that one entry is in the sealed log: [`InclusionProof`], and the
//! [`SealStore`] that serves it with the newest checkpoint.

use std::future::Future;

use serde_json::{Value, json};
use uuid::Uuid;

use super::checkpoint::Checkpoint;
use super::merkle::{Hash, verify_inclusion};
use super::signing::SealPublicKey;
use crate::store::StoreError;

/// The proof that an entry is in a seal: the entry's leaf, its place, the
/// audit path to the seal's root, and the seal with its signature.
///
/// A third party checks it with [`verify`](Self::verify) and the public key
/// it pins; to tie the proof to the entry it holds, it recomputes the leaf
/// from the entry's values and the commitment
/// ([`entry_leaf`](super::entry_leaf)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    /// The entry's id.
    pub entry: Uuid,
    /// The entry's tenant, which decides who may see the proof.
    pub tenant_id: Option<String>,
    /// The commitment to the entry's erasable columns.
    pub commitment: Hash,
    /// The entry's leaf hash, recomputed from its stored values.
    pub leaf: Hash,
    /// Its place among the seal's entries.
    pub index: u64,
    /// The audit path from the leaf to the seal's root.
    pub path: Vec<Hash>,
    /// The seal it is in.
    pub seal: Checkpoint,
}

impl InclusionProof {
    /// Whether the path leads from the leaf at its place to the seal's root,
    /// and, with `key`, whether the seal is that key's.
    pub fn verify(&self, key: Option<&SealPublicKey>) -> bool {
        let seal = &self.seal.seal;
        let included = verify_inclusion(&self.leaf, self.index, seal.count, &self.path, &seal.root);
        let signed = match key {
            None => true,
            Some(key) => self
                .seal
                .signature
                .is_some_and(|signature| key.verify(seal, &signature).is_ok()),
        };
        included && signed
    }

    /// The proof as JSON: hashes in hex, the seal as its checkpoint text.
    pub fn to_json(&self) -> Value {
        json!({
            "entry": self.entry,
            "commitment": hex::encode(self.commitment),
            "leaf": hex::encode(self.leaf),
            "index": self.index,
            "size": self.seal.seal.count,
            "path": self.path.iter().map(hex::encode).collect::<Vec<_>>(),
            "seal": self.seal.to_string(),
        })
    }
}

/// A store of seals: what the log router serves checkpoints and inclusion
/// proofs from.
pub trait SealStore: Send + Sync + 'static {
    /// The newest seal, with its signature; `None` before the first.
    fn newest_checkpoint(&self) -> impl Future<Output = Result<Option<Checkpoint>, StoreError>> + Send;

    /// The proof that the entry `entry` is sealed; `None` when there is no
    /// such entry or it is not sealed yet.
    fn inclusion_proof(
        &self,
        entry: Uuid,
    ) -> impl Future<Output = Result<Option<InclusionProof>, StoreError>> + Send;
}
