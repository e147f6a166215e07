//! shoebox: one small binary for a home NAS that indexes the family's photos and serves them to
//! the instance's users, and (as the pairing and sharing work lands) to trusted people on other
//! instances.
//!
//! Module map (see ARCHITECTURE.md for how a request flows):
//! - [`cli`]: argument parsing and the thin clients of the daemon;
//! - [`daemon`]: `serve`, wiring the parts together;
//! - [`api`]: the local JSON API;
//! - [`instance`]: the operations shared by the API and the control socket, with the one
//!   authorization check;
//! - [`library`]: walking, reading and thumbnailing photos;
//! - [`store`]: LMDB tables;
//! - [`tls`], [`identity`]: certificate, pinning, long-term keys;
//! - [`control`]: the control socket's messages; [`error`]: errors to statuses and exit codes.

#![deny(missing_docs)]

pub mod accounts;
pub mod api;
pub mod cli;
pub mod clock;
pub mod control;
pub mod daemon;
pub mod datadir;
pub mod discovery;
pub mod error;
// Federation computes with numbers that peers send: no silent overflow, no silent truncation.
#[deny(clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]
pub mod federation;
pub mod identity;
pub mod instance;
pub mod library;
pub mod protocol;
pub mod site;
pub mod store;
pub mod tls;
pub mod web;
