//! The `peers` table: instances this one has paired with, keyed by instance id, pinning their
//! keys, TLS SPKI (or "no TLS") and URL, with the user pairs that trust each other; and the
//! remote users those pairs bring (user records with `is_local = false`).

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, UserRecord};
use crate::identity::InstanceId;
use crate::protocol::handshake::Paired;

/// A local user and a remote user who paired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPair {
    /// The local user's name.
    pub local: String,
    /// The remote user as `USER@HOST:PORT`.
    pub remote: String,
}

/// A paired instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRecord {
    /// `H("shoebox/v1/instance-id" || ik)`.
    pub instance_id: InstanceId,
    /// Ed25519 identity key.
    pub ik: [u8; 32],
    /// X25519 static key.
    pub xk: [u8; 32],
    /// SHA-256 of its TLS SPKI, or `None`: a plain-HTTP peer.
    pub tls_spki: Option<[u8; 32]>,
    /// Its base URL.
    pub url: String,
    /// `HOST:PORT` of the URL: how users name it.
    pub address: String,
    /// When the first pairing completed, Unix seconds.
    pub paired_at: u64,
    /// Final transcript hash of the latest pairing.
    pub transcript: [u8; 32],
    /// The user pairs.
    pub pairs: Vec<UserPair>,
}

/// Who paired with whom, as the pairing flow hands it to [`Store::record_paired`].
#[derive(Clone, Debug)]
pub struct CompletedPairing<'a> {
    /// The handshake's result.
    pub paired: &'a Paired,
    /// The peer's instance id (of `paired.peer.ik`, which the caller has parsed).
    pub instance_id: InstanceId,
    /// The peer's `HOST:PORT`, as users name it.
    pub address: String,
    /// The local user of the pair.
    pub local_user: &'a str,
    /// The remote user, `USER@HOST:PORT`.
    pub remote: String,
    /// When it completed, Unix seconds.
    pub at: u64,
}

impl Store {
    /// Pins the peer of a completed handshake and its user pair; returns the peer's instance id.
    ///
    /// # Errors
    /// As [`Store::record_pairing`].
    pub fn record_paired(&self, done: CompletedPairing<'_>) -> Result<InstanceId, StoreError> {
        let instance_id = done.instance_id;
        let peer = PeerRecord {
            instance_id,
            ik: done.paired.peer.ik,
            xk: done.paired.peer.xk,
            tls_spki: done.paired.peer_tls_spki,
            url: done.paired.peer_url.clone(),
            address: done.address,
            paired_at: done.at,
            transcript: done.paired.transcript.0,
            pairs: Vec::new(),
        };
        let pair = UserPair {
            local: done.local_user.to_owned(),
            remote: done.remote,
        };
        self.record_pairing(peer, pair)?;
        Ok(instance_id)
    }

    /// Refuses identity key `ik` when a different instance is pinned at `address`.
    ///
    /// # Errors
    /// [`StoreError::DifferentInstance`]; LMDB errors.
    pub fn check_not_pinned_elsewhere(
        &self,
        address: &str,
        ik: &[u8; 32],
    ) -> Result<(), StoreError> {
        match self.peer_at(address)? {
            Some(existing) if &existing.ik != ik => Err(StoreError::DifferentInstance {
                address: address.to_owned(),
                pinned: existing.instance_id.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// Records a completed pairing in one transaction: the peer (new, or a known one gaining a
    /// user pair) and the remote user.
    ///
    /// # Errors
    /// [`StoreError::DifferentInstance`] when another instance is pinned at this address or
    /// this key is pinned under another address; LMDB errors.
    pub fn record_pairing(&self, peer: PeerRecord, pair: UserPair) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        for entry in self.tables.peers.iter(&wtxn)? {
            let (_, existing) = entry?;
            if existing.address == peer.address && existing.instance_id != peer.instance_id {
                return Err(StoreError::DifferentInstance {
                    address: peer.address,
                    pinned: existing.instance_id.to_string(),
                });
            }
        }
        let key = peer.instance_id.0;
        let record = match self.tables.peers.get(&wtxn, &key)? {
            Some(mut existing) => {
                if existing.ik != peer.ik {
                    return Err(StoreError::DifferentInstance {
                        address: peer.address,
                        pinned: existing.instance_id.to_string(),
                    });
                }
                if !existing.pairs.contains(&pair) {
                    existing.pairs.push(pair.clone());
                }
                existing.url = peer.url;
                existing.address = peer.address;
                existing.tls_spki = peer.tls_spki;
                existing.xk = peer.xk;
                existing.transcript = peer.transcript;
                existing
            }
            None => PeerRecord {
                pairs: vec![pair.clone()],
                ..peer
            },
        };
        if self.tables.users.get(&wtxn, &pair.remote)?.is_none() {
            let remote = UserRecord {
                name: pair.remote.clone(),
                token_hash: None,
                library: None,
                is_local: false,
                created_at: record.paired_at,
            };
            self.tables.users.put(&mut wtxn, &pair.remote, &remote)?;
        }
        self.tables.peers.put(&mut wtxn, &key, &record)?;
        wtxn.commit()?;
        Ok(())
    }

    /// Every paired instance.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn peers(&self) -> Result<Vec<PeerRecord>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut peers = Vec::new();
        for entry in self.tables.peers.iter(&rtxn)? {
            peers.push(entry?.1);
        }
        Ok(peers)
    }

    /// The paired instance at `address` (`HOST:PORT`), if any.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn peer_at(&self, address: &str) -> Result<Option<PeerRecord>, StoreError> {
        Ok(self.peers()?.into_iter().find(|p| p.address == address))
    }
}

impl Store {
    /// Removes the peer whose address or displayed instance id is `which`, with its remote
    /// users and every share granted to them, in one transaction; returns it.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn remove_peer(&self, which: &str) -> Result<Option<PeerRecord>, StoreError> {
        let wanted = InstanceId::parse(which);
        let mut wtxn = self.env.write_txn()?;
        let mut found = None;
        for entry in self.tables.peers.iter(&wtxn)? {
            let (_, peer) = entry?;
            if peer.address == which || Some(peer.instance_id) == wanted {
                found = Some(peer);
                break;
            }
        }
        let Some(peer) = found else {
            return Ok(None);
        };
        self.tables.peers.delete(&mut wtxn, &peer.instance_id.0)?;
        let remotes: Vec<&str> = peer.pairs.iter().map(|p| p.remote.as_str()).collect();
        for remote in &remotes {
            self.tables.users.delete(&mut wtxn, remote)?;
        }
        let mut doomed = Vec::new();
        for entry in self.tables.shares.iter(&wtxn)? {
            let (id, share) = entry?;
            if remotes.contains(&share.grantee.as_str()) {
                doomed.push(id.to_owned());
            }
        }
        for id in doomed {
            self.tables.shares.delete(&mut wtxn, &id)?;
        }
        wtxn.commit()?;
        Ok(Some(peer))
    }
}
