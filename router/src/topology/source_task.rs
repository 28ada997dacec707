//! One fan-out task per running source: copies the source's events to every segmenter reading
//! it. A reload changes the readers through a control channel; a reader dropped is told its
//! input ended (after the events it already has), so it finishes its open segment.
//!
//! It also says how the source is doing: live while bytes come, retrying after a reconnect,
//! stalled when nothing has come for a while, stopped at its end.
//!
//! Owns the list of readers of one source; never reads bytes itself.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::mpsc;

use super::segmenter_task::SegmenterInput;
use crate::source::SourceEvent;
use crate::status::{NodeState, NodeStatus};

/// A live source that sends nothing for this long is reported stalled.
const STALLED_AFTER: Duration = Duration::from_secs(10);

/// The segmenters reading a source, by name.
pub type Readers = BTreeMap<String, mpsc::Sender<SegmenterInput>>;

/// Copies `events` to `readers` until the source ends, then tells every reader its input ended.
/// `control` brings new reader lists.
pub async fn fan_out(
    mut events: mpsc::Receiver<SourceEvent>,
    mut control: mpsc::UnboundedReceiver<Readers>,
    mut readers: Readers,
    status: NodeStatus,
) {
    let mut controlled = true;
    let mut state = NodeState::Starting;
    loop {
        tokio::select! {
            biased;
            new = control.recv(), if controlled => match new {
                Some(new) => {
                    for (name, old) in &readers {
                        if !new.get(name).is_some_and(|kept| kept.same_channel(old)) {
                            let _ = old.send(SegmenterInput::InputEnded).await;
                        }
                    }
                    readers = new;
                }
                None => controlled = false,
            },
            event = tokio::time::timeout(STALLED_AFTER, events.recv()) => match event {
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
                    for reader in readers.values() {
                        let _ = reader.send(SegmenterInput::Event(event.clone())).await;
                    }
                }
            },
        }
    }
    for reader in readers.values() {
        let _ = reader.send(SegmenterInput::InputEnded).await;
    }
    status.set(NodeState::Stopped);
}
