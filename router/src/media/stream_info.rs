//! Stream info: measures what a finished TS segment carries, as an HLS master playlist describes
//! it (`CODECS`, `RESOLUTION`, `FRAME-RATE`, and audio channels for `EXT-X-MEDIA`).
//!
//! Owns reading codec parameters out of elementary-stream headers: the H.264 and HEVC sequence
//! parameter sets, the MPEG-1/2 video sequence header, and the first ADTS, LATM, AC-3, E-AC-3 or
//! MPEG audio frame header of each audio stream, and turning them into RFC 6381 codec tags. TS
//! framing, PAT/PMT and PES headers are the other `media` modules' ([`super::framing`],
//! [`super::psi`], [`super::pes`]); this module only routes their output.
//!
//! Must not touch: files, sockets, clocks, playlists. [`analyze`] takes bytes and gives values.
//!
//! What it reads, per stream of the first program in the PAT:
//! - the first video stream in the PMT: its parameter set / sequence header (scanning at most
//!   1 MiB of its elementary stream) and the PTS of every PES, which give the
//!   frame rate when the bitstream carries no timing;
//! - every audio stream: the frame header at the start of its first PES payloads (muxers align
//!   audio PES to frames); at most 8 PES packets are tried.
//!
//! Streams the bytes did not let it describe are listed in [`StreamInfo::undescribed`] rather
//! than guessed.
//!
//! Submodules: `video` (video probe and frame rate), `avc` (H.264 via h264-reader), `hevc`
//! (HEVC via scuffle-h265), `mpeg_video` (MPEG-1/2 sequence header), `audio` (audio frame
//! headers), `route` (the packet loop: payloads of chosen PIDs, continuity-checked; also used by
//! the fMP4 demuxer).

mod audio;
mod avc;
mod hevc;
mod mpeg_video;
mod route;
mod video;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

use mpeg2ts_reader::packet::Packet;

use super::codec::{Codec, StreamKind};
use super::framing::{SYNC_BYTE, TsFramer};
use super::psi::{ElementaryStream, PAT_PID, Pmt, SectionAssembler, parse_pat, parse_pmt};
use super::{PACKET_SIZE, TsPacket};
use audio::AudioProbe;
pub(crate) use hevc::read_sps as read_hevc_sps;
pub(crate) use route::{Probe, route};
use video::VideoProbe;

/// What one TS segment (or any TS bytes starting with PAT/PMT) carries, as a master playlist
/// describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    /// The program's first video stream, when its parameters were found.
    pub video: Option<VideoInfo>,
    /// The program's audio streams whose frame headers were found, in PMT order.
    pub audio: Vec<AudioInfo>,
    /// Audio and video streams listed in the PMT whose parameters the bytes did not carry (no
    /// PES start, a damaged header, a truncated buffer). Further video streams past the first are
    /// not analysed and not listed.
    pub undescribed: Vec<ElementaryStream>,
}

/// The video stream's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    /// PID of its packets.
    pub pid: u16,
    /// What the PMT says it is.
    pub codec: Codec,
    /// RFC 6381 tag: `avc1.PPCCLL` (lower-case hex, as ffmpeg and Apple write it),
    /// `hvc1.<space><profile>.<compat>.<L|H><level>.<constraints>` (ISO/IEC 14496-15 E.3, hex in
    /// upper case as Apple writes it), `mp4v.6X` for MPEG-1/2 video (MP4RA object type).
    pub codecs_tag: String,
    /// Displayed width in pixels (cropping applied).
    pub width: u32,
    /// Displayed height in pixels (cropping applied).
    pub height: u32,
    /// Frames per second, rounded to 3 decimals: from the bitstream's timing (H.264/HEVC VUI,
    /// MPEG-2 sequence header) when present, else from the spacing of the video PTS.
    pub frame_rate: Option<f64>,
}

/// One audio stream's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInfo {
    /// PID of its packets.
    pub pid: u16,
    /// What the frame header says it is (AC-3 and E-AC-3 are told apart by their `bsid`,
    /// whatever the PMT says); otherwise the PMT's codec.
    pub codec: Codec,
    /// RFC 6381 tag: `mp4a.40.<AOT>` for AAC (`2` LC; `5`/`29` only when LATM signals SBR/PS
    /// explicitly: ADTS cannot), `ac-3`, `ec-3`, and for MPEG audio the audio object types of
    /// ISO/IEC 14496-3 that ffmpeg's HLS muxer and Apple's authoring spec use: `mp4a.40.32`
    /// (layer I), `mp4a.40.33` (layer II), `mp4a.40.34` (layer III).
    pub codecs_tag: String,
    /// Sampling rate in Hz, when the header gives one.
    pub sample_rate: Option<u32>,
    /// Channel count (LFE included), when the header gives one. E-AC-3 dependent substreams are
    /// not counted.
    pub channels: Option<u8>,
}

/// Why TS bytes could not be analysed at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamInfoError {
    /// No aligned TS packet was found in the bytes.
    #[error("not an MPEG-TS: no packets found in {len} bytes")]
    NotTransportStream {
        /// Bytes given.
        len: usize,
    },
    /// Packets, but no usable PAT listing a program.
    #[error("no usable PAT in {packets} packets")]
    NoPat {
        /// Packets framed.
        packets: usize,
    },
    /// A PAT, but no usable PMT for its first program.
    #[error("no usable PMT for program {program_number} on PID {pid}")]
    NoPmt {
        /// The program the PAT lists first.
        program_number: u16,
        /// The PID the PAT gives for its PMT.
        pid: u16,
    },
}

impl StreamInfo {
    /// The CODECS attribute: video tag then audio tags, comma-separated, e.g.
    /// `"avc1.64001e,mp4a.40.2"`. A tag shared by several audio streams is listed once.
    pub fn codecs(&self) -> String {
        let mut tags: Vec<&str> = Vec::new();
        let video = self.video.iter().map(|v| v.codecs_tag.as_str());
        for tag in video.chain(self.audio.iter().map(|a| a.codecs_tag.as_str())) {
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        tags.join(",")
    }
}

/// Analyzes TS bytes (a finished segment: PAT/PMT first). Pure, no I/O.
///
/// Garbage between packets is skipped by the framer. The tables may sit anywhere in the bytes:
/// streams are read in a second pass once the PMT is known. Damage inside a stream (a
/// continuity gap, a broken header) only costs that stream's description.
pub fn analyze(ts: &[u8]) -> Result<StreamInfo, StreamInfoError> {
    let packets = frame(ts);
    if packets.is_empty() {
        return Err(StreamInfoError::NotTransportStream { len: ts.len() });
    }
    let pmt = find_pmt(&packets)?;

    let mut video_streams = pmt
        .streams
        .iter()
        .filter(|s| s.codec.kind() == StreamKind::Video);
    let mut video = video_streams.next().map(|s| VideoProbe::new(*s));
    let mut audio: Vec<AudioProbe> = pmt
        .streams
        .iter()
        .filter(|s| s.codec.kind() == StreamKind::Audio)
        .map(|s| AudioProbe::new(*s))
        .collect();

    let mut probes: Vec<&mut dyn Probe> = Vec::with_capacity(audio.len() + 1);
    if let Some(video) = video.as_mut() {
        probes.push(video);
    }
    probes.extend(audio.iter_mut().map(|a| a as &mut dyn Probe));
    route(&packets, &mut probes);

    let mut undescribed = Vec::new();
    let video = video.and_then(|probe| {
        let stream = probe.stream();
        let info = probe.finish();
        if info.is_none() {
            undescribed.push(stream);
        }
        info
    });
    let audio = audio
        .into_iter()
        .filter_map(|probe| {
            let stream = probe.stream();
            let info = probe.finish();
            if info.is_none() {
                undescribed.push(stream);
            }
            info
        })
        .collect();
    Ok(StreamInfo {
        video,
        audio,
        undescribed,
    })
}

/// Frames the bytes into whole packets: borrowed when they already are whole, aligned
/// packets (a cut segment), copied through the resynchronising framer otherwise.
pub(crate) fn frame(ts: &[u8]) -> Cow<'_, [TsPacket]> {
    let (whole, rest) = ts.as_chunks::<PACKET_SIZE>();
    if rest.is_empty() && whole.iter().all(|p| p[0] == SYNC_BYTE) {
        return Cow::Borrowed(whole);
    }
    let mut packets = Vec::with_capacity(ts.len() / PACKET_SIZE);
    let mut framer = TsFramer::new();
    framer.push(ts, |p| packets.push(*p));
    framer.finish(|p| packets.push(*p));
    Cow::Owned(packets)
}

/// Follows the first program of the first usable PAT to its first usable PMT.
pub(crate) fn find_pmt(packets: &[TsPacket]) -> Result<Pmt, StreamInfoError> {
    let mut pat_sections = SectionAssembler::default();
    let mut pmt_sections = SectionAssembler::default();
    let mut program = None;
    let mut sections = Vec::new();
    for packet in packets {
        let Some(packet) = Packet::try_new(packet) else {
            continue;
        };
        let (Some(payload), false) = (packet.payload(), packet.transport_error_indicator()) else {
            continue;
        };
        let pid = u16::from(packet.pid());
        let unit_start = packet.payload_unit_start_indicator();
        sections.clear();
        match program {
            None if pid == PAT_PID => {
                pat_sections.push(payload, unit_start, &mut sections);
                program = sections
                    .iter()
                    .filter_map(|s| parse_pat(s).ok())
                    .find_map(|pat| pat.programs.first().copied());
            }
            Some(p) if p.pmt_pid == pid => {
                pmt_sections.push(payload, unit_start, &mut sections);
                let pmt = sections
                    .iter()
                    .filter_map(|s| parse_pmt(s).ok())
                    .find(|pmt| pmt.program_number == p.program_number);
                if let Some(pmt) = pmt {
                    return Ok(pmt);
                }
            }
            _ => {}
        }
    }
    Err(match program {
        None => StreamInfoError::NoPat {
            packets: packets.len(),
        },
        Some(p) => StreamInfoError::NoPmt {
            program_number: p.program_number,
            pid: p.pmt_pid,
        },
    })
}
