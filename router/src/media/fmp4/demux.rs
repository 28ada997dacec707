//! Demux: one TS segment's bytes → the PES packets (timestamps and elementary-stream bytes) of
//! the video stream (H.264 or HEVC) and the first audio stream fMP4 carries (AAC, AC-3, E-AC-3,
//! MPEG audio) of its first program. A program whose first video stream is another codec
//! (MPEG-1/2 video) is refused rather than remuxed without its picture.
//!
//! Owns PES reassembly only. Framing, PAT/PMT and the packet loop with its continuity checking
//! are [`super::super::stream_info`]'s (the same code that measures a segment for the master
//! playlist), PES headers are [`super::super::pes`]'s. A PES that lost packets is kept, holes and all
//! (see [`Gather::lost`]).

use super::super::codec::{Codec, StreamKind};
use super::super::pes::parse_pes_start;
use super::super::psi::ElementaryStream;
use super::super::stream_info::{Probe, find_pmt, frame, route};
use super::Fmp4Error;

/// Video codecs fMP4 carries here.
pub const VIDEO_CODECS: [Codec; 2] = [Codec::H264, Codec::Hevc];
/// Audio codecs fMP4 carries here (AAC in LATM is not one of them).
pub const AUDIO_CODECS: [Codec; 4] = [Codec::Aac, Codec::Ac3, Codec::Eac3, Codec::MpegAudio];

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

    /// Gathers a PES; one whose header gives its length ends there: bytes past it, up to the
    /// next PES start, are dropped, as ffmpeg's TS demuxer drops them (they are the rest of a
    /// PES whose first packet was lost, and cannot be timed).
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
        let whole = self.current.as_ref().and_then(|pes| {
            let declared = usize::from(u16::from_be_bytes([*pes.get(4)?, *pes.get(5)?]));
            (declared > 0 && pes.len() >= declared + 6).then_some(declared + 6)
        });
        if let Some(len) = whole {
            if let Some(pes) = &mut self.current {
                pes.truncate(len);
            }
            self.close();
        }
    }

    /// Packets were lost: the PES in progress is kept and goes on with the next payloads, as
    /// ffmpeg's TS demuxer does (it marks such a packet corrupt and still decodes it). The
    /// decoder then conceals what it can, and the fMP4 output decodes to the same frames as the
    /// TS segments do; dropping the PES instead would lose the reference pictures the frames
    /// after it need (checked on tests/data/loss.ts).
    fn lost(&mut self) {}
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
        Some(_) => return Err(Fmp4Error::NoSupportedStream),
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
