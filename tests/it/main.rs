//! Integration tests: real `shoebox serve` processes on loopback (always `--no-mdns`), driven
//! through the CLI and HTTP as a user would.

mod accounts;
mod address_update;
mod api;
mod architecture;
mod browser;
mod cli;
mod cli_output;
mod discovery;
mod doctor;
mod fixture;
mod goodbye;
mod hostile_library;
mod http_limits;
mod library;
mod migration;
mod names;
mod pairing;
mod peer_client;
mod sharing;
mod timeline;
