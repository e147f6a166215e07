//! Open connections counted per source, so that one address cannot take every connection slot
//! of the listener (issue 9, finding 3).
//!
//! A source is an IPv4 address or an IPv6 /64 (one home's or one host's share of IPv6 space,
//! as the `init` rate limit counts it); an IPv4-mapped IPv6 address counts as its IPv4 address.
//! The global cap on connections stays in `http.rs`; this table only adds the per-source one.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

/// Where a connection comes from, as the per-source cap counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceKey {
    /// One IPv4 address.
    V4(Ipv4Addr),
    /// The first 64 bits of an IPv6 address.
    V6Prefix64(u64),
}

impl SourceKey {
    /// The source `ip` belongs to.
    pub fn of(ip: IpAddr) -> SourceKey {
        match ip {
            IpAddr::V4(v4) => SourceKey::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => SourceKey::V4(v4),
                None => SourceKey::V6Prefix64((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

impl std::fmt::Display for SourceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceKey::V4(v4) => write!(f, "{v4}"),
            SourceKey::V6Prefix64(prefix) => {
                let net = std::net::Ipv6Addr::from(u128::from(*prefix) << 64);
                write!(f, "{net}/64")
            }
        }
    }
}

/// The number of open connections of each source, capped at `max_per_source`.
#[derive(Debug)]
pub struct SourceTable {
    /// Most connections one source may have open at once.
    max_per_source: usize,
    /// Open connections by source; a source with none has no entry.
    open: Mutex<HashMap<SourceKey, usize>>,
}

/// Why a connection was not admitted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AdmitError {
    /// The source already has the most connections it may have open.
    #[error("{open} connections already open from {from}")]
    SourceFull {
        /// The source.
        from: SourceKey,
        /// How many it has open.
        open: usize,
    },
}

impl SourceTable {
    /// An empty table that admits at most `max_per_source` connections per source.
    pub fn new(max_per_source: usize) -> Arc<SourceTable> {
        Arc::new(SourceTable {
            max_per_source,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Counts one more connection from `ip`, until the returned slot is dropped.
    ///
    /// # Errors
    /// [`AdmitError::SourceFull`] when the source has `max_per_source` connections open.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<SourceSlot, AdmitError> {
        let source = SourceKey::of(ip);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(source).or_insert(0);
        if *count >= self.max_per_source {
            return Err(AdmitError::SourceFull {
                from: source,
                open: *count,
            });
        }
        *count += 1;
        Ok(SourceSlot {
            table: Arc::clone(self),
            source,
        })
    }
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct SourceSlot {
    table: Arc<SourceTable>,
    source: SourceKey,
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.source) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn admit_refuses_a_source_at_its_cap_and_not_others() {
        let table = SourceTable::new(2);
        let _a = table.admit(ip("127.0.0.2")).unwrap();
        let _b = table.admit(ip("127.0.0.2")).unwrap();
        assert_eq!(
            table.admit(ip("127.0.0.2")).unwrap_err(),
            AdmitError::SourceFull {
                from: SourceKey::V4("127.0.0.2".parse().unwrap()),
                open: 2
            }
        );
        assert!(table.admit(ip("127.0.0.1")).is_ok());
    }

    #[test]
    fn dropping_a_slot_frees_its_place_and_forgets_idle_sources() {
        let table = SourceTable::new(1);
        let slot = table.admit(ip("10.0.0.1")).unwrap();
        assert!(table.admit(ip("10.0.0.1")).is_err());
        drop(slot);
        assert!(table.open.lock().unwrap().is_empty());
        assert!(table.admit(ip("10.0.0.1")).is_ok());
    }

    #[test]
    fn ipv6_addresses_of_one_slash_64_share_a_cap() {
        let table = SourceTable::new(1);
        let _a = table.admit(ip("2001:db8:1:2::1")).unwrap();
        assert!(table.admit(ip("2001:db8:1:2:ffff::9")).is_err());
        assert!(table.admit(ip("2001:db8:1:3::1")).is_ok());
    }

    #[test]
    fn a_source_displays_as_its_address_or_network() {
        assert_eq!(
            SourceKey::of(ip("2001:db8:1:2::1")).to_string(),
            "2001:db8:1:2::/64"
        );
        assert_eq!(SourceKey::of(ip("192.0.2.7")).to_string(), "192.0.2.7");
    }

    #[test]
    fn an_ipv4_mapped_address_counts_as_its_ipv4_address() {
        let table = SourceTable::new(1);
        let _a = table.admit(ip("192.0.2.7")).unwrap();
        assert!(table.admit(ip("::ffff:192.0.2.7")).is_err());
    }
}
