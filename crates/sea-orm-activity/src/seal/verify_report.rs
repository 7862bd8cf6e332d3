//! What [`verify`](crate::SeaOrmStore::verify) found: [`VerifyReport`], and
//! the first broken link, [`Tamper`].

use std::fmt;

use tower_activity::seal::{ChainBreak, Checkpoint};
use uuid::Uuid;

/// The outcome of a verification: what was checked, and the first broken
/// link if any ([`tamper`](Self::tamper)). It names the seal, the entry and
/// what differs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Entries recomputed from their stored columns and found in their seal.
    pub entries_verified: u64,
    /// Seals whose chain link, root, count and id range (and signature, with
    /// a public key) were checked.
    pub seals_verified: u64,
    /// Entries not sealed yet (recent ones are simply waiting for the sealer).
    pub entries_unsealed: u64,
    /// Sealed entries whose erasable columns were anonymized: their salt is
    /// gone, their commitment stands in for them.
    pub entries_erased: u64,
    /// Sealed entries removed by retention, as its sealed records account
    /// for them.
    pub entries_pruned: u64,
    /// Whether signatures were checked against a pinned public key.
    pub signatures_checked: bool,
    /// The newest seal verified, as a checkpoint to keep off the server.
    pub newest: Option<Checkpoint>,
    /// The first broken link, or `None` when the log is intact.
    pub tamper: Option<Tamper>,
}

impl VerifyReport {
    /// Whether nothing was found changed, missing or added.
    pub fn is_intact(&self) -> bool {
        self.tamper.is_none()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "seals verified:   {}", self.seals_verified)?;
        writeln!(f, "entries verified: {}", self.entries_verified)?;
        writeln!(f, "entries erased:   {}", self.entries_erased)?;
        writeln!(f, "entries pruned:   {}", self.entries_pruned)?;
        writeln!(f, "entries unsealed: {}", self.entries_unsealed)?;
        let signatures = match self.signatures_checked {
            true => "checked against the public key",
            false => "not checked (no public key given)",
        };
        writeln!(f, "signatures:       {signatures}")?;
        match &self.tamper {
            None => write!(f, "result:           intact"),
            Some(tamper) => write!(f, "result:           TAMPERED: {tamper}"),
        }
    }
}

/// The first broken link a verification found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Tamper {
    /// A seal is missing, repeated, out of order or changed (the next seal
    /// no longer names its hash).
    #[error(transparent)]
    Chain(#[from] ChainBreak),
    /// A seal has no signature though a public key was given.
    #[error("seal {sequence} is not signed")]
    Unsigned {
        /// The seal.
        sequence: u64,
    },
    /// A seal's signature is not the pinned key's over it.
    #[error("seal {sequence}: the signature does not match the public key")]
    Signature {
        /// The seal.
        sequence: u64,
    },
    /// A stored column of an entry differs from what was sealed.
    #[error("seal {sequence}, entry {entry}: {}", changed(column))]
    Entry {
        /// The seal.
        sequence: u64,
        /// The entry.
        entry: Uuid,
        /// The column that differs, when its digest shows it.
        column: Option<&'static str>,
    },
    /// A sealed entry is gone and no retention record accounts for it.
    #[error("seal {sequence}, entry {entry}: the entry was deleted")]
    Missing {
        /// The seal.
        sequence: u64,
        /// The entry.
        entry: Uuid,
    },
    /// An entry sits at another place in its seal than the one it was sealed
    /// at (moved, or copied in).
    #[error("seal {sequence}, entry {entry}: found at place {found}, expected {expected}")]
    Place {
        /// The seal.
        sequence: u64,
        /// The entry.
        entry: Uuid,
        /// The place that should come next.
        expected: u64,
        /// The place it has.
        found: u64,
    },
    /// Retention's records account for another number of deleted sealed
    /// entries than are gone from the seals they name: entries were deleted
    /// besides the prune.
    #[error(
        "retention records account for {recorded} deleted sealed entries, but {missing} are gone from their seals"
    )]
    Pruned {
        /// What the records account for.
        recorded: u64,
        /// What is gone.
        missing: u64,
    },
    /// A seal covers another number of entries than it says.
    #[error("seal {sequence} says it covers {sealed} entries; {found} are stored")]
    Count {
        /// The seal.
        sequence: u64,
        /// What the seal says.
        sealed: u64,
        /// What is stored.
        found: u64,
    },
    /// A seal's first or last entry is not the one it names.
    #[error("seal {sequence}: its first or last entry is not the one it names")]
    Range {
        /// The seal.
        sequence: u64,
    },
    /// The Merkle root over a seal's entries differs from the seal's.
    #[error("seal {sequence}: the root of its entries differs from the sealed root")]
    Root {
        /// The seal.
        sequence: u64,
    },
    /// The seal the checkpoint names differs from the stored one.
    #[error("seal {sequence} differs from the checkpoint: the history was rewritten")]
    Checkpoint {
        /// The seal.
        sequence: u64,
    },
    /// The log ends before the checkpoint's seal.
    #[error("the log ends at seal {newest} but the checkpoint names seal {checkpoint}: seals were removed")]
    Truncated {
        /// The checkpoint's seal.
        checkpoint: u64,
        /// The newest stored seal (0 for none).
        newest: u64,
    },
    /// An entry is placed in a seal that does not exist.
    #[error("entry {entry} names seal {sequence}, which does not exist: seals were removed")]
    Orphan {
        /// The seal it names.
        sequence: u64,
        /// The entry.
        entry: Uuid,
    },
    /// An entry older than the sealing bound was never sealed: it was added
    /// behind the sealer's back.
    #[error(
        "entry {entry} is not sealed though older than the newest seal by more than the bound: it was added afterwards"
    )]
    Unsealed {
        /// The entry.
        entry: Uuid,
    },
    /// An entry was sealed after a seal of newer entries, and is older than
    /// that seal by more than the bound: it was added afterwards, backdated.
    #[error(
        "seal {sequence}, entry {entry}: sealed after seals later than its time by more than the bound: it was added afterwards"
    )]
    SealedLate {
        /// The seal.
        sequence: u64,
        /// The entry.
        entry: Uuid,
    },
}

fn changed(column: &Option<&'static str>) -> String {
    match column {
        Some(column) => format!("the column `{column}` was changed"),
        None => "its stored values differ from what was sealed".to_owned(),
    }
}
