//! Codec identification from PMT stream types and descriptors.
//!
//! Owns the mapping only; parsing of the elementary streams lives in [`super::keyframe`].

/// What an elementary stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// H.264 / AVC (stream type 0x1B).
    H264,
    /// H.265 / HEVC (stream type 0x24).
    Hevc,
    /// MPEG-2 video (0x02).
    Mpeg2Video,
    /// MPEG-1 video (0x01).
    Mpeg1Video,
    /// AAC in ADTS (0x0F).
    Aac,
    /// AAC in LATM (0x11).
    AacLatm,
    /// AC-3 (0x81, or private PES with an AC-3 descriptor).
    Ac3,
    /// E-AC-3 (0x87, or private PES with an E-AC-3 descriptor).
    Eac3,
    /// MPEG-1/2 audio layers I–III (0x03, 0x04).
    MpegAudio,
    /// Anything else (metadata, subtitles, data); passed through untouched.
    Other,
}

/// Broad class of a stream, which decides how it is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// Cut only at random access points found in the bitstream.
    Video,
    /// Every PES start is an access point.
    Audio,
    /// Carried along, never decides a cut.
    Other,
}

const DESCRIPTOR_AC3_DVB: u8 = 0x6a;
const DESCRIPTOR_AC3_ATSC: u8 = 0x81;
const DESCRIPTOR_EAC3_DVB: u8 = 0x7a;
const DESCRIPTOR_EAC3_ATSC: u8 = 0xcc;

impl Codec {
    /// Identifies a stream from its PMT stream_type and the tags of its ES descriptors.
    pub fn from_stream_type(stream_type: u8, descriptor_tags: &[u8]) -> Codec {
        match stream_type {
            0x1b => Codec::H264,
            0x24 => Codec::Hevc,
            0x02 => Codec::Mpeg2Video,
            0x01 => Codec::Mpeg1Video,
            0x0f => Codec::Aac,
            0x11 => Codec::AacLatm,
            0x03 | 0x04 => Codec::MpegAudio,
            0x81 => Codec::Ac3,
            0x87 => Codec::Eac3,
            0x06 if descriptor_tags
                .iter()
                .any(|&t| t == DESCRIPTOR_AC3_DVB || t == DESCRIPTOR_AC3_ATSC) =>
            {
                Codec::Ac3
            }
            0x06 if descriptor_tags
                .iter()
                .any(|&t| t == DESCRIPTOR_EAC3_DVB || t == DESCRIPTOR_EAC3_ATSC) =>
            {
                Codec::Eac3
            }
            _ => Codec::Other,
        }
    }

    /// How streams of this codec are cut.
    pub fn kind(self) -> StreamKind {
        match self {
            Codec::H264 | Codec::Hevc | Codec::Mpeg2Video | Codec::Mpeg1Video => StreamKind::Video,
            Codec::Aac | Codec::AacLatm | Codec::Ac3 | Codec::Eac3 | Codec::MpegAudio => {
                StreamKind::Audio
            }
            Codec::Other => StreamKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_types_map_to_codecs() {
        assert_eq!(Codec::from_stream_type(0x1b, &[]), Codec::H264);
        assert_eq!(Codec::from_stream_type(0x24, &[]), Codec::Hevc);
        assert_eq!(Codec::from_stream_type(0x02, &[]), Codec::Mpeg2Video);
        assert_eq!(Codec::from_stream_type(0x04, &[]), Codec::MpegAudio);
        assert_eq!(Codec::from_stream_type(0x06, &[0x0a, 0x6a]), Codec::Ac3);
        assert_eq!(Codec::from_stream_type(0x06, &[0x7a]), Codec::Eac3);
        assert_eq!(Codec::from_stream_type(0x06, &[]), Codec::Other);
        assert_eq!(Codec::H264.kind(), StreamKind::Video);
        assert_eq!(Codec::Ac3.kind(), StreamKind::Audio);
        assert_eq!(Codec::Other.kind(), StreamKind::Other);
    }
}
