//! Merkle trees as RFC 6962 (Certificate Transparency) defines them: the
//! root a seal commits to, and the inclusion proof of one entry.
//!
//! Leaves and nodes are hashed with different prefixes (`0x00` and `0x01`),
//! so a node can never pass for a leaf: hashing `left ‖ right` alone would let
//! a forger present an inner node as an entry (a second preimage).

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The hash of the leaf whose bytes are `leaf`: `SHA-256(0x00 ‖ leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([0x00])
        .chain_update(leaf)
        .finalize()
        .into()
}

/// The hash of an inner node: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([0x01])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// The root of the tree over leaves given one at a time, in order, keeping
/// only one hash per level: a root over millions of entries takes a few
/// hundred bytes.
///
/// ```
/// use tower_activity::seal::{MerkleRoot, leaf_hash, merkle_root};
///
/// let leaves: Vec<_> = (0..5_u8).map(|leaf| leaf_hash(&[leaf])).collect();
/// let mut root = MerkleRoot::new();
/// for leaf in &leaves {
///     root.push(*leaf);
/// }
/// assert_eq!(root.len(), 5);
/// assert_eq!(root.root(), merkle_root(&leaves));
/// ```
#[derive(Clone, Debug, Default)]
pub struct MerkleRoot {
    /// The roots of the complete subtrees so far, largest first; their sizes
    /// are the one bits of `len`.
    subtrees: Vec<Hash>,
    len: u64,
}

impl MerkleRoot {
    /// An empty tree.
    pub fn new() -> Self {
        MerkleRoot::default()
    }

    /// Adds the leaf whose hash is `leaf` (see [`leaf_hash`]).
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        // Each trailing one bit of the old size is a complete subtree of the
        // size just reached: merge it in.
        let mut size = self.len;
        while size & 1 == 1 {
            let left = self.subtrees.pop().unwrap_or_default();
            hash = node_hash(&left, &hash);
            size >>= 1;
        }
        self.subtrees.push(hash);
        self.len += 1;
    }

    /// How many leaves were added.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no leaf was added.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The root: `SHA-256` of nothing for an empty tree; otherwise the
    /// complete subtrees joined from the right, as RFC 6962 splits a tree at
    /// the largest power of two below its size.
    pub fn root(&self) -> Hash {
        let mut subtrees = self.subtrees.iter().rev();
        let Some(last) = subtrees.next() else {
            return Sha256::digest([]).into();
        };
        subtrees.fold(*last, |right, left| node_hash(left, &right))
    }
}

/// The root of the tree over `leaves` (leaf hashes, in order).
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    let mut root = MerkleRoot::new();
    for leaf in leaves {
        root.push(*leaf);
    }
    root.root()
}

/// The hashes that prove the leaf at `index` is in the tree over `leaves`
/// (RFC 6962's audit path, from the leaf's sibling up), or `None` when
/// `index` is outside the tree.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut proof = Vec::new();
    path(leaves, index, &mut proof);
    Some(proof)
}

/// Pushes the audit path of `index` in `leaves` onto `proof`, bottom first.
fn path(leaves: &[Hash], index: usize, proof: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let split = split_point(leaves.len());
    let (left, right) = leaves.split_at(split);
    if index < split {
        path(left, index, proof);
        proof.push(merkle_root(right));
    } else {
        path(right, index - split, proof);
        proof.push(merkle_root(left));
    }
}

/// The largest power of two below `size` (for `size` of at least 2).
fn split_point(size: usize) -> usize {
    1 << (usize::BITS - 1 - (size - 1).leading_zeros())
}

/// Whether `proof` shows that the leaf hashed `leaf` sits at `index` in a
/// tree of `size` leaves whose root is `root` (RFC 9162, 2.1.3.2). A proof
/// of the wrong length, an index outside the tree or any changed hash fails.
///
/// The proof binds the leaf to its place and to the root; `size` only has
/// to give the tree its shape, so trust it only as far as the seal that
/// signs it together with the root.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut at, mut last) = (index, size - 1);
    let mut hash = *leaf;
    for sibling in proof {
        if last == 0 {
            return false;
        }
        if at & 1 == 1 || at == last {
            hash = node_hash(sibling, &hash);
            if at & 1 == 0 {
                // A right edge: skip the levels where this node has no sibling.
                while at & 1 == 0 && at != 0 {
                    at >>= 1;
                    last >>= 1;
                }
            }
        } else {
            hash = node_hash(&hash, sibling);
        }
        at >>= 1;
        last >>= 1;
    }
    last == 0 && hash == *root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(hash: &Hash) -> String {
        hash.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// The leaves of the test tree in the Certificate Transparency sources.
    fn ct_leaves() -> Vec<Hash> {
        let leaves: [&[u8]; 8] = [
            b"",
            &[0x00],
            &[0x10],
            &[0x20, 0x21],
            &[0x30, 0x31],
            &[0x40, 0x41, 0x42, 0x43],
            &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
            &[
                0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e,
                0x6f,
            ],
        ];
        leaves.iter().map(|leaf| leaf_hash(leaf)).collect()
    }

    #[test]
    fn roots_match_the_certificate_transparency_test_vectors() {
        let expected = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let leaves = ct_leaves();
        for (size, expected) in (1..=8).zip(expected) {
            assert_eq!(hex(&merkle_root(&leaves[..size])), expected, "{size} leaves");
        }
    }

    #[test]
    fn the_empty_tree_is_the_hash_of_nothing() {
        assert_eq!(
            hex(&MerkleRoot::new().root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn a_node_hash_differs_from_the_leaf_hash_of_its_children() {
        let (left, right) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let mut joined = left.to_vec();
        joined.extend_from_slice(&right);
        assert_ne!(node_hash(&left, &right), leaf_hash(&joined));
    }

    #[test]
    fn every_leaf_of_every_size_proves_its_inclusion() {
        let leaves: Vec<Hash> = (0..33_u8).map(|leaf| leaf_hash(&[leaf])).collect();
        for size in 1..=leaves.len() {
            let tree = &leaves[..size];
            let root = merkle_root(tree);
            for (index, leaf) in tree.iter().enumerate() {
                let proof = inclusion_proof(tree, index).unwrap();
                assert!(
                    verify_inclusion(leaf, index as u64, size as u64, &proof, &root),
                    "leaf {index} of {size}"
                );
            }
            assert_eq!(inclusion_proof(tree, size), None);
        }
    }

    #[test]
    fn a_proof_fails_for_another_leaf_place_size_or_root() {
        let leaves: Vec<Hash> = (0..7_u8).map(|leaf| leaf_hash(&[leaf])).collect();
        let root = merkle_root(&leaves);
        let proof = inclusion_proof(&leaves, 2).unwrap();
        assert!(verify_inclusion(&leaves[2], 2, 7, &proof, &root));
        assert!(!verify_inclusion(&leaves[3], 2, 7, &proof, &root));
        assert!(!verify_inclusion(&leaves[2], 3, 7, &proof, &root));
        // A size whose tree has another shape; the size itself is bound to
        // the root by the seal that signs both.
        assert!(!verify_inclusion(&leaves[2], 2, 4, &proof, &root));
        assert!(!verify_inclusion(&leaves[2], 7, 7, &proof, &root));
        assert!(!verify_inclusion(&leaves[2], 2, 7, &proof, &leaf_hash(b"other")));
        assert!(!verify_inclusion(
            &leaves[2],
            2,
            7,
            &proof[..proof.len() - 1],
            &root
        ));
        let mut longer = proof.clone();
        longer.push(root);
        assert!(!verify_inclusion(&leaves[2], 2, 7, &longer, &root));
        let mut changed = proof;
        changed[0][0] ^= 1;
        assert!(!verify_inclusion(&leaves[2], 2, 7, &changed, &root));
    }
}
