//! Rate limits for `/handshake/init`: per source network (/32 for IPv4, /64 for IPv6) and for
//! the whole instance, in fixed one-minute windows. The global limit matters because an attacker
//! can have many addresses; it counts only well-formed requests for existing users (the caller
//! asks [`InitRateLimit::allow_global`] after parsing), so garbage cannot use it up. The
//! per-source limit is counted before parsing: a source's garbage only costs that source.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Counts of one window.
#[derive(Default)]
struct Window {
    minute: u64,
    global: u32,
    per_source: HashMap<Source, u32>,
}

/// A source network: an IPv4 address, or the /64 of an IPv6 one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Source(u128);

impl Source {
    /// The network `ip` belongs to.
    pub fn of(ip: IpAddr) -> Source {
        Source(match ip {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => u128::from(u32::from(v4)),
                None => (u128::from(v6) >> 64) << 64 | 1 << 32,
            },
        })
    }
}

/// A per-source and global limiter.
pub struct InitRateLimit {
    per_source_per_minute: u32,
    global_per_minute: u32,
    window: Mutex<Window>,
}

impl InitRateLimit {
    /// A limiter allowing `per_source` inits per minute from one network and `global` in all.
    pub fn new(per_source: u32, global: u32) -> InitRateLimit {
        InitRateLimit {
            per_source_per_minute: per_source,
            global_per_minute: global,
            window: Mutex::new(Window::default()),
        }
    }

    fn window(&self, now_unix: u64) -> std::sync::MutexGuard<'_, Window> {
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let minute = now_unix / 60;
        if window.minute != minute {
            *window = Window {
                minute,
                ..Window::default()
            };
        }
        window
    }

    /// Counts one init from `source` at `now_unix`, before parsing; `false` when over the
    /// per-source limit.
    pub fn allow_source(&self, source: Source, now_unix: u64) -> bool {
        let mut window = self.window(now_unix);
        let count = window.per_source.entry(source).or_insert(0);
        if *count >= self.per_source_per_minute {
            return false;
        }
        *count = count.saturating_add(1);
        true
    }

    /// Counts one well-formed init for an existing user at `now_unix`; `false` when over the
    /// global limit.
    pub fn allow_global(&self, now_unix: u64) -> bool {
        let mut window = self.window(now_unix);
        if window.global >= self.global_per_minute {
            return false;
        }
        window.global = window.global.saturating_add(1);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::{InitRateLimit, Source};

    fn source(ip: &str) -> Source {
        Source::of(ip.parse().unwrap())
    }

    #[test]
    fn limits_per_source_then_globally_and_resets_each_minute() {
        let limit = InitRateLimit::new(2, 3);
        let (a, b, c) = (
            source("198.18.0.1"),
            source("198.18.0.2"),
            source("198.18.0.3"),
        );
        let allow = |s, now| limit.allow_source(s, now) && limit.allow_global(now);
        assert!(allow(a, 60));
        assert!(allow(a, 61));
        assert!(!allow(a, 62), "third from one source in a minute");
        assert!(allow(b, 63));
        assert!(!allow(c, 64), "global limit");
        assert!(allow(a, 120), "a new minute");
    }

    #[test]
    fn ipv6_sources_are_limited_by_their_64() {
        let limit = InitRateLimit::new(1, 10);
        assert!(limit.allow_source(source("2001:db8::1"), 0));
        assert!(!limit.allow_source(source("2001:db8::2"), 0));
        assert!(limit.allow_source(source("2001:db8:0:1::1"), 0));
    }

    #[test]
    fn garbage_counted_per_source_leaves_the_global_limit_alone() {
        // Issue 9 finding 6: 30 garbage inits from five sources used up the global 30/min.
        let limit = InitRateLimit::new(6, 30);
        for host in 2..=6 {
            for _ in 0..6 {
                assert!(limit.allow_source(source(&format!("127.0.0.{host}")), 0));
            }
        }
        assert!(limit.allow_source(source("127.0.0.1"), 0));
        assert!(limit.allow_global(0), "no garbage reached the global count");
    }
}
