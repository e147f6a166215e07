//! The command line: argument definitions and one function per subcommand. Every command but
//! `serve` is a thin client of the running daemon over its control socket.

mod accounts;
mod backup;
mod backup_format;
mod client;
pub mod display;
mod pairing;
mod peers;
mod photos;
mod scan;
mod shares;
mod user;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

pub use client::ClientError;

use crate::datadir::DataDir;
use crate::error::exit;

/// Self-hosted family photo sharing between homes.
#[derive(Debug, Parser)]
#[command(name = "shoebox", version, about)]
pub struct Cli {
    /// The instance's data dir [default: $XDG_DATA_HOME/shoebox].
    #[arg(long, global = true, env = "SHOEBOX_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: index the libraries and serve the API.
    Serve(ServeArgs),
    /// Manage local users.
    #[command(subcommand)]
    User(UserCommand),
    /// Name paired instances.
    #[command(subcommand)]
    Peer(PeerCommand),
    /// Re-index libraries now and print what changed.
    Scan {
        /// Only this user's library.
        #[arg(long)]
        user: Option<String>,
        /// Print JSON (with every skipped file and why).
        #[arg(long)]
        json: bool,
    },
    /// List photos a user can see.
    Photos {
        /// The local user asking.
        #[arg(long = "as", value_name = "NAME")]
        as_user: String,
        /// Whose photos: a local user name (default: the asking user), or USER@HOST:PORT of a
        /// connected person on another instance (their shared photos).
        #[arg(long)]
        owner: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ask a person on another instance to connect (pairing).
    Connect {
        /// The local user asking.
        #[arg(long = "as", value_name = "NAME")]
        as_user: String,
        /// The other person, USER@HOST:PORT.
        remote: String,
        /// Why, shown to them.
        #[arg(long, default_value = "")]
        purpose: String,
        /// Wait for them, then ask for the code they read back.
        #[arg(long)]
        wait: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pending pairing requests, incoming and outgoing.
    Requests {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve a pairing request with the code the other person reads to you.
    Approve {
        /// The request id (or its first 4+ characters).
        id: String,
        /// Incoming: the 6-digit code; outgoing: the 4-digit code read back.
        #[arg(long)]
        code: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Reject a pairing request (it ends on both instances).
    Reject {
        /// The request id (or its first 4+ characters).
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Share a folder of a user's library, or one photo, with a person of this box or of another
    /// instance.
    Share {
        /// The local user who shares.
        #[arg(long, value_name = "NAME")]
        from: String,
        /// The other person: a user of this box (NAME), or USER@HOST:PORT (connected first).
        #[arg(long, value_name = "NAME|USER@HOST:PORT")]
        with: String,
        /// A folder of the library, relative to it (an album: later photos in it are shared too).
        #[arg(required_unless_present = "photo", conflicts_with = "photo")]
        folder: Option<String>,
        /// One photo, by id.
        #[arg(long, value_name = "ID")]
        photo: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop a share, at once.
    Unshare {
        /// The share id (or its first 4+ characters).
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// What is shared with whom.
    Shares {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Instances nearby on the LAN (mDNS).
    Discover {
        /// Seconds to listen.
        #[arg(long, default_value_t = 3)]
        timeout: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Can other homes reach this one? Asks each paired instance to connect back to the
    /// address it holds for this one; fails when one cannot.
    Doctor {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// End one user pair (yours and a remote person's) and tell their instance.
    Disconnect {
        /// The local user.
        #[arg(long = "as", value_name = "NAME")]
        as_user: String,
        /// The other person, USER@HOST:PORT.
        remote: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Forget a paired instance: its users lose every share at once (works while it is offline).
    Unpeer {
        /// Its address (HOST:PORT) or instance id (or its first 4+ characters).
        peer: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Instances this one is paired with, and the user pairs.
    Peers {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Show the pairings that ended, and why, instead.
        #[arg(long)]
        ended: bool,
    },
    /// The URL to open, the certificate fingerprint, whether an owner exists, counts.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The one-time code that claims the box in the browser (fails once an owner exists).
    SetupCode {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the instance's keys, certificate and database to FILE (mode 0600; consistent while
    /// the daemon serves; needs the data dir's owner or root).
    Backup {
        /// The backup file to create.
        file: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Bring an instance back from a backup FILE into the data dir (the daemon stopped):
    /// the same identity, people, peers and shares.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// Restore into a non-empty data dir: its contents move to before-restore-TIME/ in it.
        #[arg(long)]
        force: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Moves a `serve --test-clock` daemon's clock forward (tests only).
    #[command(hide = true)]
    DebugAdvanceClock {
        /// Seconds.
        secs: u64,
        /// Print JSON (it always does).
        #[arg(long)]
        json: bool,
    },
}

/// Options of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(
        long,
        env = "SHOEBOX_LISTEN",
        default_value = "0.0.0.0:7443",
        value_name = "ADDR:PORT"
    )]
    pub listen: SocketAddr,
    /// URL other instances use to reach this one.
    #[arg(long, env = "SHOEBOX_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Also answer CLI commands on this socket, `0660`: the daemon's group may use it (the
    /// packaged service uses /run/shoebox/control.sock, where the CLI looks by itself).
    #[arg(long, value_name = "PATH")]
    pub control_socket: Option<PathBuf>,
    /// Serve plain HTTP (for use behind a TLS-terminating proxy, or in tests).
    #[arg(long)]
    pub no_tls: bool,
    /// Neither advertise nor browse on the LAN.
    #[arg(long)]
    pub no_mdns: bool,
    /// A folder under which people's library folders are picked in the web page (repeatable;
    /// default: the Pictures folder, `XDG_PICTURES_DIR` or `~/Pictures`, when it exists;
    /// `SHOEBOX_PHOTOS_ROOTS` takes a `:`-separated list).
    #[arg(
        long = "photos-root",
        value_name = "DIR",
        env = "SHOEBOX_PHOTOS_ROOTS",
        value_delimiter = ':'
    )]
    pub photos_roots: Vec<PathBuf>,
    /// Most bytes of thumbnails and previews kept in the data dir (e.g. 500M, 2G); the least
    /// recently used go first [default: 1G, or 5% of the data dir's file system if smaller].
    #[arg(long, env = "SHOEBOX_CACHE_LIMIT", value_name = "SIZE", value_parser = crate::library::parse_size)]
    pub cache_limit: Option<u64>,
    /// Run the accounts' clock as a test clock that `shoebox debug-advance-clock` moves
    /// (tests of invite and session expiry).
    #[arg(long, hide = true)]
    pub test_clock: bool,
    /// Seconds between re-scans of every library.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub rescan_interval: u64,
    /// Milliseconds a client gets to send a request head (tests shorten it).
    #[arg(long, default_value_t = 10_000, hide = true)]
    pub header_read_timeout_ms: u64,
    /// Milliseconds a client gets to send a request body, counted from the end of its head
    /// (tests shorten it).
    #[arg(long, default_value_t = 10_000, hide = true)]
    pub body_read_timeout_ms: u64,
    /// Most connections open at once from one source: an IPv4 address or an IPv6 /64.
    #[arg(long, default_value_t = 64, hide = true)]
    pub max_connections_per_source: usize,
    /// Seconds a pairing request waits for `reveal` (tests shorten it).
    #[arg(long, default_value_t = crate::protocol::REVEAL_DEADLINE_SECS, hide = true)]
    pub reveal_deadline_secs: u64,
    /// Seconds a pairing request waits for each approval and message (tests shorten it).
    #[arg(long, default_value_t = crate::protocol::APPROVAL_DEADLINE_SECS, hide = true)]
    pub approval_deadline_secs: u64,
}

/// `peer` subcommands.
#[derive(Debug, Subcommand)]
pub enum PeerCommand {
    /// Name a paired instance here, so that `USER@NAME` names its people.
    Rename {
        /// Its address (HOST:PORT), current name, or instance id (a prefix of 4 or more).
        peer: String,
        /// The new name: 1 to 32 of a-z 0-9 -, not all digits.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a local user whose photos are in DIR; prints the API token as the last line.
    Add {
        /// User name: 1 to 32 of a-z 0-9 . _ -
        name: String,
        /// The user's photo folder (read-only to shoebox).
        #[arg(long, value_name = "DIR")]
        library: PathBuf,
        /// Print JSON (the token is in it).
        #[arg(long)]
        json: bool,
    },
    /// List users.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A one-time invite link (7 days) with which NAME chooses a password (also a reset).
    Invite {
        /// The local user.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a local user: their sessions and shares end; their photos stay on disk.
    Remove {
        /// The local user.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A new API token for NAME, printed as the last line; the old one stops working at once.
    Token {
        /// The local user.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Point NAME at another library folder; the index follows (the new folder is scanned).
    Library {
        /// The local user.
        name: String,
        /// The new photo folder (read-only to shoebox).
        dir: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

impl Cli {
    /// The data dir in effect.
    pub fn data_dir(&self) -> DataDir {
        DataDir::new(self.data_dir.clone().unwrap_or_else(DataDir::default_root))
    }
}

impl ServeArgs {
    /// The daemon's options.
    pub fn options(&self) -> crate::daemon::ServeOptions {
        crate::daemon::ServeOptions {
            listen: self.listen,
            public_url: self.public_url.clone(),
            no_tls: self.no_tls,
            no_mdns: self.no_mdns,
            photos_roots: self.photos_roots.clone(),
            test_clock: self.test_clock,
            rescan_interval: Duration::from_secs(self.rescan_interval.max(1)),
            limits: crate::daemon::HttpLimits {
                header_read_timeout: Duration::from_millis(self.header_read_timeout_ms.max(1)),
                body_read_timeout: Duration::from_millis(self.body_read_timeout_ms.max(1)),
                max_connections_per_source: self.max_connections_per_source.max(1),
            },
            deadlines: crate::federation::pairing::Deadlines {
                reveal_secs: self.reveal_deadline_secs.max(1),
                approval_secs: self.approval_deadline_secs.max(1),
            },
            control_socket: self.control_socket.clone(),
            cache_limit_bytes: self.cache_limit,
        }
    }
}

/// Runs a client command (anything but `serve`) and returns the exit code.
pub fn run_client(cli: &Cli) -> i32 {
    if cli.data_dir.is_none() {
        // No data dir named: the user's own, else the system service's socket. The hidden
        // variable stands in for /run/shoebox in tests.
        let system = std::env::var_os("SHOEBOX_SYSTEM_SOCKET")
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from(client::SYSTEM_SOCKET), PathBuf::from);
        client::use_system_fallback(system);
    }
    let data_dir = cli.data_dir();
    let dir = data_dir.root();
    let result = match &cli.command {
        Command::Serve(_) => unreachable!("main runs serve itself"),
        Command::User(UserCommand::Add {
            name,
            library,
            json,
        }) => user::add(dir, name, library, *json),
        Command::User(UserCommand::Token { name, json }) => user::token(dir, name, *json),
        Command::User(UserCommand::Library {
            name,
            dir: lib,
            json,
        }) => user::library(dir, name, lib, *json),
        Command::User(UserCommand::List { json }) => user::list(dir, *json),
        Command::Scan { user, json } => scan::run(dir, user.clone(), *json),
        Command::Photos {
            as_user,
            owner,
            json,
        } => photos::run(dir, as_user, owner.clone(), *json),
        Command::Connect {
            as_user,
            remote,
            purpose,
            wait,
            json,
        } => pairing::connect(dir, as_user, remote, purpose, *wait, *json),
        Command::Requests { json } => pairing::requests(dir, *json),
        Command::Approve { id, code, json } => pairing::approve(dir, id, code, *json),
        Command::Reject { id, json } => pairing::reject(dir, id, *json),
        Command::Peers { json, ended: false } => pairing::peers(dir, *json),
        Command::Peers { json, ended: true } => peers::ended(dir, *json),
        Command::Share {
            from,
            with,
            folder,
            photo,
            json,
        } => shares::share(dir, from, with, folder.clone(), photo.clone(), *json),
        Command::Unshare { id, json } => shares::unshare(dir, id, *json),
        Command::Shares { json } => shares::list(dir, *json),
        Command::Unpeer { peer, json } => pairing::unpeer(dir, peer, *json),
        Command::Peer(PeerCommand::Rename { peer, name, json }) => {
            peers::rename(dir, peer, name, *json)
        }
        Command::Doctor { json } => peers::doctor(dir, *json),
        Command::Disconnect {
            as_user,
            remote,
            json,
        } => peers::disconnect(dir, as_user, remote, *json),
        Command::Discover { timeout, json } => pairing::discover(dir, *timeout, *json),
        Command::Status { json } => accounts::status(dir, *json),
        Command::Backup { file, force, json } => backup::backup(
            &backup::data_dir(cli.data_dir.as_deref()),
            file,
            *force,
            *json,
        ),
        Command::Restore { file, force, json } => backup::restore(
            &backup::data_dir(cli.data_dir.as_deref()),
            file,
            *force,
            *json,
        ),
        Command::SetupCode { json } => accounts::setup_code(dir, *json),
        Command::DebugAdvanceClock { secs, .. } => accounts::advance_clock(dir, *secs),
        Command::User(UserCommand::Invite { name, json }) => accounts::invite(dir, name, *json),
        Command::User(UserCommand::Remove { name, json }) => accounts::remove(dir, name, *json),
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => report(&e),
    }
}

/// Prints `error` (with its causes) to stderr and returns the exit code for it.
fn report(error: &anyhow::Error) -> i32 {
    if let Some(io) = error.downcast_ref::<std::io::Error>() {
        if io.kind() == std::io::ErrorKind::BrokenPipe {
            return exit::OK;
        }
    }
    // The chain may carry a peer's message, relayed by the daemon.
    eprintln!("shoebox: {}", display::for_terminal(&format!("{error:#}")));
    match error.downcast_ref::<ClientError>() {
        Some(ClientError::NoDaemon(_) | ClientError::NoDaemonAnywhere(..)) => exit::NO_DAEMON,
        _ => exit::FAILED,
    }
}

/// Writes `text` to stdout; a closed pipe surfaces as `BrokenPipe`, which counts as success.
fn print_out(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Writes `value` as one line of JSON to stdout.
fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string(value)?;
    print_out(&format!("{text}\n"))
}
