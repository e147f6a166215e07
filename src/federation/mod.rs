//! Federation between instances: the handshake endpoints and the pairing table (`server.rs`,
//! `pairing/`), the private API peers call on us (`private.rs`), our calls to peers' private APIs
//! (`remote.rs`), and the HTTP client with the transport rules of PROTOCOL.md §7 (`client.rs`).
//!
//! [`Federation`] holds the state of all of it; the daemon builds one and hands it to the
//! federation routers, the local API (for remote owners) and the control socket. It sits above
//! [`Instance`], whose authorization check the private API uses; nothing below imports it.

use std::sync::Arc;

use crate::clock::{SharedClock, SharedEntropy};
use crate::instance::Instance;

pub mod address_update;
pub mod client;
pub mod goodbye;
pub mod pairing;
pub mod photos;
pub mod private;
pub mod rate;
pub mod reach;
pub mod remote;
mod sealing;
pub mod server;

/// The federation state of one running instance.
pub struct Federation {
    /// The instance below: store, library, identity, the authorization check.
    pub instance: Arc<Instance>,
    /// Pending pairing requests.
    pub pairing: pairing::Pairing,
    /// Private-API sessions that peers opened with us.
    pub sessions: private::ServerSessions,
    /// Private-API sessions we opened with peers.
    pub remote: remote::RemoteSessions,
    /// The clock of sessions, replay caches and deadlines (tests drive a manual one).
    pub clock: SharedClock,
    /// Randomness for session ids and ephemeral keys (tests fix it).
    pub entropy: SharedEntropy,
    /// Reachability checks done for peers lately (`doctor`, PROTOCOL.md §11.4).
    pub reach_limits: reach::ReachLimits,
}

impl Federation {
    /// The federation state over `instance`, with its pairing table, on `clock` and `entropy`.
    pub fn new(
        instance: Arc<Instance>,
        pairing: pairing::Pairing,
        clock: SharedClock,
        entropy: SharedEntropy,
    ) -> Federation {
        Federation {
            instance,
            pairing,
            sessions: Default::default(),
            remote: remote::RemoteSessions::new(clock.clone(), entropy.clone()),
            clock,
            entropy,
            reach_limits: Default::default(),
        }
    }

    /// `unpeer PEER` (an address or an instance id): forgets the instance, its people and
    /// every share to them, and ends live sessions both ways at once. `None` if no such peer.
    ///
    /// # Errors
    /// LMDB errors.
    pub fn unpeer(
        &self,
        peer: &str,
    ) -> Result<Option<crate::store::PeerRecord>, crate::store::StoreError> {
        let removed = self.instance.store.remove_peer(peer)?;
        if let Some(removed) = &removed {
            self.forget_peer(&removed.instance_id);
            // The peer ends the same pairs when told (v1.1 goodbye); the caller delivers it.
            goodbye::say_goodbye(
                self,
                removed,
                None,
                crate::protocol::goodbye::GoodbyeReason::Unpeered,
            )?;
            tracing::info!(
                target: "audit",
                event = %"peer_forgotten",
                instance_id = %removed.instance_id,
                address = %removed.address,
                "audit"
            );
        }
        Ok(removed)
    }

    /// Forgets a peer everywhere at once: live sessions both ways end now.
    pub fn forget_peer(&self, peer: &crate::identity::InstanceId) {
        self.sessions.revoke_peer(peer);
        self.remote.forget_peer(peer);
    }
}
