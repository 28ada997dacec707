//! HEVC access units: Annex B → `hvc1` samples (4-byte length-prefixed NAL units), and the
//! `hvcC` record from the segment's VPS, SPS and PPS.
//!
//! Owns the HEVC NAL unit types (ITU-T H.265 table 7-1): sync samples are IRAP pictures
//! (BLA, IDR, CRA: types 16–23), access unit delimiters are dropped, and the parameter sets
//! stay in band as well as in `hvcC`, for the reason given in [`super::avc`] (ffmpeg's MP4
//! muxer does the same with `hvc1` when remuxing TS). The SPS fields the record needs are read
//! by [`crate::media::stream_info`]'s HEVC code (scuffle-h265); the record is mp4-atom's
//! [`mp4_atom::Hvcc`].

use std::ops::RangeInclusive;

use mp4_atom::{HvcCArray, Hvcc};

use super::super::stream_info::read_hevc_sps;
use super::avc::split_annex_b;
use super::boxes::TrackConfig;
use super::video::{ParamSets, VideoUnit};

const NAL_VPS: u8 = 32;
const NAL_SPS: u8 = 33;
const NAL_PPS: u8 = 34;
const NAL_AUD: u8 = 35;
/// BLA_W_LP … RSV_IRAP_VCL23.
const IRAP: RangeInclusive<u8> = 16..=23;

/// nal_unit_type from the first header byte.
fn nal_type(nal: &[u8]) -> u8 {
    (nal[0] >> 1) & 0x3f
}

/// Turns one PES payload (one access unit) into a sample.
pub fn access_unit(pes_payload: &[u8]) -> VideoUnit<'_> {
    let mut unit = VideoUnit::default();
    for nal in split_annex_b(pes_payload) {
        let kind = nal_type(nal);
        match kind {
            NAL_VPS => unit.params.vps = Some(nal.to_vec()),
            NAL_SPS => unit.params.sps = Some(nal.to_vec()),
            NAL_PPS => unit.params.pps = Some(nal.to_vec()),
            _ => {}
        }
        if kind != NAL_AUD {
            unit.sample.sync |= IRAP.contains(&kind);
            unit.sample.nals.push(nal);
        }
    }
    unit
}

/// The `hvc1` configuration from a segment's first VPS, SPS and PPS; `None` when one is missing
/// or the SPS does not parse. Profile, tier, level and constraint flags are the SPS's general
/// profile_tier_level; min_spatial_segmentation_idc, parallelismType, avgFrameRate and
/// constantFrameRate are 0 ("unknown", allowed by ISO/IEC 14496-15 8.3.3.1.2).
pub fn config(params: &ParamSets) -> Option<TrackConfig> {
    let (vps, sps, pps) = (
        params.vps.clone()?,
        params.sps.clone()?,
        params.pps.clone()?,
    );
    let facts = read_hevc_sps(&sps)?;
    let ptl = facts.general_ptl;
    let array = |nal_unit_type: u8, nal: Vec<u8>| HvcCArray {
        completeness: true,
        nal_unit_type,
        nalus: vec![nal],
    };
    let hvcc = Hvcc {
        configuration_version: 1,
        general_profile_space: ptl[0] >> 6,
        general_tier_flag: ptl[0] & 0x20 != 0,
        general_profile_idc: ptl[0] & 0x1f,
        general_profile_compatibility_flags: [ptl[1], ptl[2], ptl[3], ptl[4]],
        general_constraint_indicator_flags: [ptl[5], ptl[6], ptl[7], ptl[8], ptl[9], ptl[10]],
        general_level_idc: ptl[11],
        chroma_format_idc: facts.chroma_format_idc,
        bit_depth_luma_minus8: facts.bit_depth_luma_minus8,
        bit_depth_chroma_minus8: facts.bit_depth_chroma_minus8,
        num_temporal_layers: facts.max_sub_layers_minus1 + 1,
        temporal_id_nested: facts.temporal_id_nesting,
        length_size_minus_one: 3,
        arrays: vec![
            array(NAL_VPS, vps),
            array(NAL_SPS, sps),
            array(NAL_PPS, pps),
        ],
        ..Hvcc::default()
    };
    Some(TrackConfig::Hevc {
        hvcc,
        size: (facts.width, facts.height),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn irap_pictures_are_sync_and_parameter_sets_stay_in_band() {
        let pes = [
            0, 0, 0, 1, 0x46, 0x01, 0x50, // AUD (35): dropped
            0, 0, 1, 0x40, 0x01, 0x0c, // VPS (32)
            0, 0, 1, 0x42, 0x01, 0x01, // SPS (33)
            0, 0, 1, 0x44, 0x01, 0xc0, // PPS (34)
            0, 0, 1, 0x2a, 0x01, 0xaf, // CRA (21)
        ];
        let unit = access_unit(&pes);
        assert!(unit.sample.sync);
        assert_eq!(unit.params.vps.as_deref(), Some(&[0x40, 0x01, 0x0c][..]));
        assert_eq!(unit.params.pps.as_deref(), Some(&[0x44, 0x01, 0xc0][..]));
        let bytes = unit.sample.bytes();
        assert_eq!(bytes.len(), 4 * (4 + 3));
        assert_eq!(&bytes[..7], &[0, 0, 0, 3, 0x40, 0x01, 0x0c]);
    }

    #[test]
    fn trailing_and_leading_pictures_are_not_sync() {
        // TRAIL_R (1) and RASL_N (8).
        for header in [0x02, 0x10] {
            assert!(!access_unit(&[0, 0, 1, header, 0x01, 0xaf]).sample.sync);
        }
    }

    #[test]
    fn no_record_without_all_three_sets() {
        let params = ParamSets {
            vps: Some(vec![0x40, 0x01]),
            sps: None,
            pps: Some(vec![0x44, 0x01]),
        };
        assert_eq!(config(&params), None);
    }
}
