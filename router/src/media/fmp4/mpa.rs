//! MPEG-1/2 audio, layers I–III (ISO/IEC 11172-3, 13818-3; MPEG-2.5 too): PES payloads →
//! MP4 samples (one frame each, header included) and the `mp4a` configuration.
//!
//! Owns the frame header: sync, version, layer, bit rate, sampling rate, padding, channel mode
//! (read here with bitstream-io; no kept crate splits MPEG audio frames without decoding
//! them). The sample entry is `mp4a` with an `esds` object type of 0x6B (MPEG-1 audio,
//! 11172-3) or 0x69 (MPEG-2 audio, 13818-3) and no decoder-specific info, as ffmpeg's MP4
//! muxer writes MP2 and MP3 and as browsers read MP3 (`mp4a.6B`, `mp4a.69`). Samples per frame:
//! 384 (layer I), 1152 (layer II, and layer III of MPEG-1), 576 (layer III of MPEG-2/2.5).

use bitstream_io::{BigEndian, BitRead, BitReader};

use super::audio::Parsed;
use super::boxes::TrackConfig;

/// esds objectTypeIndication of MPEG-1 audio.
pub const OBJECT_TYPE_MPEG1: u8 = 0x6b;
/// esds objectTypeIndication of MPEG-2 (and 2.5) audio.
pub const OBJECT_TYPE_MPEG2: u8 = 0x69;

/// Bit rates in kbit/s by bitrate_index 1..=14: MPEG-1 layers I, II, III; MPEG-2 layer I;
/// MPEG-2 layers II and III.
const BIT_RATES: [[u32; 14]; 5] = [
    [
        32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
    ],
    [
        32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
    ],
    [
        32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ],
    [
        32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
    ],
    [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
];

/// One frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Frame {
    len: usize,
    config: (u8, u32, u8, u32),
}

fn header(bytes: &[u8]) -> std::io::Result<Option<Frame>> {
    let mut r = BitReader::endian(bytes, BigEndian);
    if r.read::<11, u16>()? != 0x7ff {
        return Ok(None);
    }
    let version = r.read::<2, u8>()?; // 0: 2.5, 1: reserved, 2: MPEG-2, 3: MPEG-1
    let layer = 4 - r.read::<2, u8>()?; // 4: reserved
    r.skip(1)?; // protection_bit
    let bitrate_index = r.read::<4, u8>()?;
    let rate_index = r.read::<2, u8>()?;
    let padding = u32::from(r.read_bit()?);
    r.skip(1)?; // private_bit
    let mono = r.read::<2, u8>()? == 3;
    if version == 1 || layer == 4 || rate_index == 3 || !(1..=14).contains(&bitrate_index) {
        return Ok(None); // reserved, or free format
    }
    let mpeg1 = version == 3;
    let table = match (mpeg1, layer) {
        (true, l) => usize::from(l - 1),
        (false, 1) => 3,
        (false, _) => 4,
    };
    let kbps = BIT_RATES[table][usize::from(bitrate_index - 1)];
    let sample_rate = [44_100u32, 48_000, 32_000][usize::from(rate_index)]
        >> match version {
            3 => 0,
            2 => 1,
            _ => 2,
        };
    let (samples, len) = match layer {
        1 => (384, (12 * kbps * 1000 / sample_rate + padding) * 4),
        2 => (1152, 144 * kbps * 1000 / sample_rate + padding),
        _ if mpeg1 => (1152, 144 * kbps * 1000 / sample_rate + padding),
        _ => (576, 72 * kbps * 1000 / sample_rate + padding),
    };
    let object_type = if mpeg1 {
        OBJECT_TYPE_MPEG1
    } else {
        OBJECT_TYPE_MPEG2
    };
    Ok(Some(Frame {
        len: usize::try_from(len).unwrap_or(usize::MAX),
        config: (object_type, sample_rate, if mono { 1 } else { 2 }, samples),
    }))
}

/// Splits a PES payload into frames. Bytes that do not start a whole frame are skipped up to
/// the next one (as ffmpeg's MPEG audio parser resynchronises after lost packets).
pub fn frames(data: &[u8]) -> Parsed {
    let mut out = Parsed::default();
    let parse = |rest: &[u8]| header(rest).ok().flatten().map(|f| (f, f.len));
    for (frame, bytes) in super::audio::whole_frames(data, 4, parse) {
        if out.config.is_none() {
            let (object_type, sample_rate, channels, frame_samples) = frame.config;
            out.config = Some(TrackConfig::MpegAudio {
                object_type,
                sample_rate,
                channels,
                frame_samples,
            });
        }
        out.frames.push(bytes.to_vec());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(b1: u8, b2: u8, b3: u8, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len];
        f[..4].copy_from_slice(&[0xff, b1, b2, b3]);
        f
    }

    #[test]
    fn mpeg1_layer2_frames() {
        // MPEG-1 layer II, 192 kbit/s (index 10), 48 kHz, stereo: 144 × 192000 / 48000 = 576.
        let mut pes = frame(0xfd, 0xa4, 0x00, 576);
        pes.extend(frame(0xfd, 0xa4, 0x00, 576));
        let parsed = frames(&pes);
        assert_eq!(parsed.frames.len(), 2);
        assert_eq!(
            parsed.config,
            Some(TrackConfig::MpegAudio {
                object_type: OBJECT_TYPE_MPEG1,
                sample_rate: 48_000,
                channels: 2,
                frame_samples: 1152
            })
        );
    }

    #[test]
    fn mpeg2_layer3_has_576_samples_and_padding() {
        // MPEG-2 layer III, 64 kbit/s (index 8), 22.05 kHz, padded, mono:
        // 72 × 64000 / 22050 + 1 = 209.
        let f = frame(0xf3, 0x82, 0xc0, 209);
        let parsed = frames(&f);
        assert_eq!(parsed.frames.len(), 1);
        assert_eq!(
            parsed.config,
            Some(TrackConfig::MpegAudio {
                object_type: OBJECT_TYPE_MPEG2,
                sample_rate: 22_050,
                channels: 1,
                frame_samples: 576
            })
        );
    }

    #[test]
    fn free_format_and_short_frames_stop() {
        assert!(frames(&frame(0xfd, 0x04, 0x00, 100)).frames.is_empty());
        assert!(frames(&frame(0xfd, 0xa4, 0x00, 100)).frames.is_empty());
    }
}
