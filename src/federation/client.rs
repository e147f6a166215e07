//! Calls to another instance: one HTTP/1.1 request per connection, over TLS pinned to the peer's
//! SPKI hash, over TLS that records the SPKI it saw (first contact, for the handshake to check),
//! or over plain HTTP. Never follows redirects (a 3xx is just a status), bounds the time of the
//! whole exchange and the size of the answer, and never falls back from a pinned HTTPS peer to
//! plain HTTP.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::net::TcpStream;

use crate::protocol::handshake::PeerAddress;
use crate::tls::{PinnedServerVerifier, SpkiHash};

/// How to reach a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// HTTPS, accepting only this key.
    Pinned(SpkiHash),
    /// Plain HTTP (a peer recorded as having no TLS).
    Plain,
    /// First contact: HTTPS if the peer speaks it (recording the key it shows), else plain HTTP.
    FirstContact,
}

/// A peer's answer.
#[derive(Debug)]
pub struct PeerResponse {
    /// HTTP status.
    pub status: u16,
    /// The body (at most the limit asked for).
    pub body: Bytes,
    /// The SPKI hash of the certificate the peer presented, or `None` over plain HTTP.
    pub seen_spki: Option<SpkiHash>,
}

/// A peer's answer whose body is still arriving.
pub struct StreamingResponse {
    /// HTTP status.
    pub status: u16,
    /// The body, to read frame by frame.
    pub body: hyper::body::Incoming,
    /// As in [`PeerResponse`].
    pub seen_spki: Option<SpkiHash>,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The address is not `HOST:PORT` (see `PeerAddress`).
    #[error("invalid peer address {0:?}")]
    BadAddress(String),
    /// No connection could be made.
    #[error("cannot reach {addr}: {}", plain_reason(.source))]
    Unreachable {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The peer did not answer in time.
    #[error("{0} did not answer in time")]
    Timeout(String),
    /// TLS failed: the key is not the pinned one, or the handshake broke.
    #[error("TLS with {addr} failed: {reason}")]
    Tls {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The HTTP exchange broke, or the answer was too large.
    #[error("bad answer from {addr}: {reason}")]
    Http {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
}

/// Why a connection failed, in words a person reads (not "os error 111").
fn plain_reason(error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::ConnectionRefused => "nothing answers there (connection refused)".into(),
        ErrorKind::HostUnreachable => "that host cannot be reached from here".into(),
        ErrorKind::NetworkUnreachable => "that network cannot be reached from here".into(),
        ErrorKind::TimedOut => "it did not answer in time".into(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
            "the connection was cut".into()
        }
        _ => {
            // Name lookups and others: the message without the errno suffix.
            let text = error.to_string();
            match text.find(" (os error") {
                Some(at) => text[..at].to_owned(),
                None => text,
            }
        }
    }
}

/// Limits of one call.
#[derive(Clone, Copy, Debug)]
pub struct CallLimits {
    /// Time for connecting, TLS and the whole answer.
    pub timeout: Duration,
    /// Largest answer body.
    pub max_body_bytes: usize,
}

/// One request to a peer.
struct Call<'a> {
    addr: &'a str,
    path: &'a str,
    headers: &'a [(&'static str, String)],
    content_type: &'a str,
    body: Vec<u8>,
}

/// POSTs `body` to `path` on the peer at `addr` (`host:port`) and reads the whole answer.
///
/// # Errors
/// [`PeerError`].
pub async fn post(
    addr: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    transport: Transport,
    limits: CallLimits,
) -> Result<PeerResponse, PeerError> {
    let call = async {
        let answer = send(addr, path, &[], content_type, body, transport).await?;
        let body = Limited::new(answer.body, limits.max_body_bytes)
            .collect()
            .await
            .map_err(|e| PeerError::Http {
                addr: addr.to_owned(),
                reason: format!("reading the body: {e}"),
            })?
            .to_bytes();
        Ok(PeerResponse {
            status: answer.status,
            body,
            seen_spki: answer.seen_spki,
        })
    };
    tokio::time::timeout(limits.timeout, call)
        .await
        .map_err(|_| PeerError::Timeout(addr.to_owned()))?
}

/// POSTs `body` with extra `headers` and returns once the response head arrived; the caller
/// reads the body and bounds the time it takes (and the time this call takes).
///
/// # Errors
/// [`PeerError`].
pub async fn send(
    addr: &str,
    path: &str,
    headers: &[(&'static str, String)],
    content_type: &str,
    body: Vec<u8>,
    transport: Transport,
) -> Result<StreamingResponse, PeerError> {
    let call = |body| Call {
        addr,
        path,
        headers,
        content_type,
        body,
    };
    match transport {
        Transport::Plain => send_plain(call(body)).await,
        Transport::Pinned(pin) => {
            match send_tls(call(body), PinnedServerVerifier::client_config(pin), None).await {
                Ok(response) => Ok(response),
                // A pinned peer is never reached over plain HTTP: its plain answer is a failure.
                Err(TlsFailure::PlainHttpAnswer) => Err(PeerError::Tls {
                    addr: addr.to_owned(),
                    reason: "the peer answered without TLS".into(),
                }),
                Err(TlsFailure::Other(e)) => Err(e),
            }
        }
        Transport::FirstContact => {
            let seen = Arc::new(Mutex::new(None));
            let config = PinnedServerVerifier::observing_client_config(seen.clone());
            match send_tls(call(body.clone()), config, Some(seen)).await {
                Ok(response) => Ok(response),
                // The peer answered but does not speak TLS: it has none, use plain HTTP.
                // (A peer that does speak TLS never gets here, so nothing is downgraded.)
                Err(TlsFailure::PlainHttpAnswer) => send_plain(call(body)).await,
                Err(TlsFailure::Other(e)) => Err(e),
            }
        }
    }
}

/// How a TLS call failed: the one failure that allows the plain-HTTP fallback, or another.
enum TlsFailure {
    /// The peer answered our ClientHello with something that is not a TLS record.
    PlainHttpAnswer,
    /// Anything else.
    Other(PeerError),
}

impl From<PeerError> for TlsFailure {
    fn from(error: PeerError) -> TlsFailure {
        TlsFailure::Other(error)
    }
}

/// rustls reports a plain-HTTP answer to a ClientHello as an invalid message (the first byte,
/// `H`, is no TLS content type). Matched by type, never by the error's text.
fn is_plain_http_answer(error: &std::io::Error) -> bool {
    matches!(
        error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        Some(rustls::Error::InvalidMessage(_))
    )
}

/// The peer's address, parsed once ([`PeerAddress`] is the only parser of `HOST:PORT`).
fn parse_address(addr: &str) -> Result<PeerAddress, PeerError> {
    PeerAddress::parse(addr).map_err(|_| PeerError::BadAddress(addr.to_owned()))
}

async fn connect(address: &PeerAddress, addr: &str) -> Result<TcpStream, PeerError> {
    let stream = TcpStream::connect((address.server_name().as_str(), address.port))
        .await
        .map_err(|source| PeerError::Unreachable {
            addr: addr.to_owned(),
            source,
        })?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

async fn send_plain(call: Call<'_>) -> Result<StreamingResponse, PeerError> {
    let address = parse_address(call.addr)?;
    let stream = connect(&address, call.addr).await?;
    exchange(TokioIo::new(stream), call, None).await
}

async fn send_tls(
    call: Call<'_>,
    config: Arc<ClientConfig>,
    seen_slot: Option<Arc<Mutex<Option<SpkiHash>>>>,
) -> Result<StreamingResponse, TlsFailure> {
    let address = parse_address(call.addr)?;
    let stream = connect(&address, call.addr).await?;
    let name = ServerName::try_from(address.server_name())
        .map_err(|_| PeerError::BadAddress(call.addr.to_owned()))?;
    let tls = match tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
    {
        Ok(tls) => tls,
        Err(e) if is_plain_http_answer(&e) => return Err(TlsFailure::PlainHttpAnswer),
        Err(e) => {
            return Err(TlsFailure::Other(PeerError::Tls {
                addr: call.addr.to_owned(),
                reason: e.to_string(),
            }))
        }
    };
    let seen = match seen_slot {
        Some(slot) => *slot.lock().unwrap_or_else(|p| p.into_inner()),
        None => tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|certs| certs.first())
            .and_then(SpkiHash::of_cert),
    };
    Ok(exchange(TokioIo::new(tls), call, seen).await?)
}

async fn exchange<T>(
    io: TokioIo<T>,
    call: Call<'_>,
    seen_spki: Option<SpkiHash>,
) -> Result<StreamingResponse, PeerError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let http = |reason: String| PeerError::Http {
        addr: call.addr.to_owned(),
        reason,
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| http(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut request = Request::post(call.path)
        .header(hyper::header::HOST, call.addr)
        .header(hyper::header::CONTENT_TYPE, call.content_type);
    for (name, value) in call.headers {
        request = request.header(*name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(call.body)))
        .map_err(|e| http(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| http(e.to_string()))?;
    Ok(StreamingResponse {
        status: response.status().as_u16(),
        body: response.into_body(),
        seen_spki,
    })
}
