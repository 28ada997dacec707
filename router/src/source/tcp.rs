//! The `tcp` source: one byte stream, accepted (`listen`) or dialled (`connect`), reconnected
//! for ever, each new connection announced with `Restarted`.
//!
//! Listen mode serves one sender at a time: a second sender that connects while one is active
//! is accepted and closed at once (refused, logged), so it never queues stale data behind the
//! live one; a connection silent for [`NETWORK_IDLE`] is dropped so a dead sender cannot lock
//! out a new one. Owns the listener, the connections and redialling with backoff. Must not
//! parse the bytes.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use super::Stop;
use super::backoff::Backoff;
use super::emit::Emitter;
use super::pump::{NETWORK_IDLE, PumpEnd, Pumped, pump};

/// Longest wait for a dialled connection to be established.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts senders on `addr`, one at a time, until shutdown.
pub(crate) async fn listen(addr: SocketAddr, out: &mut Emitter) -> Stop {
    let shutdown = out.shutdown().clone();
    let mut backoff = Backoff::default();
    let listener = loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => break listener,
            Err(error) => tracing::warn!(%addr, %error, "cannot listen; will retry"),
        }
        if let Err(stop) = backoff.wait(&shutdown).await {
            return stop;
        }
    };
    tracing::info!(%addr, "waiting for a TCP sender");
    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => return Stop::Shutdown,
            accepted = listener.accept() => accepted,
        };
        let (mut stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accepting a TCP sender failed; will retry");
                if let Err(stop) = backoff.wait(&shutdown).await {
                    return stop;
                }
                continue;
            }
        };
        tracing::info!(%peer, "TCP sender connected");
        backoff.up();
        let pumped = match serve_one(&listener, &mut stream, out).await {
            Ok(pumped) => pumped,
            Err(stop) => return stop,
        };
        log_end(&peer, &pumped, "TCP sender");
        out.new_stream("new TCP connection");
    }
}

/// Pumps one accepted connection, refusing other senders meanwhile.
async fn serve_one(
    listener: &TcpListener,
    stream: &mut TcpStream,
    out: &mut Emitter,
) -> Result<Pumped, Stop> {
    let pumping = pump(stream, out, Some(NETWORK_IDLE));
    tokio::pin!(pumping);
    let mut refusing = true;
    let mut refused = 0u64;
    loop {
        tokio::select! {
            pumped = &mut pumping => return pumped,
            extra = listener.accept(), if refusing => match extra {
                Ok((extra, peer)) => {
                    drop(extra);
                    if refused == 0 {
                        tracing::warn!(%peer, "refused a second TCP sender while one is connected");
                    } else {
                        tracing::debug!(%peer, "refused another TCP sender");
                    }
                    refused += 1;
                }
                // Do not spin on a failing accept; extra senders wait in the backlog instead.
                Err(error) => {
                    tracing::debug!(%error, "accept failed while busy");
                    refusing = false;
                }
            },
        }
    }
}

/// Dials `addr` until shutdown, redialling with backoff after failures and disconnections.
pub(crate) async fn connect(addr: SocketAddr, out: &mut Emitter) -> Stop {
    let shutdown = out.shutdown().clone();
    let mut backoff = Backoff::default();
    loop {
        let dialled = tokio::select! {
            biased;
            () = shutdown.cancelled() => return Stop::Shutdown,
            dialled = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)) => dialled,
        };
        match dialled {
            Ok(Ok(mut stream)) => {
                tracing::info!(%addr, "connected");
                backoff.up();
                match pump(&mut stream, out, Some(NETWORK_IDLE)).await {
                    Ok(pumped) => log_end(&addr, &pumped, "TCP connection"),
                    Err(stop) => return stop,
                }
                out.new_stream("reconnected");
            }
            Ok(Err(error)) => tracing::warn!(%addr, %error, "cannot connect; will retry"),
            Err(_) => tracing::warn!(%addr, timeout = ?CONNECT_TIMEOUT, "connect timed out"),
        }
        if let Err(stop) = backoff.wait(&shutdown).await {
            return stop;
        }
    }
}

fn log_end(peer: &SocketAddr, pumped: &Pumped, what: &str) {
    let bytes = pumped.bytes;
    match &pumped.end {
        PumpEnd::Eof => tracing::info!(%peer, bytes, "{what} closed"),
        PumpEnd::Error(error) => tracing::warn!(%peer, bytes, %error, "{what} failed"),
        PumpEnd::Idle(silence) => {
            tracing::warn!(%peer, bytes, ?silence, "{what} silent; dropped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::{SourceKind, TcpMode};
    use crate::source::testutil::{Harness, sample};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const LIMIT: Duration = Duration::from_secs(5);

    fn free_port() -> SocketAddr {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    }

    /// Connects to `addr`, retrying while the source is not listening yet.
    async fn dial(addr: SocketAddr) -> TcpStream {
        for _ in 0..100 {
            if let Ok(stream) = TcpStream::connect(addr).await {
                return stream;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("source never listened on {addr}");
    }

    #[tokio::test]
    async fn listen_takes_senders_in_turn_and_refuses_a_concurrent_one() {
        let addr = free_port();
        let mut h = Harness::start(SourceKind::Tcp(TcpMode::Listen(addr)));
        let ts = sample();

        let mut first = dial(addr).await;
        first.write_all(&ts[..50_000]).await.unwrap();
        assert_eq!(h.bytes(50_000, LIMIT).await, &ts[..50_000]);

        // A concurrent sender is closed without being read.
        let mut second = dial(addr).await;
        let mut probe = [0u8; 1];
        let closed = tokio::time::timeout(LIMIT, second.read(&mut probe)).await;
        assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");

        first.write_all(&ts[50_000..60_000]).await.unwrap();
        drop(first);
        assert_eq!(h.bytes(10_000, LIMIT).await, &ts[50_000..60_000]);

        let mut third = dial(addr).await;
        third.write_all(&ts[..1000]).await.unwrap();
        assert_eq!(h.restarted(LIMIT).await, "new TCP connection");
        assert_eq!(h.bytes(1000, LIMIT).await, &ts[..1000]);
        h.stop_promptly().await;
    }

    #[tokio::test]
    async fn connect_redials_and_announces_the_new_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let ts = sample();
        let mut h = Harness::start(SourceKind::Tcp(TcpMode::Connect(addr)));
        for round in 0..2 {
            let (mut conn, _) = tokio::time::timeout(LIMIT, listener.accept())
                .await
                .unwrap()
                .unwrap();
            conn.write_all(&ts).await.unwrap();
            drop(conn);
            if round == 1 {
                assert_eq!(h.restarted(LIMIT).await, "reconnected");
            }
            assert_eq!(h.bytes(ts.len(), LIMIT).await, ts);
        }
        h.stop_promptly().await;
    }

    #[tokio::test]
    async fn connect_keeps_retrying_a_closed_port_and_stops_on_shutdown() {
        let mut h = Harness::start(SourceKind::Tcp(TcpMode::Connect(free_port())));
        h.nothing_for(Duration::from_millis(800)).await;
        h.stop_promptly().await;
    }
}
