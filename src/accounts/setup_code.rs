//! The setup code that claims a new box in the browser.
//!
//! A made code is 10 characters of Crockford's base32 (no I, L, O, U: nothing to confuse),
//! 50 bits, shown as `XXXXX-XXXXX`. The owner may instead choose one before the first boot
//! (`setup_code=` in the image's `shoebox.txt`, at least 8 characters): the first-boot step
//! writes it to `setup-code.import` in the data dir, and the daemon takes it from there once
//! and deletes that file.
//!
//! The store keeps only the code's Argon2id hash, which is what sign-up checks. So that
//! `shoebox setup-code` can show the code again, the daemon also keeps it in `setup-code`
//! (`0600`, inside the `0700` data dir, beside the instance's private keys: whoever can read it
//! can read those too). Both go away when an owner exists. Codes never go to the log.

use std::path::{Path, PathBuf};

use crate::datadir::write_atomically;

/// Crockford's base32 alphabet.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters of a made code.
pub const CODE_CHARS: usize = 10;
/// Shortest code accepted from `shoebox.txt`.
pub const MIN_CHOSEN_CHARS: usize = 8;
/// Longest code accepted from `shoebox.txt`.
const MAX_CHOSEN_CHARS: usize = 128;

/// A new code from 10 random bytes (5 bits of each), as `XXXXX-XXXXX`.
pub fn generate(random: [u8; CODE_CHARS]) -> String {
    let chars: String = random
        .iter()
        .map(|b| ALPHABET[usize::from(b & 31)] as char)
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// The form codes are compared in: case, spaces and dashes ignored.
pub fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// The plain code's file in the data dir.
pub fn code_path(data_dir: &Path) -> PathBuf {
    data_dir.join("setup-code")
}

/// Where the image's first boot leaves a chosen code.
pub fn import_path(data_dir: &Path) -> PathBuf {
    data_dir.join("setup-code.import")
}

/// What [`prepare`] found or made.
pub enum Prepared {
    /// An owner exists: no code.
    OwnerExists,
    /// A code to hash and store (new: made now or imported now).
    New(String),
    /// The code already stored.
    Kept(String),
}

/// Reads the code a first boot handed over (deleting its file), or the code kept from an
/// earlier start, or makes one. `stored` says whether the store has a code hash.
///
/// # Errors
/// I/O errors writing the code's file.
pub fn prepare(
    data_dir: &Path,
    owner_exists: bool,
    stored: bool,
    random: [u8; CODE_CHARS],
) -> std::io::Result<Prepared> {
    let plain = code_path(data_dir);
    let import = import_path(data_dir);
    if owner_exists {
        let _ = std::fs::remove_file(&plain);
        let _ = std::fs::remove_file(&import);
        return Ok(Prepared::OwnerExists);
    }
    if let Ok(chosen) = std::fs::read_to_string(&import) {
        let _ = std::fs::remove_file(&import);
        let chosen = chosen.trim();
        let length = normalize(chosen).chars().count();
        if (MIN_CHOSEN_CHARS..=MAX_CHOSEN_CHARS).contains(&length) {
            write_atomically(&plain, chosen.as_bytes(), 0o600)?;
            tracing::info!("took the setup code chosen in shoebox.txt");
            return Ok(Prepared::New(chosen.to_owned()));
        }
        tracing::warn!(
            "ignored the setup code from shoebox.txt: it needs {MIN_CHOSEN_CHARS} to \
             {MAX_CHOSEN_CHARS} characters; made one instead"
        );
    }
    if stored {
        if let Ok(kept) = std::fs::read_to_string(&plain) {
            return Ok(Prepared::Kept(kept.trim().to_owned()));
        }
    }
    let code = generate(random);
    write_atomically(&plain, code.as_bytes(), 0o600)?;
    Ok(Prepared::New(code))
}

/// The kept code, if any.
pub fn read(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(code_path(data_dir))
        .ok()
        .map(|c| c.trim().to_owned())
}

/// Forgets the code once an owner exists.
pub fn forget(data_dir: &Path) {
    let _ = std::fs::remove_file(code_path(data_dir));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_codes_are_ten_unambiguous_characters_in_two_groups() {
        let code = generate([0, 1, 8, 17, 18, 20, 27, 31, 32, 255]);
        assert_eq!(code, "018HJ-MVZ0Z");
        assert!(!code.contains(['I', 'L', 'O', 'U']));
    }

    #[test]
    fn comparison_ignores_case_spaces_and_dashes() {
        assert_eq!(normalize(" ab12c-d e3fg "), "AB12CDE3FG");
    }

    #[test]
    fn a_chosen_code_is_taken_once_and_kept_hashed_and_in_its_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(import_path(dir.path()), "family-photos-2024\n").unwrap();
        let Prepared::New(code) = prepare(dir.path(), false, false, [0; 10]).unwrap() else {
            panic!("expected the chosen code");
        };
        assert_eq!(code, "family-photos-2024");
        assert!(!import_path(dir.path()).exists());
        let Prepared::Kept(again) = prepare(dir.path(), false, true, [1; 10]).unwrap() else {
            panic!("expected the kept code");
        };
        assert_eq!(again, code);
        assert!(matches!(
            prepare(dir.path(), true, true, [1; 10]).unwrap(),
            Prepared::OwnerExists
        ));
        assert!(!code_path(dir.path()).exists());
    }

    #[test]
    fn a_too_short_chosen_code_is_replaced_by_a_made_one() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(import_path(dir.path()), "short").unwrap();
        let Prepared::New(code) = prepare(dir.path(), false, false, [2; 10]).unwrap() else {
            panic!("expected a made code");
        };
        assert_eq!(code, "22222-22222");
    }
}
