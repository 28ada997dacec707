//! Audio probes: read the frame header at the start of an audio stream's PES payloads.
//!
//! Muxers start audio PES packets on frame boundaries (ISO/IEC 13818-1 allows otherwise, but HLS
//! muxers do not), so the header is read where the PES payload starts; a PES that does not start
//! with a valid header is skipped and the next one tried. ADTS headers are read by adts-reader;
//! LATM, AC-3, E-AC-3 and MPEG audio headers are a few fixed bit fields, read here with
//! bitstream-io. Codec tags for MPEG-4 audio are written by rfc6381-codec.

use adts_reader::{AdtsHeader, AudioObjectType, SamplingFrequencyIndex};
use bitstream_io::{BigEndian, BitRead, BitReader};
use rfc6381_codec::Mp4a;

use super::super::codec::Codec;
use super::super::pes::parse_pes_start;
use super::super::psi::ElementaryStream;
use super::{AudioInfo, Probe};

/// PES packets of one audio stream tried before giving up on it.
pub const MAX_PES_TRIED: usize = 8;
/// Bytes gathered from the start of a PES payload before its header is read: enough for every
/// header read here, LATM's StreamMuxConfig included.
const HEADER_BYTES: usize = 32;

/// What one frame header tells.
#[derive(Debug, Clone, PartialEq)]
struct Header {
    codec: Codec,
    codecs_tag: String,
    sample_rate: Option<u32>,
    channels: Option<u8>,
}

/// Collects the first frame header of one audio stream.
pub(super) struct AudioProbe {
    stream: ElementaryStream,
    head: Vec<u8>,
    in_pes: bool,
    tried: usize,
    found: Option<Header>,
}

impl AudioProbe {
    pub fn new(stream: ElementaryStream) -> Self {
        Self {
            stream,
            head: Vec::with_capacity(HEADER_BYTES),
            in_pes: false,
            tried: 0,
            found: None,
        }
    }

    pub fn stream(&self) -> ElementaryStream {
        self.stream
    }

    /// The stream's description, if a frame header was found.
    pub fn finish(mut self) -> Option<AudioInfo> {
        if self.found.is_none() && self.in_pes {
            self.read_head();
        }
        let header = self.found?;
        Some(AudioInfo {
            pid: self.stream.pid,
            codec: header.codec,
            codecs_tag: header.codecs_tag,
            sample_rate: header.sample_rate,
            channels: header.channels,
        })
    }

    fn done(&self) -> bool {
        self.found.is_some() || self.tried >= MAX_PES_TRIED
    }

    fn gather(&mut self, es: &[u8]) {
        let room = HEADER_BYTES - self.head.len();
        self.head.extend_from_slice(&es[..es.len().min(room)]);
        if self.head.len() >= HEADER_BYTES {
            self.read_head();
        }
    }

    fn read_head(&mut self) {
        self.tried += 1;
        self.found = read_header(self.stream.codec, &self.head);
        self.head.clear();
        self.in_pes = false;
    }
}

impl Probe for AudioProbe {
    fn pid(&self) -> u16 {
        self.stream.pid
    }

    fn push(&mut self, payload: &[u8], unit_start: bool) {
        if self.done() {
            return;
        }
        if unit_start {
            if self.in_pes {
                // The previous PES ended short of HEADER_BYTES: read what it had.
                self.read_head();
                if self.done() {
                    return;
                }
            }
            let Some(pes) = parse_pes_start(payload) else {
                self.lost();
                return;
            };
            self.in_pes = true;
            self.gather(pes.payload);
        } else if self.in_pes {
            self.gather(payload);
        }
    }

    fn lost(&mut self) {
        self.head.clear();
        self.in_pes = false;
    }
}

fn read_header(codec: Codec, bytes: &[u8]) -> Option<Header> {
    match codec {
        Codec::Aac => adts(bytes),
        Codec::AacLatm => latm(bytes).ok().flatten(),
        Codec::Ac3 | Codec::Eac3 => ac3_family(bytes).ok().flatten(),
        Codec::MpegAudio => mpeg_audio(bytes),
        _ => None,
    }
}

/// `mp4a.40.<audio object type>` (RFC 6381 3.3).
fn mp4a_tag(audio_object_type: AudioObjectType) -> String {
    rfc6381_codec::Codec::Mp4a(Mp4a::Mpeg4Audio {
        audio_object_type: Some(audio_object_type),
    })
    .to_string()
}

/// Channels of an MPEG-4 channelConfiguration (0: given elsewhere, unknown here).
fn aac_channels(channel_configuration: u8) -> Option<u8> {
    match channel_configuration {
        1..=6 => Some(channel_configuration),
        7 => Some(8),
        _ => None,
    }
}

/// AAC in ADTS. ADTS carries only the core object type (Main, LC, SSR, LTP): SBR and PS are
/// signalled implicitly inside the payload, so HE-AAC in ADTS is tagged by its core, `mp4a.40.2`,
/// as ffmpeg's HLS muxer does too.
fn adts(bytes: &[u8]) -> Option<Header> {
    if bytes.len() < 7 {
        return None; // AdtsHeader::from_bytes asserts on an empty buffer
    }
    let header = AdtsHeader::from_bytes(bytes).ok()?;
    Some(Header {
        codec: Codec::Aac,
        codecs_tag: mp4a_tag(header.audio_object_type()),
        sample_rate: header.sampling_frequency().freq(),
        channels: aac_channels(u8::from(header.channel_configuration())),
    })
}

/// AAC in LATM/LOAS (ISO/IEC 14496-3 1.7): the AudioSpecificConfig in the first StreamMuxConfig
/// of an AudioSyncStream frame. `None` for a frame that reuses an earlier config.
fn latm(bytes: &[u8]) -> std::io::Result<Option<Header>> {
    let mut r = BitReader::endian(bytes, BigEndian);
    if r.read::<11, u16>()? != 0x2b7 {
        return Ok(None);
    }
    r.skip(13)?; // audioMuxLengthBytes
    if r.read_bit()? {
        return Ok(None); // useSameStreamMux
    }
    let version = r.read_bit()?;
    if version {
        if r.read_bit()? {
            return Ok(None); // audioMuxVersionA: reserved
        }
        latm_value(&mut r)?; // taraBufferFullness
    }
    r.skip(1 + 6 + 4 + 3)?; // allStreamsSameTimeFraming, numSubFrames, numProgram, numLayer
    if version {
        latm_value(&mut r)?; // ascLen
    }
    let object_type = audio_object_type(&mut r)?;
    let mut sample_rate = sampling_frequency(&mut r)?;
    let mut channels = aac_channels(r.read::<4, u8>()?);
    if u8::from(object_type) == 5 || u8::from(object_type) == 29 {
        // Explicit SBR (HE-AAC) or SBR+PS (HE-AAC v2): the output rate follows.
        sample_rate = sampling_frequency(&mut r)?;
        if u8::from(object_type) == 29 {
            channels = Some(2);
        }
    }
    Ok(Some(Header {
        codec: Codec::AacLatm,
        codecs_tag: mp4a_tag(object_type),
        sample_rate,
        channels,
    }))
}

fn latm_value<R: BitRead>(r: &mut R) -> std::io::Result<u32> {
    let bytes = r.read::<2, u32>()?;
    let mut value = 0u32;
    for _ in 0..=bytes {
        value = (value << 8) | r.read::<8, u32>()?;
    }
    Ok(value)
}

fn audio_object_type<R: BitRead>(r: &mut R) -> std::io::Result<AudioObjectType> {
    let mut value = r.read::<5, u8>()?;
    if value == 31 {
        value = 32 + r.read::<6, u8>()?;
    }
    AudioObjectType::try_from(value)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "audio object type"))
}

fn sampling_frequency<R: BitRead>(r: &mut R) -> std::io::Result<Option<u32>> {
    let index = r.read::<4, u8>()?;
    if index == 0x0f {
        return Ok(Some(r.read::<24, u32>()?));
    }
    Ok(SamplingFrequencyIndex::try_from(index)
        .ok()
        .and_then(|i| i.freq()))
}

/// AC-3 (ATSC A/52 5.3) or E-AC-3 (Annex E), told apart by bsid.
fn ac3_family(bytes: &[u8]) -> std::io::Result<Option<Header>> {
    const ACMOD_CHANNELS: [u8; 8] = [2, 1, 2, 3, 3, 4, 4, 5];
    let mut r = BitReader::endian(bytes, BigEndian);
    if r.read::<16, u16>()? != 0x0b77 {
        return Ok(None);
    }
    let Some(&bsid_byte) = bytes.get(5) else {
        return Ok(None);
    };
    let bsid = bsid_byte >> 3;
    let (codec, sample_rate, acmod, lfe) = if bsid <= 10 {
        r.skip(16)?; // crc1
        let fscod = r.read::<2, u8>()?;
        r.skip(6 + 5 + 3)?; // frmsizecod, bsid, bsmod
        let acmod = r.read::<3, u8>()?;
        let mixes = [
            acmod & 1 != 0 && acmod != 1, // cmixlev
            acmod & 4 != 0,               // surmixlev
            acmod == 2,                   // dsurmod
        ];
        r.skip(2 * mixes.iter().filter(|&&m| m).count() as u32)?;
        let rate = [48_000, 44_100, 32_000].get(usize::from(fscod)).copied();
        (Codec::Ac3, rate, acmod, r.read_bit()?)
    } else if bsid <= 16 {
        r.skip(2 + 3 + 11)?; // strmtyp, substreamid, frmsiz
        let fscod = r.read::<2, u8>()?;
        let low_rate = r.read::<2, u8>()?; // fscod2, or numblkscod when fscod != 3
        let rate = match fscod {
            3 => [24_000, 22_050, 16_000].get(usize::from(low_rate)).copied(),
            _ => [48_000, 44_100, 32_000].get(usize::from(fscod)).copied(),
        };
        let acmod = r.read::<3, u8>()?;
        (Codec::Eac3, rate, acmod, r.read_bit()?)
    } else {
        return Ok(None);
    };
    let Some(sample_rate) = sample_rate else {
        return Ok(None);
    };
    Ok(Some(Header {
        codec,
        codecs_tag: if codec == Codec::Ac3 { "ac-3" } else { "ec-3" }.to_owned(),
        sample_rate: Some(sample_rate),
        channels: Some(ACMOD_CHANNELS[usize::from(acmod & 7)] + u8::from(lfe)),
    }))
}

/// MPEG-1/2/2.5 audio layers I–III (ISO/IEC 11172-3 2.4.2.3): tagged with the MPEG-4 audio
/// object types Layer-1/2/3 (32, 33, 34), as ffmpeg's HLS muxer writes MP2 and MP3 and
/// Apple's HLS authoring spec writes MP3.
fn mpeg_audio(bytes: &[u8]) -> Option<Header> {
    let [0xff, b1, b2, b3, ..] = *bytes else {
        return None;
    };
    if b1 & 0xe0 != 0xe0 {
        return None;
    }
    let version = (b1 >> 3) & 3; // 0: MPEG-2.5, 1: reserved, 2: MPEG-2, 3: MPEG-1
    let object_type = match (b1 >> 1) & 3 {
        3 => AudioObjectType::LAYER1,
        2 => AudioObjectType::LAYER2,
        1 => AudioObjectType::LAYER3,
        _ => return None,
    };
    let bitrate_index = b2 >> 4;
    let base_rate = [44_100, 48_000, 32_000].get(usize::from((b2 >> 2) & 3))?;
    let sample_rate = match version {
        3 => *base_rate,
        2 => base_rate / 2,
        0 => base_rate / 4,
        _ => return None,
    };
    if bitrate_index == 0x0f {
        return None;
    }
    Some(Header {
        codec: Codec::MpegAudio,
        codecs_tag: mp4a_tag(object_type),
        sample_rate: Some(sample_rate),
        channels: Some(if b3 >> 6 == 3 { 1 } else { 2 }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adts_lc_stereo_48k() {
        // profile 1 (LC), sampling index 3 (48 kHz), channel configuration 2, frame length 0x100.
        let header = [0xff, 0xf1, 0x4c, 0x80, 0x20, 0x1f, 0xfc, 0x00];
        let parsed = adts(&header).expect("ADTS header");
        assert_eq!(parsed.codecs_tag, "mp4a.40.2");
        assert_eq!(
            (parsed.sample_rate, parsed.channels),
            (Some(48_000), Some(2))
        );
    }

    #[test]
    fn latm_with_explicit_sbr_is_he_aac() {
        // LOAS sync + length, useSameStreamMux 0, audioMuxVersion 0, allStreamsSameTimeFraming 1,
        // numSubFrames 0, numProgram 0, numLayer 0, then AudioSpecificConfig: AOT 5 (SBR),
        // sampling index 6 (24 kHz), channels 2, extension sampling index 3 (48 kHz).
        let mut w = bitstream_io::BitWriter::endian(Vec::new(), BigEndian);
        use bitstream_io::BitWrite;
        let fields: [(u32, u32); 12] = [
            (11, 0x2b7),
            (13, 20),
            (1, 0),
            (1, 0),
            (1, 1),
            (6, 0),
            (4, 0),
            (3, 0),
            (5, 5),
            (4, 6),
            (4, 2),
            (4, 3),
        ];
        for (bits, value) in fields {
            w.write_var(bits, value).expect("write");
        }
        w.byte_align().expect("align");
        let bytes = w.into_writer();
        let parsed = latm(&bytes).ok().flatten().expect("LATM config");
        assert_eq!(parsed.codecs_tag, "mp4a.40.5");
        assert_eq!(
            (parsed.sample_rate, parsed.channels),
            (Some(48_000), Some(2))
        );
    }

    #[test]
    fn e_ac3_is_told_from_ac3_by_bsid() {
        // syncword, strmtyp 0, substreamid 0, frmsiz 0x17f, fscod 0 (48 kHz), numblkscod 3,
        // acmod 7 (3/2), lfeon 1, bsid 16.
        let header = [0x0b, 0x77, 0x01, 0x7f, 0x3f, 0x80, 0x00, 0x00];
        let parsed = ac3_family(&header).ok().flatten().expect("E-AC-3 header");
        assert_eq!(parsed.codec, Codec::Eac3);
        assert_eq!(parsed.codecs_tag, "ec-3");
        assert_eq!(
            (parsed.sample_rate, parsed.channels),
            (Some(48_000), Some(6))
        );
    }

    #[test]
    fn mp3_frame_header() {
        // MPEG-1 layer III, 128 kbit/s, 44.1 kHz, joint stereo.
        let parsed = mpeg_audio(&[0xff, 0xfb, 0x90, 0x64]).expect("MPEG audio header");
        assert_eq!(parsed.codecs_tag, "mp4a.40.34");
        assert_eq!(
            (parsed.sample_rate, parsed.channels),
            (Some(44_100), Some(2))
        );
    }

    #[test]
    fn junk_is_no_header() {
        for codec in [Codec::Aac, Codec::AacLatm, Codec::Ac3, Codec::MpegAudio] {
            assert_eq!(read_header(codec, &[]), None);
            assert_eq!(read_header(codec, &[0xff; 3]), None);
            assert_eq!(read_header(codec, &[0x12; HEADER_BYTES]), None);
        }
    }
}
