//! What a seal says: [`Seal`], and the bytes its hash and signature cover.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::merkle::Hash;

/// The first bytes of every seal's encoding: they name the format, so a
/// signature over a seal cannot pass for a signature over anything else.
const DOMAIN: &[u8] = b"tower-activity seal v1\n";

/// One link of a chain of seals: it commits to its entries through their
/// Merkle root, and to everything sealed before it on its chain through the
/// previous seal's hash.
///
/// Each writer seals on its own chain (`chain`), so that instances never
/// contend for one chain head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seal {
    /// The chain it belongs to.
    pub chain: String,
    /// Its place on the chain, from 1 with no gap.
    pub sequence: u64,
    /// The [`hash`](Seal::hash) of the seal before it; all zeros for the first.
    pub previous: Hash,
    /// The Merkle root of its entries' leaf hashes, in entry order.
    pub root: Hash,
    /// How many entries it covers.
    pub count: u64,
    /// The id of its first entry.
    pub first_entry: Uuid,
    /// The id of its last entry.
    pub last_entry: Uuid,
    /// When it was made, to the microsecond.
    pub sealed_at: DateTime<Utc>,
}

impl Seal {
    /// The bytes its hash and signature cover: a fixed prefix, then every
    /// field in order, each of fixed size or prefixed with its length, so two
    /// different seals never encode alike.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes =
            Vec::with_capacity(DOMAIN.len() + 8 + self.chain.len() + 8 + 32 + 32 + 8 + 16 + 16 + 8);
        bytes.extend_from_slice(DOMAIN);
        bytes.extend_from_slice(&(self.chain.len() as u64).to_be_bytes());
        bytes.extend_from_slice(self.chain.as_bytes());
        bytes.extend_from_slice(&self.sequence.to_be_bytes());
        bytes.extend_from_slice(&self.previous);
        bytes.extend_from_slice(&self.root);
        bytes.extend_from_slice(&self.count.to_be_bytes());
        bytes.extend_from_slice(self.first_entry.as_bytes());
        bytes.extend_from_slice(self.last_entry.as_bytes());
        bytes.extend_from_slice(&self.sealed_at.timestamp_micros().to_be_bytes());
        bytes
    }

    /// Its hash, which the next seal on the chain names as `previous`.
    pub fn hash(&self) -> Hash {
        Sha256::digest(self.encode()).into()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn seal() -> Seal {
        Seal {
            chain: "api-1".to_owned(),
            sequence: 7,
            previous: [1; 32],
            root: [2; 32],
            count: 500,
            first_entry: Uuid::from_u128(10),
            last_entry: Uuid::from_u128(20),
            sealed_at: Utc.timestamp_micros(1_700_000_000_123_456).unwrap(),
        }
    }

    #[test]
    fn every_field_changes_the_hash() {
        let original = seal().hash();
        let changes: [fn(&mut Seal); 8] = [
            |seal| seal.chain.push('x'),
            |seal| seal.sequence += 1,
            |seal| seal.previous[31] ^= 1,
            |seal| seal.root[0] ^= 1,
            |seal| seal.count -= 1,
            |seal| seal.first_entry = Uuid::from_u128(11),
            |seal| seal.last_entry = Uuid::from_u128(21),
            |seal| seal.sealed_at += chrono::TimeDelta::microseconds(1),
        ];
        for (at, change) in changes.iter().enumerate() {
            let mut changed = seal();
            change(&mut changed);
            assert_ne!(changed.hash(), original, "change {at}");
        }
    }
}
