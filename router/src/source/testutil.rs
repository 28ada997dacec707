//! Test harness for the source kinds: runs [`run_source`] on a task and reads its events with
//! timeouts, so every test fails fast instead of hanging.
//!
//! Test-only. Must not touch anything outside 127.0.0.1 and the repo's test data.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{SourceEvent, SourceRun, SrtPorts, run_source};
use crate::config::model::{NodeId, SourceKind, SourceNode};
use crate::status::NodeStatus;

/// The shared sample clip (12 s H.264 + AAC).
pub(crate) fn sample_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/h264_aac.ts")
}

/// The bytes of [`sample_path`].
pub(crate) fn sample() -> Vec<u8> {
    std::fs::read(sample_path()).unwrap()
}

/// A running source and the receiving end of its events.
pub(crate) struct Harness {
    rx: mpsc::Receiver<SourceEvent>,
    token: CancellationToken,
    task: JoinHandle<()>,
}

impl Harness {
    /// Starts a source of `kind` named `test`.
    pub(crate) fn start(kind: SourceKind) -> Self {
        let (tx, rx) = mpsc::channel(64);
        let token = CancellationToken::new();
        let node = SourceNode {
            name: "test".into(),
            kind,
        };
        let board = crate::status::NodeBoard::default();
        let status = NodeStatus::starting(&board, NodeId::source("test"));
        let ports = SrtPorts::default();
        let (mut run, port_task) = SourceRun::new(node, status, &ports);
        if let Some(port_task) = port_task {
            tokio::spawn(port_task.serve());
        }
        let stop = token.clone();
        let task = tokio::spawn(async move { run_source(&mut run, tx, stop).await });
        Self { rx, token, task }
    }

    /// The next event; `None` when the source has ended. Panics after `limit`.
    pub(crate) async fn next(&mut self, limit: Duration) -> Option<SourceEvent> {
        match tokio::time::timeout(limit, self.rx.recv()).await {
            Ok(event) => event,
            Err(_) => panic!("no event within {limit:?}"),
        }
    }

    /// The next event, which must be data.
    pub(crate) async fn data(&mut self, limit: Duration) -> Bytes {
        match self.next(limit).await {
            Some(SourceEvent::Data(bytes)) => bytes,
            other => panic!("expected data, got {other:?}"),
        }
    }

    /// The next event, which must be a `Restarted` after a failure; returns its reason.
    pub(crate) async fn restarted(&mut self, limit: Duration) -> String {
        self.restart(limit, false).await
    }

    /// The next event, which must be a planned `Restarted` (a file looping); returns its reason.
    pub(crate) async fn planned_restart(&mut self, limit: Duration) -> String {
        self.restart(limit, true).await
    }

    async fn restart(&mut self, limit: Duration, planned: bool) -> String {
        match self.next(limit).await {
            Some(SourceEvent::Restarted {
                reason,
                planned: was,
            }) if was == planned => reason,
            other => panic!("expected Restarted with planned: {planned}, got {other:?}"),
        }
    }

    /// Exactly `len` bytes of data events (no `Restarted` among them, no chunk crossing `len`).
    pub(crate) async fn bytes(&mut self, len: usize, limit: Duration) -> Vec<u8> {
        let mut got = Vec::with_capacity(len);
        while got.len() < len {
            got.extend_from_slice(&self.data(limit).await);
        }
        assert_eq!(got.len(), len, "a chunk went past the expected length");
        got
    }

    /// Data until the source ends (no `Restarted` allowed).
    pub(crate) async fn bytes_until_end(&mut self, limit: Duration) -> Vec<u8> {
        let mut got = Vec::new();
        loop {
            match self.next(limit).await {
                Some(SourceEvent::Data(bytes)) => got.extend_from_slice(&bytes),
                None => return got,
                Some(other) => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Asserts that no event arrives for `quiet`.
    pub(crate) async fn nothing_for(&mut self, quiet: Duration) {
        if let Ok(event) = tokio::time::timeout(quiet, self.rx.recv()).await {
            panic!("expected silence, got {event:?}");
        }
    }

    /// Asserts that the source returns by itself within `limit`.
    pub(crate) async fn finished(self, limit: Duration) {
        tokio::time::timeout(limit, self.task)
            .await
            .expect("source did not finish")
            .unwrap();
    }

    /// Cancels the source and asserts it returns within a second.
    pub(crate) async fn stop_promptly(self) {
        self.token.cancel();
        let started = std::time::Instant::now();
        tokio::time::timeout(Duration::from_secs(1), self.task)
            .await
            .expect("source did not stop within 1 s of shutdown")
            .unwrap();
        tracing::debug!(took = ?started.elapsed(), "stopped");
    }
}
