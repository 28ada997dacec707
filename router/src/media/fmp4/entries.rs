//! Sample entries: a track's [`TrackConfig`] → the `stsd` entry mp4-atom encodes (`avc1` +
//! `avcC`, `hvc1` + `hvcC`, `mp4a` + `esds`, `ac-3` + `dac3`, `ec-3` + `dec3`).
//!
//! Owns the entry fields only. MPEG audio goes in `mp4a` with the MPEG-1/2 audio object types
//! (see [`super::mpa`]) rather than QuickTime's `.mp3`: ffmpeg's MP4 muxer writes it so, and
//! `.mp3` carries layer III only.

use mp4_atom::{Ac3, Audio, Avc1, Avcc, Codec, Eac3, Esds, Hvc1, Mp4a, Visual, esds};

use super::Fmp4Error;
use super::boxes::TrackConfig;

/// esds streamType of audio (ISO/IEC 14496-1 table 6).
const AUDIO_STREAM: u8 = 5;
/// esds objectTypeIndication of MPEG-4 audio (AAC).
const OBJECT_TYPE_MPEG4_AUDIO: u8 = 0x40;

fn visual(size: (u32, u32)) -> Visual {
    Visual {
        data_reference_index: 1,
        width: u16::try_from(size.0).unwrap_or(u16::MAX),
        height: u16::try_from(size.1).unwrap_or(u16::MAX),
        ..Default::default()
    }
}

fn audio(channels: u8, sample_rate: u32) -> Audio {
    Audio {
        data_reference_index: 1,
        channel_count: u16::from(channels),
        sample_size: 16,
        // 16.16 fixed point: rates past 65535 Hz do not fit (the timescale has the real one).
        sample_rate: u16::try_from(sample_rate).unwrap_or(0).into(),
    }
}

fn mp4a(
    track_id: u32,
    channels: u8,
    sample_rate: u32,
    object_type_indication: u8,
    dec_specific: Option<esds::DecoderSpecific>,
) -> Mp4a {
    Mp4a {
        audio: audio(channels, sample_rate),
        esds: Esds {
            es_desc: esds::EsDescriptor {
                es_id: u16::try_from(track_id).unwrap_or(0),
                dec_config: esds::DecoderConfig {
                    object_type_indication,
                    stream_type: AUDIO_STREAM,
                    dec_specific,
                    ..Default::default()
                },
                ..Default::default()
            },
        },
        btrt: None,
        taic: None,
    }
}

/// The sample entry of track `track_id`, and the displayed size for `tkhd` (0 × 0 for audio).
pub fn sample_entry(track_id: u32, config: &TrackConfig) -> Result<(Codec, (u16, u16)), Fmp4Error> {
    let entry = match config {
        TrackConfig::Avc { sps, pps, size } => {
            let avcc = Avcc::new(sps, pps).map_err(|e| Fmp4Error::Encode(e.to_string()))?;
            let visual = visual(*size);
            let dims = (visual.width, visual.height);
            return Ok((
                Codec::from(Avc1 {
                    visual,
                    avcc,
                    ..Default::default()
                }),
                dims,
            ));
        }
        TrackConfig::Hevc { hvcc, size } => {
            let visual = visual(*size);
            let dims = (visual.width, visual.height);
            return Ok((
                Codec::from(Hvc1 {
                    visual,
                    hvcc: hvcc.clone(),
                    ..Default::default()
                }),
                dims,
            ));
        }
        TrackConfig::Aac {
            asc,
            sample_rate,
            channels,
        } => Codec::from(mp4a(
            track_id,
            *channels,
            *sample_rate,
            OBJECT_TYPE_MPEG4_AUDIO,
            Some(esds::DecoderSpecific {
                profile: asc[0] >> 3,
                freq_index: ((asc[0] & 0x07) << 1) | (asc[1] >> 7),
                chan_conf: (asc[1] >> 3) & 0x0f,
                raw: asc.to_vec(),
            }),
        )),
        TrackConfig::Ac3 {
            dac3,
            sample_rate,
            channels,
        } => Codec::from(Ac3 {
            audio: audio(*channels, *sample_rate),
            dac3: dac3.clone(),
        }),
        TrackConfig::Eac3 {
            dec3,
            sample_rate,
            channels,
        } => Codec::from(Eac3 {
            audio: audio(*channels, *sample_rate),
            dec3: dec3.clone(),
        }),
        TrackConfig::MpegAudio {
            object_type,
            sample_rate,
            channels,
            ..
        } => Codec::from(mp4a(track_id, *channels, *sample_rate, *object_type, None)),
    };
    Ok((entry, (0, 0)))
}
