//! `verify` and `checkpoint`: the sealed log checked from the stored rows,
//! and its newest seal written down to keep elsewhere.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use indicatif::ProgressBar;
use sea_orm_activity::{SeaOrmStore, VerifyOptions};
use tower_activity::seal::{Checkpoint, SealPublicKey};

use crate::args::{duration, text, time};
use crate::commands::{BoxError, doing, print, progress};

/// What `verify` checks, and how much of the log it recomputes.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The chain of seals to verify.
    #[arg(long, default_value = "main", value_parser = text())]
    chain: String,
    /// The seals' Ed25519 public key: a file holding its 32 bytes in hex.
    /// Without it, signatures are not checked.
    #[arg(long, value_name = "FILE")]
    public_key: Option<PathBuf>,
    /// A checkpoint kept off the server (from `activity-log checkpoint`):
    /// the log must still hold that seal, unchanged.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// How long an entry may wait for its seal (5m, 1h, …).
    #[arg(long, default_value = "5m", value_parser = duration, value_name = "AGE")]
    max_unsealed_age: Duration,
    /// Recompute only this tenant's entries, for a report to give it; every
    /// seal's link, signature and root are still checked, the other tenants'
    /// entries are not.
    #[arg(long, value_parser = text())]
    tenant: Option<String>,
    /// Recompute only the seals made since this time and their entries; the
    /// seals before have their links and signatures checked only. RFC 3339,
    /// a date, or an age (24h).
    #[arg(long, value_parser = time, value_name = "TIME")]
    since: Option<DateTime<Utc>>,
}

/// Verifies the chain, printing the report; an error when it was tampered
/// with, so the command exits with status 1.
pub(crate) async fn verify(store: &SeaOrmStore, args: VerifyArgs) -> Result<(), BoxError> {
    let mut options = VerifyOptions::new()
        .chain(args.chain)
        .max_unsealed_age(args.max_unsealed_age);
    if let Some(path) = &args.public_key {
        options = options.public_key(read_public_key(path)?);
    }
    if let Some(path) = &args.checkpoint {
        options = options.checkpoint(read_checkpoint(path)?);
    }
    if let Some(tenant) = args.tenant {
        options = options.tenant(tenant);
    }
    if let Some(since) = args.since {
        options = options.since(since);
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
