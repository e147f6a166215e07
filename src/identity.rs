//! The instance's long-term keys and the instance id derived from them.
//!
//! Each instance has an Ed25519 identity key (signatures) and an X25519 key (sealing to it), made
//! once at first start and kept `0600` in the data dir. The instance id is
//! `SHA-256("shoebox/v1/instance-id" || IK_pub)`, shown in base32 with a Luhn check character per
//! 13 characters and grouped like Syncthing's device ids, so a mistyped id is caught.

use std::path::Path;

use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use crate::datadir::{with_path, write_atomically};

/// Length of the key file: Ed25519 seed then X25519 secret.
const KEY_FILE_BYTES: usize = 64;

/// The instance's long-term keys. `Debug` does not print secrets.
pub struct Identity {
    /// Ed25519 identity key.
    pub signing: SigningKey,
    /// X25519 static key that peers seal session keys to.
    pub exchange: StaticSecret,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("instance_id", &self.instance_id().to_string())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Loads the keys from `path`, or makes and stores them (`0600`) when the file is missing.
    ///
    /// # Errors
    /// I/O errors, or a key file of the wrong length.
    pub fn load_or_create(path: &Path, random: impl FnOnce() -> [u8; 64]) -> std::io::Result<Self> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                if bytes.len() != KEY_FILE_BYTES {
                    return Err(with_path(
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "key file is not 64 bytes: refusing to replace it",
                        ),
                        path,
                    ));
                }
                Ok(Identity::from_bytes(&bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let bytes = Zeroizing::new(random());
                write_atomically(path, bytes.as_slice(), 0o600)?;
                Ok(Identity::from_bytes(bytes.as_slice()))
            }
            Err(e) => Err(with_path(e, path)),
        }
    }

    fn from_bytes(bytes: &[u8]) -> Identity {
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&bytes[..32]);
        let mut exchange = Zeroizing::new([0u8; 32]);
        exchange.copy_from_slice(&bytes[32..64]);
        Identity {
            signing: SigningKey::from_bytes(&seed),
            exchange: StaticSecret::from(*exchange),
        }
    }

    /// This instance's id.
    pub fn instance_id(&self) -> InstanceId {
        InstanceId::of(&self.signing.verifying_key())
    }
}

/// An instance id: the hash of its Ed25519 identity key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
pub struct InstanceId(pub [u8; 32]);

impl InstanceId {
    /// `SHA-256("shoebox/v1/instance-id" || IK_pub)`.
    pub fn of(key: &VerifyingKey) -> InstanceId {
        let mut hash = Sha256::new();
        hash.update(b"shoebox/v1/instance-id");
        hash.update(key.as_bytes());
        InstanceId(hash.finalize().into())
    }

    /// Parses the displayed form (dashes and case ignored), checking every check character.
    pub fn parse(text: &str) -> Option<InstanceId> {
        let chars: Vec<u8> = text
            .bytes()
            .filter(|b| *b != b'-' && *b != b' ')
            .map(|b| b.to_ascii_uppercase())
            .collect();
        if chars.len() != 56 {
            return None;
        }
        let mut plain = Vec::with_capacity(52);
        for group in chars.chunks(14) {
            let (body, check) = group.split_at(13);
            if luhn_base32(body)? != check[0] {
                return None;
            }
            plain.extend_from_slice(body);
        }
        let mut padded = plain;
        padded.extend_from_slice(b"====");
        let bytes = data_encoding::BASE32.decode(&padded).ok()?;
        Some(InstanceId(bytes.try_into().ok()?))
    }
}

impl std::fmt::Display for InstanceId {
    /// 56 characters (52 base32 plus 4 check characters) in 8 groups of 7, dash-separated.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plain = data_encoding::BASE32_NOPAD.encode(&self.0);
        let mut with_checks = Vec::with_capacity(56);
        for body in plain.as_bytes().chunks(13) {
            with_checks.extend_from_slice(body);
            with_checks.push(luhn_base32(body).expect("base32 output is in the alphabet"));
        }
        for (i, group) in with_checks.chunks(7).enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            f.write_str(std::str::from_utf8(group).expect("base32 is ASCII"))?;
        }
        Ok(())
    }
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Luhn mod 32 check character over RFC 4648 base32 text; `None` if a character is not base32.
fn luhn_base32(text: &[u8]) -> Option<u8> {
    let mut factor = 1;
    let mut sum = 0;
    for &c in text {
        let code = BASE32_ALPHABET.iter().position(|&a| a == c)?;
        let addend = factor * code;
        factor = if factor == 2 { 1 } else { 2 };
        sum += addend / 32 + addend % 32;
    }
    Some(BASE32_ALPHABET[(32 - sum % 32) % 32])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::vectors::check_vector_file;

    /// Syncthing's own example device id (`lib/protocol/deviceid_test.go`, `formatted`): 52
    /// base32 characters, a Luhn mod 32 check character after each 13, groups of 7.
    const SYNCTHING_DEVICE_ID: &str =
        "P56IOI7-MZJNU2Y-IQGDREY-DM2MGTI-MGL3BXN-PQ6W5BM-TBBZ4TJ-XZWICQ2";

    const INSTANCE_ID_VECTORS: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/instance-id.txt");

    fn hex(bytes: &[u8]) -> String {
        data_encoding::HEXLOWER.encode(bytes)
    }

    /// The check character of each 13-character group, the Syncthing id's bytes and display,
    /// and the instance ids of the handshake vector's two identity keys.
    fn compute_instance_id_vectors() -> Vec<(String, String)> {
        let mut out = Vec::new();
        let plain: String = SYNCTHING_DEVICE_ID
            .split('-')
            .collect::<String>()
            .chars()
            .enumerate()
            .filter(|(i, _)| i % 14 != 13)
            .map(|(_, c)| c)
            .collect();
        for group in plain.as_bytes().chunks(13) {
            let check = luhn_base32(group).expect("base32");
            out.push((
                format!("luhn32_check_{}", std::str::from_utf8(group).unwrap()),
                char::from(check).to_string(),
            ));
        }
        let id = InstanceId::parse(SYNCTHING_DEVICE_ID).expect("Syncthing's id parses");
        out.push(("syncthing_device_id_bytes".into(), hex(&id.0)));
        out.push(("syncthing_device_id_display".into(), id.to_string()));
        for (name, seed) in [("a", 0x0a), ("b", 0x0b)] {
            let ik = SigningKey::from_bytes(&[seed; 32]).verifying_key();
            let id = InstanceId::of(&ik);
            out.push((format!("{name}_ik_pub"), hex(ik.as_bytes())));
            out.push((format!("{name}_instance_id"), hex(&id.0)));
            out.push((format!("{name}_instance_id_display"), id.to_string()));
        }
        out
    }

    #[test]
    fn instance_id_check_characters_match_syncthings_device_id() {
        // Syncthing's published id parses with our check characters and displays unchanged.
        let id = InstanceId::parse(SYNCTHING_DEVICE_ID).expect("the same Luhn mod 32");
        assert_eq!(id.to_string(), SYNCTHING_DEVICE_ID);
        for (group, check) in [
            ("P56IOI7MZJNU2", b'Y'),
            ("IQGDREYDM2MGT", b'I'),
            ("MGL3BXNPQ6W5B", b'M'),
            ("TBBZ4TJXZWICQ", b'2'),
        ] {
            assert_eq!(luhn_base32(group.as_bytes()), Some(check), "{group}");
        }
        assert_eq!(luhn_base32(b"not base32!"), None);
    }

    #[test]
    fn instance_id_vectors_match_the_published_file() {
        check_vector_file(
            INSTANCE_ID_VECTORS,
            "comment: shoebox instance ids (PROTOCOL.md \"Terms\": instance id), checked by cargo test vectors\n\
             comment: instance id = SHA-256(\"shoebox/v1/instance-id\" || IK_pub), shown as 52 base32 characters\n\
             comment: (RFC 4648, no padding), a Luhn mod 32 check character after each 13, 8 groups of 7.\n\
             comment: The check characters are Syncthing's (lib/protocol/luhn.go): factor 1, 2, 1, ... from the left,\n\
             comment: addend = factor * codepoint, sum += addend / 32 + addend % 32, check = (32 - sum % 32) % 32.\n\
             comment: syncthing_* is Syncthing's own example id (lib/protocol/deviceid_test.go), known good there.\n\
             comment: a_* and b_* are the identity keys of handshake-v1.txt (Ed25519 seeds 0a*32 and 0b*32).\n",
            &compute_instance_id_vectors(),
        );
    }

    #[test]
    fn instance_id_parse_rejects_every_single_character_substitution() {
        let shown = SYNCTHING_DEVICE_ID.replace('-', "");
        for at in 0..shown.len() {
            for &c in BASE32_ALPHABET {
                if shown.as_bytes()[at] == c {
                    continue;
                }
                let mut typo = shown.clone().into_bytes();
                typo[at] = c;
                let typo = String::from_utf8(typo).unwrap();
                assert_eq!(InstanceId::parse(&typo), None, "{typo}");
            }
        }
    }

    fn fixed_identity() -> Identity {
        let mut bytes = [0u8; 64];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        Identity::from_bytes(&bytes)
    }

    #[test]
    fn instance_id_round_trips_through_its_display_form() {
        let id = fixed_identity().instance_id();
        let shown = id.to_string();
        assert_eq!(shown.len(), 56 + 7);
        assert_eq!(InstanceId::parse(&shown), Some(id));
        assert_eq!(
            InstanceId::parse(&shown.to_lowercase().replace('-', "")),
            Some(id)
        );
    }

    #[test]
    fn instance_id_parse_rejects_a_mistyped_character() {
        let shown = fixed_identity().instance_id().to_string();
        let mut bytes = shown.into_bytes();
        bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            InstanceId::parse(std::str::from_utf8(&bytes).unwrap()),
            None
        );
    }

    #[test]
    fn identity_file_is_private_and_stable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        let first = Identity::load_or_create(&path, || [7u8; 64]).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = Identity::load_or_create(&path, || [9u8; 64]).unwrap();
        assert_eq!(first.instance_id(), again.instance_id());
    }
}
