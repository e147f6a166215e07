//! Sign-in throttling: failures per source address and per name, each with an exponential
//! backoff after a few free attempts, and never a permanent lockout.
//!
//! - Per source (an IPv4 address or an IPv6 /64): 5 free failures, then 1 s, 2 s, 4 s … up to
//!   15 min between attempts.
//! - Per name: 10 free failures, then 1 s, 2 s, 4 s … up to 60 s: a stranger guessing the owner's
//!   password slows the guessing, while the owner still gets in after at most a minute.
//! - A success clears that source and that name; a key with no failure for an hour is
//!   forgotten. The table is bounded: past [`MAX_ENTRIES`], the stalest entries go first.
//!
//! Time comes in as a value (`now`, seconds), so tests drive it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Most keys remembered.
pub const MAX_ENTRIES: usize = 10_000;
/// Failures forgotten after this long without another.
const FORGET_AFTER_SECS: u64 = 3600;

/// What a failure counts against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// A source network: an IPv4 address, or the /64 of an IPv6 one.
    Source([u8; 16]),
    /// A user name (as typed, lowercased).
    Name(String),
}

impl ThrottleKey {
    /// The key of a peer address.
    pub fn source(ip: IpAddr) -> ThrottleKey {
        match ip {
            IpAddr::V4(v4) => ThrottleKey::Source(v4.to_ipv6_mapped().octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ThrottleKey::Source(v4.to_ipv6_mapped().octets()),
                None => {
                    let mut net = v6.octets();
                    net[8..].fill(0);
                    ThrottleKey::Source(net)
                }
            },
        }
    }

    fn schedule(&self) -> (u32, u64) {
        match self {
            ThrottleKey::Source(_) => (5, 15 * 60),
            ThrottleKey::Name(_) => (10, 60),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    failures: u32,
    last_failure: u64,
    /// No attempt before this time.
    next_allowed: u64,
}

/// The failure table.
#[derive(Default)]
pub struct Throttle {
    entries: Mutex<HashMap<ThrottleKey, Entry>>,
}

impl Throttle {
    /// `Err(seconds to wait)` when any of `keys` may not try yet at `now`.
    pub fn check(&self, keys: &[ThrottleKey], now: u64) -> Result<(), u64> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let wait = keys
            .iter()
            .filter_map(|k| entries.get(k))
            .filter(|e| now.saturating_sub(e.last_failure) < FORGET_AFTER_SECS)
            .map(|e| e.next_allowed.saturating_sub(now))
            .max()
            .unwrap_or(0);
        if wait > 0 {
            Err(wait)
        } else {
            Ok(())
        }
    }

    /// Counts a failure against each of `keys` at `now`.
    pub fn fail(&self, keys: &[ThrottleKey], now: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| now.saturating_sub(e.last_failure) < FORGET_AFTER_SECS);
            if entries.len() >= MAX_ENTRIES {
                // Still full of live entries: drop the oldest half.
                let mut times: Vec<u64> = entries.values().map(|e| e.last_failure).collect();
                times.sort_unstable();
                let cut = times[times.len() / 2];
                entries.retain(|_, e| e.last_failure > cut);
            }
        }
        for key in keys {
            let (free, max_delay) = key.schedule();
            let entry = entries.entry(key.clone()).or_insert(Entry {
                failures: 0,
                last_failure: now,
                next_allowed: now,
            });
            if now.saturating_sub(entry.last_failure) >= FORGET_AFTER_SECS {
                entry.failures = 0;
            }
            entry.failures = entry.failures.saturating_add(1);
            entry.last_failure = now;
            let over = entry.failures.saturating_sub(free);
            let delay = if over == 0 {
                0
            } else {
                1u64.checked_shl(over - 1)
                    .unwrap_or(u64::MAX)
                    .min(max_delay)
            };
            entry.next_allowed = now + delay;
        }
    }

    /// Clears `keys` after a success.
    pub fn succeed(&self, keys: &[ThrottleKey]) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> ThrottleKey {
        ThrottleKey::source("192.0.2.7".parse().unwrap())
    }

    #[test]
    fn a_source_gets_five_free_failures_then_waits_twice_as_long_each_time() {
        let t = Throttle::default();
        for _ in 0..5 {
            assert_eq!(t.check(&[src()], 100), Ok(()));
            t.fail(&[src()], 100);
        }
        assert_eq!(t.check(&[src()], 100), Ok(()));
        t.fail(&[src()], 100);
        assert_eq!(t.check(&[src()], 100), Err(1));
        t.fail(&[src()], 101);
        assert_eq!(t.check(&[src()], 101), Err(2));
        for _ in 0..40 {
            t.fail(&[src()], 200);
        }
        assert_eq!(t.check(&[src()], 200), Err(900), "capped at 15 min");
    }

    #[test]
    fn a_name_waits_at_most_a_minute_and_success_clears() {
        let t = Throttle::default();
        let name = [ThrottleKey::Name("owner".into())];
        for _ in 0..50 {
            t.fail(&name, 10);
        }
        assert_eq!(t.check(&name, 10), Err(60));
        assert_eq!(t.check(&name, 70), Ok(()));
        t.succeed(&name);
        t.fail(&name, 71);
        assert_eq!(t.check(&name, 71), Ok(()));
    }

    #[test]
    fn failures_are_forgotten_after_an_hour() {
        let t = Throttle::default();
        for _ in 0..20 {
            t.fail(&[src()], 0);
        }
        assert!(t.check(&[src()], 10).is_err());
        assert_eq!(t.check(&[src()], 3600), Ok(()));
        t.fail(&[src()], 3600);
        assert_eq!(t.check(&[src()], 3600), Ok(()), "the count started over");
    }

    #[test]
    fn ipv6_sources_are_grouped_by_64() {
        let a = ThrottleKey::source("2001:db8:1:2::1".parse().unwrap());
        let b = ThrottleKey::source("2001:db8:1:2:ffff::9".parse().unwrap());
        let c = ThrottleKey::source("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mapped = ThrottleKey::source("::ffff:192.0.2.7".parse().unwrap());
        assert_eq!(mapped, src());
    }
}
