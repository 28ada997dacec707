//! The main stream: PES timing on its timeline, and the wait for each PES's first picture that
//! decides whether a cut may happen before it.

use super::MAX_PENDING_PACKETS;
use super::grid::AUDIO_GRID_SLACK;
use super::state::packet_payload;
use super::{Segment, Segmenter};
use crate::media::TsPacket;
use crate::media::codec::{Codec, StreamKind};
use crate::media::keyframe::{AccessPointScanner, Decision};
use crate::media::pes::parse_pes_start;
use crate::media::timestamp::{CLOCK_HZ, Unwrapper, pts_delta};

/// The stream whose random access points decide the cuts.
#[derive(Debug)]
pub(super) struct MainStream {
    pub(super) pid: u16,
    pub(super) codec: Codec,
    pub(super) scanner: AccessPointScanner,
    pub(super) timeline: Unwrapper,
    pub(super) last_dts: Option<i64>,
    /// Decode-time step between the last two PES packets (one frame for video).
    pub(super) frame_ticks: i64,
    /// Elementary-stream bytes of the current PES so far.
    pub(super) pes_bytes: usize,
    /// Duration per byte of the previous PES, to measure the last PES of an audio stream (which
    /// may hold fewer frames than the ones before it).
    pub(super) ticks_per_byte: Option<f64>,
    /// Fingerprint of the last parameter sets seen at a keyframe.
    pub(super) parameter_sets: Option<u64>,
}

impl MainStream {
    /// Follows the stream on `pid`, with nothing seen yet.
    pub(super) fn new(pid: u16, codec: Codec) -> Self {
        Self {
            pid,
            codec,
            scanner: AccessPointScanner::new(codec),
            timeline: Unwrapper::default(),
            last_dts: None,
            frame_ticks: 0,
            pes_bytes: 0,
            ticks_per_byte: None,
            parameter_sets: None,
        }
    }

    /// Presentation time of the current PES not yet counted in a segment's end: for audio, the
    /// PES's own length (a video PES is one frame, counted when it arrives).
    pub(super) fn unfinished_pes_ticks(&self) -> i64 {
        if self.codec.kind() != StreamKind::Audio {
            return 0;
        }
        match self.ticks_per_byte {
            Some(rate) => (self.pes_bytes as f64 * rate).round() as i64,
            None => self.frame_ticks,
        }
    }

    /// Ticks a PES adds at its PTS when placed in a segment: one frame for video; for audio its
    /// length is known only when it ends ([`Self::unfinished_pes_ticks`]).
    pub(super) fn ticks_at_start(&self) -> i64 {
        if self.codec.kind() == StreamKind::Audio {
            0
        } else {
            self.frame_ticks
        }
    }
}

/// A main-stream PES whose first picture has not been classified yet, with every packet that
/// arrived since it started.
#[derive(Debug)]
pub(super) struct PendingAccessPoint {
    pub(super) packets: Vec<TsPacket>,
    pub(super) pts: Option<i64>,
}

impl Segmenter {
    pub(super) fn push_main(
        &mut self,
        packet: &TsPacket,
        unit_start: bool,
        out: &mut Vec<Segment>,
    ) {
        let payload = packet_payload(packet);
        if unit_start && let Some(payload) = payload {
            self.resolve_pending_at_end_of_pes(out);
            self.start_main_pes(packet, payload, out);
            return;
        }
        if let (Some(main), Some(payload)) = (&mut self.main, payload) {
            main.pes_bytes += payload.len();
        }
        let Some(pending) = &mut self.pending else {
            self.emit(packet);
            return;
        };
        pending.packets.push(*packet);
        let decision = match (&mut self.main, payload) {
            (Some(main), Some(payload)) => main.scanner.push(payload),
            _ => Decision::Undecided,
        };
        if decision != Decision::Undecided {
            self.resolve_pending(decision, out);
        } else if pending.packets.len() > MAX_PENDING_PACKETS {
            self.resolve_pending(Decision::NotKeyframe, out);
        }
    }

    pub(super) fn start_main_pes(
        &mut self,
        packet: &TsPacket,
        payload: &[u8],
        out: &mut Vec<Segment>,
    ) {
        let Some(pes) = parse_pes_start(payload) else {
            self.emit(packet);
            return;
        };
        let mut pts = None;
        if let (Some(raw_dts), Some(raw_pts)) = (pes.dts, pes.pts) {
            let jumped = self.main.as_mut().is_some_and(|main| {
                let dts = main.timeline.unwrap(raw_dts);
                main.last_dts
                    .is_some_and(|last| dts < last || dts - last > self.max_jump_ticks)
            });
            if jumped {
                tracing::info!("timestamp jump: new timeline");
                self.break_timeline(out);
            }
            if let Some(main) = &mut self.main {
                if jumped {
                    main.timeline.unwrap(raw_dts);
                }
                let dts = main.timeline.unwrap(raw_dts);
                if let Some(last) = main.last_dts
                    && dts > last
                    && dts - last < CLOCK_HZ
                {
                    main.frame_ticks = dts - last;
                    if main.pes_bytes > 0 {
                        main.ticks_per_byte = Some((dts - last) as f64 / main.pes_bytes as f64);
                    }
                }
                main.last_dts = Some(dts);
                pts = Some(dts + pts_delta(raw_dts, raw_pts));
            }
        }
        let decision = match &mut self.main {
            Some(main) => {
                main.pes_bytes = pes.payload.len();
                main.scanner.reset();
                main.scanner.push(pes.payload)
            }
            None => Decision::NotKeyframe,
        };
        self.pending = Some(PendingAccessPoint {
            packets: vec![*packet],
            pts,
        });
        if decision != Decision::Undecided {
            self.resolve_pending(decision, out);
        }
    }

    /// The pending PES ended (its successor started, or the input did): decides it on what was
    /// seen of it, then places it.
    pub(super) fn resolve_pending_at_end_of_pes(&mut self, out: &mut Vec<Segment>) {
        if self.pending.is_some() {
            let decision = self
                .main
                .as_mut()
                .map_or(Decision::NotKeyframe, |m| m.scanner.end_of_pes());
            self.resolve_pending(decision, out);
        }
    }

    /// Places the pending PES: cuts before it when it is a due random access point, then emits
    /// its packets and everything that arrived meanwhile.
    pub(super) fn resolve_pending(&mut self, decision: Decision, out: &mut Vec<Segment>) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let frame_ticks = self.main.as_ref().map_or(0, |m| m.frame_ticks);
        let ticks_at_start = self.main.as_ref().map_or(0, MainStream::ticks_at_start);
        if decision == Decision::Keyframe
            && let Some(pts) = pending.pts
        {
            let video = (self.main.as_ref()).is_some_and(|m| m.codec.kind() == StreamKind::Video);
            if let Some(grid) = &self.config.grid
                && video
            {
                grid.offer(pts, self.target_ticks);
            }
            // New parameter sets (another resolution, profile…) start a segment of their own
            // after a discontinuity (RFC 8216 §4.3.2.3: encoding parameters changed), so that
            // a segment never mixes two codec configurations (an fMP4 init describes one).
            let reconfigured = self.main.as_mut().is_some_and(|main| {
                let Some(new) = main.scanner.parameter_sets() else {
                    return false;
                };
                main.parameter_sets
                    .replace(new)
                    .is_some_and(|old| old != new)
            });
            if reconfigured && self.open.is_some() {
                tracing::info!("new codec parameters: new segment after a discontinuity");
                self.stats.discontinuities += 1;
                self.next_discontinuity = true;
            }
            let due = match (&self.open, &self.config.grid) {
                (None, _) => true,
                // Slack for a cut a little early: half a frame for video; for audio a fixed
                // 100 ms (a PES may hold many frames, so half of one is no measure of jitter).
                (Some(open), Some(grid)) => {
                    let slack = if video {
                        frame_ticks / 2
                    } else {
                        AUDIO_GRID_SLACK
                    };
                    let cell = |ticks| grid.cell(ticks, self.target_ticks, slack);
                    cell(pts) > cell(open.start_pts)
                }
                (Some(open), None) => pts - open.start_pts >= self.target_ticks - frame_ticks / 2,
            };
            if (due || reconfigured) && (self.psi_out.is_ready() || !self.config.repeat_headers) {
                self.cut(pts, out);
            }
        }
        if let (Some(open), Some(pts)) = (&mut self.open, pending.pts) {
            open.extend_to(pts + ticks_at_start);
        }
        for packet in &pending.packets {
            self.emit(packet);
        }
        self.finish_tail_if_done(out);
    }
}
