//! HEVC: the sequence parameter set, read by scuffle-h265 (size, conformance window, VUI
//! timing), and the codec tag from its profile_tier_level.
//!
//! The tag is built from the raw general profile_tier_level bytes: they sit byte-aligned right
//! after the SPS's first byte, and ISO/IEC 14496-15 E.3 writes them out nearly verbatim
//! (the six constraint-flag bytes in particular), which a parsed structure would have to put
//! back together.

use std::io::{BufRead, Read};
use std::num::NonZeroUsize;

use h264_reader::nal::{Nal, RefNal};
use h264_reader::rbsp::ByteReader;
use scuffle_h265::{SpsNALUnit, SpsRbsp};

use super::video::{ParamError, VideoParams, plausible_frame_rate};

/// nal_unit_type of an SPS.
const NAL_SPS: u8 = 33;
/// Bytes of the two-byte NAL unit header.
const NAL_HEADER_BYTES: NonZeroUsize = NonZeroUsize::MIN.saturating_add(1);
/// The SPS's first byte (VPS id, sub-layer count, nesting flag) and the 12 bytes of the general
/// profile_tier_level.
const PTL_BYTES: usize = 13;

/// Whether the NAL unit is an SPS.
pub(super) fn is_sps(nal: &RefNal<'_>) -> bool {
    let mut reader = nal.reader();
    reader
        .fill_buf()
        .ok()
        .and_then(|b| b.first().copied())
        .is_some_and(|header| (header >> 1) & 0x3f == NAL_SPS)
}

/// The SPS as scuffle-h265 reads it. A bad SPS can make that crate panic (found by the
/// `stream_info` fuzz target: an out-of-range `scaling_list_pred_matrix_id_delta`); the panic
/// is caught here and becomes an error, so a broken stream never takes a task down.
fn parse_guarded(nal: &RefNal<'_>) -> Result<SpsNALUnit, ParamError> {
    let parsed = std::panic::catch_unwind(|| SpsNALUnit::parse(nal.reader()));
    match parsed {
        Ok(parsed) => Ok(parsed?),
        Err(panic) => {
            let message = (panic.downcast_ref::<String>().map(String::as_str))
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("panicked");
            Err(ParamError::HevcMalformed(message.to_owned()))
        }
    }
}

/// What an `hvcC` record (ISO/IEC 14496-15 8.3.3.1) takes from an SPS: read here for the fMP4
/// remuxer ([`crate::media::fmp4::hevc`]) with the same parser and cropping as the master
/// playlist's description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HevcSps {
    /// The 12 bytes of the general profile_tier_level, as they sit in the SPS (profile space,
    /// tier, profile_idc; compatibility flags; constraint flags; level_idc).
    pub general_ptl: [u8; 12],
    /// Displayed width (cropping applied).
    pub width: u32,
    /// Displayed height (cropping applied).
    pub height: u32,
    /// chroma_format_idc.
    pub chroma_format_idc: u8,
    /// bit_depth_luma_minus8.
    pub bit_depth_luma_minus8: u8,
    /// bit_depth_chroma_minus8.
    pub bit_depth_chroma_minus8: u8,
    /// sps_max_sub_layers_minus1.
    pub max_sub_layers_minus1: u8,
    /// sps_temporal_id_nesting_flag.
    pub temporal_id_nesting: bool,
}

/// The `hvcC` facts of an SPS NAL unit (two-byte header included, emulation prevention bytes
/// still in); `None` when it does not parse.
pub(crate) fn read_sps(sps_nal: &[u8]) -> Option<HevcSps> {
    let nal = RefNal::new(sps_nal, &[], true);
    let (ptl, sps) = parse_sps_rbsp(&nal).ok()?;
    let (width, height) = displayed_size(&sps).ok()?;
    let mut general_ptl = [0u8; 12];
    general_ptl.copy_from_slice(&ptl[1..]);
    Some(HevcSps {
        general_ptl,
        width,
        height,
        chroma_format_idc: sps.chroma_format_idc,
        bit_depth_luma_minus8: sps.bit_depth_luma_minus8,
        bit_depth_chroma_minus8: sps.bit_depth_chroma_minus8,
        max_sub_layers_minus1: sps.sps_max_sub_layers_minus1,
        temporal_id_nesting: sps.sps_temporal_id_nesting_flag,
    })
}

/// The raw bytes before the profile_tier_level's sub-layer part, and the parsed SPS.
fn parse_sps_rbsp(nal: &RefNal<'_>) -> Result<([u8; PTL_BYTES], SpsRbsp), ParamError> {
    let mut ptl = [0u8; PTL_BYTES];
    ByteReader::skipping_bytes(nal.reader(), NAL_HEADER_BYTES).read_exact(&mut ptl)?;
    Ok((ptl, parse_guarded(nal)?.rbsp))
}

/// Width and height after the conformance window.
fn displayed_size(sps: &SpsRbsp) -> Result<(u32, u32), ParamError> {
    let window = &sps.conformance_window;
    let crop = |size: u64, unit: u8, a: u64, b: u64| {
        a.checked_add(b)
            .and_then(|offsets| offsets.checked_mul(u64::from(unit)))
            .and_then(|cropped| size.checked_sub(cropped))
            .and_then(|size| u32::try_from(size).ok())
            .ok_or(ParamError::HevcCropping)
    };
    let width = crop(
        sps.pic_width_in_luma_samples.get(),
        sps.sub_width_c(),
        window.conf_win_left_offset,
        window.conf_win_right_offset,
    )?;
    let height = crop(
        sps.pic_height_in_luma_samples.get(),
        sps.sub_height_c(),
        window.conf_win_top_offset,
        window.conf_win_bottom_offset,
    )?;
    Ok((width, height))
}

/// Tag, size and timing from a complete SPS NAL unit.
pub(super) fn parse_sps(nal: &RefNal<'_>) -> Result<VideoParams, ParamError> {
    let (ptl, sps) = parse_sps_rbsp(nal)?;
    let (width, height) = displayed_size(&sps)?;

    let frame_rate = sps
        .vui_parameters
        .as_ref()
        .and_then(|vui| vui.vui_timing_info.as_ref())
        .and_then(|t| {
            plausible_frame_rate(
                f64::from(t.time_scale.get()) / f64::from(t.num_units_in_tick.get()),
            )
        });
    Ok(VideoParams {
        codecs_tag: codecs_tag(&ptl),
        width,
        height,
        frame_rate,
    })
}

/// `hvc1.[A|B|C]<profile_idc>.<compat>.<L|H><level_idc>.<constraint bytes>` (ISO/IEC 14496-15
/// E.3): the 32 compatibility flags bit-reversed in hex without leading zeros, the six
/// constraint bytes in hex with trailing zero bytes left out (the first always written, as
/// ffmpeg and Apple do). Hex in upper case, as Apple's authoring spec writes it.
fn codecs_tag(ptl: &[u8; PTL_BYTES]) -> String {
    let profile_space = match ptl[1] >> 6 {
        0 => "",
        1 => "A",
        2 => "B",
        _ => "C",
    };
    let tier = if ptl[1] & 0x20 == 0 { 'L' } else { 'H' };
    let profile_idc = ptl[1] & 0x1f;
    let compatibility = u32::from_be_bytes([ptl[2], ptl[3], ptl[4], ptl[5]]).reverse_bits();
    let constraints = &ptl[6..12];
    let kept = constraints
        .iter()
        .rposition(|&b| b != 0)
        .map_or(1, |last| last + 1);
    let constraints: Vec<String> = constraints[..kept]
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    let level_idc = ptl[12];
    format!(
        "hvc1.{profile_space}{profile_idc}.{compatibility:X}.{tier}{level_idc}.{}",
        constraints.join(".")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_of_apple_example_main_profile() {
        // Main profile (compatible with Main and Main 10), level 3.1, progressive, non-packed
        // and frame-only constraints: Apple's "hvc1.1.6.L93.B0".
        let ptl = [0x01, 0x01, 0x60, 0x00, 0x00, 0x00, 0xb0, 0, 0, 0, 0, 0, 93];
        assert_eq!(codecs_tag(&ptl), "hvc1.1.6.L93.B0");
    }

    #[test]
    fn tag_of_main10_high_tier_with_profile_space() {
        let ptl = [
            0x01, 0x62, 0x20, 0x00, 0x00, 0x00, 0x90, 0x00, 0x01, 0, 0, 0, 153,
        ];
        assert_eq!(codecs_tag(&ptl), "hvc1.A2.4.H153.90.00.01");
    }
}
