//! Signing seals with Ed25519, and checking their signatures against a
//! pinned public key.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use super::record::Seal;

/// The secret key seals are signed with. Its [`Debug`] output shows only
/// the public key.
#[derive(Clone)]
pub struct SealSigningKey(SigningKey);

impl SealSigningKey {
    /// The key with these 32 secret bytes.
    pub fn from_bytes(secret: &[u8; 32]) -> Self {
        SealSigningKey(SigningKey::from_bytes(secret))
    }

    /// A new random key from the operating system's generator, or `None`
    /// when it cannot give one. Keep its [bytes](Self::to_bytes) in a secret
    /// store; give verifiers its [public key](Self::public_key).
    pub fn generate() -> Option<Self> {
        let mut secret = [0; 32];
        getrandom::fill(&mut secret).ok()?;
        Some(SealSigningKey::from_bytes(&secret))
    }

    /// Its 32 secret bytes, to keep in a secret store.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key that checks its signatures.
    pub fn public_key(&self) -> SealPublicKey {
        SealPublicKey(self.0.verifying_key())
    }

    /// Signs `seal`'s [encoding](Seal::encode).
    pub fn sign(&self, seal: &Seal) -> SealSignature {
        SealSignature(self.0.sign(&seal.encode()).to_bytes())
    }
}

impl fmt::Debug for SealSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealSigningKey")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

/// The public key a verifier pins: only seals it signed are trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealPublicKey(VerifyingKey);

impl SealPublicKey {
    /// The key with these 32 bytes, or an error when they are not a point of
    /// the curve.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, InvalidPublicKey> {
        VerifyingKey::from_bytes(bytes)
            .map(SealPublicKey)
            .map_err(|_| InvalidPublicKey)
    }

    /// Its 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Whether `signature` is this key's over `seal`. The check is strict:
    /// weak keys and non-canonical signatures, which would let someone
    /// other than the key's holder produce a passing signature, fail.
    pub fn verify(&self, seal: &Seal, signature: &SealSignature) -> Result<(), BadSignature> {
        self.0
            .verify_strict(&seal.encode(), &Signature::from_bytes(&signature.0))
            .map_err(|_| BadSignature {
                sequence: seal.sequence,
            })
    }
}

/// A seal's Ed25519 signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealSignature([u8; 64]);

impl SealSignature {
    /// The signature with these 64 bytes.
    pub fn from_bytes(bytes: [u8; 64]) -> Self {
        SealSignature(bytes)
    }

    /// Its 64 bytes.
    pub fn to_bytes(&self) -> [u8; 64] {
        self.0
    }
}

/// Bytes that are not an Ed25519 public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an Ed25519 public key: the 32 bytes are not a point of the curve")]
pub struct InvalidPublicKey;

/// A seal whose signature is not the pinned key's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("seal {sequence}: the signature is not the public key's over this seal")]
pub struct BadSignature {
    /// The seal's sequence number.
    pub sequence: u64,
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;

    fn seal() -> Seal {
        Seal {
            chain: "api-1".to_owned(),
            sequence: 1,
            previous: [0; 32],
            root: [9; 32],
            count: 3,
            first_entry: Uuid::from_u128(1),
            last_entry: Uuid::from_u128(3),
            sealed_at: Utc::now(),
        }
    }

    #[test]
    fn a_signature_verifies_with_its_public_key_only() {
        let key = SealSigningKey::from_bytes(&[7; 32]);
        let other = SealSigningKey::from_bytes(&[8; 32]);
        let seal = seal();
        let signature = key.sign(&seal);
        assert_eq!(key.public_key().verify(&seal, &signature), Ok(()));
        assert_eq!(
            other.public_key().verify(&seal, &signature),
            Err(BadSignature { sequence: 1 })
        );
    }

    #[test]
    fn a_changed_seal_or_signature_fails() {
        let key = SealSigningKey::from_bytes(&[7; 32]);
        let seal = seal();
        let signature = key.sign(&seal);
        let mut changed = seal.clone();
        changed.count += 1;
        assert!(key.public_key().verify(&changed, &signature).is_err());
        let mut bytes = signature.to_bytes();
        bytes[10] ^= 1;
        assert!(
            key.public_key()
                .verify(&seal, &SealSignature::from_bytes(bytes))
                .is_err()
        );
    }

    #[test]
    fn a_public_key_round_trips_through_its_bytes() {
        let public = SealSigningKey::from_bytes(&[7; 32]).public_key();
        assert_eq!(SealPublicKey::from_bytes(&public.to_bytes()), Ok(public));
    }

    #[test]
    fn the_signing_key_does_not_show_its_secret() {
        let shown = format!("{:?}", SealSigningKey::from_bytes(&[7; 32]));
        assert!(shown.contains("public_key"));
        assert!(!shown.contains("[7, 7"));
    }

    #[test]
    fn generated_keys_differ_and_round_trip_through_their_bytes() {
        let (one, two) = (
            SealSigningKey::generate().unwrap(),
            SealSigningKey::generate().unwrap(),
        );
        assert_ne!(one.to_bytes(), two.to_bytes());
        let again = SealSigningKey::from_bytes(&one.to_bytes());
        assert_eq!(again.public_key(), one.public_key());
    }
}
