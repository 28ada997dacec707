//! Boxes: the CMAF init segment (`ftyp` + `moov`) and fragments (`moof` + `mdat`), built with
//! mp4-atom's box types and encoder.
//!
//! Owns the box layout only: which boxes, which fields, and the `trun` data offsets. Sample
//! entries are [`super::entries`]'s; samples and timing come in ready from [`super::video`],
//! [`super::audio`] and [`super::timing`].

use mp4_atom::{
    Ac3SpecificBox, Atom, Dinf, Dref, Ec3SpecificBox, Encode, FourCC, Ftyp, Hdlr, Header, Hvcc,
    Mdat, Mdhd, Mdia, Mfhd, Minf, Moof, Moov, Mvex, Mvhd, Smhd, Stbl, Stco, Stsd, Tfdt, Tfhd, Tkhd,
    Traf, Trak, Trex, Trun, TrunEntry, TrunSamples, Url, Vmhd,
};

use super::super::codec::Codec as MediaCodec;
use super::{Fmp4Error, entries};

/// `sample_flags` of a sync sample: depends on no other (ISO/IEC 14496-12 8.8.3.1).
pub const SYNC_SAMPLE: u32 = 0x0200_0000;
/// `sample_flags` of a non-sync sample: depends on others, `sample_is_non_sync_sample`.
pub const NON_SYNC_SAMPLE: u32 = 0x0101_0000;
/// Timescale of the video track: the MPEG-TS clock, so DTS and PTS carry over exactly.
pub const VIDEO_TIMESCALE: u32 = 90_000;

/// What the sample entry of a track says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackConfig {
    /// H.264: SPS and PPS (NAL units, header byte included) and the displayed size.
    Avc {
        /// Sequence parameter set.
        sps: Vec<u8>,
        /// Picture parameter set.
        pps: Vec<u8>,
        /// Width and height in pixels.
        size: (u32, u32),
    },
    /// HEVC: the `hvcC` record (VPS, SPS, PPS inside) and the displayed size.
    Hevc {
        /// The decoder configuration record.
        hvcc: Hvcc,
        /// Width and height in pixels.
        size: (u32, u32),
    },
    /// AAC: the AudioSpecificConfig, sample rate and channel configuration.
    Aac {
        /// AudioSpecificConfig bytes.
        asc: [u8; 2],
        /// Sampling rate in Hz (the track's timescale).
        sample_rate: u32,
        /// channel_configuration.
        channels: u8,
    },
    /// AC-3: the `dac3` fields.
    Ac3 {
        /// `dac3`.
        dac3: Ac3SpecificBox,
        /// Sampling rate in Hz (the track's timescale).
        sample_rate: u32,
        /// Channels, LFE included.
        channels: u8,
    },
    /// E-AC-3: the `dec3` fields.
    Eac3 {
        /// `dec3`.
        dec3: Ec3SpecificBox,
        /// Sampling rate in Hz (the track's timescale).
        sample_rate: u32,
        /// Channels of independent substream 0, LFE included.
        channels: u8,
    },
    /// MPEG-1/2 audio (layers I–III) in `mp4a`.
    MpegAudio {
        /// esds objectTypeIndication (0x6B MPEG-1, 0x69 MPEG-2).
        object_type: u8,
        /// Sampling rate in Hz (the track's timescale).
        sample_rate: u32,
        /// 1 or 2.
        channels: u8,
        /// Samples per frame (384, 1152 or 576).
        frame_samples: u32,
    },
}

impl TrackConfig {
    /// The track's timescale.
    pub fn timescale(&self) -> u32 {
        match self {
            TrackConfig::Avc { .. } | TrackConfig::Hevc { .. } => VIDEO_TIMESCALE,
            TrackConfig::Aac { sample_rate, .. }
            | TrackConfig::Ac3 { sample_rate, .. }
            | TrackConfig::Eac3 { sample_rate, .. }
            | TrackConfig::MpegAudio { sample_rate, .. } => *sample_rate,
        }
    }

    /// The codec, as [`crate::media::codec`] names it.
    pub fn codec(&self) -> MediaCodec {
        match self {
            TrackConfig::Avc { .. } => MediaCodec::H264,
            TrackConfig::Hevc { .. } => MediaCodec::Hevc,
            TrackConfig::Aac { .. } => MediaCodec::Aac,
            TrackConfig::Ac3 { .. } => MediaCodec::Ac3,
            TrackConfig::Eac3 { .. } => MediaCodec::Eac3,
            TrackConfig::MpegAudio { .. } => MediaCodec::MpegAudio,
        }
    }

    /// Samples per audio frame (each audio sample lasts this long); 0 for video.
    pub fn frame_samples(&self) -> u32 {
        match self {
            TrackConfig::Avc { .. } | TrackConfig::Hevc { .. } => 0,
            TrackConfig::Aac { .. } => super::aac::SAMPLES_PER_FRAME,
            TrackConfig::Ac3 { .. } | TrackConfig::Eac3 { .. } => super::ac3::SAMPLES_PER_FRAME,
            TrackConfig::MpegAudio { frame_samples, .. } => *frame_samples,
        }
    }

    /// Whether this is a video track.
    pub fn is_video(&self) -> bool {
        matches!(self, TrackConfig::Avc { .. } | TrackConfig::Hevc { .. })
    }
}

/// One sample of a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleInfo {
    /// Duration in the track's timescale.
    pub duration: u32,
    /// Bytes in `mdat`.
    pub size: u32,
    /// PTS − DTS in the track's timescale (signed: version 1 `trun`).
    pub composition_offset: i32,
    /// A sync sample (IDR, IRAP); audio samples are all sync.
    pub sync: bool,
}

/// One track's part of a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackRun<'a> {
    /// Track id (1-based, as in the init segment).
    pub track_id: u32,
    /// `tfdt`: decode time of the first sample, in the track's timescale.
    pub base_decode_time: u64,
    /// The samples.
    pub samples: Vec<SampleInfo>,
    /// Each sample's bytes, in sample order (written into the `mdat` as they are, never
    /// concatenated first).
    pub data: Vec<SampleData<'a>>,
    /// Whether the track is video (per-sample flags and composition offsets).
    pub video: bool,
}

impl TrackRun<'_> {
    /// Bytes of all its samples.
    pub fn data_len(&self) -> usize {
        self.data.iter().map(SampleData::len).sum()
    }
}

/// One sample's bytes: NAL units borrowed from the PES they came in, each written behind its
/// 4-byte length (ISO/IEC 14496-15), or bytes of its own (audio frames).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleData<'a> {
    /// Video: NAL units without start codes.
    Nals(Vec<&'a [u8]>),
    /// Audio: the sample as it is written.
    Bytes(Vec<u8>),
}

impl SampleData<'_> {
    /// Bytes in the `mdat`.
    pub fn len(&self) -> usize {
        match self {
            SampleData::Nals(nals) => nals.iter().map(|nal| 4 + nal.len()).sum(),
            SampleData::Bytes(bytes) => bytes.len(),
        }
    }

    /// Whether it holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the sample as it goes into the `mdat`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            SampleData::Nals(nals) => {
                for nal in nals {
                    let len = u32::try_from(nal.len()).unwrap_or(u32::MAX);
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(nal);
                }
            }
            SampleData::Bytes(bytes) => out.extend_from_slice(bytes),
        }
    }
}

fn encode(atom: &impl Encode, out: &mut Vec<u8>) -> Result<(), Fmp4Error> {
    atom.encode(out)
        .map_err(|e| Fmp4Error::Encode(e.to_string()))
}

/// The init segment for tracks numbered 1, 2, … in the order given.
pub fn init_segment(tracks: &[TrackConfig]) -> Result<Vec<u8>, Fmp4Error> {
    let ftyp = Ftyp {
        major_brand: FourCC::new(b"iso6"),
        minor_version: 0,
        compatible_brands: vec![
            FourCC::new(b"iso6"),
            FourCC::new(b"cmfc"),
            FourCC::new(b"mp41"),
        ],
    };
    let mut trak = Vec::new();
    let mut trex = Vec::new();
    for (index, config) in tracks.iter().enumerate() {
        let track_id = u32::try_from(index + 1).unwrap_or(u32::MAX);
        trak.push(track(track_id, config)?);
        trex.push(Trex {
            track_id,
            default_sample_description_index: 1,
            ..Default::default()
        });
    }
    let moov = Moov {
        mvhd: Mvhd {
            timescale: 1000,
            rate: 1.into(),
            volume: 1.into(),
            next_track_id: u32::try_from(tracks.len() + 1).unwrap_or(u32::MAX),
            ..Default::default()
        },
        mvex: Some(Mvex { mehd: None, trex }),
        trak,
        ..Default::default()
    };
    let mut out = Vec::new();
    encode(&ftyp, &mut out)?;
    encode(&moov, &mut out)?;
    Ok(out)
}

fn track(track_id: u32, config: &TrackConfig) -> Result<Trak, Fmp4Error> {
    let video = config.is_video();
    let handler = if video { b"vide" } else { b"soun" };
    let (codec, (width, height)) = entries::sample_entry(track_id, config)?;
    Ok(Trak {
        tkhd: Tkhd {
            track_id,
            enabled: true,
            in_movie: true,
            volume: if video { 0.into() } else { 1.into() },
            width: width.into(),
            height: height.into(),
            ..Default::default()
        },
        mdia: Mdia {
            mdhd: Mdhd {
                timescale: config.timescale(),
                language: "und".into(),
                ..Default::default()
            },
            hdlr: Hdlr {
                handler: FourCC::new(handler),
                name: if video {
                    "VideoHandler"
                } else {
                    "SoundHandler"
                }
                .into(),
            },
            minf: Minf {
                vmhd: video.then(Vmhd::default),
                smhd: (!video).then(Smhd::default),
                dinf: Dinf {
                    dref: Dref {
                        entries: vec![Url::default().into()],
                    },
                },
                stbl: Stbl {
                    stsd: Stsd {
                        codecs: vec![codec],
                    },
                    stco: Some(Stco::default()),
                    ..Default::default()
                },
                ..Default::default()
            },
        },
        ..Default::default()
    })
}

/// A fragment: one `moof` with a `traf` per track, then one `mdat` holding the tracks' data in
/// the same order.
pub fn fragment(sequence_number: u32, runs: &[TrackRun]) -> Result<Vec<u8>, Fmp4Error> {
    let mut moof = Moof {
        mfhd: Mfhd { sequence_number },
        traf: runs.iter().map(traf).collect(),
    };
    // The data offsets count from the start of the moof (default-base-is-moof), so they depend
    // on its encoded size, which the offsets' values do not change.
    let mut probe = Vec::new();
    encode(&moof, &mut probe)?;
    let header = mdat_header_len(runs.iter().map(TrackRun::data_len).sum());
    let mut offset = probe.len() + header;
    for (traf, run) in moof.traf.iter_mut().zip(runs) {
        if let Some(trun) = traf.trun.first_mut() {
            trun.data_offset = Some(i32::try_from(offset).map_err(|_| Fmp4Error::TooLarge)?);
        }
        offset += run.data_len();
    }
    let mut out = Vec::with_capacity(offset);
    encode(&moof, &mut out)?;
    // mp4-atom's `Mdat` encodes its payload one byte at a time (its generic slice encoding),
    // which was half of the remuxer's time: the header is encoded by mp4-atom, the samples
    // are appended whole.
    let data_len = runs.iter().map(TrackRun::data_len).sum();
    encode(
        &Header {
            kind: Mdat::KIND,
            size: Some(data_len),
        },
        &mut out,
    )?;
    for sample in runs.iter().flat_map(|run| &run.data) {
        sample.write_to(&mut out);
    }
    Ok(out)
}

/// Bytes of the `mdat` header mp4-atom writes for `len` bytes of data (a 64-bit size past
/// 4 GiB).
fn mdat_header_len(len: usize) -> usize {
    if len + 8 > u32::MAX as usize { 16 } else { 8 }
}

fn traf(run: &TrackRun) -> Traf {
    let entries: Vec<TrunEntry> = run
        .samples
        .iter()
        .map(|s| TrunEntry {
            duration: Some(s.duration),
            size: Some(s.size),
            flags: run
                .video
                .then_some(if s.sync { SYNC_SAMPLE } else { NON_SYNC_SAMPLE }),
            cts: run.video.then_some(i64::from(s.composition_offset)),
        })
        .collect();
    Traf {
        tfhd: Tfhd {
            track_id: run.track_id,
            default_base_is_moof: true,
            ..Default::default()
        },
        tfdt: Some(Tfdt {
            base_media_decode_time: run.base_decode_time,
        }),
        trun: vec![Trun {
            data_offset: Some(0),
            samples: TrunSamples::Explicit(entries),
        }],
        ..Default::default()
    }
}

/// The box types in `bytes`, top level only (for tests).
#[cfg(test)]
pub(crate) fn top_level_kinds(bytes: &[u8]) -> Vec<FourCC> {
    let mut cursor = std::io::Cursor::new(bytes);
    let mut kinds = Vec::new();
    while let Ok(any) = <mp4_atom::Any as mp4_atom::Decode>::decode(&mut cursor) {
        kinds.push(any.kind());
    }
    kinds
}

/// `tfdt` of each track of a fragment (`moof` first), in track order (for tests).
#[cfg(test)]
pub(crate) fn decode_times(fragment: &[u8]) -> Vec<u64> {
    let mut cursor = std::io::Cursor::new(fragment);
    let moof = <Moof as mp4_atom::ReadFrom>::read_from(&mut cursor).expect("a moof");
    (moof.traf.iter())
        .filter_map(|traf| traf.tfdt.as_ref().map(|t| t.base_media_decode_time))
        .collect()
}

/// The `moov` of an init segment (`ftyp` first) (for tests).
#[cfg(test)]
pub(crate) fn init_moov(init: &[u8]) -> Moov {
    let mut cursor = std::io::Cursor::new(init);
    let _ftyp = <Ftyp as mp4_atom::Decode>::decode(&mut cursor).expect("ftyp");
    <Moov as mp4_atom::Decode>::decode(&mut cursor).expect("moov")
}
