//! Segmenter: stage 2 of the data flow. TS packets in, finished [`Segment`]s out.
//!
//! A pure state machine: it follows PAT/PMT, picks the program's main stream (the first video
//! stream, else the first audio stream), and cuts only where that stream has a random access
//! point, at the first one at or after the target duration. Segments start with PAT and PMT when
//! headers are repeated, audio PES packets begun before a cut are finished in the segment they
//! began in, and timestamp jumps or table changes start a new timeline (a discontinuity).
//!
//! Submodules: `tables` follows PAT/PMT, `main_stream` times the main stream and classifies
//! its PES packets, `segment` holds segments being built, `psi_out` writes the tables that
//! start each segment, `state` keeps per-PID counters.
//!
//! Owns cutting decisions and segment bytes. Must not touch files, clocks or playlists: callers
//! hand it packets and receive segments.

mod grid;
mod main_stream;
mod psi_out;
mod segment;
mod state;
mod tables;

pub use grid::{AUDIO_GRID_SLACK, GridPhase};
pub use segment::{KeyObject, Segment, SegmentEncryption};

use crate::media::codec::Codec;
use crate::media::keyframe::Decision;
use crate::media::psi::{PAT_PID, PatProgram, Pmt, SectionAssembler};
use crate::media::timestamp::CLOCK_HZ;
use crate::media::{TsPacket, packet_continuity_counter, packet_has_payload, packet_pid};
use main_stream::{MainStream, PendingAccessPoint};
use psi_out::PsiOutput;
use segment::{ClosingSegment, OpenSegment};
use state::{PidState, signals_discontinuity};

/// Number of distinct 13-bit PIDs.
const PID_COUNT: usize = 8192;
/// Segment buffers kept for reuse (the open, the closing and one being published).
const MAX_SPARE_BUFFERS: usize = 2;
/// The null packet PID: stuffing, never kept.
const NULL_PID: u16 = 0x1fff;
/// Packets after a cut during which audio PES tails may still join the previous segment.
const MAX_TAIL_PACKETS: u32 = 4096;
/// Packets buffered while looking for the first picture of a video PES.
const MAX_PENDING_PACKETS: usize = 2048;

/// How to cut.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmenterConfig {
    /// Desired segment duration in seconds: cuts happen at the first random access point at or
    /// after it.
    pub target_duration: f64,
    /// Start every segment with PAT and PMT (and keep audio PES whole), so each segment decodes
    /// alone. Off gives the raw cut: input bytes split at keyframe packets, nothing added.
    pub repeat_headers: bool,
    /// A decode-timestamp step larger than this (seconds), or any step backwards, starts a new
    /// timeline.
    pub max_timestamp_jump: f64,
    /// Cut on a grid of the media clock instead: at the first random access point in each new
    /// `target_duration` cell of PTS, the grid's phase shared by the renditions of one program
    /// (see [`GridPhase`]). Renditions encoded with keyframes at the same times are then cut at
    /// the same PTS whenever each started, so a player can switch between them at any segment
    /// (master playlists).
    pub grid: Option<GridPhase>,
}

impl Default for SegmenterConfig {
    fn default() -> Self {
        Self {
            target_duration: 4.0,
            repeat_headers: true,
            max_timestamp_jump: 5.0,
            grid: None,
        }
    }
}

/// What the segmenter saw, for logs and metrics.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SegmenterStats {
    /// Packets pushed.
    pub packets: u64,
    /// Packets dropped because transport_error_indicator was set.
    pub transport_errors: u64,
    /// Continuity-counter gaps (lost or reordered packets).
    pub continuity_errors: u64,
    /// Legal duplicate packets dropped.
    pub duplicate_packets: u64,
    /// Packets dropped because no segment was open (before the first random access point, or
    /// after a discontinuity until the next one).
    pub packets_before_keyframe: u64,
    /// Packets of PIDs outside the selected program, dropped.
    pub foreign_packets: u64,
    /// Damaged or unusable PAT/PMT sections.
    pub psi_errors: u64,
    /// Timeline breaks (timestamp jumps, table changes).
    pub discontinuities: u64,
    /// Segments produced.
    pub segments: u64,
}

/// Cuts a TS packet stream into segments.
#[derive(Debug)]
pub struct Segmenter {
    config: SegmenterConfig,
    target_ticks: i64,
    max_jump_ticks: i64,
    pat_assembler: SectionAssembler,
    pmt_assembler: SectionAssembler,
    program: Option<PatProgram>,
    pat_version: Option<u8>,
    pmt: Option<Pmt>,
    psi_out: PsiOutput,
    main: Option<MainStream>,
    pids: Box<[PidState]>,
    spare_buffers: Vec<Vec<u8>>,
    open: Option<OpenSegment>,
    closing: Option<ClosingSegment>,
    pending: Option<PendingAccessPoint>,
    next_discontinuity: bool,
    produced_any: bool,
    last_segment_len: usize,
    stats: SegmenterStats,
}

impl Segmenter {
    /// A segmenter that has seen nothing yet.
    pub fn new(config: SegmenterConfig) -> Self {
        let target_ticks = (config.target_duration * CLOCK_HZ as f64).round() as i64;
        let max_jump_ticks = (config.max_timestamp_jump * CLOCK_HZ as f64).round() as i64;
        Self {
            config,
            target_ticks,
            max_jump_ticks,
            pat_assembler: SectionAssembler::default(),
            pmt_assembler: SectionAssembler::default(),
            program: None,
            pat_version: None,
            pmt: None,
            psi_out: PsiOutput::default(),
            main: None,
            pids: vec![PidState::default(); PID_COUNT].into_boxed_slice(),
            spare_buffers: Vec::new(),
            open: None,
            closing: None,
            pending: None,
            next_discontinuity: false,
            produced_any: false,
            last_segment_len: 0,
            stats: SegmenterStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &SegmenterStats {
        &self.stats
    }

    /// The program's PMT, once seen.
    pub fn program(&self) -> Option<&Pmt> {
        self.pmt.as_ref()
    }

    /// PID and codec of the stream that decides cuts, once known.
    pub fn main_stream(&self) -> Option<(u16, Codec)> {
        self.main.as_ref().map(|m| (m.pid, m.codec))
    }

    /// Feeds one packet; segments that became complete are appended to `out`.
    pub fn push(&mut self, packet: &TsPacket, out: &mut Vec<Segment>) {
        self.stats.packets += 1;
        if packet[1] & 0x80 != 0 {
            self.stats.transport_errors += 1;
            return;
        }
        let pid = packet_pid(packet);
        if pid == NULL_PID {
            return;
        }
        let is_pmt = self.program.is_some_and(|p| p.pmt_pid == pid);
        if self.config.repeat_headers && pid != PAT_PID && !is_pmt && !self.in_program(pid) {
            self.stats.foreign_packets += 1;
            return;
        }
        if !self.check_continuity(pid, packet) {
            return;
        }
        let unit_start = packet[1] & 0x40 != 0;
        if pid == PAT_PID {
            self.read_pat(packet, unit_start, out);
        } else if is_pmt {
            self.read_pmt(pid, packet, unit_start, out);
        }
        if self.main.as_ref().is_some_and(|m| m.pid == pid) {
            self.push_main(packet, unit_start, out);
        } else if let Some(pending) = &mut self.pending {
            pending.packets.push(*packet);
            if pending.packets.len() > MAX_PENDING_PACKETS {
                self.resolve_pending(Decision::NotKeyframe, out);
            }
        } else {
            self.emit(packet);
            self.finish_tail_if_done(out);
        }
    }

    /// Hands back the bytes of a published segment so their memory is reused for later
    /// segments instead of being freed and allocated again (keeps memory flat on long runs).
    pub fn recycle(&mut self, mut buffer: Vec<u8>) {
        if self.spare_buffers.len() < MAX_SPARE_BUFFERS {
            buffer.clear();
            self.spare_buffers.push(buffer);
        }
    }

    /// Ends the input: the open segment is finished at its measured end.
    pub fn finish(&mut self, out: &mut Vec<Segment>) {
        self.resolve_pending_at_end_of_pes(out);
        self.close_open_at_measured_end(out);
    }

    /// The input was interrupted and starts again (a reconnect, a restarted encoder, a looped
    /// file): the open segment ends at its measured end, the next one is marked as a
    /// discontinuity, and per-PID history (continuity counters, PES and section state) is
    /// forgotten. The tables stay known until new ones arrive.
    pub fn restart_input(&mut self, out: &mut Vec<Segment>) {
        self.resolve_pending_at_end_of_pes(out);
        self.break_timeline(out);
        self.pids.fill(PidState::default());
        self.pat_assembler.reset();
        self.pmt_assembler.reset();
    }

    fn in_program(&self, pid: u16) -> bool {
        self.pmt
            .as_ref()
            .is_some_and(|pmt| pmt.pcr_pid == pid || pmt.streams.iter().any(|s| s.pid == pid))
    }

    /// Returns false for packets to drop (legal duplicates).
    fn check_continuity(&mut self, pid: u16, packet: &TsPacket) -> bool {
        if !packet_has_payload(packet) {
            return true;
        }
        let counter = packet_continuity_counter(packet);
        let fingerprint = state::packet_fingerprint(packet);
        let state = &mut self.pids[usize::from(pid)];
        let previous = state.last_counter.replace(counter);
        let previous_fingerprint = std::mem::replace(&mut state.last_fingerprint, fingerprint);
        let Some(previous) = previous else {
            return true;
        };
        if counter == (previous + 1) & 0x0f || signals_discontinuity(packet) {
            return true;
        }
        // A duplicate repeats the previous packet (ISO/IEC 13818-1 §2.4.3.3); a packet that only
        // repeats its counter is damage and is kept.
        if counter == previous && fingerprint == previous_fingerprint {
            self.stats.duplicate_packets += 1;
            return false;
        }
        self.stats.continuity_errors += 1;
        tracing::trace!(pid, previous, counter, "continuity counter gap");
        if pid == PAT_PID {
            self.pat_assembler.reset();
        } else if self.program.is_some_and(|p| p.pmt_pid == pid) {
            self.pmt_assembler.reset();
        }
        true
    }

    /// Starts a new segment at `start_pts`; the open one becomes the closing one.
    fn cut(&mut self, start_pts: i64, out: &mut Vec<Segment>) {
        if let Some(open) = self.open.take() {
            self.start_tail(open.finish(start_pts), out);
        }
        let discontinuity = std::mem::take(&mut self.next_discontinuity);
        let mut buffer = self.spare_buffers.pop().unwrap_or_default();
        buffer.reserve(self.last_segment_len + self.last_segment_len / 8);
        let mut open =
            OpenSegment::new(start_pts, discontinuity, self.config.repeat_headers, buffer);
        if self.config.repeat_headers {
            self.psi_out.write_tables(&mut open.data);
        }
        self.open = Some(open);
    }

    /// A timeline break: the open segment ends at its measured end and nothing more is kept
    /// until the next random access point, which starts a segment marked as a discontinuity.
    fn break_timeline(&mut self, out: &mut Vec<Segment>) {
        self.stats.discontinuities += 1;
        if self.pending.is_some() {
            self.resolve_pending(Decision::NotKeyframe, out);
        }
        self.close_open_at_measured_end(out);
        if self.produced_any {
            self.next_discontinuity = true;
        }
        if let Some(main) = &mut self.main {
            main.timeline.reset();
            main.last_dts = None;
        }
    }

    fn close_open_at_measured_end(&mut self, out: &mut Vec<Segment>) {
        if let Some(closing) = self.closing.take() {
            self.output(closing.segment, out);
        }
        if let Some(open) = self.open.take() {
            let end = open.end_pts
                + self
                    .main
                    .as_ref()
                    .map_or(0, MainStream::unfinished_pes_ticks);
            self.output(open.finish(end), out);
        }
    }

    /// Keeps a just-cut segment open for the tails of PES packets that began in it.
    fn start_tail(&mut self, segment: Segment, out: &mut Vec<Segment>) {
        if let Some(closing) = self.closing.take() {
            self.output(closing.segment, out);
        }
        let main_pid = self.main.as_ref().map(|m| m.pid);
        let waiting: std::collections::HashSet<u16> = if self.config.repeat_headers {
            (0..PID_COUNT as u16)
                .filter(|&pid| self.pids[usize::from(pid)].pes_open && Some(pid) != main_pid)
                .collect()
        } else {
            Default::default()
        };
        if waiting.is_empty() {
            self.output(segment, out);
        } else {
            self.closing = Some(ClosingSegment {
                segment,
                waiting,
                packets_since_cut: 0,
            });
        }
    }

    fn finish_tail_if_done(&mut self, out: &mut Vec<Segment>) {
        let done = self
            .closing
            .as_ref()
            .is_some_and(|c| c.waiting.is_empty() || c.packets_since_cut > MAX_TAIL_PACKETS);
        if done && let Some(closing) = self.closing.take() {
            self.output(closing.segment, out);
        }
    }

    /// Routes one packet to the closing segment (a PES tail), the open segment, or nowhere.
    fn emit(&mut self, packet: &TsPacket) {
        let pid = packet_pid(packet);
        let unit_start = packet[1] & 0x40 != 0;
        if self.config.repeat_headers {
            if pid == PAT_PID || self.program.is_some_and(|p| p.pmt_pid == pid) {
                // The tables are rewritten: the open segment gets fresh copies in place of the
                // originals, numbered on from those at its start.
                if unit_start && let Some(open) = &mut self.open {
                    if pid == PAT_PID {
                        self.psi_out.write_pat(&mut open.data);
                    } else {
                        self.psi_out.write_pmt(&mut open.data);
                    }
                }
                return;
            }
            self.pids[usize::from(pid)].track_pes(packet, unit_start);
        }
        if let Some(closing) = &mut self.closing {
            closing.packets_since_cut += 1;
            if closing.waiting.contains(&pid) {
                if !unit_start {
                    closing.segment.data.extend_from_slice(packet);
                    if !self.pids[usize::from(pid)].pes_open {
                        closing.waiting.remove(&pid);
                    }
                    return;
                }
                closing.waiting.remove(&pid);
            }
        }
        match &mut self.open {
            Some(open) => open.data.extend_from_slice(packet),
            None => self.stats.packets_before_keyframe += 1,
        }
    }

    fn output(&mut self, segment: Segment, out: &mut Vec<Segment>) {
        self.stats.segments += 1;
        self.produced_any = true;
        self.last_segment_len = segment.data.len();
        out.push(segment);
    }
}

#[cfg(test)]
mod tests;
