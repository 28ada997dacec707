//! A playlist node's fMP4 stage (`segment_format = "fmp4"`): one [`Remuxer`] per playlist node,
//! fed each cut segment in order, turning it into a CMAF fragment and, when the codec
//! configuration is new, an init segment named by `init_name`.
//!
//! Init numbers: `n` starts after the playlist's last stored init (kept in its
//! [`SequenceStore`], across reloads and restarts): the same init bytes keep their number, a
//! changed configuration gets the next one, so an init that listed segments still name is
//! never overwritten. Failures: a segment that cannot be remuxed is skipped (logged at the
//! node, counted in `streamrouter_fmp4_remux_failures_total` and shown as the node's last error
//! in /status), and the next one starts a discontinuity; a program with no codec fMP4 can
//! carry (e.g. MPEG-2 video) is one error at the node, not one per segment, until a segment
//! remuxes again. The last video sample's duration is the previous one's (the next
//! segment's first DTS is not waited for: that would hold every segment back by one). The
//! feed's fMP4 timeline goes on across restarts and reloads: where it ends is kept in the
//! store after every fragment, and a new stage's first fragment starts there.
//!
//! Owns the remuxer's use in the daemon; the remux itself is `media::fmp4`'s.

use std::sync::Arc;

use super::state::{InitMark, SequenceStore};
use crate::config::segment_format::init_key;
use crate::media::fmp4::{Fmp4Error, Remuxer};
use crate::publish::journal::crc32;
use crate::segmenter::Segment;
use crate::status::{NodeState, NodeStatus};

/// A remuxed segment and the init segment to store before it, if it needs a new one.
pub struct Converted {
    /// A new init segment: its key and bytes.
    pub init: Option<(String, Arc<Vec<u8>>)>,
    /// The fragment, with the cut segment's timing.
    pub segment: Arc<Segment>,
}

/// The fMP4 side of one playlist node.
pub struct Fmp4Stage {
    remuxer: Remuxer,
    init_name: String,
    /// Added to the remuxer's init numbers (from the last stored init), once known.
    offset: Option<u64>,
    /// A segment was skipped: the next one starts a discontinuity.
    broken: bool,
    /// The timeline of the remuxer before this one (a restart, a reload) has been taken up.
    resumed: bool,
    /// The program's codecs cannot be put in fMP4 (reported once).
    unsupported: bool,
    failures: u64,
    counter: metrics::Counter,
}

impl Fmp4Stage {
    /// The stage of playlist `playlist`, naming inits by `init_name`.
    pub fn new(playlist: &str, init_name: String) -> Self {
        let label = [("playlist", playlist.to_owned())];
        Self {
            remuxer: Remuxer::new(),
            init_name,
            offset: None,
            broken: false,
            resumed: false,
            unsupported: false,
            failures: 0,
            counter: metrics::counter!("streamrouter_fmp4_remux_failures_total", &label),
        }
    }

    /// Remuxes `segment`; `None` when it is skipped.
    pub async fn convert(
        &mut self,
        segment: &Segment,
        store: &SequenceStore,
        status: &NodeStatus,
    ) -> Option<Converted> {
        if !std::mem::replace(&mut self.resumed, true)
            && let Some(end) = store.load_timeline().await
        {
            self.remuxer.continue_after(end);
        }
        let discontinuity = segment.discontinuity || self.broken;
        let remuxed = match self.remuxer.remux(&segment.data, discontinuity, None) {
            Ok(remuxed) => remuxed,
            Err(error @ Fmp4Error::NoSupportedStream) => {
                if !std::mem::replace(&mut self.unsupported, true) {
                    let message = format!("segments cannot be written as fMP4: {error}");
                    tracing::error!(%error, "segments cannot be written as fMP4; none is published until a segment with a codec fMP4 carries here comes (H.264, HEVC, AAC, AC-3, E-AC-3, MPEG audio)");
                    status.fail(NodeState::Stalled, message);
                }
                self.broken = true;
                return None;
            }
            Err(error) => {
                self.failures += 1;
                self.counter.increment(1);
                self.broken = true;
                tracing::warn!(%error, failures = self.failures, "segment not remuxed to fMP4: skipped, the next one starts a discontinuity");
                let message = format!(
                    "{} segments not remuxed to fMP4 (skipped); last: {error}",
                    self.failures
                );
                status.fail(NodeState::Live, message);
                return None;
            }
        };
        if std::mem::take(&mut self.unsupported) {
            tracing::info!("segments are written as fMP4 again");
            status.set(NodeState::Live);
        }
        self.broken = false;
        if let Some(end) = self.remuxer.timeline_end()
            && let Err(error) = store.save_timeline(end).await
        {
            tracing::warn!(%error, "cannot save where the fMP4 timeline ends");
        }
        let discontinuity = discontinuity || remuxed.new_configuration();
        let mut init = None;
        if let Some(bytes) = remuxed.init {
            let crc = crc32(&bytes);
            let offset = match self.offset {
                Some(offset) => offset,
                None => {
                    let offset = match store.load_init().await {
                        Some(last) if last.crc == crc => last.n,
                        Some(last) => last.n + 1,
                        None => 0,
                    };
                    let offset = offset.saturating_sub(remuxed.init_index);
                    self.offset = Some(offset);
                    offset
                }
            };
            let n = offset + remuxed.init_index;
            if let Err(error) = store.save_init(InitMark { n, crc }).await {
                tracing::warn!(%error, "cannot save the init segment's number");
            }
            let key = init_key(&self.init_name, n);
            tracing::info!(%key, "new init segment");
            init = Some((key, Arc::new(bytes)));
        }
        Some(Converted {
            init,
            segment: Arc::new(segment.remuxed_as(remuxed.fragment, discontinuity)),
        })
    }
}
