//! The `addresses` table (protocol v1.1 address updates, PROTOCOL.md §11.3): what this instance
//! last announced about itself (URL, SPKI hash, sequence number), the last sequence number
//! accepted from each peer, and the updates still to deliver. A table of its own, created empty
//! on open: older data dirs need no migration. Also the one store operation an accepted update
//! needs: moving a peer, with the names of its remote users, to the new address.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::identity::InstanceId;

/// What this instance last told its peers about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announced {
    /// Its public URL.
    pub url: String,
    /// Its TLS SPKI hash, `None` without TLS.
    pub tls_spki: Option<[u8; 32]>,
    /// Its name for itself.
    pub name: String,
    /// The sequence number of that announcement (1 at the first start).
    pub seq: u64,
}

/// One record of the table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AddressRecord {
    /// Key `self`.
    Announced(Announced),
    /// Key `s` + peer id: the last sequence number accepted from that peer.
    Accepted(u64),
    /// Key `o` + peer id: the signed update still to deliver to that peer (the newest only).
    Outgoing {
        /// Its sequence number.
        seq: u64,
        /// The signed message.
        body: Vec<u8>,
    },
    /// Key `n` + peer id: the peer's name here (`peer rename`), for `USER@NAME`.
    Name(String),
    /// Key `m` + peer id: the peer's own name for itself, from its last update.
    OwnName(String),
    /// Key `d` + peer id: the sequence number of our newest announcement the peer answered.
    Delivered(u64),
}

const SELF_KEY: &[u8] = b"self";

fn key(kind: &[u8], peer: &InstanceId) -> Vec<u8> {
    [kind, &peer.0].concat()
}

/// Where an accepted update moves a peer.
#[derive(Clone, Debug)]
pub struct NewAddress {
    /// Its new base URL.
    pub url: String,
    /// Its new `HOST:PORT`.
    pub address: String,
    /// Its new SPKI hash.
    pub tls_spki: Option<[u8; 32]>,
    /// Its name for itself (empty: none).
    pub name: String,
    /// The update's sequence number.
    pub seq: u64,
}

impl Store {
    /// What this instance last announced, if it ever started with this table.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn announced(&self) -> Result<Option<Announced>, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(match self.tables.addresses.get(&rtxn, SELF_KEY)? {
            Some(AddressRecord::Announced(a)) => Some(a),
            _ => None,
        })
    }

    /// Records a new announcement and queues `updates` (peer, signed bytes) with its sequence
    /// number, in one step.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn announce(
        &self,
        announced: &Announced,
        updates: &[(InstanceId, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let table = &self.tables.addresses;
        table.put(
            &mut wtxn,
            SELF_KEY,
            &AddressRecord::Announced(announced.clone()),
        )?;
        for (peer, body) in updates {
            table.put(
                &mut wtxn,
                &key(b"o", peer),
                &AddressRecord::Outgoing {
                    seq: announced.seq,
                    body: body.clone(),
                },
            )?;
        }
        wtxn.commit()?;
        Ok(())
    }

    /// The updates still to deliver, to `peer` only when given.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn pending_address_updates(
        &self,
        peer: Option<&InstanceId>,
    ) -> Result<Vec<(InstanceId, u64, Vec<u8>)>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let prefix = [b"o".as_slice(), peer.map_or(&[][..], |p| &p.0)].concat();
        let mut out = Vec::new();
        for entry in self.tables.addresses.prefix_iter(&rtxn, &prefix)? {
            let (k, record) = entry?;
            if let (Ok(id), AddressRecord::Outgoing { seq, body }) =
                (<[u8; 32]>::try_from(&k[1..]), record)
            {
                out.push((InstanceId(id), seq, body));
            }
        }
        Ok(out)
    }

    /// The sequence number of our newest announcement that `peer` answered (0 before any).
    ///
    /// # Errors
    /// LMDB errors.
    pub fn delivered_address_seq(&self, peer: &InstanceId) -> Result<u64, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(match self.tables.addresses.get(&rtxn, &key(b"d", peer))? {
            Some(AddressRecord::Delivered(seq)) => seq,
            _ => 0,
        })
    }

    /// Queues `body` (announcement `seq`) for `peer` unless one is already waiting.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn queue_address_update(
        &self,
        peer: &InstanceId,
        seq: u64,
        body: Vec<u8>,
    ) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let k = key(b"o", peer);
        if self.tables.addresses.get(&wtxn, &k)?.is_none() {
            self.tables
                .addresses
                .put(&mut wtxn, &k, &AddressRecord::Outgoing { seq, body })?;
        }
        wtxn.commit()?;
        Ok(())
    }

    /// The peer's own name for itself, from its last accepted update.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn peer_own_name(&self, peer: &InstanceId) -> Result<Option<String>, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(match self.tables.addresses.get(&rtxn, &key(b"m", peer))? {
            Some(AddressRecord::OwnName(name)) => Some(name),
            _ => None,
        })
    }

    /// Forgets a delivered update (unless a newer one replaced it meanwhile) and records that
    /// the peer answered announcement `seq`.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn address_update_delivered(
        &self,
        peer: &InstanceId,
        seq: u64,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let k = key(b"o", peer);
        if let Some(AddressRecord::Outgoing { body: stored, .. }) =
            self.tables.addresses.get(&wtxn, &k)?
        {
            if stored == body {
                self.tables.addresses.delete(&mut wtxn, &k)?;
            }
        }
        self.tables
            .addresses
            .put(&mut wtxn, &key(b"d", peer), &AddressRecord::Delivered(seq))?;
        wtxn.commit()?;
        Ok(())
    }

    /// The last sequence number accepted from `peer` (0 before any).
    ///
    /// # Errors
    /// LMDB errors.
    pub fn accepted_address_seq(&self, peer: &InstanceId) -> Result<u64, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(match self.tables.addresses.get(&rtxn, &key(b"s", peer))? {
            Some(AddressRecord::Accepted(seq)) => seq,
            _ => 0,
        })
    }

    /// Moves `peer` to `new` in one transaction: its URL, address and pinned SPKI, the names of
    /// its remote users (`USER@OLD` → `USER@NEW`) in its user pairs, the users table and the
    /// shares granted to them; records `new.seq` as accepted.
    ///
    /// # Errors
    /// [`StoreError::DifferentInstance`] when another instance is pinned at the new address;
    /// LMDB errors.
    pub fn move_peer(&self, peer: &InstanceId, new: &NewAddress) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let Some(mut record) = self.tables.peers.get(&wtxn, &peer.0)? else {
            return Ok(());
        };
        for entry in self.tables.peers.iter(&wtxn)? {
            let (_, other) = entry?;
            if other.address == new.address && other.instance_id != *peer {
                return Err(StoreError::DifferentInstance {
                    address: new.address.clone(),
                    pinned: other.instance_id.to_string(),
                });
            }
        }
        let rename = |name: &str| -> Option<String> {
            let (user, _) = name.split_once('@')?;
            Some(format!("{user}@{}", new.address))
        };
        let mut renamed: Vec<(String, String)> = Vec::new();
        for pair in &mut record.pairs {
            if let Some(to) = rename(&pair.remote) {
                if to != pair.remote {
                    renamed.push((pair.remote.clone(), to.clone()));
                    pair.remote = to;
                }
            }
        }
        for (from, to) in &renamed {
            if let Some(mut user) = self.tables.users.get(&wtxn, from)? {
                self.tables.users.delete(&mut wtxn, from)?;
                user.name = to.clone();
                self.tables.users.put(&mut wtxn, to, &user)?;
            }
        }
        let mut shares = Vec::new();
        for entry in self.tables.shares.iter(&wtxn)? {
            let (id, share) = entry?;
            if let Some((_, to)) = renamed.iter().find(|(from, _)| *from == share.grantee) {
                let mut share = share.clone();
                share.grantee = to.clone();
                shares.push((id.to_owned(), share));
            }
        }
        for (id, share) in &shares {
            self.tables.shares.put(&mut wtxn, id, share)?;
        }
        record.url = new.url.clone();
        record.address = new.address.clone();
        record.tls_spki = new.tls_spki;
        self.tables.peers.put(&mut wtxn, &peer.0, &record)?;
        self.tables.addresses.put(
            &mut wtxn,
            &key(b"s", peer),
            &AddressRecord::Accepted(new.seq),
        )?;
        if new.name.is_empty() {
            self.tables.addresses.delete(&mut wtxn, &key(b"m", peer))?;
        } else {
            self.tables.addresses.put(
                &mut wtxn,
                &key(b"m", peer),
                &AddressRecord::OwnName(new.name.clone()),
            )?;
        }
        wtxn.commit()?;
        Ok(())
    }
}
