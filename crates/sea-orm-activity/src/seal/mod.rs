//! Sealing: every entry covered by a signed seal in a hash chain, and the
//! verification that recomputes it all from the stored rows.
//!
//! The tables ([`tables`]) come with the migrations whatever the features;
//! the sealer and `verify` are behind the `seal` feature.

pub(crate) mod prune_record;
pub(crate) mod tables;

#[cfg(feature = "seal")]
mod id_floor;
#[cfg(feature = "seal")]
mod pending;
#[cfg(feature = "seal")]
mod places;
#[cfg(feature = "seal")]
mod round;
#[cfg(all(test, feature = "seal"))]
mod round_tests;
#[cfg(feature = "seal")]
mod seal_store;
#[cfg(feature = "seal")]
mod sealer;
#[cfg(feature = "seal")]
mod stored;
#[cfg(feature = "seal")]
mod stored_row;
#[cfg(feature = "seal")]
mod sweep;
#[cfg(feature = "seal")]
mod verify;
#[cfg(feature = "seal")]
mod verify_entries;
#[cfg(feature = "seal")]
mod verify_options;
#[cfg(feature = "seal")]
mod verify_places;
#[cfg(feature = "seal")]
mod verify_read;
#[cfg(feature = "seal")]
mod verify_report;

#[cfg(feature = "seal")]
pub use self::sealer::{DEFAULT_CHAIN, SealError, Sealer, SealerHandle};
#[cfg(feature = "seal")]
pub use self::verify_options::{VerifyOptions, VerifyScope};
#[cfg(feature = "seal")]
pub use self::verify_report::{Tamper, VerifyReport};
