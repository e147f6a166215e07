//! Address updates (protocol v1.1, PROTOCOL.md §11.3): an instance whose public URL, port or
//! TLS certificate changed tells each peer its new URL and SPKI hash, signed by its identity
//! key, numbered by a sequence that only grows. A peer accepts an update only for a pinned
//! identity, only with a higher sequence than the last one it accepted, and never one that
//! moves it from HTTPS to plain HTTP. Pure: the caller passes in keys, stored state and time.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::handshake::url_scheme_is_https;
use super::wire::{decode_strict, encode, SignatureBytes, WireError};

/// The signature label: `sig = Ed25519(IK, ADDRESS_LABEL || postcard(AddressClaims))`.
pub const ADDRESS_LABEL: &[u8] = b"shoebox/v1/address";

/// The signed content of an address update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressClaims {
    /// The sender's instance id.
    pub from_instance: [u8; 32],
    /// The recipient's instance id.
    pub to_instance: [u8; 32],
    /// The sender's new base URL (§3 grammar).
    pub url: String,
    /// SHA-256 of the sender's TLS SPKI; `None` for plain HTTP (only allowed to a peer that was
    /// paired without TLS).
    pub tls_spki: Option<[u8; 32]>,
    /// The sender's name for itself (shown beside its people; renamable locally): 1 to 32 of
    /// `[a-z0-9-]`, or empty for none.
    pub name: String,
    /// Grows by at least one with every change the sender announces.
    pub seq: u64,
    /// The sender's clock, Unix seconds: shown, never checked.
    pub time: u64,
}

/// The body of `POST /handshake/address`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressUpdate {
    /// What the sender says.
    pub claims: AddressClaims,
    /// `Ed25519(IK_sender, ADDRESS_LABEL || postcard(claims))`.
    pub sig: SignatureBytes,
}

/// Why an address update was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressUpdateError {
    /// Not a strictly encoded `AddressUpdate`.
    #[error("malformed address update: {0}")]
    Malformed(#[from] WireError),
    /// A URL outside the grammar, or a scheme that disagrees with `tls_spki`.
    #[error("invalid URL in an address update")]
    InvalidUrl,
    /// A name outside `[a-z0-9-]{0,32}`.
    #[error("invalid name in an address update")]
    InvalidName,
    /// The signature does not verify with the sender's pinned identity key.
    #[error("bad address update signature")]
    BadSignature,
    /// Addressed to another instance.
    #[error("the address update is for another instance")]
    WrongRecipient,
    /// A sequence number not above the last one accepted (replayed or reordered).
    #[error("address update {got} is not newer than {last}")]
    OldSequence {
        /// The update's.
        got: u64,
        /// The last accepted.
        last: u64,
    },
    /// It would move an HTTPS peer to plain HTTP (that takes a new pairing).
    #[error("an address update cannot move a peer from HTTPS to plain HTTP")]
    Downgrade,
}

fn signed_bytes(claims: &AddressClaims) -> Vec<u8> {
    [ADDRESS_LABEL, &encode(claims)].concat()
}

/// A signed address update's bytes.
pub fn seal_address_update(signing: &SigningKey, claims: AddressClaims) -> Vec<u8> {
    let sig = signing.sign(&signed_bytes(&claims)).to_bytes();
    encode(&AddressUpdate {
        claims,
        sig: SignatureBytes::from_bytes(&sig),
    })
}

/// An update that decoded but is not yet verified: look up the sender's pinned key by
/// [`UnverifiedAddressUpdate::from_instance`], then verify.
#[derive(Debug)]
pub struct UnverifiedAddressUpdate(AddressUpdate);

/// What the recipient pinned for the sender.
#[derive(Clone, Copy, Debug)]
pub struct PinnedSender<'a> {
    /// Its identity key.
    pub ik: &'a [u8; 32],
    /// The last sequence number accepted from it (0 before any).
    pub last_seq: u64,
    /// Whether it is reached over HTTPS now.
    pub https: bool,
}

impl UnverifiedAddressUpdate {
    /// The claimed sender.
    pub fn from_instance(&self) -> [u8; 32] {
        self.0.claims.from_instance
    }

    /// Checks the update against what the recipient `me` pinned for its sender.
    ///
    /// # Errors
    /// [`AddressUpdateError::BadSignature`] (also for an invalid or weak key),
    /// [`AddressUpdateError::WrongRecipient`], [`AddressUpdateError::OldSequence`],
    /// [`AddressUpdateError::Downgrade`].
    pub fn verify(
        self,
        pinned: PinnedSender<'_>,
        me: &[u8; 32],
    ) -> Result<AddressClaims, AddressUpdateError> {
        let key =
            VerifyingKey::from_bytes(pinned.ik).map_err(|_| AddressUpdateError::BadSignature)?;
        if key.is_weak() {
            return Err(AddressUpdateError::BadSignature);
        }
        key.verify_strict(
            &signed_bytes(&self.0.claims),
            &Signature::from_bytes(&self.0.sig.to_bytes()),
        )
        .map_err(|_| AddressUpdateError::BadSignature)?;
        let claims = self.0.claims;
        if &claims.to_instance != me {
            return Err(AddressUpdateError::WrongRecipient);
        }
        if claims.seq <= pinned.last_seq {
            return Err(AddressUpdateError::OldSequence {
                got: claims.seq,
                last: pinned.last_seq,
            });
        }
        if pinned.https && claims.tls_spki.is_none() {
            return Err(AddressUpdateError::Downgrade);
        }
        Ok(claims)
    }
}

/// Whether `name` may be an instance's name for itself: empty, or 1 to 32 of `[a-z0-9-]`, not
/// all digits, not starting or ending with `-`.
pub fn valid_instance_name(name: &str) -> bool {
    name.is_empty()
        || (name.len() <= 32
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.bytes().all(|b| b.is_ascii_digit())
            && !name.starts_with('-')
            && !name.ends_with('-'))
}

/// Decodes an update strictly and checks its URL, TLS claim and name.
///
/// # Errors
/// [`AddressUpdateError::Malformed`], [`AddressUpdateError::InvalidUrl`].
pub fn open_address_update(raw: &[u8]) -> Result<UnverifiedAddressUpdate, AddressUpdateError> {
    let update: AddressUpdate = decode_strict(raw)?;
    let https = url_scheme_is_https(&update.claims.url).ok_or(AddressUpdateError::InvalidUrl)?;
    if https != update.claims.tls_spki.is_some() {
        return Err(AddressUpdateError::InvalidUrl);
    }
    if !valid_instance_name(&update.claims.name) {
        return Err(AddressUpdateError::InvalidName);
    }
    Ok(UnverifiedAddressUpdate(update))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::tamper::{every_flip, transfer_altered};

    const ME: [u8; 32] = [0x0b; 32];

    fn signer() -> SigningKey {
        SigningKey::from_bytes(&[0x0a; 32])
    }

    fn claims(seq: u64) -> AddressClaims {
        AddressClaims {
            from_instance: [0x0a; 32],
            to_instance: ME,
            url: "https://nas-a.example:8443".into(),
            tls_spki: Some([0xac; 32]),
            name: "nas-a".into(),
            seq,
            time: 1_700_000_200,
        }
    }

    fn pinned(ik: &[u8; 32], last_seq: u64) -> PinnedSender<'_> {
        PinnedSender {
            ik,
            last_seq,
            https: true,
        }
    }

    fn check(raw: &[u8], last_seq: u64) -> Result<AddressClaims, AddressUpdateError> {
        let ik = signer().verifying_key().to_bytes();
        open_address_update(raw)?.verify(pinned(&ik, last_seq), &ME)
    }

    #[test]
    fn a_newer_update_from_the_pinned_key_verifies() {
        let raw = seal_address_update(&signer(), claims(3));
        assert_eq!(check(&raw, 2), Ok(claims(3)));
    }

    #[test]
    fn an_old_or_replayed_sequence_is_refused() {
        let raw = seal_address_update(&signer(), claims(3));
        for last in [3, 4, u64::MAX] {
            assert_eq!(
                check(&raw, last),
                Err(AddressUpdateError::OldSequence { got: 3, last })
            );
        }
    }

    #[test]
    fn another_key_is_refused() {
        let raw = seal_address_update(&SigningKey::from_bytes(&[0x0c; 32]), claims(3));
        assert_eq!(check(&raw, 0), Err(AddressUpdateError::BadSignature));
    }

    #[test]
    fn every_flipped_bit_and_every_altered_field_is_refused() {
        let raw = seal_address_update(&signer(), claims(3));
        for (at, altered) in every_flip(&raw, 0..raw.len()) {
            assert!(check(&altered, 0).is_err(), "byte {at}");
        }
        let alterations: [fn(&mut AddressUpdate); 5] = [
            |u| u.claims.url = "https://evil.example:8443".into(),
            |u| u.claims.tls_spki = Some([0xee; 32]),
            |u| u.claims.seq = 1_000,
            |u| u.claims.time = 1,
            |u| u.claims.name = "evil".into(),
        ];
        for alter in alterations {
            let altered = transfer_altered::<AddressUpdate>(&raw, alter);
            assert_eq!(check(&altered, 0), Err(AddressUpdateError::BadSignature));
        }
    }

    #[test]
    fn an_update_for_another_instance_is_refused() {
        let mut forwarded = claims(3);
        forwarded.to_instance = [0x0c; 32];
        let raw = seal_address_update(&signer(), forwarded);
        assert_eq!(check(&raw, 0), Err(AddressUpdateError::WrongRecipient));
    }

    #[test]
    fn https_never_moves_to_plain_http() {
        let mut plain = claims(3);
        plain.url = "http://nas-a.example:8080".into();
        plain.tls_spki = None;
        let raw = seal_address_update(&signer(), plain.clone());
        assert_eq!(check(&raw, 0), Err(AddressUpdateError::Downgrade));
        // A peer paired without TLS may move, and may move to HTTPS.
        let ik = signer().verifying_key().to_bytes();
        let was_plain = PinnedSender {
            ik: &ik,
            last_seq: 0,
            https: false,
        };
        let got = open_address_update(&raw).unwrap().verify(was_plain, &ME);
        assert_eq!(got, Ok(plain));
    }

    #[test]
    fn bad_urls_and_tls_claims_are_refused_before_any_key_is_looked_up() {
        for (url, spki) in [
            ("https://nas-a.example:8443/path", Some([1; 32])),
            ("ftp://nas-a.example:21", None),
            ("https://nas-a.example:8443", None),
            ("http://nas-a.example:8080", Some([1; 32])),
        ] {
            let mut bad = claims(3);
            bad.url = url.into();
            bad.tls_spki = spki;
            let raw = seal_address_update(&signer(), bad);
            assert_eq!(
                open_address_update(&raw).err(),
                Some(AddressUpdateError::InvalidUrl),
                "{url}"
            );
        }
        for name in ["Nas", "nas a", "-nas", "1234", "n\u{202e}"] {
            let mut bad = claims(3);
            bad.name = name.into();
            let raw = seal_address_update(&signer(), bad);
            assert_eq!(
                open_address_update(&raw).err(),
                Some(AddressUpdateError::InvalidName),
                "{name}"
            );
        }
        let mut trailing = seal_address_update(&signer(), claims(3));
        trailing.push(0);
        assert!(matches!(
            open_address_update(&trailing).err(),
            Some(AddressUpdateError::Malformed(_))
        ));
    }
}
