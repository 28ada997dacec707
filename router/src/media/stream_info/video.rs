//! The video probe: feeds the first video stream's elementary-stream bytes to the parser of its
//! codec until the parameters are found, and keeps every PES's PTS for the frame rate.
//!
//! H.264 and HEVC NAL units are split from the byte stream by h264-reader's Annex B reader (the
//! start-code framing is the same for both); MPEG-1/2 video is scanned for its sequence header.

use h264_reader::annexb::AnnexBReader;
use h264_reader::nal::{Nal, RefNal};
use h264_reader::push::{AccumulatedNalHandler, NalAccumulator, NalInterest};

use super::super::codec::Codec;
use super::super::pes::parse_pes_start;
use super::super::psi::ElementaryStream;
use super::super::timestamp::{CLOCK_HZ, Unwrapper};
use super::{Probe, VideoInfo, avc, hevc, mpeg_video};

/// Elementary-stream bytes looked at for the parameters before giving up.
pub const MAX_SCAN_BYTES: usize = 1024 * 1024;
/// Highest frame rate believed from a bitstream's timing fields.
const MAX_FRAME_RATE: f64 = 1000.0;

/// Why a parameter set could not be used.
#[derive(Debug, thiserror::Error)]
pub(super) enum ParamError {
    /// h264-reader refused the SPS.
    #[error("H.264 SPS: {0:?}")]
    Avc(h264_reader::nal::sps::SpsError),
    /// The HEVC SPS is cut short or out of range.
    #[error("HEVC SPS: {0}")]
    Hevc(#[from] std::io::Error),
    /// scuffle-h265 panicked on the SPS (it indexes tables with values it does not check,
    /// e.g. a scaling list predicted from a matrix that does not exist).
    #[error("HEVC SPS: malformed ({0})")]
    HevcMalformed(String),
    /// The HEVC conformance window crops more than the picture.
    #[error("HEVC SPS: conformance window larger than the picture")]
    HevcCropping,
}

/// What the bitstream itself says about the video.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct VideoParams {
    pub codecs_tag: String,
    pub width: u32,
    pub height: u32,
    /// From the bitstream's timing fields, if it has them.
    pub frame_rate: Option<f64>,
}

/// Collects what the video stream's bytes tell.
pub(super) struct VideoProbe {
    stream: ElementaryStream,
    parser: Parser,
    params: Option<VideoParams>,
    scanned: usize,
    in_pes: bool,
    timeline: Unwrapper,
    pts: Vec<i64>,
}

/// Where the parameters come from, by codec.
enum Parser {
    /// H.264 or HEVC: NAL units from Annex B framing.
    Nal(Box<AnnexBReader<NalAccumulator<SpsHandler>>>),
    /// MPEG-1/2 video: the bytes searched for a sequence header.
    SequenceHeader(mpeg_video::Scanner),
}

impl VideoProbe {
    pub fn new(stream: ElementaryStream) -> Self {
        let parser = match stream.codec {
            Codec::H264 | Codec::Hevc => {
                Parser::Nal(Box::new(AnnexBReader::accumulate(SpsHandler {
                    codec: stream.codec,
                    found: None,
                })))
            }
            _ => Parser::SequenceHeader(mpeg_video::Scanner::default()),
        };
        Self {
            stream,
            parser,
            params: None,
            scanned: 0,
            in_pes: false,
            timeline: Unwrapper::default(),
            pts: Vec::new(),
        }
    }

    pub fn stream(&self) -> ElementaryStream {
        self.stream
    }

    /// The stream's description, if its parameters were found.
    pub fn finish(self) -> Option<VideoInfo> {
        let params = self.params?;
        let frame_rate = params
            .frame_rate
            .or_else(|| frame_rate_from_pts(&self.pts))
            .map(round_3);
        Some(VideoInfo {
            pid: self.stream.pid,
            codec: self.stream.codec,
            codecs_tag: params.codecs_tag,
            width: params.width,
            height: params.height,
            frame_rate,
        })
    }

    fn scan(&mut self, es: &[u8]) {
        if self.params.is_some() || self.scanned >= MAX_SCAN_BYTES || es.is_empty() {
            return;
        }
        self.scanned += es.len();
        match &mut self.parser {
            Parser::Nal(reader) => {
                reader.push(es);
                self.params = reader.nal_handler_mut().found.take();
            }
            Parser::SequenceHeader(scanner) => self.params = scanner.push(es),
        }
    }
}

impl Probe for VideoProbe {
    fn pid(&self) -> u16 {
        self.stream.pid
    }

    fn push(&mut self, payload: &[u8], unit_start: bool) {
        if unit_start {
            let Some(pes) = parse_pes_start(payload) else {
                self.lost();
                return;
            };
            if let Some(pts) = pes.pts {
                self.pts.push(self.timeline.unwrap(pts));
            }
            self.in_pes = true;
            self.scan(pes.payload);
        } else if self.in_pes {
            self.scan(payload);
        }
    }

    fn lost(&mut self) {
        self.in_pes = false;
        match &mut self.parser {
            Parser::Nal(reader) => reader.reset(),
            Parser::SequenceHeader(scanner) => scanner.reset(),
        }
    }
}

/// Looks at every complete SPS NAL unit and keeps the first one that parses.
struct SpsHandler {
    codec: Codec,
    found: Option<VideoParams>,
}

impl AccumulatedNalHandler for SpsHandler {
    fn nal(&mut self, nal: RefNal<'_>) -> NalInterest {
        let is_sps = match self.codec {
            Codec::H264 => avc::is_sps(&nal),
            _ => hevc::is_sps(&nal),
        };
        if !is_sps {
            return NalInterest::Ignore;
        }
        if !nal.is_complete() {
            return NalInterest::Buffer;
        }
        if self.found.is_none() {
            let parsed = match self.codec {
                Codec::H264 => avc::parse_sps(&nal),
                _ => hevc::parse_sps(&nal),
            };
            match parsed {
                Ok(params) => self.found = Some(params),
                Err(error) => tracing::trace!(%error, codec = ?self.codec, "unusable SPS"),
            }
        }
        NalInterest::Ignore
    }
}

/// A frame rate from timing fields, if it is a believable one.
pub(super) fn plausible_frame_rate(rate: f64) -> Option<f64> {
    (rate.is_finite() && rate > 0.0 && rate <= MAX_FRAME_RATE).then_some(rate)
}

/// Frames per second from PES presentation times: sorted (B-frames reorder them), the median
/// step between distinct neighbours is one frame. Assumes one picture per PES, as HLS muxers
/// write video.
pub(super) fn frame_rate_from_pts(pts: &[i64]) -> Option<f64> {
    let mut sorted = pts.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut steps: Vec<i64> = sorted.windows(2).map(|w| w[1] - w[0]).collect();
    if steps.is_empty() {
        return None;
    }
    steps.sort_unstable();
    let median = steps[steps.len() / 2];
    plausible_frame_rate(CLOCK_HZ as f64 / median as f64)
}

fn round_3(rate: f64) -> f64 {
    (rate * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_rate_from_reordered_pts() {
        // 25 fps with B-frames: decode order I P B B P B B ...
        let order = [0, 3, 1, 2, 6, 4, 5, 9, 7, 8];
        let pts: Vec<i64> = order.iter().map(|&n| 126_000 + n * 3600).collect();
        assert_eq!(frame_rate_from_pts(&pts), Some(25.0));
    }

    #[test]
    fn frame_rate_survives_a_lost_frame_and_ntsc_steps() {
        // 29.97 fps: steps alternate 3003 ticks; one frame missing doubles one step.
        let mut pts: Vec<i64> = (0..30).map(|n| n * 3003).collect();
        pts.remove(10);
        assert_eq!(frame_rate_from_pts(&pts).map(round_3), Some(29.97));
    }

    #[test]
    fn no_frame_rate_from_fewer_than_two_pictures() {
        assert_eq!(frame_rate_from_pts(&[]), None);
        assert_eq!(frame_rate_from_pts(&[90_000, 90_000]), None);
    }
}
