//! fMP4 / CMAF: remuxes the MPEG-TS segments the segmenter cuts into CMAF fragments
//! (`moof` + `mdat`) and their init segments (`ftyp` + `moov`), for H.264 video and AAC audio.
//!
//! Owns the remux of one feed, segment by segment ([`Remuxer`]): which tracks there are, when
//! the init segment changes (a new SPS, PPS or AudioSpecificConfig gives a new one, numbered
//! `n` as in `NAME-init-{n}.mp4`), and the fragment sequence numbers. The parts: [`demux`]
//! (TS bytes → PES, reusing the `media` modules' framing, PSI and PES code), [`avc`] (Annex B →
//! samples, SPS/PPS), [`aac`] (ADTS → raw frames, AudioSpecificConfig), [`timing`] (decode
//! times, durations, composition offsets across segments) and [`boxes`] (the boxes, written by
//! mp4-atom). Pure: bytes in, bytes out, no I/O.
//!
//! Not yet: HEVC, AC-3/E-AC-3, MPEG audio (their sample entries exist in mp4-atom: a new
//! [`boxes::TrackConfig`] variant and an access-unit splitter each), in-band parameter-set
//! changes within one segment.

pub mod aac;
pub mod avc;
pub mod boxes;
pub mod demux;
pub mod timing;

use boxes::{SampleInfo, TrackConfig, TrackRun};
use timing::{AudioClock, VideoClock};

use super::stream_info::StreamInfoError;

/// Why a segment could not be remuxed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fmp4Error {
    /// No TS packet in the bytes.
    #[error("not an MPEG-TS segment")]
    NotTransportStream,
    /// No usable PAT/PMT.
    #[error("no program: {0}")]
    Program(#[source] StreamInfoError),
    /// Neither H.264 nor AAC in the program.
    #[error("no H.264 or AAC stream to put in fMP4 (other codecs are not supported yet)")]
    NoSupportedStream,
    /// The streams carried no sample, or no codec configuration.
    #[error("no {0} samples with a codec configuration in the segment")]
    NoSamples(&'static str),
    /// Timestamps before zero on the unwrapped timeline.
    #[error("decode time before zero")]
    NegativeTime,
    /// A fragment past the 32-bit offsets of `trun`.
    #[error("fragment too large")]
    TooLarge,
    /// mp4-atom refused a box.
    #[error("encoding boxes: {0}")]
    Encode(String),
}

/// One remuxed segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remuxed {
    /// A new init segment, to store before any playlist names this fragment: on the first
    /// segment and whenever the codec configuration changed.
    pub init: Option<Vec<u8>>,
    /// The number `n` of the init segment this fragment needs (0 first, +1 per change).
    pub init_index: u64,
    /// `moof` + `mdat`.
    pub fragment: Vec<u8>,
}

/// The remuxer of one feed: keeps the timelines, the current init and the fragment numbers.
#[derive(Debug, Default)]
pub struct Remuxer {
    video: VideoClock,
    audio: AudioClock,
    init: Option<Vec<TrackConfig>>,
    init_index: u64,
    sequence: u32,
}

impl Remuxer {
    /// A remuxer that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Remuxes one TS segment (PAT/PMT first, starting at a keyframe). `discontinuity` starts
    /// new timelines; `next_video_dts` is the raw first DTS of the next segment, when known (it
    /// gives the last video sample its exact duration).
    pub fn remux(
        &mut self,
        ts: &[u8],
        discontinuity: bool,
        next_video_dts: Option<u64>,
    ) -> Result<Remuxed, Fmp4Error> {
        let demuxed = demux::demux(ts)?;
        if discontinuity {
            self.video.reset();
            self.audio.reset();
        }
        let previous = self.init.clone().unwrap_or_default();
        let mut configs = Vec::new();
        let mut runs = Vec::new();
        if let Some(video) = &demuxed.video {
            let old = previous
                .iter()
                .find(|c| matches!(c, TrackConfig::Avc { .. }));
            let (config, run) = self.video_run(video, old, next_video_dts)?;
            configs.push(config);
            runs.push(run);
        }
        if let Some(audio) = &demuxed.audio {
            let old = previous
                .iter()
                .find(|c| matches!(c, TrackConfig::Aac { .. }));
            let (config, run) = self.audio_run(audio, old)?;
            configs.push(config);
            runs.push(run);
        }
        for (index, run) in runs.iter_mut().enumerate() {
            run.track_id = u32::try_from(index + 1).unwrap_or(u32::MAX);
        }
        let init = match &self.init {
            Some(current) if *current == configs => None,
            Some(_) => {
                self.init_index += 1;
                Some(boxes::init_segment(&configs)?)
            }
            None => Some(boxes::init_segment(&configs)?),
        };
        self.init = Some(configs);
        self.sequence = self.sequence.wrapping_add(1);
        Ok(Remuxed {
            init,
            init_index: self.init_index,
            fragment: boxes::fragment(self.sequence, &runs)?,
        })
    }

    fn video_run(
        &mut self,
        video: &demux::StreamPes,
        old: Option<&TrackConfig>,
        next_dts: Option<u64>,
    ) -> Result<(TrackConfig, TrackRun), Fmp4Error> {
        let mut sps = None;
        let mut pps = None;
        let mut stamps = Vec::new();
        let mut samples = Vec::new();
        for pes in &video.pes {
            let unit = avc::access_unit(pes.data());
            sps = sps.or(unit.sps);
            pps = pps.or(unit.pps);
            if !unit.sample.data.is_empty() {
                stamps.push((pes.pts, pes.dts));
                samples.push(unit.sample);
            }
        }
        let config = match (sps, pps, old) {
            (Some(sps), Some(pps), _) => TrackConfig::Avc {
                size: avc::sps_dimensions(&sps).unwrap_or((0, 0)),
                sps,
                pps,
            },
            (_, _, Some(old)) => old.clone(),
            _ => return Err(Fmp4Error::NoSamples("H.264")),
        };
        if samples.is_empty() {
            return Err(Fmp4Error::NoSamples("H.264"));
        }
        let timing = self
            .video
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
            run.samples.push(SampleInfo {
                duration,
                size: u32::try_from(sample.data.len()).map_err(|_| Fmp4Error::TooLarge)?,
                composition_offset: offset,
                sync: sample.idr,
            });
            run.data.push(sample.data);
        }
        Ok((config, run))
    }

    fn audio_run(
        &mut self,
        audio: &demux::StreamPes,
        old: Option<&TrackConfig>,
    ) -> Result<(TrackConfig, TrackRun), Fmp4Error> {
        let mut config = None;
        let mut first_pts = None;
        let mut frames = Vec::new();
        for pes in &audio.pes {
            let parsed = aac::adts_frames(pes.data());
            if parsed.frames.is_empty() {
                continue;
            }
            first_pts = first_pts.or(Some(pes.pts));
            config = config.or(parsed.config);
            frames.extend(parsed.frames);
        }
        let config = match (config.and_then(|c| Some((c, c.sample_rate()?))), old) {
            (Some((c, sample_rate)), _) => TrackConfig::Aac {
                asc: c.audio_specific_config(),
                sample_rate,
                channels: c.channel_config,
            },
            (None, Some(old)) => old.clone(),
            (None, None) => return Err(Fmp4Error::NoSamples("AAC")),
        };
        let Some(pts) = first_pts else {
            return Err(Fmp4Error::NoSamples("AAC"));
        };
        let base = self
            .audio
            .base(
                pts,
                config.timescale(),
                frames.len(),
                aac::SAMPLES_PER_FRAME,
            )
            .ok_or(Fmp4Error::NegativeTime)?;
        let mut run = TrackRun {
            track_id: 0,
            base_decode_time: base,
            samples: Vec::with_capacity(frames.len()),
            data: Vec::with_capacity(frames.len()),
            video: false,
        };
        for frame in frames {
            run.samples.push(SampleInfo {
                duration: aac::SAMPLES_PER_FRAME,
                size: u32::try_from(frame.len()).map_err(|_| Fmp4Error::TooLarge)?,
                composition_offset: 0,
                sync: true,
            });
            run.data.push(frame);
        }
        Ok((config, run))
    }
}

#[cfg(test)]
mod tests;
