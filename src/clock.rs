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
    use super::{Clock, Entropy, ManualClock, SeededEntropy};

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
