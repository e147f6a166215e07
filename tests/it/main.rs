//! Integration tests: real `shoebox serve` processes on loopback (always `--no-mdns`), driven
//! through the CLI and HTTP as a user would.

mod accounts;
mod address_update;
mod api;
mod architecture;
mod audit;
mod backup;
mod browser;
mod browser_connect;
mod cache;
mod cli;
mod cli_output;
mod connections_api;
mod discovery;
mod doctor;
mod fixture;
mod goodbye;
mod hostile_library;
mod household;
mod http_limits;
mod library;
mod media;
mod migration;
mod names;
mod pairing;
mod peer_client;
mod service;
mod sharing;
mod timeline;
mod webdriver;
