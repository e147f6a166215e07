//! Integration tests: real `shoebox serve` processes on loopback (always `--no-mdns`), driven
//! through the CLI and HTTP as a user would.

mod accounts;
mod api;
mod architecture;
mod audit;
mod browser;
mod browser_connect;
mod cli;
mod cli_output;
mod connections_api;
mod discovery;
mod fixture;
mod hostile_library;
mod household;
mod http_limits;
mod library;
mod media;
mod migration;
mod pairing;
mod peer_client;
mod service;
mod sharing;
mod timeline;
mod webdriver;
