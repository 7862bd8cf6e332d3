//! Following one chain of seals in order: [`ChainCheck`] finds the first
//! missing, repeated or rewritten link.

use super::merkle::Hash;
use super::record::Seal;

/// Checks the seals of one chain, given in sequence order: each must be the
/// next number on the same chain and name the hash of the one before it.
///
/// ```
/// # use chrono::Utc;
/// # use uuid::Uuid;
/// use tower_activity::seal::{ChainBreak, ChainCheck, Seal};
///
/// let first = Seal {
///     chain: "api-1".to_owned(),
///     sequence: 1,
///     previous: [0; 32],
///     root: [1; 32],
///     count: 2,
///     first_entry: Uuid::from_u128(1),
///     last_entry: Uuid::from_u128(2),
///     sealed_at: Utc::now(),
/// };
/// let second = Seal { sequence: 2, previous: first.hash(), ..first.clone() };
///
/// let mut check = ChainCheck::new("api-1");
/// assert_eq!(check.next(&first), Ok(()));
/// assert_eq!(check.next(&second), Ok(()));
///
/// let mut check = ChainCheck::new("api-1");
/// check.next(&first).unwrap();
/// let skipped = Seal { sequence: 3, ..second };
/// assert_eq!(check.next(&skipped), Err(ChainBreak::Gap { expected: 2, found: 3 }));
/// ```
#[derive(Clone, Debug)]
pub struct ChainCheck {
    chain: String,
    next_sequence: u64,
    previous: Hash,
}

impl ChainCheck {
    /// A check of the chain `chain` from its first seal.
    pub fn new(chain: impl Into<String>) -> Self {
        ChainCheck {
            chain: chain.into(),
            next_sequence: 1,
            previous: [0; 32],
        }
    }

    /// A check that continues after `trusted`, a seal already known good
    /// (a checkpoint kept off the server).
    pub fn after(trusted: &Seal) -> Self {
        ChainCheck {
            chain: trusted.chain.clone(),
            next_sequence: trusted.sequence.saturating_add(1),
            previous: trusted.hash(),
        }
    }

    /// Takes the next seal, or says how it breaks the chain. After a break
    /// the check stays where it was.
    pub fn next(&mut self, seal: &Seal) -> Result<(), ChainBreak> {
        if seal.chain != self.chain {
            return Err(ChainBreak::OtherChain {
                sequence: seal.sequence,
                chain: seal.chain.clone(),
            });
        }
        if seal.sequence != self.next_sequence {
            return Err(ChainBreak::Gap {
                expected: self.next_sequence,
                found: seal.sequence,
            });
        }
        if seal.previous != self.previous {
            return Err(ChainBreak::Previous {
                sequence: seal.sequence,
            });
        }
        self.next_sequence += 1;
        self.previous = seal.hash();
        Ok(())
    }

    /// The sequence number the next seal must have.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }
}

/// How a seal breaks its chain.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// The seal belongs to another chain.
    #[error("seal {sequence} belongs to the chain {chain:?}, not this one")]
    OtherChain {
        /// Its sequence number.
        sequence: u64,
        /// The chain it names.
        chain: String,
    },
    /// A seal is missing, repeated or out of order.
    #[error("expected seal {expected}, found seal {found}: a seal is missing, repeated or out of order")]
    Gap {
        /// The sequence number that should have come.
        expected: u64,
        /// The one that came.
        found: u64,
    },
    /// The seal does not name the hash of the seal before it: one of the two
    /// was changed.
    #[error("seal {sequence} does not follow the seal before it: its previous hash differs")]
    Previous {
        /// Its sequence number.
        sequence: u64,
    },
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;

    fn chain(length: u64) -> Vec<Seal> {
        let mut previous = [0; 32];
        (1..=length)
            .map(|sequence| {
                let seal = Seal {
                    chain: "api-1".to_owned(),
                    sequence,
                    previous,
                    root: [sequence as u8; 32],
                    count: 1,
                    first_entry: Uuid::from_u128(sequence.into()),
                    last_entry: Uuid::from_u128(sequence.into()),
                    sealed_at: Utc::now(),
                };
                previous = seal.hash();
                seal
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_passes_from_the_start_and_from_a_checkpoint() {
        let seals = chain(5);
        let mut check = ChainCheck::new("api-1");
        for seal in &seals {
            assert_eq!(check.next(seal), Ok(()));
        }
        assert_eq!(check.next_sequence(), 6);
        let mut check = ChainCheck::after(&seals[1]);
        for seal in &seals[2..] {
            assert_eq!(check.next(seal), Ok(()));
        }
    }

    #[test]
    fn a_missing_repeated_or_foreign_seal_breaks_the_chain() {
        let seals = chain(4);
        let mut check = ChainCheck::new("api-1");
        check.next(&seals[0]).unwrap();
        assert_eq!(
            check.next(&seals[2]),
            Err(ChainBreak::Gap {
                expected: 2,
                found: 3
            })
        );
        assert_eq!(
            check.next(&seals[0]),
            Err(ChainBreak::Gap {
                expected: 2,
                found: 1
            })
        );
        let mut foreign = seals[1].clone();
        foreign.chain = "api-2".to_owned();
        assert!(matches!(
            check.next(&foreign),
            Err(ChainBreak::OtherChain { sequence: 2, .. })
        ));
        assert_eq!(check.next(&seals[1]), Ok(()));
    }

    #[test]
    fn a_changed_seal_breaks_the_link_after_it() {
        let mut seals = chain(3);
        seals[1].root[0] ^= 1;
        let mut check = ChainCheck::new("api-1");
        check.next(&seals[0]).unwrap();
        // The changed seal itself still names its predecessor; the seal
        // after it no longer names it.
        assert_eq!(check.next(&seals[1]), Ok(()));
        assert_eq!(check.next(&seals[2]), Err(ChainBreak::Previous { sequence: 3 }));
    }

    #[test]
    fn a_checkpoint_exposes_a_rewritten_history() {
        let seals = chain(3);
        let checkpoint = seals[1].clone();
        let mut rewritten = chain(3);
        rewritten[2].previous[0] ^= 1;
        let mut check = ChainCheck::after(&checkpoint);
        assert_eq!(
            check.next(&rewritten[2]),
            Err(ChainBreak::Previous { sequence: 3 })
        );
        assert_eq!(ChainCheck::after(&checkpoint).next(&seals[2]), Ok(()));
    }
}
