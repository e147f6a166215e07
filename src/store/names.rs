//! Naming people on other instances (issue 13, "Identity"): a peer's local name (`peer rename`,
//! kept in the `addresses` table), and the one resolution of what a person typed —
//! `USER@HOST:PORT`, `USER@NAME` (the peer's name here, or the host of its address) or
//! `USER@IDPREFIX` (at least 4 characters of its displayed instance id) — to the canonical
//! `USER@HOST:PORT` that user pairs and shares are keyed by, through the pinned peers only.

use super::address::AddressRecord;
use super::{PeerRecord, Store, StoreError};
use crate::identity::InstanceId;
use crate::protocol::handshake::address::PeerAddress;

/// Shortest instance-id prefix accepted after `@`.
pub const MIN_ID_PREFIX: usize = 4;

/// Longest peer name.
pub const MAX_PEER_NAME: usize = 32;

/// Whether `name` may name a peer: `[a-z0-9-]`, 1 to 32, not all digits (ports are), not
/// starting or ending with `-`.
pub fn valid_peer_name(name: &str) -> bool {
    (1..=MAX_PEER_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.bytes().all(|b| b.is_ascii_digit())
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn name_key(peer: &InstanceId) -> Vec<u8> {
    [b"n".as_slice(), &peer.0].concat()
}

/// The host part of `HOST:PORT`, without brackets.
fn host_of(address: &str) -> &str {
    address
        .rsplit_once(':')
        .map_or(address, |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']')
}

impl Store {
    /// Names `peer` `name` here (`None` forgets the name).
    ///
    /// # Errors
    /// LMDB errors.
    pub fn set_peer_name(&self, peer: &InstanceId, name: Option<&str>) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        match name {
            Some(name) => self.tables.addresses.put(
                &mut wtxn,
                &name_key(peer),
                &AddressRecord::Name(name.to_owned()),
            )?,
            None => {
                self.tables.addresses.delete(&mut wtxn, &name_key(peer))?;
            }
        }
        wtxn.commit()?;
        Ok(())
    }

    /// The name of `peer` here, if it has one.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn peer_name(&self, peer: &InstanceId) -> Result<Option<String>, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(match self.tables.addresses.get(&rtxn, &name_key(peer))? {
            Some(AddressRecord::Name(name)) => Some(name),
            _ => None,
        })
    }

    /// The pinned peer that `which` names: its address, its name here, the host of its
    /// address, or a prefix of its displayed instance id (dashes optional, any case); `None`
    /// when nothing or more than one peer matches.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn find_peer(&self, which: &str) -> Result<Option<PeerRecord>, StoreError> {
        let peers = self.peers()?;
        if let Ok(address) = PeerAddress::parse(which) {
            let canonical = address.to_string();
            return Ok(peers.into_iter().find(|p| p.address == canonical));
        }
        let wanted = which.to_ascii_lowercase();
        let prefix: String = which
            .chars()
            .filter(|c| *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let mut found = Vec::new();
        for peer in peers {
            let named = self.peer_name(&peer.instance_id)?.as_deref() == Some(wanted.as_str())
                || self.peer_own_name(&peer.instance_id)?.as_deref() == Some(wanted.as_str());
            let host = host_of(&peer.address).eq_ignore_ascii_case(&wanted);
            let id = prefix.len() >= MIN_ID_PREFIX
                && peer
                    .instance_id
                    .to_string()
                    .replace('-', "")
                    .starts_with(&prefix);
            if named || host || id {
                found.push(peer);
            }
        }
        Ok(if found.len() == 1 { found.pop() } else { None })
    }

    /// The canonical `USER@HOST:PORT` of a person typed as `USER@HOST:PORT`, `USER@NAME` or
    /// `USER@IDPREFIX`; `text` itself when it names no single pinned peer (the caller's own
    /// "not connected" answer then applies).
    ///
    /// # Errors
    /// LMDB errors.
    pub fn resolve_person(&self, text: &str) -> Result<String, StoreError> {
        let Some((user, which)) = text.split_once('@') else {
            return Ok(text.to_owned());
        };
        Ok(match self.find_peer(which)? {
            Some(peer) => format!("{user}@{}", peer.address),
            None => text.to_owned(),
        })
    }
}
