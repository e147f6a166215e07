//! What this instance says about itself: the URLs to open, the certificate's fingerprint as
//! browsers show it, the photos roots people's library folders are picked from. Read by the
//! web page (`GET /api/instance`), `shoebox status` and the people routes; made once at start-up.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Facts fixed at start-up.
#[derive(Clone, Debug)]
pub struct Site {
    /// The URL peers and invite links use when no browser `Origin` is known.
    pub public_url: String,
    /// The URLs the listener answers on.
    pub listen_urls: Vec<String>,
    /// SHA-256 of the served certificate (DER), `AB:CD:…`; `None` with `--no-tls`.
    pub certificate_fingerprint: Option<String>,
    /// SHA-256 of the certificate's SPKI, lowercase hex; `None` with `--no-tls`.
    pub spki_sha256: Option<String>,
    /// Folders under which people's library folders are chosen in the page (canonical).
    pub photos_roots: Vec<PathBuf>,
    /// The machine's host name.
    pub host_name: String,
    /// Whether the listener speaks HTTPS.
    pub tls: bool,
    /// Whether the listener is bound to a loopback address only (nothing off this machine can
    /// reach it).
    pub loopback_only: bool,
}

impl Site {
    /// `HOST:PORT` of the public URL: how other homes name this one (`alice@HOST:PORT`).
    pub fn public_address(&self) -> String {
        let rest = self
            .public_url
            .split_once("://")
            .map_or(self.public_url.as_str(), |(_, rest)| rest);
        rest.split('/').next().unwrap_or(rest).to_owned()
    }

    /// Whether passwords and photos would cross a network in clear: plain HTTP (`--no-tls`) on
    /// a listener that other machines can reach. The page then shows a warning on every screen.
    pub fn plain_http_exposed(&self) -> bool {
        !self.tls && !self.loopback_only
    }
}

/// `AB:CD:…`: SHA-256 of `der` as browsers show a certificate's fingerprint.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let hex = data_encoding::HEXUPPER.encode(&digest);
    hex.as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).unwrap_or("??"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The machine's host name (`localhost` when unknown).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The photos roots in effect: those given (`serve --photos-root`), else the user's Pictures
/// folder (`XDG_PICTURES_DIR`, else `~/Pictures`) when it exists. Missing folders are dropped
/// with a warning.
pub fn photos_roots(given: &[PathBuf]) -> Vec<PathBuf> {
    let candidates: Vec<PathBuf> = if given.is_empty() {
        let pictures = std::env::var_os("XDG_PICTURES_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join("Pictures")));
        pictures.into_iter().filter(|p| p.is_dir()).collect()
    } else {
        given.to_vec()
    };
    let mut roots = Vec::new();
    for root in candidates {
        match root.canonicalize() {
            Ok(real) if real.is_dir() => {
                if !roots.contains(&real) {
                    roots.push(real);
                }
            }
            _ => tracing::warn!("photos root {} is not a readable folder", root.display()),
        }
    }
    roots
}

/// The folders under `roots` (the roots themselves and up to two levels below; hidden folders
/// and links skipped), sorted.
pub fn folders_under(roots: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) {
        out.push(dir.to_owned());
        if depth == 0 || out.len() > 10_000 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut subdirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.path())
            .collect();
        subdirs.sort();
        for sub in subdirs {
            walk(&sub, depth - 1, out);
        }
    }
    let mut out = Vec::new();
    for root in roots {
        walk(root, 2, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(tls: bool, loopback_only: bool) -> Site {
        Site {
            public_url: String::new(),
            listen_urls: Vec::new(),
            certificate_fingerprint: None,
            spki_sha256: None,
            photos_roots: Vec::new(),
            host_name: String::new(),
            tls,
            loopback_only,
        }
    }

    /// Issue 11: `--no-tls` elsewhere than on loopback shows a warning banner.
    #[test]
    fn only_plain_http_off_loopback_is_exposed() {
        assert!(site(false, false).plain_http_exposed());
        assert!(!site(false, true).plain_http_exposed());
        assert!(!site(true, false).plain_http_exposed());
    }

    #[test]
    fn fingerprints_are_colon_separated_upper_hex() {
        let f = fingerprint(b"abc");
        assert_eq!(f.len(), 32 * 3 - 1);
        assert!(f.starts_with("BA:78:16:BF:"), "{f}");
    }

    #[test]
    fn folders_go_two_levels_deep_and_skip_hidden_ones() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["a/b/c/d", "a/.hidden", "e"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let root = dir.path().canonicalize().unwrap();
        let found: Vec<String> = folders_under(std::slice::from_ref(&root))
            .iter()
            .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        assert_eq!(found, ["", "a", "a/b", "e"]);
    }
}
