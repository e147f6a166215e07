//! Lingering close, as nginx does it: after the last response, shut down our sending side and
//! read and discard what the client still sends, for a bounded time, before closing.
//!
//! Closing a socket with unread bytes in its receive buffer makes the kernel send a reset, and a
//! reset can destroy the response the client has not read yet. A client that sends a body we
//! refused (413 before the body was read) would then see ECONNRESET instead of the 413.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{timeout_at, Instant};

/// Longest time a connection lingers.
pub const LINGER_TIME: Duration = Duration::from_secs(1);
/// Most bytes discarded while lingering: well over a kernel's socket buffers for the bodies a
/// client sends before it reads (the largest body any route takes is 8 KiB).
pub const LINGER_BYTES: usize = 1024 * 1024;

/// Shuts down the sending side of `io` and discards what arrives until the client closes, an
/// error, [`LINGER_TIME`] or [`LINGER_BYTES`], whichever comes first; then drops `io`.
pub async fn linger_and_close<S: AsyncRead + AsyncWrite + Unpin>(mut io: S) {
    let deadline = Instant::now() + LINGER_TIME;
    // TLS sends close_notify here, then shuts down TCP's sending side.
    if !matches!(timeout_at(deadline, io.shutdown()).await, Ok(Ok(()))) {
        return;
    }
    let mut discarded = 0;
    let mut buf = vec![0u8; 16 * 1024];
    while discarded < LINGER_BYTES {
        match timeout_at(deadline, io.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => discarded += n,
            _ => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_client_reads_the_answer_while_still_sending() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            // More than the server reads: it answers before the body is in.
            let _ = tcp.write_all(&vec![1u8; 300 * 1024]).await;
            let mut answer = Vec::new();
            tcp.read_to_end(&mut answer).await.map(|_| answer)
        });
        let (mut server, _) = listener.accept().await.unwrap();
        let mut head = [0u8; 100];
        server.read_exact(&mut head).await.unwrap();
        server.write_all(b"refused").await.unwrap();
        let started = Instant::now();
        linger_and_close(server).await;
        assert!(started.elapsed() <= LINGER_TIME + Duration::from_millis(200));
        assert_eq!(client.await.unwrap().unwrap(), b"refused");
    }

    #[tokio::test]
    async fn a_silent_client_is_dropped_after_the_linger_time() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let started = Instant::now();
        linger_and_close(server).await;
        let waited = started.elapsed();
        assert!(
            waited >= LINGER_TIME && waited < LINGER_TIME * 2,
            "{waited:?}"
        );
    }
}
