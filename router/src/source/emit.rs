//! The sending side shared by every kind: delivers chunks in order, splits oversized ones, and
//! sends the pending `Restarted` right before the first chunk of a new stream.
//!
//! Owns the event sender and the shutdown token. Must not touch inputs or sleep: kinds decide
//! when a new stream begins, this only remembers it.

use bytes::Bytes;
use tokio::sync::mpsc::Sender;
use tokio_util::sync::CancellationToken;

use super::{SourceEvent, Stop};

/// Largest `Data` chunk sent.
pub(crate) const MAX_CHUNK: usize = 64 * 1024;

/// Event sender with the "Restarted before the next data" bookkeeping.
#[derive(Debug)]
pub(crate) struct Emitter {
    events: Sender<SourceEvent>,
    shutdown: CancellationToken,
    /// Data went out since the last `Restarted` (or since the start).
    delivered: bool,
    /// The interruption to announce before the next data, if data was delivered: its reason,
    /// and whether it was planned.
    pending: Option<(String, bool)>,
}

impl Emitter {
    pub(crate) fn new(events: Sender<SourceEvent>, shutdown: CancellationToken) -> Self {
        Self {
            events,
            shutdown,
            delivered: false,
            pending: None,
        }
    }

    /// The token that stops the source.
    pub(crate) fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Marks the end of the current stream: if it delivered anything, the next chunk is
    /// preceded by `Restarted { reason }`. The latest reason wins.
    pub(crate) fn new_stream(&mut self, reason: &str) {
        self.announce(reason, false);
    }

    /// Like [`Emitter::new_stream`], for a new stream the source meant to start (a file
    /// looping), not one after a failure.
    pub(crate) fn planned_new_stream(&mut self, reason: &str) {
        self.announce(reason, true);
    }

    fn announce(&mut self, reason: &str, planned: bool) {
        if self.delivered {
            self.pending = Some((reason.to_owned(), planned));
        }
    }

    /// Sends `bytes` (split into chunks of at most [`MAX_CHUNK`]), preceded by a pending
    /// `Restarted`. Empty input sends nothing.
    pub(crate) async fn data(&mut self, mut bytes: Bytes) -> Result<(), Stop> {
        if bytes.is_empty() {
            return Ok(());
        }
        if let Some((reason, planned)) = self.pending.take() {
            self.send(SourceEvent::Restarted { reason, planned })
                .await?;
        }
        self.delivered = true;
        while bytes.len() > MAX_CHUNK {
            let head = bytes.split_to(MAX_CHUNK);
            self.send(SourceEvent::Data(head)).await?;
        }
        self.send(SourceEvent::Data(bytes)).await
    }

    async fn send(&self, event: SourceEvent) -> Result<(), Stop> {
        tokio::select! {
            biased;
            () = self.shutdown.cancelled() => Err(Stop::Shutdown),
            sent = self.events.send(event) => sent.map_err(|_| Stop::Closed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    #[tokio::test]
    async fn restarted_only_after_delivered_data_and_before_next_chunk() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut out = Emitter::new(tx, CancellationToken::new());
        out.new_stream("nothing yet");
        out.data(Bytes::from_static(b"a")).await.unwrap();
        out.new_stream("first");
        out.new_stream("second");
        out.data(Bytes::new()).await.unwrap();
        out.data(Bytes::from_static(b"b")).await.unwrap();
        drop(out);
        let mut seen = Vec::new();
        while let Some(event) = rx.recv().await {
            seen.push(event);
        }
        assert_eq!(
            seen,
            vec![
                SourceEvent::Data(Bytes::from_static(b"a")),
                SourceEvent::Restarted {
                    reason: "second".into(),
                    planned: false,
                },
                SourceEvent::Data(Bytes::from_static(b"b")),
            ]
        );
    }

    #[tokio::test]
    async fn splits_big_chunks_and_reports_closed_and_shutdown() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut out = Emitter::new(tx, CancellationToken::new());
        out.data(Bytes::from(vec![7u8; MAX_CHUNK * 2 + 5]))
            .await
            .unwrap();
        let sizes: Vec<usize> = (0..3)
            .map(|_| match rx.try_recv().unwrap() {
                SourceEvent::Data(b) => b.len(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(sizes, vec![MAX_CHUNK, MAX_CHUNK, 5]);
        drop(rx);
        assert_eq!(out.data(Bytes::from_static(b"x")).await, Err(Stop::Closed));

        let (tx, _rx) = mpsc::channel(1);
        let token = CancellationToken::new();
        let mut out = Emitter::new(tx, token.clone());
        out.data(Bytes::from_static(b"fills the channel"))
            .await
            .unwrap();
        token.cancel();
        assert_eq!(
            out.data(Bytes::from_static(b"blocked")).await,
            Err(Stop::Shutdown)
        );
    }
}
