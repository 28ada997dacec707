//! The two tasks of a running source: its reading task, and its fan-out, which copies the
//! source's events to every segmenter reading it. A reload changes the readers through a
//! control channel; a reader dropped is told its input ended (after the events it already has),
//! so it finishes its open segment.
//!
//! The fan-out also says how the source is doing: live while bytes come, retrying after a reconnect,
//! stalled when nothing has come for a while, stopped at its end.
//!
//! The source's reading task ([`SourceReader`], around `source::run_source`) and its fan-out
//! ([`FanOut`]) each restart in place after a panic (see `heal`): the channel between them and
//! those to the segmenters stay open, so a panic never ends the feed; the segmenters are told a
//! new stream starts instead.
//!
//! Owns the list of readers of one source; never reads bytes itself.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::heal::{NodeTask, Restart};
use super::links::SegmenterInput;
use crate::source::{self, SourceEvent, SourceRun};
use crate::status::{NodeState, NodeStatus};

/// A live source that sends nothing for this long is reported stalled.
const STALLED_AFTER: Duration = Duration::from_secs(10);

/// The segmenters reading a source, by name.
pub type Readers = BTreeMap<String, mpsc::Sender<SegmenterInput>>;

/// A source's reading task: [`source::run_source`], restarted in place after a panic (see
/// `heal`) with the sending end of its channel kept, so its segmenters never see the feed end.
/// The run after a panic first tells them a new stream starts (they finish the open segment and
/// mark the next one with a discontinuity), then reads the source from its beginning.
pub struct SourceReader {
    run: SourceRun,
    events: mpsc::Sender<SourceEvent>,
    cancel: CancellationToken,
}

impl SourceReader {
    /// Reads source `run` into `events` until `cancel` fires or the source ends.
    pub fn new(
        run: SourceRun,
        events: mpsc::Sender<SourceEvent>,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            run,
            events,
            cancel,
        }
    }
}

impl NodeTask for SourceReader {
    type Output = ();

    async fn run(&mut self, restart: Option<Restart>) {
        if let Some(restart) = restart {
            let restarted = SourceEvent::Restarted {
                reason: format!("restarted after a panic: {}", restart.message),
                planned: false,
            };
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return,
                _ = self.events.send(restarted) => {}
            }
        }
        let events = self.events.clone();
        source::run_source(&mut self.run, events, self.cancel.clone()).await;
    }
}

/// A source's fan-out task: copies the source's events to its readers until the source ends,
/// then tells every reader its input ended. Its control channel brings new reader lists.
/// Restarted in place after a panic (see `heal`), it first tells its readers a new stream
/// starts (the event it was copying may not have reached them all).
pub struct FanOut {
    events: mpsc::Receiver<SourceEvent>,
    control: mpsc::UnboundedReceiver<Readers>,
    controlled: bool,
    readers: Readers,
    status: NodeStatus,
}

impl FanOut {
    /// Copies `events` to `readers`; `control` brings new reader lists.
    pub fn new(
        events: mpsc::Receiver<SourceEvent>,
        control: mpsc::UnboundedReceiver<Readers>,
        readers: Readers,
        status: NodeStatus,
    ) -> Self {
        Self {
            events,
            control,
            controlled: true,
            readers,
            status,
        }
    }
}

impl NodeTask for FanOut {
    type Output = ();
    const PART: &'static str = "fan-out";

    async fn run(&mut self, restart: Option<Restart>) {
        if let Some(restart) = restart {
            let reason = format!("fan-out restarted after a panic: {}", restart.message);
            for reader in self.readers.values() {
                let restarted = SourceEvent::Restarted {
                    reason: reason.clone(),
                    planned: false,
                };
                let _ = reader.send(SegmenterInput::Event(restarted)).await;
            }
        }
        let status = &self.status;
        let mut state = NodeState::Starting;
        loop {
            tokio::select! {
                biased;
                new = self.control.recv(), if self.controlled => match new {
                    Some(new) => {
                        for (name, old) in &self.readers {
                            if !new.get(name).is_some_and(|kept| kept.same_channel(old)) {
                                let _ = old.send(SegmenterInput::InputEnded).await;
                            }
                        }
                        self.readers = new;
                    }
                    None => self.controlled = false,
                },
                event = tokio::time::timeout(STALLED_AFTER, self.events.recv()) => match event {
                    Err(_elapsed) => {
                        if state == NodeState::Live {
                            state = NodeState::Stalled;
                            status.set(state);
                        }
                    }
                    Ok(None) => break,
                    Ok(Some(event)) => {
                        match &event {
                            SourceEvent::Data(_) if state != NodeState::Live => {
                                state = NodeState::Live;
                                status.set(state);
                            }
                            // A file starting over is not a failure.
                            SourceEvent::Restarted { planned: true, .. } => {}
                            SourceEvent::Restarted { reason, .. } => {
                                state = NodeState::Retrying;
                                status.fail(state, reason.clone());
                            }
                            SourceEvent::Data(_) => {}
                        }
                        for reader in self.readers.values() {
                            let _ = reader.send(SegmenterInput::Event(event.clone())).await;
                        }
                    }
                },
            }
        }
        for reader in self.readers.values() {
            let _ = reader.send(SegmenterInput::InputEnded).await;
        }
        status.set(NodeState::Stopped);
    }
}
