//! What [`SeaOrmStore::verify`](crate::SeaOrmStore::verify) checks against
//! ([`VerifyOptions`]), and how much of the log it recomputes
//! ([`VerifyScope`]).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tower_activity::seal::{Checkpoint, SealPublicKey};

use super::sealer::DEFAULT_CHAIN;

/// What [`SeaOrmStore::verify`](crate::SeaOrmStore::verify) checks against.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    pub(super) chain: String,
    pub(super) public_key: Option<SealPublicKey>,
    pub(super) checkpoint: Option<Checkpoint>,
    pub(super) max_unsealed_age: Duration,
    pub(super) scope: VerifyScope,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions::new()
    }
}

impl VerifyOptions {
    /// The chain [`DEFAULT_CHAIN`], no key, no checkpoint, a five-minute
    /// bound on how long an entry may wait for its seal, and the whole log.
    pub fn new() -> Self {
        VerifyOptions {
            chain: DEFAULT_CHAIN.to_owned(),
            public_key: None,
            checkpoint: None,
            max_unsealed_age: Duration::from_secs(300),
            scope: VerifyScope::default(),
        }
    }

    /// Verifies the chain `chain`.
    pub fn chain(mut self, chain: impl Into<String>) -> Self {
        self.chain = chain.into();
        self
    }

    /// Pins the public key: every seal must be signed by it (checked
    /// strictly). Without one, signatures are not checked.
    pub fn public_key(mut self, key: SealPublicKey) -> Self {
        self.public_key = Some(key);
        self
    }

    /// A checkpoint kept off the server: the stored seal of its number must
    /// be the same, and the log must reach it.
    pub fn checkpoint(mut self, checkpoint: Checkpoint) -> Self {
        self.chain = checkpoint.seal.chain.clone();
        self.checkpoint = Some(checkpoint);
        self
    }

    /// How long an entry may wait for its seal (the sealer's interval, plus
    /// the longest transaction that writes the log, with a margin): an entry
    /// older than this relative to the seals around it, unsealed or sealed
    /// late, was added afterwards. Events a recorder's spool replays after
    /// an outage are written late with the times they were recorded at: with
    /// a spool, make this longer than the longest outage it is to ride out.
    pub fn max_unsealed_age(mut self, age: Duration) -> Self {
        self.max_unsealed_age = age;
        self
    }

    /// Recomputes only the entries of the tenant `tenant`: a report to give
    /// that tenant. Every seal's link and signature is still checked, and
    /// every seal's root, count and id range are recomputed from the leaves
    /// stored for its entries; only the tenant's entries have their leaves
    /// recomputed from their columns. The other tenants' entries are taken as
    /// sealed: a change to one of them is not reported (see
    /// [`VerifyScope::tenant`] for how an entry is told to be the tenant's).
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.scope.tenant = Some(tenant.into());
        self
    }

    /// Recomputes only the seals made since `since` and their entries: from
    /// the first seal made at or after it, every seal in full. The seals
    /// before it have their links and signatures checked only; their entries
    /// are not read.
    pub fn since(mut self, since: DateTime<Utc>) -> Self {
        self.scope.since = Some(since);
        self
    }

    pub(super) fn bound(&self) -> TimeDelta {
        TimeDelta::from_std(self.max_unsealed_age).unwrap_or(TimeDelta::MAX)
    }
}

/// How much of the log a verification recomputes: the whole log by default
/// ([`VerifyScope::is_whole_log`]), or one tenant's entries, or the seals
/// made since a time, or both. Whatever the scope, every seal of the chain
/// has its link to the one before (and its signature, with a public key)
/// checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyScope {
    /// Only this tenant's entries are recomputed from their columns. An
    /// entry is the tenant's when its stored `tenant_id` is the tenant, or
    /// when the digest of `tenant_id` stored when it was sealed is the
    /// tenant's (so an entry moved to another tenant, or deleted, is still
    /// found; four bytes of a digest, so about one other entry in four
    /// billion is taken for the tenant's too). Entries removed by retention
    /// lose those digests, so they are no tenant's.
    pub tenant: Option<String>,
    /// Only the seals from the first one made at or after this time, and
    /// their entries, are recomputed.
    pub since: Option<DateTime<Utc>>,
}

impl VerifyScope {
    /// Whether every seal and every entry is recomputed.
    pub fn is_whole_log(&self) -> bool {
        self.tenant.is_none() && self.since.is_none()
    }
}
