//! What [`verify`](crate::SeaOrmStore::verify) found: [`VerifyReport`], and
//! the first broken link, [`Tamper`].

use std::fmt;

use chrono::SecondsFormat;
use tower_activity::seal::{ChainBreak, Checkpoint};
use uuid::Uuid;

use super::verify_options::VerifyScope;

/// The outcome of a verification: what was checked, what was left out of
/// the [scope](Self::scope), and the first broken link if any
/// ([`tamper`](Self::tamper)). It names the seal, the entry and what differs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// What was to be recomputed: the whole log, unless a tenant or a time
    /// narrowed it ([`VerifyOptions::tenant`](crate::VerifyOptions::tenant),
    /// [`VerifyOptions::since`](crate::VerifyOptions::since)).
    pub scope: VerifyScope,
    /// Entries recomputed from their stored columns and found in their seal.
    pub entries_verified: u64,
    /// Seals whose link to the seal before (and signature, with a public
    /// key) was checked: every seal of the chain, whatever the scope.
    pub seals_verified: u64,
    /// Of those, the seals whose entries were read: their root, count and id
    /// range recomputed from their entries' leaves. All of them, unless the
    /// scope has a `since`.
    pub seals_recomputed: u64,
    /// Entries of the seals recomputed that are outside the scope (another
    /// tenant's): their leaves as sealed enter the root; their columns were
    /// not recomputed, and a change to them is not reported.
    pub entries_out_of_scope: u64,
    /// Entries of the seals before the scope's `since`, as those seals count
    /// them: not read.
    pub entries_unread: u64,
    /// Entries not sealed yet (recent ones are simply waiting for the
    /// sealer); with a tenant in the scope, that tenant's only.
    pub entries_unsealed: u64,
    /// Sealed entries whose erasable columns were anonymized: their salt is
    /// gone, their commitment stands in for them.
    pub entries_erased: u64,
    /// Sealed entries removed by retention, as its sealed records account
    /// for them (with a tenant in the scope, they count as out of it: what
    /// told whose they were went with them).
    pub entries_pruned: u64,
    /// Whether signatures were checked against a pinned public key.
    pub signatures_checked: bool,
    /// The newest seal verified, as a checkpoint to keep off the server.
    pub newest: Option<Checkpoint>,
    /// The first broken link, or `None` when the log (in the scope) is
    /// intact.
    pub tamper: Option<Tamper>,
}

impl VerifyReport {
    /// Whether nothing in the scope was found changed, missing or added.
    pub fn is_intact(&self) -> bool {
        self.tamper.is_none()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.scope.is_whole_log();
        let tenant = self
            .scope
            .tenant
            .as_ref()
            .map(|tenant| format!("tenant {tenant:?}"));
        let since = self.scope.since.map(|since| {
            format!(
                "the seals made since {}",
                since.to_rfc3339_opts(SecondsFormat::AutoSi, true)
            )
        });
        let scope = match (&tenant, &since) {
            (None, None) => "the whole log: every seal and every entry recomputed".to_owned(),
            (Some(tenant), None) => format!("the entries of {tenant}"),
            (None, Some(since)) => since.clone(),
            (Some(tenant), Some(since)) => format!("the entries of {tenant} in {since}"),
        };
        writeln!(f, "scope:            {scope}")?;
        write!(f, "seals verified:   {}", self.seals_verified)?;
        match whole {
            true => writeln!(f)?,
            false => writeln!(f, " (every seal's link checked)")?,
        }
        write!(f, "seals recomputed: {}", self.seals_recomputed)?;
        let before = self.seals_verified - self.seals_recomputed.min(self.seals_verified);
        match before {
            0 => writeln!(f)?,
            before => writeln!(
                f,
                " (root, count and id range; the {before} before were not read)"
            )?,
        }
        write!(f, "entries verified: {}", self.entries_verified)?;
        match &tenant {
            None => writeln!(f)?,
            Some(tenant) => writeln!(f, " (of {tenant})")?,
        }
        let mut skipped = Vec::new();
        if tenant.is_some() {
            let out = self.entries_out_of_scope;
            skipped.push(format!("{out} out of the scope (their leaves as sealed)"));
        }
        if since.is_some() {
            let unread = self.entries_unread;
            skipped.push(format!("{unread} in the seals before (not read)"));
        }
        if !skipped.is_empty() {
            writeln!(f, "entries skipped:  {}", skipped.join(", "))?;
        }
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
