//! One fan-out task per running source: copies the source's events to every segmenter reading
//! it. A reload changes the readers through a control channel; a reader dropped is told its
//! input ended (after the events it already has), so it finishes its open segment.
//!
//! Owns the list of readers of one source; never reads bytes itself.

use std::collections::BTreeMap;

use tokio::sync::mpsc;

use super::segmenter_task::SegmenterInput;
use crate::source::SourceEvent;

/// The segmenters reading a source, by name.
pub type Readers = BTreeMap<String, mpsc::Sender<SegmenterInput>>;

/// Copies `events` to `readers` until the source ends, then tells every reader its input ended.
/// `control` brings new reader lists.
pub async fn fan_out(
    mut events: mpsc::Receiver<SourceEvent>,
    mut control: mpsc::UnboundedReceiver<Readers>,
    mut readers: Readers,
) {
    let mut controlled = true;
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
            event = events.recv() => match event {
                Some(event) => {
                    for reader in readers.values() {
                        let _ = reader.send(SegmenterInput::Event(event.clone())).await;
                    }
                }
                None => break,
            },
        }
    }
    for reader in readers.values() {
        let _ = reader.send(SegmenterInput::InputEnded).await;
    }
}
