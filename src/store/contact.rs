//! The `peer_contact` table: when each paired instance last answered us (or called us) with a
//! verified message, for "last seen" on the page and in `peers --json`. A table of its own (not a
//! field of [`super::PeerRecord`]) so older data dirs need no migration: it starts empty.

use super::{Store, StoreError};
use crate::identity::InstanceId;

/// Contact times closer together than this are not written again: a busy peer costs one write a
/// minute, not one per request.
const WRITE_EVERY_SECS: u64 = 60;

impl Store {
    /// Records that `peer` was in verified contact at `now` (Unix seconds). Cheap when called
    /// often: it writes only when the stored time is older than a minute.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn record_contact(&self, peer: &InstanceId, now: u64) -> Result<(), StoreError> {
        if self
            .last_contact(peer)?
            .is_some_and(|seen| now < seen.saturating_add(WRITE_EVERY_SECS) && now >= seen)
        {
            return Ok(());
        }
        let mut wtxn = self.env.write_txn()?;
        self.tables
            .peer_contact
            .put(&mut wtxn, &peer.0, &now.to_be_bytes())?;
        wtxn.commit()?;
        Ok(())
    }

    /// When `peer` was last in verified contact, Unix seconds; `None` if never since this table
    /// existed.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn last_contact(&self, peer: &InstanceId) -> Result<Option<u64>, StoreError> {
        let rtxn = self.env.read_txn()?;
        Ok(self
            .tables
            .peer_contact
            .get(&rtxn, &peer.0)?
            .and_then(|raw| <[u8; 8]>::try_from(raw).ok())
            .map(u64::from_be_bytes))
    }
}

#[cfg(test)]
mod tests {
    use crate::identity::InstanceId;
    use crate::store::Store;

    #[test]
    fn contact_is_recorded_and_throttled() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), || [7; 32]).unwrap();
        let peer = InstanceId([1; 32]);
        assert_eq!(store.last_contact(&peer).unwrap(), None);
        store.record_contact(&peer, 1000).unwrap();
        store.record_contact(&peer, 1030).unwrap();
        assert_eq!(store.last_contact(&peer).unwrap(), Some(1000));
        store.record_contact(&peer, 1061).unwrap();
        assert_eq!(store.last_contact(&peer).unwrap(), Some(1061));
    }
}
