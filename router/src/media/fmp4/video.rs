//! Video track of a fragment: the PES packets of the H.264 or HEVC stream → samples, their
//! timing and the sample entry's configuration.
//!
//! Owns what both codecs share: length-prefixed samples, the parameter sets a segment carries
//! (the first of each kind is the one put in the sample entry; when a segment has none, the
//! previous configuration of the same codec stays), and the run of samples with their decode
//! times ([`super::timing::VideoClock`]). NAL unit types are [`super::avc`]'s and
//! [`super::hevc`]'s.

use super::super::codec::Codec;
use super::boxes::{SampleData, SampleInfo, TrackConfig, TrackRun};
use super::demux::StreamPes;
use super::timing::VideoClock;
use super::{Fmp4Error, avc, hevc};

/// One access unit as an MP4 sample.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VideoSample<'a> {
    /// Its NAL units (access unit delimiters removed), borrowed from the PES; each is written
    /// behind a 4-byte length.
    pub nals: Vec<&'a [u8]>,
    /// A sync sample: an IDR picture (H.264), an IRAP picture (HEVC: IDR, CRA, BLA).
    pub sync: bool,
}

impl VideoSample<'_> {
    /// The sample as written in the `mdat` (4-byte lengths, then the NAL units).
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        SampleData::Nals(self.nals.clone()).write_to(&mut out);
        out
    }
}

/// Parameter sets (NAL units, header included).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParamSets {
    /// Video parameter set (HEVC only).
    pub vps: Option<Vec<u8>>,
    /// Sequence parameter set.
    pub sps: Option<Vec<u8>>,
    /// Picture parameter set.
    pub pps: Option<Vec<u8>>,
}

impl ParamSets {
    /// Keeps the sets already found, takes the others from `later`.
    fn fill_from(&mut self, later: ParamSets) {
        self.vps = self.vps.take().or(later.vps);
        self.sps = self.sps.take().or(later.sps);
        self.pps = self.pps.take().or(later.pps);
    }
}

/// What one access unit carried.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VideoUnit<'a> {
    /// The sample.
    pub sample: VideoSample<'a>,
    /// The last parameter set of each kind in the unit.
    pub params: ParamSets,
}

/// The codec's name in errors.
fn name(codec: Codec) -> &'static str {
    match codec {
        Codec::Hevc => "HEVC",
        _ => "H.264",
    }
}

/// The video track's configuration and samples for one segment. `old` is the previous
/// segment's configuration of this track; `next_dts` the raw first DTS of the next segment.
pub fn track<'a>(
    clock: &mut VideoClock,
    video: &'a StreamPes,
    old: Option<&TrackConfig>,
    next_dts: Option<u64>,
) -> Result<(TrackConfig, TrackRun<'a>), Fmp4Error> {
    let codec = video.stream.codec;
    let mut params = ParamSets::default();
    let mut stamps = Vec::new();
    let mut samples = Vec::new();
    for pes in &video.pes {
        let unit = match codec {
            Codec::Hevc => hevc::access_unit(pes.data()),
            _ => avc::access_unit(pes.data()),
        };
        params.fill_from(unit.params);
        if !unit.sample.nals.is_empty() {
            stamps.push((pes.pts, pes.dts));
            samples.push(unit.sample);
        }
    }
    let config = match codec {
        Codec::Hevc => hevc::config(&params),
        _ => avc::config(&params),
    };
    let config = config
        .or_else(|| old.filter(|o| o.codec() == codec).cloned())
        .ok_or(Fmp4Error::NoSamples(name(codec)))?;
    if samples.is_empty() {
        return Err(Fmp4Error::NoSamples(name(codec)));
    }
    let timing = clock
        .time(&stamps, next_dts)
        .ok_or(Fmp4Error::NegativeTime)?;
    let mut run = TrackRun {
        track_id: 0,
        base_decode_time: timing.base,
        samples: Vec::with_capacity(samples.len()),
        data: Vec::with_capacity(samples.len()),
        video: true,
    };
    for ((sample, duration), offset) in samples
        .into_iter()
        .zip(timing.durations)
        .zip(timing.offsets)
    {
        let data = SampleData::Nals(sample.nals);
        run.samples.push(SampleInfo {
            duration,
            size: u32::try_from(data.len()).map_err(|_| Fmp4Error::TooLarge)?,
            composition_offset: offset,
            sync: sample.sync,
        });
        run.data.push(data);
    }
    Ok((config, run))
}
