//! Rate limits for `/handshake/init`: per source network (/32 for IPv4, /64 for IPv6) and for
//! the whole instance, in fixed one-minute windows. The global limit matters because an attacker
//! can have many addresses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Counts of one window.
#[derive(Default)]
struct Window {
    minute: u64,
    global: u32,
    per_source: HashMap<u128, u32>,
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

    /// Counts one init from `source` at `now_unix`; `false` when over a limit.
    pub fn allow(&self, source: IpAddr, now_unix: u64) -> bool {
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let minute = now_unix / 60;
        if window.minute != minute {
            *window = Window {
                minute,
                ..Window::default()
            };
        }
        let key = network_of(source);
        let from_source = window.per_source.get(&key).copied().unwrap_or(0);
        if window.global >= self.global_per_minute || from_source >= self.per_source_per_minute {
            return false;
        }
        window.global += 1;
        window.per_source.insert(key, from_source + 1);
        true
    }
}

/// The network a source belongs to: the address for IPv4, its /64 for IPv6.
fn network_of(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(u32::from(v4)),
            None => (u128::from(v6) >> 64) << 64 | 1 << 32,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::InitRateLimit;

    #[test]
    fn limits_per_source_then_globally_and_resets_each_minute() {
        let limit = InitRateLimit::new(2, 3);
        let a = "198.18.0.1".parse().unwrap();
        let b = "198.18.0.2".parse().unwrap();
        let c = "198.18.0.3".parse().unwrap();
        assert!(limit.allow(a, 60));
        assert!(limit.allow(a, 61));
        assert!(!limit.allow(a, 62), "third from one source in a minute");
        assert!(limit.allow(b, 63));
        assert!(!limit.allow(c, 64), "global limit");
        assert!(limit.allow(a, 120), "a new minute");
    }

    #[test]
    fn ipv6_sources_are_limited_by_their_64() {
        let limit = InitRateLimit::new(1, 10);
        assert!(limit.allow("2001:db8::1".parse().unwrap(), 0));
        assert!(!limit.allow("2001:db8::2".parse().unwrap(), 0));
        assert!(limit.allow("2001:db8:0:1::1".parse().unwrap(), 0));
    }
}
