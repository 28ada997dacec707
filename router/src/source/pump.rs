//! The byte pump for stream-like inputs (stdin, a TCP connection, a file read at full speed):
//! reads up to 64 KiB at a time and sends each read as one chunk, until EOF, an error, an idle
//! timeout or shutdown.
//!
//! Owns nothing but the read buffer. Must not open, reconnect or log interruptions: the caller
//! decides what an end means.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::Stop;
use super::emit::{Emitter, MAX_CHUNK};

/// Silence after which a network stream (TCP, HTTP) counts as dead: a live TS sender never
/// pauses this long (PCR alone comes every 100 ms), and a dead peer would otherwise hold the
/// source for ever.
pub(crate) const NETWORK_IDLE: Duration = Duration::from_secs(15);

/// How a pumped stream ended (shutdown and a gone receiver are `Err(Stop)` instead).
#[derive(Debug)]
pub(crate) enum PumpEnd {
    /// Clean end of stream.
    Eof,
    /// A read failed.
    Error(io::Error),
    /// Nothing arrived for the idle timeout.
    Idle(Duration),
}

/// What one pumped stream delivered and how it ended.
#[derive(Debug)]
pub(crate) struct Pumped {
    /// Bytes sent.
    pub(crate) bytes: u64,
    /// Why it stopped.
    pub(crate) end: PumpEnd,
}

/// Reads `reader` to its end and sends everything through `out`. With `idle`, a read that
/// waits longer than that ends the stream with [`PumpEnd::Idle`].
pub(crate) async fn pump<R>(
    reader: &mut R,
    out: &mut Emitter,
    idle: Option<Duration>,
) -> Result<Pumped, Stop>
where
    R: AsyncRead + Unpin + ?Sized,
{
    let shutdown = out.shutdown().clone();
    // Reads land in one reusable buffer and each chunk is copied out at its exact size, so a
    // trickle of small reads never pins a 64 KiB allocation per chunk downstream.
    let mut buf = vec![0u8; MAX_CHUNK];
    let mut bytes = 0u64;
    loop {
        let read = async {
            match idle {
                Some(limit) => tokio::time::timeout(limit, reader.read(&mut buf)).await,
                None => Ok(reader.read(&mut buf).await),
            }
        };
        let result = tokio::select! {
            biased;
            () = shutdown.cancelled() => return Err(Stop::Shutdown),
            result = read => result,
        };
        let end = match result {
            Ok(Ok(0)) => PumpEnd::Eof,
            Ok(Ok(n)) => {
                bytes += n as u64;
                out.data(Bytes::copy_from_slice(&buf[..n])).await?;
                continue;
            }
            Ok(Err(error)) if error.kind() == io::ErrorKind::Interrupted => continue,
            Ok(Err(error)) => PumpEnd::Error(error),
            Err(_elapsed) => PumpEnd::Idle(idle.unwrap_or_default()),
        };
        return Ok(Pumped { bytes, end });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceEvent;
    use tokio::io::AsyncWriteExt;
    use tokio::sync::mpsc;
    use tokio_util::sync::CancellationToken;

    #[tokio::test]
    async fn pumps_to_eof_in_order() {
        let (tx, mut rx) = mpsc::channel(64);
        let mut out = Emitter::new(tx, CancellationToken::new());
        let (mut writer, mut reader) = tokio::io::duplex(1024);
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let expected = payload.clone();
        let writing = tokio::spawn(async move {
            writer.write_all(&payload).await.unwrap();
        });
        let collecting = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(SourceEvent::Data(b)) = rx.recv().await {
                got.extend_from_slice(&b);
            }
            got
        });
        let pumped = pump(&mut reader, &mut out, None).await.unwrap();
        writing.await.unwrap();
        drop(out);
        assert!(matches!(pumped.end, PumpEnd::Eof));
        assert_eq!(pumped.bytes, expected.len() as u64);
        assert_eq!(collecting.await.unwrap(), expected);
    }

    #[tokio::test]
    async fn idle_timeout_ends_a_silent_stream() {
        let (tx, _rx) = mpsc::channel(4);
        let mut out = Emitter::new(tx, CancellationToken::new());
        let (_writer, mut reader) = tokio::io::duplex(64);
        let pumped = pump(&mut reader, &mut out, Some(Duration::from_millis(50)))
            .await
            .unwrap();
        assert!(matches!(pumped.end, PumpEnd::Idle(_)));
    }
}
