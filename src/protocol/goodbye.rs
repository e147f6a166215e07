//! Goodbye (protocol v1.1, PROTOCOL.md §11.2): an instance tells a paired instance that it
//! ended their pairing, or one user pair of it, in a message signed by its identity key. The
//! message names the recipient (no forwarding to a third instance) and the pairing it ends (the
//! final transcript of the latest pairing between the two), so a goodbye replayed after the two
//! paired again is stale; replayed within the same pairing it ends what is already ended.
//! Pure: the caller passes in the keys, the stored transcript and the time.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::handshake::valid_user_name;
use super::wire::{decode_strict, encode, SignatureBytes, WireError};

/// The signature label: `sig = Ed25519(IK, GOODBYE_LABEL || postcard(GoodbyeClaims))`.
pub const GOODBYE_LABEL: &[u8] = b"shoebox/v1/goodbye";

/// What ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GoodbyeScope {
    /// Every user pair between the two instances: the sender forgot the recipient.
    Instance,
    /// One user pair: the sender's user and the recipient's user (each a local name on its
    /// own instance).
    Pair {
        /// The user on the sending instance.
        sender_user: String,
        /// The user on the receiving instance.
        recipient_user: String,
    },
}

/// Why, for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GoodbyeReason {
    /// The sender's owner removed the recipient instance (`unpeer`).
    Unpeered,
    /// The sender removed its user of the pair.
    UserRemoved,
    /// The sender's user ended this one pair (`disconnect`).
    Disconnected,
}

/// The signed content of a goodbye.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoodbyeClaims {
    /// The sender's instance id.
    pub from_instance: [u8; 32],
    /// The recipient's instance id.
    pub to_instance: [u8; 32],
    /// The final transcript hash (T9) of the latest pairing between the two instances.
    pub pairing: [u8; 32],
    /// What ends.
    pub scope: GoodbyeScope,
    /// Why.
    pub reason: GoodbyeReason,
    /// The sender's clock, Unix seconds: shown, never checked.
    pub time: u64,
}

/// The body of `POST /handshake/goodbye`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Goodbye {
    /// What the sender says.
    pub claims: GoodbyeClaims,
    /// `Ed25519(IK_sender, GOODBYE_LABEL || postcard(claims))`.
    pub sig: SignatureBytes,
}

/// Why a goodbye was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GoodbyeError {
    /// Not a strictly encoded `Goodbye`, or a user name outside the grammar.
    #[error("malformed goodbye: {0}")]
    Malformed(#[from] WireError),
    /// A user name outside `[a-z0-9._-]{1,32}`.
    #[error("invalid user name in a goodbye")]
    InvalidUserName,
    /// Addressed to another instance.
    #[error("the goodbye is for another instance")]
    WrongRecipient,
    /// It ends a pairing that is not the latest one between the two instances (replayed).
    #[error("the goodbye is for an earlier pairing")]
    StalePairing,
    /// The signature does not verify with the sender's pinned identity key.
    #[error("bad goodbye signature")]
    BadSignature,
}

fn signed_bytes(claims: &GoodbyeClaims) -> Vec<u8> {
    [GOODBYE_LABEL, &encode(claims)].concat()
}

/// A signed goodbye's bytes.
pub fn seal_goodbye(signing: &SigningKey, claims: GoodbyeClaims) -> Vec<u8> {
    let sig = signing.sign(&signed_bytes(&claims)).to_bytes();
    encode(&Goodbye {
        claims,
        sig: SignatureBytes::from_bytes(&sig),
    })
}

/// A goodbye that decoded but is not yet verified: look up the sender's pinned key by
/// [`UnverifiedGoodbye::from_instance`], then [`UnverifiedGoodbye::verify`].
#[derive(Debug)]
pub struct UnverifiedGoodbye(Goodbye);

impl UnverifiedGoodbye {
    /// The claimed sender.
    pub fn from_instance(&self) -> [u8; 32] {
        self.0.claims.from_instance
    }

    /// Checks the goodbye against what the recipient pinned for its sender: the identity key
    /// `ik`, the latest pairing's transcript `pairing`, and the recipient's own id `me`.
    ///
    /// # Errors
    /// [`GoodbyeError::BadSignature`] (also for an invalid or weak key),
    /// [`GoodbyeError::WrongRecipient`], [`GoodbyeError::StalePairing`].
    pub fn verify(
        self,
        ik: &[u8; 32],
        me: &[u8; 32],
        pairing: &[u8; 32],
    ) -> Result<GoodbyeClaims, GoodbyeError> {
        let key = VerifyingKey::from_bytes(ik).map_err(|_| GoodbyeError::BadSignature)?;
        if key.is_weak() {
            return Err(GoodbyeError::BadSignature);
        }
        key.verify_strict(
            &signed_bytes(&self.0.claims),
            &Signature::from_bytes(&self.0.sig.to_bytes()),
        )
        .map_err(|_| GoodbyeError::BadSignature)?;
        if &self.0.claims.to_instance != me {
            return Err(GoodbyeError::WrongRecipient);
        }
        if &self.0.claims.pairing != pairing {
            return Err(GoodbyeError::StalePairing);
        }
        Ok(self.0.claims)
    }
}

/// Decodes a goodbye strictly and checks its user names.
///
/// # Errors
/// [`GoodbyeError::Malformed`], [`GoodbyeError::InvalidUserName`].
pub fn open_goodbye(raw: &[u8]) -> Result<UnverifiedGoodbye, GoodbyeError> {
    let goodbye: Goodbye = decode_strict(raw)?;
    if let GoodbyeScope::Pair {
        sender_user,
        recipient_user,
    } = &goodbye.claims.scope
    {
        if !valid_user_name(sender_user) || !valid_user_name(recipient_user) {
            return Err(GoodbyeError::InvalidUserName);
        }
    }
    Ok(UnverifiedGoodbye(goodbye))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::tamper::{every_flip, transfer_altered};

    const ME: [u8; 32] = [0x0b; 32];
    const T9: [u8; 32] = [0x99; 32];

    fn claims(scope: GoodbyeScope) -> GoodbyeClaims {
        GoodbyeClaims {
            from_instance: [0x0a; 32],
            to_instance: ME,
            pairing: T9,
            scope,
            reason: GoodbyeReason::Disconnected,
            time: 1_700_000_000,
        }
    }

    fn alice_bob() -> GoodbyeScope {
        GoodbyeScope::Pair {
            sender_user: "alice".into(),
            recipient_user: "bob".into(),
        }
    }

    fn signer() -> SigningKey {
        SigningKey::from_bytes(&[0x0a; 32])
    }

    fn check(raw: &[u8], ik: &[u8; 32]) -> Result<GoodbyeClaims, GoodbyeError> {
        open_goodbye(raw)?.verify(ik, &ME, &T9)
    }

    #[test]
    fn an_honest_goodbye_verifies_for_its_recipient_and_pairing() {
        let ik = signer().verifying_key().to_bytes();
        for scope in [GoodbyeScope::Instance, alice_bob()] {
            let raw = seal_goodbye(&signer(), claims(scope.clone()));
            assert_eq!(check(&raw, &ik), Ok(claims(scope)));
        }
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let ik = signer().verifying_key().to_bytes();
        let raw = seal_goodbye(&signer(), claims(alice_bob()));
        for (at, altered) in every_flip(&raw, 0..raw.len()) {
            assert!(check(&altered, &ik).is_err(), "byte {at}");
        }
    }

    #[test]
    fn altered_claims_are_refused() {
        let ik = signer().verifying_key().to_bytes();
        let raw = seal_goodbye(&signer(), claims(alice_bob()));
        let alterations: [fn(&mut Goodbye); 4] = [
            |g| g.claims.scope = GoodbyeScope::Instance,
            |g| g.claims.reason = GoodbyeReason::Unpeered,
            |g| g.claims.time = 1,
            |g| g.claims.from_instance = [0x0c; 32],
        ];
        for alter in alterations {
            let altered = transfer_altered::<Goodbye>(&raw, alter);
            assert_eq!(check(&altered, &ik), Err(GoodbyeError::BadSignature));
        }
    }

    #[test]
    fn another_key_is_refused() {
        let raw = seal_goodbye(&SigningKey::from_bytes(&[0x0c; 32]), claims(alice_bob()));
        let ik = signer().verifying_key().to_bytes();
        assert_eq!(check(&raw, &ik), Err(GoodbyeError::BadSignature));
        // A small-order "key" is refused, whatever the signature.
        let mut weak = [0u8; 32];
        weak[0] = 1; // the identity point
        assert_eq!(check(&raw, &weak), Err(GoodbyeError::BadSignature));
    }

    #[test]
    fn a_goodbye_for_another_instance_is_refused() {
        let ik = signer().verifying_key().to_bytes();
        let mut forwarded = claims(GoodbyeScope::Instance);
        forwarded.to_instance = [0x0c; 32];
        let raw = seal_goodbye(&signer(), forwarded);
        assert_eq!(check(&raw, &ik), Err(GoodbyeError::WrongRecipient));
    }

    #[test]
    fn a_goodbye_replayed_after_pairing_again_is_stale() {
        let ik = signer().verifying_key().to_bytes();
        let raw = seal_goodbye(&signer(), claims(alice_bob()));
        let new_pairing = [0x98; 32];
        assert_eq!(
            open_goodbye(&raw).unwrap().verify(&ik, &ME, &new_pairing),
            Err(GoodbyeError::StalePairing)
        );
    }

    #[test]
    fn malformed_goodbyes_are_refused() {
        let ik = signer().verifying_key().to_bytes();
        let raw = seal_goodbye(&signer(), claims(alice_bob()));
        let mut trailing = raw.clone();
        trailing.push(0);
        assert!(matches!(
            check(&trailing, &ik),
            Err(GoodbyeError::Malformed(_))
        ));
        assert!(matches!(
            check(raw.split_last().unwrap().1, &ik),
            Err(GoodbyeError::Malformed(_))
        ));
        let bad_name = GoodbyeScope::Pair {
            sender_user: "Alice\u{202e}".into(),
            recipient_user: "bob".into(),
        };
        let raw = seal_goodbye(&signer(), claims(bad_name));
        assert_eq!(check(&raw, &ik), Err(GoodbyeError::InvalidUserName));
    }
}
