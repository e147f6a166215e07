//! Password hashing: Argon2id (RFC 9106) with OWASP's parameters, m = 19 MiB, t = 2, p = 1,
//! stored as PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$SALT$HASH`), so the parameters of
//! every hash are kept with it and can be raised later without breaking older ones.
//!
//! Hashing is CPU- and memory-heavy on purpose: callers run it off the async runtime and at
//! most [`super::MAX_CONCURRENT_HASHES`] at once.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory cost, KiB (OWASP's floor for Argon2id: 19 MiB).
pub const MEMORY_KIB: u32 = 19_456;
/// Passes.
pub const ITERATIONS: u32 = 2;
/// Lanes.
pub const PARALLELISM: u32 = 1;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, in bytes (hashing cost does not depend on it, but bodies do).
pub const MAX_PASSWORD_BYTES: usize = 1024;

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .expect("the constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Why a password is refused before hashing.
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "the password must have at most {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    Ok(())
}

/// The PHC string of `secret` with a fresh 16-byte `salt`. Blocking (tens to hundreds of ms).
pub fn hash(secret: &str, salt: [u8; 16]) -> String {
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt length");
    argon2()
        .hash_password(secret.as_bytes(), &salt)
        .expect("hashing with valid parameters cannot fail")
        .to_string()
}

/// Whether `secret` matches the PHC string `phc` (with the parameters stored in it). A
/// malformed stored hash matches nothing. Blocking.
pub fn verify(secret: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        tracing::error!("a stored password hash is malformed");
        return false;
    };
    // The verifier takes algorithm, version and parameters from the PHC string.
    Argon2::default()
        .verify_password(secret.as_bytes(), &parsed)
        .is_ok()
}

/// A hash that nothing matches, verified in place of a missing one so that an unknown name
/// costs the same time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("no password is this", [0x5a; 16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_state_their_parameters_and_verify() {
        let phc = hash("correct horse", [1; 16]);
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse", &phc));
        assert!(!verify("correct hors", &phc));
        assert!(!verify("correct horse", "not a hash"));
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(check_new_password("1234567").is_err());
        assert!(check_new_password("12345678").is_ok());
        assert!(check_new_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }
}
