//! `shoebox serve`: start-up, listeners, the control socket, background scans and shutdown.
//!
//! Start-up order: data dir (`0700`) → exclusive lock (one daemon per data dir) → store →
//! long-term keys → TLS certificate → HTTP listener → control socket → `listening on URL`.
//! SIGTERM or SIGINT stops accepting, lets open requests finish for a few seconds, and removes
//! the control socket.

mod accounts;
mod body;
mod control;
mod http;
mod ids;
mod limits;
mod linger;
mod peers;
mod people;
mod public_url;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use rand_core::{OsRng, RngCore};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;

use crate::clock::{OsEntropy, SharedEntropy};
use crate::datadir::{with_path, DataDir};
use crate::discovery::{Advert, Discovery};
use crate::federation::pairing::{Pairing, SelfDescription};
use crate::federation::Federation;
use crate::identity::Identity;
use crate::instance::Instance;
use crate::library::{default_cache_limit, Indexer, RenditionCache, Thumbnails};
use crate::store::Store;
use crate::tls::TlsIdentity;

pub use http::HttpLimits;

/// Options of `serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// URL peers should use to reach this instance (default: derived from the listener).
    pub public_url: Option<String>,
    /// Serve plain HTTP instead of HTTPS.
    pub no_tls: bool,
    /// Do not advertise or browse on the LAN.
    pub no_mdns: bool,
    /// Folders people's library folders are picked from in the web page (`--photos-root`).
    pub photos_roots: Vec<std::path::PathBuf>,
    /// Accounts run on a test clock moved over the control socket (hidden `--test-clock`).
    pub test_clock: bool,
    /// How often every library is re-scanned for new, changed and removed files.
    pub rescan_interval: Duration,
    /// HTTP limits.
    pub limits: HttpLimits,
    /// Pairing deadlines.
    pub deadlines: crate::federation::pairing::Deadlines,
    /// A second control socket, `0660` so that the daemon's group may use it (the packaged
    /// unit's `/run/shoebox/control.sock`); the data dir's own `0600` one is always there too.
    pub control_socket: Option<std::path::PathBuf>,
    /// The rendition cache's limit in bytes (`--cache-limit`; default: [`default_cache_limit`]).
    pub cache_limit_bytes: Option<u64>,
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Another daemon holds the data dir.
    #[error("another shoebox is already serving the data dir {0}")]
    AlreadyRunning(String),
    /// File system trouble in the data dir.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// TLS could not be prepared.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Runs the daemon until SIGTERM or SIGINT.
///
/// # Errors
/// [`ServeError`] when start-up fails; once listening, failures are logged, not returned.
pub async fn serve(data_dir: DataDir, options: ServeOptions) -> Result<(), ServeError> {
    // Handlers first: a SIGTERM that arrives at any point after start-up must shut down
    // cleanly, never kill the process with the default action.
    let mut signals = Signals::install()?;
    return_large_allocations_to_the_system();
    data_dir.create()?;
    let _lock = lock_data_dir(&data_dir)?;
    let store = Store::open(&data_dir.db(), random_32)?;
    let identity = Identity::load_or_create(&data_dir.identity_key(), || {
        let mut bytes = [0u8; 64];
        OsRng.fill_bytes(&mut bytes);
        bytes
    })?;
    let tls = if options.no_tls {
        None
    } else {
        Some(TlsIdentity::load_or_create(&data_dir.tls_dir())?)
    };
    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: options.listen,
            source,
        })?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = match &options.public_url {
        Some(given) => {
            tracing::info!(public_url = given, "public URL: as given (--public-url)");
            given.clone()
        }
        None => {
            let mdns = (!options.no_mdns).then(|| {
                format!(
                    "{}.local",
                    crate::discovery::host_label(&identity.instance_id())
                )
            });
            let derived = public_url::derive(scheme, local, mdns.as_deref());
            if derived.reachable {
                tracing::info!(public_url = derived.url, "public URL: {}", derived.why);
            } else {
                tracing::warn!(public_url = derived.url, "public URL: {}", derived.why);
            }
            derived.url
        }
    };
    // The one clock and source of randomness of this daemon; every layer gets these (a test
    // clock under `--test-clock`, which tests move through the control socket).
    let (clock, manual_clock) = test_or_system_clock(options.test_clock);
    let entropy: SharedEntropy = Arc::new(OsEntropy);
    let pairing = Pairing::new(
        &identity,
        SelfDescription {
            url: url.clone(),
            tls_spki: tls.as_ref().map(|t| t.spki),
        },
        options.deadlines,
        clock.clone(),
        entropy.clone(),
    );
    let discovery = if options.no_mdns {
        None
    } else {
        let advert = Advert {
            instance_id: identity.instance_id(),
            port: local.port(),
            tls_spki: tls.as_ref().map(|t| t.spki.0),
            public_url: options.public_url.clone(),
        };
        match Discovery::start(&advert) {
            Ok(discovery) => Some(discovery),
            Err(e) => {
                tracing::warn!("LAN discovery is off: {e}");
                None
            }
        }
    };
    let accounts = crate::accounts::Accounts::new(
        store.clone(),
        data_dir.root().to_owned(),
        clock.clone(),
        manual_clock,
        entropy.clone(),
    );
    announce_setup_code(&accounts, &url);
    let site = crate::site::Site {
        public_url: url.clone(),
        listen_urls: listen_urls(scheme, local),
        certificate_fingerprint: tls.as_ref().map(|t| crate::site::fingerprint(&t.cert)),
        spki_sha256: tls
            .as_ref()
            .map(|t| data_encoding::HEXLOWER.encode(&t.spki.0)),
        photos_roots: crate::site::photos_roots(&options.photos_roots),
        host_name: crate::site::host_name(),
        tls: tls.is_some(),
        loopback_only: local.ip().is_loopback(),
    };
    let cache_limit = options
        .cache_limit_bytes
        .unwrap_or_else(|| default_cache_limit(&data_dir.thumbs()));
    let walked = std::time::Instant::now();
    let thumbs = Thumbnails::bounded(
        RenditionCache::open(data_dir.thumbs(), cache_limit)
            .map_err(|e| with_path(e, &data_dir.thumbs()))?,
    );
    let usage = thumbs.cache().usage();
    tracing::info!(
        bytes = usage.bytes,
        files = usage.files,
        limit_bytes = usage.limit_bytes,
        elapsed_ms = walked.elapsed().as_millis() as u64,
        "rendition cache"
    );
    let instance = Arc::new(Instance {
        accounts,
        site,
        discovery,
        clock: clock.clone(),
        entropy: entropy.clone(),
        indexer: Indexer::new(store.clone(), clock.clone())
            .dropping_gone_renditions(thumbs.clone()),
        store,
        thumbs,
        identity,
        tls_spki: tls.as_ref().map(|t| t.spki),
        thumb_permits: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        ),
        data_dir: data_dir.clone(),
    });
    let federation = Arc::new(Federation::new(
        instance.clone(),
        pairing,
        clock.clone(),
        entropy.clone(),
    ));
    let acceptor = match &tls {
        Some(tls) => Some(tokio_rustls::TlsAcceptor::from(tls.server_config()?)),
        None => None,
    };

    let socket_path = data_dir.control_socket();
    let _ = std::fs::remove_file(&socket_path); // stale from a crash; the lock proves no owner
    let control = UnixListener::bind(&socket_path).map_err(|e| with_path(e, &socket_path))?;
    std::fs::set_permissions(&socket_path, std::fs::Permissions::from_mode(0o600))?;
    let shared_control = match &options.control_socket {
        Some(path) => Some(bind_group_socket(path)?),
        None => None,
    };

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // Each router's body limit is checked again against `Content-Length` before the body is
    // read (413 before `100 Continue`); keep these in step with its `DefaultBodyLimit`.
    let body_limit = |max_body_bytes: usize| {
        axum::middleware::from_fn_with_state(max_body_bytes, body::refuse_oversized_body)
    };
    let router = crate::api::router(federation.clone())
        .layer(body_limit(crate::api::MAX_BODY_BYTES))
        .merge(crate::web::router(instance.site.tls))
        .merge(
            crate::federation::server::router(federation.clone())
                .layer(body_limit(crate::protocol::MAX_HANDSHAKE_BODY_BYTES)),
        )
        .merge(
            crate::federation::goodbye::router(federation.clone())
                .merge(crate::federation::address_update::router(
                    federation.clone(),
                ))
                .merge(crate::federation::reach::router(federation.clone()))
                .layer(body_limit(crate::protocol::MAX_HANDSHAKE_BODY_BYTES)),
        )
        .merge(
            crate::federation::private::router(federation.clone())
                .layer(body_limit(crate::protocol::envelope::MAX_REQUEST_BYTES)),
        )
        .layer(axum::middleware::map_response(
            crate::web::add_security_headers,
        ));
    let http = tokio::spawn(http::serve_http(
        listener,
        acceptor,
        router,
        options.limits,
        shutdown_rx.clone(),
    ));
    let control_task = tokio::spawn(control::serve_control(
        control,
        federation.clone(),
        shutdown_rx.clone(),
    ));
    let shared_control_task = shared_control.map(|listener| {
        tokio::spawn(control::serve_control(
            listener,
            federation.clone(),
            shutdown_rx.clone(),
        ))
    });
    let ahead = crate::library::Ahead::start(instance.store.clone(), instance.thumbs.clone())?;
    spawn_rescans(
        instance.clone(),
        options.rescan_interval,
        ahead,
        shutdown_rx.clone(),
    );
    spawn_expiry(federation.clone(), shutdown_rx.clone());
    if let Err(e) = crate::federation::address_update::announce_if_moved(&federation) {
        tracing::warn!("could not announce this instance's new address: {e}");
    }
    crate::federation::goodbye::spawn_retries(federation.clone());

    tracing::info!(
        instance_id = %instance.identity.instance_id(),
        data_dir = %data_dir.root().display(),
        public_url = url,
        "shoebox started"
    );
    let url = format!("{scheme}://{local}");
    println!("listening on {url}");

    wait_for_signal(&mut signals).await;
    tracing::info!("shutting down");
    let _ = shutdown_tx.send(true);
    let _ = http.await;
    let _ = control_task.await;
    if let Some(task) = shared_control_task {
        let _ = task.await;
    }
    if let Some(discovery) = instance.discovery.clone() {
        // Goodbye packets: the LAN forgets us now, not when its cache expires.
        let _ = tokio::task::spawn_blocking(move || discovery.stop()).await;
    }
    let _ = std::fs::remove_file(&socket_path);
    if let Some(path) = &options.control_socket {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Binds the group-accessible control socket at `path` (`0660`): a stale socket from a crash
/// is replaced, anything else at that path is an error (the data dir's lock proves that no
/// other daemon of this data dir owns it).
fn bind_group_socket(path: &std::path::Path) -> Result<UnixListener, ServeError> {
    use std::os::unix::fs::FileTypeExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(ServeError::Io(with_path(
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "exists and is not a socket",
                ),
                path,
            )));
        }
        let _ = std::fs::remove_file(path);
    }
    let listener = UnixListener::bind(path).map_err(|e| with_path(e, path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| with_path(e, path))?;
    Ok(listener)
}

/// Large allocations (Argon2's 19 MiB per hash, decoders' frames) are mapped and unmapped on
/// their own: glibc otherwise raises its mmap threshold after the first such free and keeps
/// later ones in per-thread arenas, and 20 sign-ins left the daemon 200 MB larger for good.
/// At most two malloc arenas: glibc makes up to eight per core, one per thread that allocates
/// while another holds an arena, and each keeps its freed pages; with the async workers, the
/// blocking pool and the thumbnails-ahead thread that was most of the RssAnon while browsing.
fn return_large_allocations_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator tunables (arenas made later obey the cap); called
    // once at start-up.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// The accounts' clock: the system's, or a test clock (`serve --test-clock`).
fn test_or_system_clock(
    test: bool,
) -> (
    crate::clock::SharedClock,
    Option<Arc<crate::clock::ManualClock>>,
) {
    use crate::clock::Clock;
    if test {
        let clock = Arc::new(crate::clock::ManualClock::at(
            crate::clock::SystemClock.now_secs(),
        ));
        (clock.clone(), Some(clock))
    } else {
        (Arc::new(crate::clock::SystemClock), None)
    }
}

/// Makes or reads the setup code while the box has no owner. The code itself goes to a
/// terminal at the first start only, never to the log (a journal keeps it for anyone who may
/// read logs).
fn announce_setup_code(accounts: &crate::accounts::Accounts, url: &str) {
    match accounts.prepare_setup_code() {
        Ok(Some((code, made_now))) => {
            if made_now && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                eprintln!(
                    "\nThis box has no owner yet. Open {url}/ in a browser and enter the setup \
                     code:\n\n    {code}\n\n(`shoebox setup-code` shows it again.)\n"
                );
            } else {
                tracing::info!("this box has no owner yet: run `shoebox setup-code` to see the setup code, then open {url}/");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::error!("cannot prepare the setup code: {e}"),
    }
}

/// The URLs the listener answers on: its address; for an unspecified address (which no
/// browser can open) the host name's URL and `localhost`'s, for a browser on the box itself.
fn listen_urls(scheme: &str, local: SocketAddr) -> Vec<String> {
    if local.ip().is_unspecified() {
        let port = local.port();
        return vec![
            format!("{scheme}://{}:{port}", crate::site::host_name()),
            format!("{scheme}://localhost:{port}"),
        ];
    }
    vec![format!("{scheme}://{local}")]
}

/// Once a second: ends pairing requests whose deadline passed and polls peers for news.
fn spawn_expiry(federation: Arc<Federation>, mut shutdown: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut ticks: u64 = 0;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                    federation.pairing.tick().await;
                    ticks += 1;
                    if ticks % 3600 == 0 {
                        federation.instance.accounts.expire_sessions();
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
    });
}

/// Scans every library now, then every `interval`; after each, thumbnails are made ahead.
fn spawn_rescans(
    instance: Arc<Instance>,
    interval: Duration,
    ahead: crate::library::Ahead,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        loop {
            instance.indexer.scan_all().await;
            ahead.wake();
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => break,
            }
        }
    });
}

/// SIGTERM and SIGINT, caught from start-up on.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }
}

async fn wait_for_signal(signals: &mut Signals) {
    tokio::select! {
        _ = signals.term.recv() => {}
        _ = signals.int.recv() => {}
    }
}

fn random_32() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// Takes an exclusive `flock` on `daemon.lock` in the data dir, held until the file is dropped.
fn lock_data_dir(data_dir: &DataDir) -> Result<std::fs::File, ServeError> {
    let path = data_dir.root().join("daemon.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| with_path(e, &path))?;
    // SAFETY: flock on a file descriptor we own; no memory is shared.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    if !locked {
        return Err(ServeError::AlreadyRunning(
            data_dir.root().display().to_string(),
        ));
    }
    Ok(file)
}
