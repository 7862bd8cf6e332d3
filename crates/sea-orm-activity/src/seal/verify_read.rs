//! The reading half of a verification: the chain's seals in order and, for
//! each in the scope, its places and their entries' rows, page by page.

use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::mpsc;

use super::tables::seal_row;
use super::verify_options::VerifyOptions;
use super::verify_places::{PLACE_PAGE, PlacesPage, places_page};
use crate::store::SeaOrmStore;

/// Seals read per query.
const SEAL_PAGE: u64 = 100;

/// What the reading half sends the checking half, in order.
pub(super) enum Read {
    /// The next seal, and whether its entries follow (it is in the scope).
    Seal(seal_row::Model, bool),
    /// The next places of the seal in the scope, in order.
    Places(PlacesPage),
    /// Every place of that seal was sent.
    SealEnd,
}

/// The reading half: sends the seals of the chain in order and, for each in
/// the scope, its places, until done, or the checking half stops listening,
/// or the database fails (sent as the last message).
pub(super) async fn read(
    store: &SeaOrmStore,
    options: &VerifyOptions,
    sender: mpsc::Sender<Result<Read, DbErr>>,
) -> Result<(), DbErr> {
    match read_seals(store, options, &sender).await {
        Err(error) => {
            // Dropped when the checking half stopped: its own result stands.
            let _ = sender.send(Err(error)).await;
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

/// Returns `Ok` early when the checking half stopped listening.
async fn read_seals(
    store: &SeaOrmStore,
    options: &VerifyOptions,
    sender: &mpsc::Sender<Result<Read, DbErr>>,
) -> Result<(), DbErr> {
    let chain = options.chain.as_str();
    let mut in_scope = options.scope.since.is_none();
    let mut after = 0_i64;
    loop {
        let page = seal_row::Entity::find()
            .filter(seal_row::Column::Chain.eq(chain))
            .filter(seal_row::Column::Sequence.gt(after))
            .order_by_asc(seal_row::Column::Sequence)
            .limit(SEAL_PAGE)
            .all(&store.db)
            .await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.sequence;
        for row in page {
            // From the first seal made since the time, every seal.
            in_scope |= options.scope.since.is_some_and(|since| row.sealed_at >= since);
            let sequence = row.sequence;
            if sender.send(Ok(Read::Seal(row, in_scope))).await.is_err() {
                return Ok(());
            }
            if !in_scope {
                continue;
            }
            let mut position = 0;
            loop {
                let places = places_page(&store.db, chain, sequence, position).await?;
                let full = places.len() == PLACE_PAGE;
                if let Some(last) = places.last_position()? {
                    position = last.saturating_add(1);
                }
                if sender.send(Ok(Read::Places(places))).await.is_err() {
                    return Ok(());
                }
                if !full {
                    break;
                }
            }
            if sender.send(Ok(Read::SealEnd)).await.is_err() {
                return Ok(());
            }
        }
    }
}
