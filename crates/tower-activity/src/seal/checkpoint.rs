//! Checkpoints: the newest seal written down as a small text file to keep
//! off the server, so that a verifier can tell a truncated or rewritten
//! history from the real one.

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::merkle::Hash;
use super::record::Seal;
use super::signing::SealSignature;

/// The first line of a checkpoint: its format and version.
const HEADER: &str = "tower-activity checkpoint v1";

/// A seal kept off the server, with its signature when it has one.
///
/// Its text form ([`Display`](fmt::Display), read back with
/// [`Checkpoint::parse`]) is one `name value` pair per line after a version
/// line; the seal's hash is written too, and checked when read.
///
/// ```
/// # use chrono::{TimeZone, Utc};
/// # use uuid::Uuid;
/// use tower_activity::seal::{Checkpoint, Seal};
///
/// let seal = Seal {
///     chain: "main".to_owned(),
///     sequence: 3,
///     previous: [1; 32],
///     root: [2; 32],
///     count: 10,
///     first_entry: Uuid::from_u128(1),
///     last_entry: Uuid::from_u128(10),
///     sealed_at: Utc.timestamp_micros(1_700_000_000_000_001).unwrap(),
/// };
/// let checkpoint = Checkpoint { seal, signature: None };
/// let text = checkpoint.to_string();
/// assert!(text.starts_with("tower-activity checkpoint v1\n"));
/// assert_eq!(Checkpoint::parse(&text)?, checkpoint);
/// # Ok::<(), tower_activity::seal::InvalidCheckpoint>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The seal.
    pub seal: Seal,
    /// Its signature.
    pub signature: Option<SealSignature>,
}

/// Why a checkpoint's text could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid checkpoint: {0}")]
pub struct InvalidCheckpoint(String);

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seal = &self.seal;
        writeln!(f, "{HEADER}")?;
        writeln!(f, "chain {}", seal.chain)?;
        writeln!(f, "sequence {}", seal.sequence)?;
        writeln!(f, "previous {}", hex::encode(seal.previous))?;
        writeln!(f, "root {}", hex::encode(seal.root))?;
        writeln!(f, "count {}", seal.count)?;
        writeln!(f, "first-entry {}", seal.first_entry)?;
        writeln!(f, "last-entry {}", seal.last_entry)?;
        writeln!(f, "sealed-at {}", seal.sealed_at.timestamp_micros())?;
        writeln!(f, "hash {}", hex::encode(seal.hash()))?;
        match &self.signature {
            Some(signature) => writeln!(f, "signature {}", hex::encode(signature.to_bytes())),
            None => writeln!(f, "signature none"),
        }
    }
}

impl Checkpoint {
    /// Reads a checkpoint's text: every line, in order, and the seal's hash
    /// must match its fields.
    pub fn parse(text: &str) -> Result<Checkpoint, InvalidCheckpoint> {
        let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
        if lines.next() != Some(HEADER) {
            return Err(InvalidCheckpoint(format!("the first line is not `{HEADER}`")));
        }
        let mut field = |name: &str| -> Result<String, InvalidCheckpoint> {
            let line = lines
                .next()
                .ok_or_else(|| InvalidCheckpoint(format!("`{name}` is missing")))?;
            match line.split_once(' ') {
                Some((found, value)) if found == name => Ok(value.trim().to_owned()),
                _ => Err(InvalidCheckpoint(format!("expected `{name}`, found `{line}`"))),
            }
        };
        let number = |name: &str, value: String| {
            value
                .parse::<u64>()
                .map_err(|_| InvalidCheckpoint(format!("`{name}` is not a number")))
        };
        let chain = field("chain")?;
        let sequence = number("sequence", field("sequence")?)?;
        let previous = hash("previous", &field("previous")?)?;
        let root = hash("root", &field("root")?)?;
        let count = number("count", field("count")?)?;
        let first_entry = uuid("first-entry", &field("first-entry")?)?;
        let last_entry = uuid("last-entry", &field("last-entry")?)?;
        let sealed_at = field("sealed-at")?
            .parse::<i64>()
            .ok()
            .and_then(DateTime::<Utc>::from_timestamp_micros)
            .ok_or_else(|| InvalidCheckpoint("`sealed-at` is not a time in microseconds".to_owned()))?;
        let written_hash = hash("hash", &field("hash")?)?;
        let signature = match field("signature")?.as_str() {
            "none" => None,
            text => {
                let mut bytes = [0; 64];
                hex::decode_to_slice(text, &mut bytes)
                    .map_err(|_| InvalidCheckpoint("`signature` is not 64 bytes in hex".to_owned()))?;
                Some(SealSignature::from_bytes(bytes))
            }
        };
        let seal = Seal {
            chain,
            sequence,
            previous,
            root,
            count,
            first_entry,
            last_entry,
            sealed_at,
        };
        if seal.hash() != written_hash {
            return Err(InvalidCheckpoint("its hash does not match its fields".to_owned()));
        }
        Ok(Checkpoint { seal, signature })
    }
}

fn hash(name: &str, text: &str) -> Result<Hash, InvalidCheckpoint> {
    let mut bytes = [0; 32];
    hex::decode_to_slice(text, &mut bytes)
        .map_err(|_| InvalidCheckpoint(format!("`{name}` is not 32 bytes in hex")))?;
    Ok(bytes)
}

fn uuid(name: &str, text: &str) -> Result<Uuid, InvalidCheckpoint> {
    text.parse()
        .map_err(|_| InvalidCheckpoint(format!("`{name}` is not a UUID")))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            seal: Seal {
                chain: "main".to_owned(),
                sequence: 9,
                previous: [4; 32],
                root: [5; 32],
                count: 3,
                first_entry: Uuid::from_u128(7),
                last_entry: Uuid::from_u128(9),
                sealed_at: Utc.timestamp_micros(1_700_000_000_123_456).unwrap(),
            },
            signature: Some(SealSignature::from_bytes([6; 64])),
        }
    }

    #[test]
    fn a_checkpoint_reads_back_as_written() {
        let checkpoint = checkpoint();
        assert_eq!(Checkpoint::parse(&checkpoint.to_string()), Ok(checkpoint));
    }

    #[test]
    fn a_changed_field_or_a_bad_line_is_refused() {
        let text = checkpoint().to_string();
        let changed = text.replace("count 3", "count 4");
        assert_eq!(
            Checkpoint::parse(&changed),
            Err(InvalidCheckpoint("its hash does not match its fields".to_owned()))
        );
        assert!(Checkpoint::parse(&text.replace("v1", "v2")).is_err());
        assert!(Checkpoint::parse(&text.replace("sequence 9", "sequence x")).is_err());
        assert!(Checkpoint::parse("").is_err());
    }
}
