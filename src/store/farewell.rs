//! The `farewells` table (protocol v1.1 goodbyes, PROTOCOL.md §11.2): goodbyes this instance
//! still has to deliver (the outbox: the peer may be offline), and the goodbyes peers sent us,
//! kept to show why a pairing ended. A table of its own, created empty on open: older data dirs
//! need no migration. Also the one store operation a per-pair goodbye needs: ending one user
//! pair with the shares that came with it.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, UserPair};
use crate::identity::InstanceId;

/// A signed goodbye waiting to reach its peer, with where the peer was when it was said (the
/// peer record itself may be gone).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingGoodbye {
    /// The recipient.
    pub peer: InstanceId,
    /// Its base URL.
    pub url: String,
    /// Its pinned SPKI hash, or `None` for a plain-HTTP peer.
    pub tls_spki: Option<[u8; 32]>,
    /// The signed message.
    pub body: Vec<u8>,
    /// When it was said, Unix seconds.
    pub at: u64,
}

/// Why a pairing with a peer ended, as the peer told us (or as we told it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FarewellNote {
    /// The other instance.
    pub peer: InstanceId,
    /// Its address then.
    pub address: String,
    /// The user pairs that ended (local, remote).
    pub pairs: Vec<UserPair>,
    /// `unpeered`, `user_removed` or `disconnected`.
    pub reason: String,
    /// True when the peer said goodbye to us; false when we said it.
    pub by_peer: bool,
    /// When, Unix seconds (our clock).
    pub at: u64,
}

/// One record of the table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Farewell {
    /// To deliver.
    Outgoing(OutgoingGoodbye),
    /// Said (either way): shown in `peers`.
    Note(FarewellNote),
}

/// Notes kept at most (the oldest go).
const MAX_NOTES: usize = 64;

fn outbox_key(peer: &InstanceId, body: &[u8]) -> Vec<u8> {
    let digest = blake3::hash(body);
    [b"o".as_slice(), &peer.0, &digest.as_bytes()[..16]].concat()
}

fn note_key(at: u64, peer: &InstanceId) -> Vec<u8> {
    [b"n".as_slice(), &at.to_be_bytes(), &peer.0].concat()
}

impl Store {
    /// Queues a goodbye for delivery (idempotent for the same bytes).
    ///
    /// # Errors
    /// LMDB errors.
    pub fn queue_goodbye(&self, goodbye: &OutgoingGoodbye) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        self.tables.farewells.put(
            &mut wtxn,
            &outbox_key(&goodbye.peer, &goodbye.body),
            &Farewell::Outgoing(goodbye.clone()),
        )?;
        wtxn.commit()?;
        Ok(())
    }

    /// Every goodbye still to deliver, to `peer` only when given.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn pending_goodbyes(
        &self,
        peer: Option<&InstanceId>,
    ) -> Result<Vec<OutgoingGoodbye>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let prefix = [b"o".as_slice(), peer.map_or(&[][..], |p| &p.0)].concat();
        let mut out = Vec::new();
        for entry in self.tables.farewells.prefix_iter(&rtxn, &prefix)? {
            if let (_, Farewell::Outgoing(goodbye)) = entry? {
                out.push(goodbye);
            }
        }
        Ok(out)
    }

    /// Forgets a delivered (or undeliverable) goodbye.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn goodbye_delivered(&self, goodbye: &OutgoingGoodbye) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        self.tables
            .farewells
            .delete(&mut wtxn, &outbox_key(&goodbye.peer, &goodbye.body))?;
        wtxn.commit()?;
        Ok(())
    }

    /// Keeps a note of an ended pairing (at most [`MAX_NOTES`], the oldest go).
    ///
    /// # Errors
    /// LMDB errors.
    pub fn note_farewell(&self, note: &FarewellNote) -> Result<(), StoreError> {
        let mut wtxn = self.env.write_txn()?;
        self.tables.farewells.put(
            &mut wtxn,
            &note_key(note.at, &note.peer),
            &Farewell::Note(note.clone()),
        )?;
        let keys: Vec<Vec<u8>> = self
            .tables
            .farewells
            .prefix_iter(&wtxn, b"n")?
            .map(|e| e.map(|(k, _)| k.to_vec()))
            .collect::<Result<_, _>>()?;
        for key in keys.iter().take(keys.len().saturating_sub(MAX_NOTES)) {
            self.tables.farewells.delete(&mut wtxn, key)?;
        }
        wtxn.commit()?;
        Ok(())
    }

    /// The kept notes, newest first.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn farewell_notes(&self) -> Result<Vec<FarewellNote>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut out = Vec::new();
        for entry in self.tables.farewells.prefix_iter(&rtxn, b"n")? {
            if let (_, Farewell::Note(note)) = entry? {
                out.push(note);
            }
        }
        out.reverse();
        Ok(out)
    }

    /// Ends one user pair with `peer`: the pair, the shares `pair.local` granted to
    /// `pair.remote`, and the remote user's record when no other pair names it; the peer itself
    /// when no pair is left. Returns whether the pair existed.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn end_user_pair(&self, peer: &InstanceId, pair: &UserPair) -> Result<bool, StoreError> {
        let mut wtxn = self.env.write_txn()?;
        let Some(mut record) = self.tables.peers.get(&wtxn, &peer.0)? else {
            return Ok(false);
        };
        let before = record.pairs.len();
        record.pairs.retain(|p| p != pair);
        if record.pairs.len() == before {
            return Ok(false);
        }
        if record.pairs.is_empty() {
            self.tables.peers.delete(&mut wtxn, &peer.0)?;
        } else {
            self.tables.peers.put(&mut wtxn, &peer.0, &record)?;
        }
        if !record.pairs.iter().any(|p| p.remote == pair.remote) {
            self.tables.users.delete(&mut wtxn, &pair.remote)?;
        }
        let mut doomed = Vec::new();
        for entry in self.tables.shares.iter(&wtxn)? {
            let (id, share) = entry?;
            if share.owner == pair.local && share.grantee == pair.remote {
                doomed.push(id.to_owned());
            }
        }
        for id in doomed {
            self.tables.shares.delete(&mut wtxn, &id)?;
        }
        wtxn.commit()?;
        Ok(true)
    }
}
