//! `verify` and `checkpoint`: the sealed log checked from the stored rows,
//! and its newest seal written down to keep elsewhere.

use std::path::Path;
use std::time::Duration;

use indicatif::ProgressBar;
use sea_orm_activity::{SeaOrmStore, VerifyOptions};
use tower_activity::seal::{Checkpoint, SealPublicKey};

use crate::commands::{BoxError, doing, print, progress};

/// Verifies the chain `chain`, printing the report; an error when it was
/// tampered with, so the command exits with status 1.
pub(crate) async fn verify(
    store: &SeaOrmStore,
    chain: String,
    public_key: Option<&Path>,
    checkpoint: Option<&Path>,
    max_unsealed_age: Duration,
) -> Result<(), BoxError> {
    let mut options = VerifyOptions::new()
        .chain(chain)
        .max_unsealed_age(max_unsealed_age);
    if let Some(path) = public_key {
        options = options.public_key(read_public_key(path)?);
    }
    if let Some(path) = checkpoint {
        options = options.checkpoint(read_checkpoint(path)?);
    }
    let spinner = progress(
        ProgressBar::new_spinner(),
        "{spinner} verified {pos} entries in {msg} seals",
    );
    spinner.enable_steady_tick(Duration::from_millis(120));
    let report = store
        .verify_with_progress(&options, |report| {
            spinner.set_position(report.entries_verified);
            spinner.set_message(report.seals_verified.to_string());
        })
        .await
        .map_err(doing("verification could not read the log"))?;
    spinner.finish_and_clear();
    print(&format!("{report}\n"))?;
    match report.is_intact() {
        true => Ok(()),
        false => Err("the activity log was tampered with".into()),
    }
}

/// Prints the newest seal of `chain` as a checkpoint.
pub(crate) async fn checkpoint(store: &SeaOrmStore, chain: &str) -> Result<(), BoxError> {
    let checkpoint = store
        .checkpoint(chain)
        .await
        .map_err(doing("cannot read the seals"))?
        .ok_or_else(|| format!("the chain {chain:?} has no seal yet: is a sealer running?"))?;
    print(&checkpoint.to_string())
}

fn read_public_key(path: &Path) -> Result<SealPublicKey, BoxError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read the public key {}: {error}", path.display()))?;
    let mut bytes = [0; 32];
    hex::decode_to_slice(text.trim(), &mut bytes)
        .map_err(|_| format!("{} does not hold a public key: 32 bytes in hex", path.display()))?;
    SealPublicKey::from_bytes(&bytes)
        .map_err(|_| format!("{} does not hold a valid Ed25519 public key", path.display()).into())
}

fn read_checkpoint(path: &Path) -> Result<Checkpoint, BoxError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read the checkpoint {}: {error}", path.display()))?;
    Checkpoint::parse(&text).map_err(|error| format!("{}: {error}", path.display()).into())
}
