//! Federation between instances. Today: the client that calls a peer (`client.rs`), with the
//! transport rules of PROTOCOL.md §7. The handshake endpoints and the private API join here.

pub mod client;
pub mod pairing;
pub mod private;
pub mod rate;
pub mod remote;
pub mod server;
