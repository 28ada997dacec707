//! AAC in ADTS → raw AAC frames (MP4 samples) and the AudioSpecificConfig for `esds`.
//!
//! Owns splitting a PES payload into ADTS frames (headers read by adts-reader; damaged bytes
//! skipped to the next frame) and building
//! the two-byte AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1) from an ADTS header.

use adts_reader::AdtsHeader;

/// Samples per AAC frame (one raw data block; AAC-LC and HE-AAC core).
pub const SAMPLES_PER_FRAME: u32 = 1024;

/// Sampling rates by sampling_frequency_index (ISO/IEC 14496-3 table 1.18).
const SAMPLE_RATES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
    7_350,
];

/// The codec configuration an ADTS header gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AacConfig {
    /// MPEG-4 audio object type (2 = AAC-LC): ADTS profile + 1.
    pub object_type: u8,
    /// sampling_frequency_index.
    pub frequency_index: u8,
    /// channel_configuration.
    pub channel_config: u8,
}

impl AacConfig {
    /// Reads the configuration fields of an ADTS header (bytes 2–3, ISO/IEC 13818-7 6.2.1).
    fn from_header(header: &[u8]) -> Self {
        Self {
            object_type: (header[2] >> 6) + 1,
            frequency_index: (header[2] >> 2) & 0x0f,
            channel_config: ((header[2] & 0x01) << 2) | (header[3] >> 6),
        }
    }

    /// Sampling rate in Hz (`None` for the reserved indices, which adts-reader rejects).
    pub fn sample_rate(&self) -> Option<u32> {
        SAMPLE_RATES.get(usize::from(self.frequency_index)).copied()
    }

    /// The AudioSpecificConfig: object type (5 bits), frequency index (4), channel
    /// configuration (4), then GASpecificConfig's three zero flags.
    pub fn audio_specific_config(&self) -> [u8; 2] {
        let bits: u16 = (u16::from(self.object_type & 0x1f) << 11)
            | (u16::from(self.frequency_index & 0x0f) << 7)
            | (u16::from(self.channel_config & 0x0f) << 3);
        bits.to_be_bytes()
    }
}

/// The raw frames of one PES payload, and the configuration of its first frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AdtsFrames {
    /// Raw AAC frames (ADTS headers and CRCs removed).
    pub frames: Vec<Vec<u8>>,
    /// Configuration of the first frame.
    pub config: Option<AacConfig>,
}

/// Splits a PES payload into raw AAC frames. Bytes that do not start a whole ADTS frame are
/// skipped up to the next one (as ffmpeg's ADTS parser resynchronises after lost packets).
pub fn adts_frames(data: &[u8]) -> AdtsFrames {
    let mut out = AdtsFrames::default();
    let mut at = 0;
    while at + 7 <= data.len() {
        let rest = &data[at..];
        let frame = AdtsHeader::from_bytes(rest)
            .ok()
            .and_then(|header| Some((header.payload().ok()?, header.frame_length())));
        let Some((payload, len)) = frame.filter(|(_, len)| *len >= 7) else {
            at += 1;
            continue;
        };
        if out.config.is_none() {
            out.config = Some(AacConfig::from_header(rest));
        }
        out.frames.push(payload.to_vec());
        at += usize::from(len);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ADTS frame: AAC-LC, 48 kHz (index 3), stereo, no CRC, with `payload`.
    fn adts(payload: &[u8]) -> Vec<u8> {
        let len = 7 + payload.len();
        let mut f = vec![
            0xff,
            0xf1,
            (1 << 6) | (3 << 2),
            (2 << 6) | ((len >> 11) as u8 & 0x03),
            (len >> 3) as u8,
            ((len as u8 & 0x07) << 5) | 0x1f,
            0xfc,
        ];
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn asc_from_adts_header() {
        let mut pes = adts(&[1, 2, 3]);
        pes.extend(adts(&[4, 5]));
        let frames = adts_frames(&pes);
        assert_eq!(frames.frames, vec![vec![1, 2, 3], vec![4, 5]]);
        let config = frames.config.expect("a config");
        assert_eq!(config.sample_rate(), Some(48_000));
        // AAC-LC (2), 48 kHz (3), 2 channels: 00010 0011 0010 000 = 0x11 0x90.
        assert_eq!(config.audio_specific_config(), [0x11, 0x90]);
    }

    #[test]
    fn garbage_is_skipped_to_the_next_frame() {
        let mut pes = adts(&[9]);
        pes.extend_from_slice(&[0x12, 0x34]);
        pes.extend(adts(&[7, 7]));
        pes.extend_from_slice(&[0xff, 0xf1]);
        assert_eq!(adts_frames(&pes).frames, vec![vec![9], vec![7, 7]]);
    }
}
