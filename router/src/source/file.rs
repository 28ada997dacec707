//! The `file` source: reads a file at full speed or paced by its PCRs like a live encoder,
//! once or in a loop (each loop announced as a planned `Restarted { reason: "loop" }`).
//!
//! Owns opening and reading the file, retrying the open with backoff (the file may appear
//! later). Must not interpret the bytes beyond [`super::pacing`]; must not write the file.

use std::path::Path;

use bytes::BytesMut;
use tokio::fs::File;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

use super::Stop;
use super::backoff::{self, Backoff};
use super::emit::{Emitter, MAX_CHUNK};
use super::pacing::{CHUNK_PACKETS, Pacer, next_chunk};
use super::pump::{PumpEnd, Pumped, pump};
use crate::media::PACKET_SIZE;

/// Reads `path` until EOF (or forever with `looped`).
pub(crate) async fn run(path: &Path, realtime: bool, looped: bool, out: &mut Emitter) -> Stop {
    let shutdown = out.shutdown().clone();
    let mut backoff = Backoff::default();
    let mut announce = true;
    let mut warned_no_pcr = false;
    loop {
        let mut file = match File::open(path).await {
            Ok(file) => file,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot open file; will retry");
                announce = true;
                if let Err(stop) = backoff.wait(&shutdown).await {
                    return stop;
                }
                continue;
            }
        };
        if announce {
            tracing::info!(path = %path.display(), realtime, looped, "reading file");
            announce = false;
        }
        backoff.up();
        let pass = if realtime {
            paced(&mut file, out).await
        } else {
            pump(&mut file, out, None)
                .await
                .map(|pumped| (pumped, true))
        };
        let (pumped, found_pcr) = match pass {
            Ok(pass) => pass,
            Err(stop) => return stop,
        };
        if !found_pcr && !warned_no_pcr && pumped.bytes > 0 {
            tracing::warn!(path = %path.display(), "no PCR found; the file is sent unpaced");
            warned_no_pcr = true;
        }
        match pumped.end {
            PumpEnd::Eof if !looped => {
                tracing::info!(path = %path.display(), bytes = pumped.bytes, "end of file");
                return Stop::Ended;
            }
            PumpEnd::Eof if pumped.bytes > 0 => {
                tracing::debug!(bytes = pumped.bytes, "end of file; looping");
                out.planned_new_stream("loop");
                continue;
            }
            PumpEnd::Eof => {
                tracing::warn!(path = %path.display(), "file is empty; will retry");
            }
            PumpEnd::Error(error) => {
                tracing::warn!(path = %path.display(), %error, "reading file failed; will reopen");
                out.new_stream("file reopened after read error");
            }
            PumpEnd::Idle(_) => out.new_stream("file reopened"),
        }
        announce = true;
        if let Err(stop) = backoff.wait(&shutdown).await {
            return stop;
        }
    }
}

/// One pass over `file`, each PCR-carrying packet sent when its PCR is due. Also says whether
/// any PCR was found.
async fn paced(file: &mut File, out: &mut Emitter) -> Result<(Pumped, bool), Stop> {
    let shutdown = out.shutdown().clone();
    let mut pacer = Pacer::default();
    let mut pending = BytesMut::new();
    let mut at_eof = false;
    let mut bytes = 0u64;
    let mut found_pcr = false;
    loop {
        while !at_eof && pending.len() < CHUNK_PACKETS * PACKET_SIZE {
            pending.reserve(MAX_CHUNK);
            let read = tokio::select! {
                biased;
                () = shutdown.cancelled() => return Err(Stop::Shutdown),
                read = file.read_buf(&mut pending) => read,
            };
            match read {
                Ok(0) => at_eof = true,
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => {
                    let end = PumpEnd::Error(error);
                    return Ok((Pumped { bytes, end }, found_pcr));
                }
            }
        }
        let Some((len, pcr)) = next_chunk(&pending, at_eof) else {
            if at_eof {
                let end = PumpEnd::Eof;
                return Ok((Pumped { bytes, end }, found_pcr));
            }
            continue;
        };
        if let Some(pcr) = pcr {
            found_pcr = true;
            if let Some(due) = pacer.deadline(pcr, Instant::now()) {
                backoff::sleep_until(due, &shutdown).await?;
            }
        }
        bytes += len as u64;
        out.data(pending.split_to(len).freeze()).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::SourceKind;
    use crate::source::pacing::packet_pcr;
    use crate::source::testutil::{Harness, sample, sample_path};
    use std::time::Duration;

    fn kind(path: &Path, realtime: bool, looped: bool) -> SourceKind {
        SourceKind::File {
            path: path.to_owned(),
            realtime,
            looped,
        }
    }

    #[tokio::test]
    async fn delivers_exactly_the_file_then_ends() {
        let mut h = Harness::start(kind(&sample_path(), false, false));
        let got = h.bytes_until_end(Duration::from_secs(5)).await;
        assert_eq!(got, sample());
        h.finished(Duration::from_secs(1)).await;
    }

    #[tokio::test]
    async fn looped_file_repeats_with_restarted_between() {
        let expected = sample();
        let mut h = Harness::start(kind(&sample_path(), false, true));
        let first = h.bytes(expected.len(), Duration::from_secs(5)).await;
        assert_eq!(first, expected);
        assert_eq!(h.planned_restart(Duration::from_secs(5)).await, "loop");
        let second = h.bytes(expected.len(), Duration::from_secs(5)).await;
        assert_eq!(second, expected);
        h.stop_promptly().await;
    }

    #[tokio::test(start_paused = true)]
    async fn realtime_paces_by_pcr() {
        let mut h = Harness::start(kind(&sample_path(), true, false));
        let mut received = Vec::new();
        let mut first: Option<(Instant, u64)> = None;
        let mut scanned = 0;
        let elapsed = loop {
            received.extend(h.data(Duration::from_secs(5)).await);
            let now = Instant::now();
            while scanned + PACKET_SIZE <= received.len() {
                if let Some(pcr) = packet_pcr(&received[scanned..]) {
                    match first {
                        None => first = Some((now, pcr.base)),
                        Some((_, base)) if pcr.base >= base + 90_000 => break,
                        Some(_) => {}
                    }
                }
                scanned += PACKET_SIZE;
            }
            if scanned + PACKET_SIZE <= received.len()
                && let Some((start, _)) = first
            {
                break now - start;
            }
        };
        assert!(
            elapsed >= Duration::from_millis(700) && elapsed <= Duration::from_secs(2),
            "1 s of PCR took {elapsed:?}"
        );
        h.stop_promptly().await;
    }

    #[tokio::test(start_paused = true)]
    async fn missing_file_is_retried_until_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = Harness::start(kind(&dir.path().join("absent.ts"), false, true));
        h.nothing_for(Duration::from_millis(700)).await;
        h.stop_promptly().await;
    }
}
