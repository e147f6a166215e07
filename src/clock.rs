//! Time and randomness as values the daemon injects, so that the layers around the protocol core
//! (pending pairing requests, replay caches, sessions, share ids) can be driven by tests with
//! simulated time and fixed randomness, as the core itself is.
//!
//! The daemon builds a [`SystemClock`] and [`OsEntropy`]; tests build a [`ManualClock`] and
//! [`SeededEntropy`]. Nothing outside this file calls `SystemTime::now` or `OsRng` for a decision
//! that a test needs to control.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rand_core::{OsRng, RngCore};

/// Wall-clock time in whole seconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// Seconds since the Unix epoch (0 if the system clock is before it).
    fn now_secs(&self) -> u64;
}

/// A shared clock, as the daemon hands it to every layer.
pub type SharedClock = Arc<dyn Clock>;

/// The system's real-time clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_secs(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A clock that moves only when a test says so.
#[derive(Debug, Default)]
pub struct ManualClock {
    secs: AtomicU64,
}

impl ManualClock {
    /// A clock reading `secs`.
    pub fn at(secs: u64) -> ManualClock {
        ManualClock {
            secs: AtomicU64::new(secs),
        }
    }

    /// Moves the clock forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.secs.fetch_add(secs, Ordering::SeqCst);
    }

    /// Sets the clock to `secs`.
    pub fn set(&self, secs: u64) {
        self.secs.store(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_secs(&self) -> u64 {
        self.secs.load(Ordering::SeqCst)
    }
}

/// `secs` since the Unix epoch as RFC 3339 in UTC (`2026-11-29T16:00:00Z`): how every time in
/// the CLI's and the API's JSON is written.
pub fn rfc3339_utc(secs: u64) -> String {
    rfc3339_utc_signed(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// Like [`rfc3339_utc`], for times that may lie before 1970 (a file's mtime).
pub fn rfc3339_utc_signed(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Year, month, day of the `days`-th day after 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A source of cryptographically secure random bytes.
pub trait Entropy: Send + Sync {
    /// Fills `out` with random bytes.
    fn fill(&self, out: &mut [u8]);

    /// `N` random bytes.
    fn bytes<const N: usize>(&self) -> [u8; N]
    where
        Self: Sized,
    {
        let mut out = [0u8; N];
        self.fill(&mut out);
        out
    }
}

/// A shared source of randomness, as the daemon hands it to every layer.
pub type SharedEntropy = Arc<dyn Entropy>;

/// `N` random bytes from a shared source.
pub fn random_bytes<const N: usize>(entropy: &dyn Entropy) -> [u8; N] {
    let mut out = [0u8; N];
    entropy.fill(&mut out);
    out
}

/// The operating system's generator (`getrandom`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, out: &mut [u8]) {
        OsRng.fill_bytes(out);
    }
}

/// A deterministic stream for tests: BLAKE3's extendable output of a seed. Never use it for keys
/// that protect anything.
pub struct SeededEntropy {
    stream: Mutex<blake3::OutputReader>,
}

impl SeededEntropy {
    /// The stream for `seed`.
    pub fn new(seed: &[u8]) -> SeededEntropy {
        let mut hasher = blake3::Hasher::new_derive_key("shoebox test entropy");
        hasher.update(seed);
        SeededEntropy {
            stream: Mutex::new(hasher.finalize_xof()),
        }
    }
}

impl Entropy for SeededEntropy {
    fn fill(&self, out: &mut [u8]) {
        let mut stream = self.stream.lock().unwrap_or_else(|p| p.into_inner());
        stream.fill(out);
    }
}

/// Lets a shared source stand where the protocol core asks for an `RngCore + CryptoRng`.
pub struct EntropyRng<'a>(pub &'a dyn Entropy);

impl RngCore for EntropyRng<'_> {
    fn next_u32(&mut self) -> u32 {
        u32::from_le_bytes(random_bytes(self.0))
    }
    fn next_u64(&mut self) -> u64 {
        u64::from_le_bytes(random_bytes(self.0))
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.fill(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for EntropyRng<'_> {}

#[cfg(test)]
mod tests {
    use super::{rfc3339_utc, Clock, Entropy, ManualClock, SeededEntropy};

    #[test]
    fn rfc3339_utc_writes_known_dates() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_795_968_000), "2026-11-29T16:00:00Z");
        assert_eq!(rfc3339_utc(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::at(100);
        assert_eq!(clock.now_secs(), 100);
        clock.advance(61);
        assert_eq!(clock.now_secs(), 161);
    }

    #[test]
    fn seeded_entropy_repeats_for_the_same_seed() {
        let (a, b) = (SeededEntropy::new(b"x"), SeededEntropy::new(b"x"));
        assert_eq!(a.bytes::<16>(), b.bytes::<16>());
        assert_ne!(a.bytes::<16>(), SeededEntropy::new(b"y").bytes::<16>());
    }
}
