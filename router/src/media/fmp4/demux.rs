//! Demux: one TS segment's bytes → the PES packets (timestamps and elementary-stream bytes) of
//! the video stream (H.264 or HEVC) and the first audio stream fMP4 carries (AAC, AC-3, E-AC-3,
//! MPEG audio) of its first program. A program whose first video stream is another codec
//! (MPEG-1/2 video) is refused rather than remuxed without its picture.
//!
//! Owns PES reassembly only. Framing, PAT/PMT and the packet loop with its continuity checking
//! are [`super::super::stream_info`]'s (the same code that measures a segment for the master
//! playlist), PES headers are [`super::super::pes`]'s. A PES cut by lost packets is dropped.

use super::super::codec::{Codec, StreamKind};
use super::super::pes::parse_pes_start;
use super::super::psi::ElementaryStream;
use super::super::stream_info::{Probe, find_pmt, frame, route};
use super::Fmp4Error;

/// Video codecs fMP4 carries here.
pub const VIDEO_CODECS: [Codec; 2] = [Codec::H264, Codec::Hevc];
/// Audio codecs fMP4 carries here (AAC in LATM is not one of them).
pub const AUDIO_CODECS: [Codec; 4] = [Codec::Aac, Codec::Ac3, Codec::Eac3, Codec::MpegAudio];

fn video_name(codec: Codec) -> &'static str {
    match codec {
        Codec::Mpeg1Video => "MPEG-1",
        _ => "MPEG-2",
    }
}

/// One whole PES packet of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pes {
    /// Raw 33-bit PTS.
    pub pts: u64,
    /// Raw 33-bit DTS (the PTS when the header has none).
    pub dts: u64,
    /// The whole PES packet as gathered: header, then elementary-stream bytes.
    bytes: Vec<u8>,
    /// Length of the PES header in `bytes`.
    header_len: usize,
}

impl Pes {
    /// The elementary-stream bytes (the PES header is kept in front of them rather than
    /// copying the payload out).
    pub fn data(&self) -> &[u8] {
        self.bytes.get(self.header_len..).unwrap_or_default()
    }
}

/// The PES packets of one stream, in arrival (decode) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPes {
    /// The stream as the PMT lists it.
    pub stream: ElementaryStream,
    /// Its PES packets.
    pub pes: Vec<Pes>,
}

/// The program's streams this remuxer carries: the first video stream and the first audio
/// stream of [`AUDIO_CODECS`], in that order. Other streams are left out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Demuxed {
    /// The H.264 or HEVC stream, if the PMT lists one.
    pub video: Option<StreamPes>,
    /// The audio stream, if the PMT lists one.
    pub audio: Option<StreamPes>,
}

/// PES being gathered on one PID.
struct Gather {
    out: StreamPes,
    current: Option<Vec<u8>>,
    /// Bytes of the last PES gathered.
    last_len: usize,
}

impl Probe for Gather {
    fn pid(&self) -> u16 {
        self.out.stream.pid
    }

    fn push(&mut self, payload: &[u8], unit_start: bool) {
        if unit_start {
            self.close();
            // Sized like the stream's last PES, so a frame's payload is rarely moved as it grows.
            let mut bytes = Vec::with_capacity(self.last_len.max(payload.len()));
            bytes.extend_from_slice(payload);
            self.current = Some(bytes);
        } else if let Some(current) = &mut self.current {
            current.extend_from_slice(payload);
        }
    }

    fn lost(&mut self) {
        self.current = None;
    }
}

impl Gather {
    fn new(stream: ElementaryStream) -> Self {
        Self {
            out: StreamPes {
                stream,
                pes: Vec::new(),
            },
            current: None,
            last_len: 0,
        }
    }

    fn close(&mut self) {
        let Some(bytes) = self.current.take() else {
            return;
        };
        self.last_len = bytes.len();
        let Some(start) = parse_pes_start(&bytes) else {
            return;
        };
        if let (Some(pts), Some(dts)) = (start.pts, start.dts) {
            let header_len = bytes.len() - start.payload.len();
            self.out.pes.push(Pes {
                pts,
                dts,
                bytes,
                header_len,
            });
        }
    }

    fn finish(mut self) -> StreamPes {
        self.close();
        self.out
    }
}

/// Splits a TS segment into the PES packets of its video and audio streams.
pub fn demux(ts: &[u8]) -> Result<Demuxed, Fmp4Error> {
    let packets = frame(ts);
    if packets.is_empty() {
        return Err(Fmp4Error::NotTransportStream);
    }
    let pmt = find_pmt(&packets).map_err(Fmp4Error::Program)?;
    let video = pmt
        .streams
        .iter()
        .find(|s| s.codec.kind() == StreamKind::Video);
    let mut video = match video {
        Some(s) if VIDEO_CODECS.contains(&s.codec) => Some(Gather::new(*s)),
        Some(s) => return Err(Fmp4Error::UnsupportedVideo(video_name(s.codec))),
        None => None,
    };
    let mut audio = (pmt.streams.iter())
        .find(|s| AUDIO_CODECS.contains(&s.codec))
        .map(|s| Gather::new(*s));
    if video.is_none() && audio.is_none() {
        return Err(Fmp4Error::NoSupportedStream);
    }
    let mut probes: Vec<&mut dyn Probe> = Vec::with_capacity(2);
    probes.extend(video.as_mut().map(|v| v as &mut dyn Probe));
    probes.extend(audio.as_mut().map(|a| a as &mut dyn Probe));
    route(&packets, &mut probes);
    Ok(Demuxed {
        video: video.map(Gather::finish),
        audio: audio.map(Gather::finish),
    })
}
