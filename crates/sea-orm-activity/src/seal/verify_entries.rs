//! The check of one seal's entries, page by page: each entry in the scope
//! recomputed from its stored columns and found at its place, and the seal's
//! root, count and id range recomputed from the leaves. Computation only, so
//! it runs off the async runtime while the next page is read.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{DbBackend, DbErr, QueryResult};
use tower_activity::Cell;
use tower_activity::seal::{MerkleRoot, Seal, changed_column, column_digest_is, commitment, entry_leaf};
use uuid::Uuid;

use super::prune_record::SEALED_PRUNE_ACTION;
use super::stored_row::column_at;
use super::verify::Checked;
use super::verify_places::{Place, PlacesPage, details_as_text, stored_row, stored_text};
use super::verify_report::Tamper;

/// What every seal's check needs: the tenant in scope, if any, and where
/// the columns it reads sit among [`COLUMNS`].
#[derive(Debug)]
pub(super) struct EntryScope {
    tenant: Option<String>,
    tenant_at: usize,
    occurred_at: usize,
    action_at: usize,
    /// Whether the details are read as text ([`details_as_text`]).
    details_as_text: bool,
}

impl EntryScope {
    /// Every entry, or only those of `tenant`, read from `backend`.
    pub(super) fn new(tenant: Option<String>, backend: DbBackend) -> Result<Arc<EntryScope>, DbErr> {
        Ok(Arc::new(EntryScope {
            tenant,
            tenant_at: column_at("tenant_id")?,
            occurred_at: column_at("occurred_at")?,
            action_at: column_at("action")?,
            details_as_text: details_as_text(backend),
        }))
    }
}

/// What one seal's check counted.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct EntryCounts {
    /// Entries recomputed and found at their place.
    pub(super) verified: u64,
    /// Of those, entries whose commitment stands in for erased columns.
    pub(super) erased: u64,
    /// Entries removed by retention: their leaves as sealed stand in.
    pub(super) pruned: u64,
    /// Entries outside the scope: their leaves as sealed stand in.
    pub(super) out_of_scope: u64,
}

/// The check of one seal's entries, fed its places page by page.
#[derive(Debug)]
pub(super) struct EntriesCheck {
    scope: Arc<EntryScope>,
    sequence: u64,
    /// Whether a retention record names the seal.
    pruned_by_retention: bool,
    /// The last entry of the seal before, and the time before which an entry
    /// sealed after it was added afterwards.
    late_before: Option<(Uuid, DateTime<Utc>)>,
    root: MerkleRoot,
    position: i64,
    first: Option<Uuid>,
    last: Option<Uuid>,
    counts: EntryCounts,
}

impl EntriesCheck {
    /// The check of the seal `sequence`, from its first place.
    pub(super) fn new(
        scope: Arc<EntryScope>,
        sequence: u64,
        pruned_by_retention: bool,
        late_before: Option<(Uuid, DateTime<Utc>)>,
    ) -> EntriesCheck {
        EntriesCheck {
            scope,
            sequence,
            pruned_by_retention,
            late_before,
            root: MerkleRoot::new(),
            position: 0,
            first: None,
            last: None,
            counts: EntryCounts::default(),
        }
    }

    /// Checks the next places, in order, as
    /// [`places_page`](super::verify_places::places_page) read them.
    pub(super) fn page(&mut self, page: &PlacesPage) -> Checked {
        let rows = page.rows_by_id()?;
        for place in &page.places {
            if let Err(tamper) = self.place(place, &rows)? {
                return Ok(Err(tamper));
            }
        }
        Ok(Ok(()))
    }

    /// The checks once every place was read: the count, the id range and
    /// the root are the seal's.
    pub(super) fn finish(self, seal: &Seal) -> Result<EntryCounts, Tamper> {
        let sequence = seal.sequence;
        if self.root.len() != seal.count {
            return Err(Tamper::Count {
                sequence,
                sealed: seal.count,
                found: self.root.len(),
            });
        }
        if self.first != Some(seal.first_entry) || self.last != Some(seal.last_entry) {
            return Err(Tamper::Range { sequence });
        }
        if self.root.root() != seal.root {
            return Err(Tamper::Root { sequence });
        }
        Ok(self.counts)
    }

    fn place(&mut self, row: &QueryResult, rows: &HashMap<Uuid, &QueryResult>) -> Checked {
        let place = Place::read(row)?;
        let (sequence, entry) = (self.sequence, place.entry);
        if place.position != self.position {
            return Ok(Err(Tamper::Place {
                sequence,
                entry,
                expected: self.position as u64,
                found: place.position.max(0) as u64,
            }));
        }
        self.position += 1;
        self.first.get_or_insert(entry);
        self.last = Some(entry);
        let tenant = self.scope.tenant.as_deref();
        // Read only where they tell something: with a tenant in the scope,
        // for an entry gone, or to name the column that differs.
        let digests = || Place::column_digests(row);
        let sealed_as_tenant = match tenant {
            Some(tenant) => column_digest_is(&digests()?, "tenant_id", &Cell::Text(Some(tenant)), None),
            None => false,
        };
        let Some(stored) = rows.get(&entry) else {
            // Retention erases the digests of what it deletes, and records it;
            // digests erased in a seal no record names hide a deletion, whoever's
            // entry it was.
            let erased = digests()?.is_empty();
            let pruned = self.pruned_by_retention && erased;
            match tenant {
                None if pruned => self.counts.pruned += 1,
                Some(_) if !sealed_as_tenant && (pruned || !erased) => self.counts.out_of_scope += 1,
                _ => return Ok(Err(Tamper::Missing { sequence, entry })),
            }
            self.root.push(place.stored_leaf());
            return Ok(Ok(()));
        };
        if let Some(tenant) = tenant
            && !sealed_as_tenant
            && stored_text(stored, self.scope.tenant_at)?.as_deref() != Some(tenant)
        {
            self.counts.out_of_scope += 1;
            self.root.push(place.stored_leaf());
            return Ok(Ok(()));
        }
        let stored = stored_row(stored, self.scope.details_as_text)?;
        let cells = stored.cells();
        let changed = || -> Checked {
            Ok(Err(Tamper::Entry {
                sequence,
                entry,
                column: changed_column(&digests()?, &cells, place.salt.as_ref()),
            }))
        };
        match &place.salt {
            Some(salt) if commitment(&cells, salt) != place.commitment => return changed(),
            Some(_) => {}
            // A prune record is never anonymized: erased, it could have been
            // changed.
            None if matches!(cells[self.scope.action_at], Cell::Text(Some(action)) if action == SEALED_PRUNE_ACTION) =>
            {
                return Ok(Err(Tamper::Entry {
                    sequence,
                    entry,
                    column: Some("details"),
                }));
            }
            None => self.counts.erased += 1,
        }
        let leaf = entry_leaf(&cells, &place.commitment);
        if place.leaf != leaf {
            return changed();
        }
        // Sealed after a seal of newer entries, and older than that seal by
        // more than the bound: added afterwards, backdated.
        let occurred_at = match cells[self.scope.occurred_at] {
            Cell::Time(time) => Some(time),
            _ => None,
        };
        if self
            .late_before
            .is_some_and(|(last_id, bound)| entry < last_id && occurred_at.is_some_and(|time| time < bound))
        {
            return Ok(Err(Tamper::SealedLate { sequence, entry }));
        }
        self.root.push(leaf);
        self.counts.verified += 1;
        Ok(Ok(()))
    }
}
