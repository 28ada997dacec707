//! MPEG-1/2 video: the sequence header (size, frame rate) and, for MPEG-2, the sequence
//! extension that follows it (size extension, profile, frame rate extension).
//!
//! The tag is RFC 6381's `mp4v.<OTI>` with the MP4 registration authority's object type: 0x60
//! to 0x65 for the MPEG-2 profiles, 0x6A for MPEG-1. Neither ffmpeg's HLS muxer nor Apple's
//! authoring spec has a tag for MPEG-2 video (HLS players do not play it); this is the one MP4
//! defines.

use bitstream_io::{BigEndian, BitRead, BitReader};

use super::video::{VideoParams, plausible_frame_rate};

const SEQUENCE_HEADER: [u8; 4] = [0, 0, 1, 0xb3];
const EXTENSION_START: u8 = 0xb5;
const SEQUENCE_EXTENSION_ID: u8 = 1;
/// Start code plus the fixed part of the sequence header.
const HEADER_BYTES: usize = 12;
/// One quantiser matrix.
const MATRIX_BYTES: usize = 64;
/// The sequence extension's fields after its start code, up to frame_rate_extension_d.
const EXTENSION_BYTES: usize = 6;
/// frame_rate_code 1..=8 (ISO/IEC 13818-2 Table 6-4), as numerator/denominator.
const FRAME_RATES: [(u32, u32); 8] = [
    (24000, 1001),
    (24, 1),
    (25, 1),
    (30000, 1001),
    (30, 1),
    (50, 1),
    (60000, 1001),
    (60, 1),
];

/// Finds the first usable sequence header in bytes pushed piecewise, keeping only what may
/// still hold one.
#[derive(Debug, Default)]
pub(super) struct Scanner {
    buf: Vec<u8>,
}

enum Outcome {
    Found(VideoParams),
    NeedMore,
    Invalid,
}

impl Scanner {
    /// Feeds more elementary-stream bytes; returns the parameters once a sequence header (and
    /// its extension, if any) is complete.
    pub fn push(&mut self, es: &[u8]) -> Option<VideoParams> {
        self.buf.extend_from_slice(es);
        loop {
            let Some(start) = self.buf.windows(4).position(|w| w == SEQUENCE_HEADER) else {
                let keep = self.buf.len().saturating_sub(SEQUENCE_HEADER.len() - 1);
                self.buf.drain(..keep);
                return None;
            };
            self.buf.drain(..start);
            match read_sequence(&self.buf) {
                Outcome::Found(params) => return Some(params),
                Outcome::NeedMore => return None,
                Outcome::Invalid => {
                    self.buf.drain(..SEQUENCE_HEADER.len());
                }
            }
        }
    }

    /// Forgets bytes after a loss.
    pub fn reset(&mut self) {
        self.buf.clear();
    }
}

/// Reads the sequence header at the start of `buf` and the extension after it.
fn read_sequence(buf: &[u8]) -> Outcome {
    let Some(header) = buf.get(4..HEADER_BYTES) else {
        return Outcome::NeedMore;
    };
    let width = (u32::from(header[0]) << 4) | u32::from(header[1] >> 4);
    let height = (u32::from(header[1] & 0x0f) << 8) | u32::from(header[2]);
    let frame_rate_code = usize::from(header[3] & 0x0f);
    if width == 0 || height == 0 || !(1..=FRAME_RATES.len()).contains(&frame_rate_code) {
        return Outcome::Invalid;
    }
    // load_intra_quantiser_matrix is the second-last bit of the fixed part; when set, the
    // matrix follows and load_non_intra_quantiser_matrix is the last bit of its last byte.
    let mut end = HEADER_BYTES;
    if header[7] & 0x02 != 0 {
        end += MATRIX_BYTES;
    }
    let Some(&flags) = buf.get(end - 1) else {
        return Outcome::NeedMore;
    };
    if flags & 0x01 != 0 {
        end += MATRIX_BYTES;
    }
    let Some(rest) = buf.get(end..) else {
        return Outcome::NeedMore;
    };
    let next = rest.iter().position(|&b| b != 0).unwrap_or(rest.len());
    let (zeros, rest) = rest.split_at(next);
    let Some(&code) = rest.first() else {
        return Outcome::NeedMore;
    };
    if zeros.len() < 2 || code != 1 {
        return Outcome::Invalid;
    }
    let Some(&start_code) = rest.get(1) else {
        return Outcome::NeedMore;
    };
    let (num, den) = FRAME_RATES[frame_rate_code - 1];
    let mut params = Params {
        oti: 0x6a,
        width,
        height,
        num,
        den,
    };
    if start_code == EXTENSION_START {
        let Some(&first) = rest.get(2) else {
            return Outcome::NeedMore;
        };
        if first >> 4 == SEQUENCE_EXTENSION_ID {
            let Some(ext) = rest.get(2..2 + EXTENSION_BYTES) else {
                return Outcome::NeedMore;
            };
            if read_extension(ext, &mut params).is_err() {
                return Outcome::Invalid;
            }
        }
    }
    Outcome::Found(params.finish())
}

/// What the headers give before the tag and rate are put together.
struct Params {
    oti: u8,
    width: u32,
    height: u32,
    num: u32,
    den: u32,
}

impl Params {
    fn finish(self) -> VideoParams {
        VideoParams {
            codecs_tag: format!("mp4v.{:x}", self.oti),
            width: self.width,
            height: self.height,
            frame_rate: plausible_frame_rate(f64::from(self.num) / f64::from(self.den)),
        }
    }
}

/// sequence_extension() from its extension_start_code_identifier on (ISO/IEC 13818-2 6.2.2.3).
fn read_extension(ext: &[u8], params: &mut Params) -> std::io::Result<()> {
    let mut r = BitReader::endian(ext, BigEndian);
    r.skip(4)?; // extension_start_code_identifier
    let escape = r.read_bit()?;
    let profile = r.read::<3, u8>()?;
    let level = r.read::<4, u8>()?;
    r.skip(1 + 2)?; // progressive_sequence, chroma_format
    let width_extension = r.read::<2, u32>()?;
    let height_extension = r.read::<2, u32>()?;
    r.skip(12 + 1 + 8 + 1)?; // bit_rate_extension, marker, vbv_buffer_size_extension, low_delay
    let rate_n = r.read::<2, u32>()?;
    let rate_d = r.read::<5, u32>()?;
    params.oti = match (escape, profile, level) {
        (false, 5, _) => 0x60,    // Simple
        (false, 2, _) => 0x63,    // Spatial
        (false, 3, _) => 0x62,    // SNR
        (false, 1, _) => 0x64,    // High
        (true, 0, 2 | 5) => 0x65, // 4:2:2
        _ => 0x61,                // Main, and escapes the MP4RA has no object type for
    };
    params.width |= width_extension << 12;
    params.height |= height_extension << 12;
    params.num *= rate_n + 1;
    params.den *= rate_d + 1;
    Ok(())
}
