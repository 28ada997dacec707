//! One task per segmenter node: frames and cuts the bytes of its source, hands finished
//! segments to its playlists, and ends them when the source ends or the daemon stops.
//!
//! Owns the framer and segmenter state of one feed; pure CPU work between channel reads.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::playlist_task::PlaylistInput;
use crate::media::framing::TsFramer;
use crate::segmenter::{Segment, Segmenter, SegmenterConfig};
use crate::source::SourceEvent;

/// Runs until the source's channel closes.
pub async fn run_segmenter(
    name: String,
    config: SegmenterConfig,
    mut events: mpsc::Receiver<SourceEvent>,
    playlists: Vec<mpsc::Sender<PlaylistInput>>,
    shutdown: CancellationToken,
) {
    let mut framer = TsFramer::new();
    let mut segmenter = Segmenter::new(config);
    let mut segments: Vec<Segment> = Vec::new();
    let mut live = false;
    while let Some(event) = events.recv().await {
        match event {
            SourceEvent::Data(bytes) => {
                framer.push(&bytes, |packet| segmenter.push(packet, &mut segments));
            }
            SourceEvent::Restarted { reason } => {
                framer.finish(|packet| segmenter.push(packet, &mut segments));
                framer = TsFramer::new();
                segmenter.restart_input(&mut segments);
                tracing::info!(segmenter = %name, %reason, "input restarted: next segment starts a discontinuity");
            }
        }
        if !segments.is_empty() && !live {
            live = true;
            tracing::info!(segmenter = %name, "live: first segment cut");
        }
        deliver(&playlists, &mut segments).await;
    }
    framer.finish(|packet| segmenter.push(packet, &mut segments));
    segmenter.finish(&mut segments);
    deliver(&playlists, &mut segments).await;
    let stopping = shutdown.is_cancelled();
    for playlist in &playlists {
        let _ = playlist.send(PlaylistInput::End { stopping }).await;
    }
    log_damage(&name, &framer, &segmenter);
}

async fn deliver(playlists: &[mpsc::Sender<PlaylistInput>], segments: &mut Vec<Segment>) {
    for segment in segments.drain(..) {
        let segment = Arc::new(segment);
        for playlist in playlists {
            let _ = playlist
                .send(PlaylistInput::Segment(Arc::clone(&segment)))
                .await;
        }
    }
}

fn log_damage(name: &str, framer: &TsFramer, segmenter: &Segmenter) {
    let f = framer.stats();
    let s = segmenter.stats();
    tracing::info!(
        segmenter = %name,
        segments = s.segments,
        sync_losses = f.sync_losses,
        skipped_bytes = f.skipped_bytes,
        continuity_errors = s.continuity_errors,
        discontinuities = s.discontinuities,
        "segmenter stopped"
    );
}
