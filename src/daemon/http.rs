//! The HTTP(S) listener: accepts TCP connections, runs the TLS handshake when TLS is on, and
//! serves each connection with hyper's HTTP/1.1 server under limits that keep a slow or hostile
//! client from holding resources (issue 9, finding 3):
//!
//! - **Connections**: at most [`MAX_CONNECTIONS`] open in all (more wait in the kernel's
//!   backlog), and at most `max_connections_per_source` (default 64) from one IPv4 address or
//!   IPv6 /64 (`limits.rs`); a connection over its source's cap is closed at once, so one
//!   address cannot take every slot.
//! - **TLS handshake**: done within 10 s.
//! - **Request head**: complete within `header_read_timeout` (default 10 s) of the moment the
//!   connection starts waiting for it, for the first request and for every next one on a
//!   keep-alive connection alike (hyper arms the timer when it starts reading a head), so an
//!   idle keep-alive connection is closed after that long too; at most 16 KiB (431 beyond).
//! - **Request body**: complete within `body_read_timeout` (default 10 s) of the end of the
//!   head, else 408 and the connection closes (`body.rs`). Together: reading any request takes
//!   at most 20 s. One deadline for the whole body rather than a minimum rate: the largest body
//!   any route takes is 8 KiB, which even a slow link sends in well under a second.
//! - **Responses** have no deadline: a 1 GiB original streams for as long as the client reads.
//! - **413** before `100 Continue` when `Content-Length` is over the route's limit, as JSON
//!   always (`body.rs`), and every connection ends with a lingering close (`linger.rs`) so a
//!   client still sending a refused body reads the answer instead of a reset.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::response::Response;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use super::body::{finish_response, BodyDeadline, DeadlineBody};
use super::limits::{SourceSlot, SourceTable};
use super::linger::linger_and_close;

/// Most connections open at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 512;
/// Largest request head (request line and headers); beyond it hyper answers 431.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Time a client gets to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time in-flight requests get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Limits of the HTTP listener.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Time a client gets to send a complete request head.
    pub header_read_timeout: Duration,
    /// Time a client gets to send a request body, from the end of its head.
    pub body_read_timeout: Duration,
    /// Most connections open at once from one source (an IPv4 address or an IPv6 /64).
    pub max_connections_per_source: usize,
}

/// What an open connection holds until it is closed: its place in the global cap and in its
/// source's.
struct Admission {
    _global: OwnedSemaphorePermit,
    _source: SourceSlot,
}

/// Serves `router` on `listener` until `shutdown` turns true, then lets open requests finish
/// for a few seconds.
pub async fn serve_http(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    limits: HttpLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let sources = SourceTable::new(limits.max_connections_per_source);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let slot = match sources.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(e) => {
                tracing::debug!(%peer, "connection closed at once: {e}");
                continue;
            }
        };
        let admission = Admission {
            _global: permit,
            _source: slot,
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            peer,
            router: router.clone(),
            limits,
            shutdown: shutdown.clone(),
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            connection.serve(stream, tls).await;
            drop(admission);
        });
    }
    drop(listener);
    // Every connection holds a permit until it is closed: all permits back means all closed.
    let all = u32::try_from(MAX_CONNECTIONS).expect("MAX_CONNECTIONS fits in u32");
    if tokio::time::timeout(SHUTDOWN_GRACE, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::info!("shutdown grace period over; closing open connections");
    }
}

/// One accepted connection and what serving it needs.
struct Connection {
    peer: SocketAddr,
    router: Router,
    limits: HttpLimits,
    shutdown: watch::Receiver<bool>,
}

impl Connection {
    /// Runs the TLS handshake when TLS is on, then serves HTTP/1.1 on the connection.
    async fn serve(self, stream: TcpStream, tls: Option<TlsAcceptor>) {
        let Some(acceptor) = tls else {
            return self.serve_http1(stream).await;
        };
        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => self.serve_http1(stream).await,
            Ok(Err(e)) => tracing::debug!(peer = %self.peer, "TLS handshake failed: {e}"),
            Err(_) => tracing::debug!(peer = %self.peer, "TLS handshake timed out"),
        }
    }

    /// Serves requests until the client or hyper ends the connection, or shutdown closes it
    /// once idle; then closes lingeringly.
    async fn serve_http1<S>(mut self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let service = RequestService {
            router: self.router.clone(),
            peer: self.peer,
            body_read_timeout: self.limits.body_read_timeout,
        };
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout)
            .max_buf_size(MAX_HEAD_BYTES)
            .keep_alive(true);
        let mut conn = builder.serve_connection(TokioIo::new(stream), service);
        let mut stopping = false;
        let result = loop {
            if !stopping && *self.shutdown.borrow_and_update() {
                stopping = true;
                // Ends the connection now if idle, else after the response in flight.
                Pin::new(&mut conn).graceful_shutdown();
            }
            tokio::select! {
                result = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => break result,
                changed = self.shutdown.changed(), if !stopping => {
                    if changed.is_err() {
                        // The daemon is gone without a word: treat it as shutdown.
                        stopping = true;
                        Pin::new(&mut conn).graceful_shutdown();
                    }
                }
            }
        };
        if let Err(e) = result {
            tracing::debug!(peer = %self.peer, "connection ended: {e}");
        }
        linger_and_close(conn.into_parts().io.into_inner()).await;
    }
}

/// The per-request service: the peer's address for handlers (`ConnectInfo`, for rate limits),
/// the body deadline, and the last look at the response.
#[derive(Clone)]
struct RequestService {
    router: Router,
    peer: SocketAddr,
    body_read_timeout: Duration,
}

impl hyper::service::Service<hyper::Request<Incoming>> for RequestService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        // hyper calls the service once the head is read: the body's time starts now.
        let deadline = BodyDeadline::starting_now(self.body_read_timeout);
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(ConnectInfo(self.peer));
        let request = hyper::Request::from_parts(parts, DeadlineBody::new(body, deadline.clone()));
        let mut router = self.router.clone();
        Box::pin(async move {
            let response = tower_service::Service::call(&mut router, request).await?;
            Ok(finish_response(response, &deadline))
        })
    }
}
