//! H.264: the sequence parameter set, read by h264-reader (which also removes the
//! emulation-prevention bytes).

use h264_reader::nal::sps::SeqParameterSet;
use h264_reader::nal::{Nal, RefNal, UnitType};

use super::video::{ParamError, VideoParams, plausible_frame_rate};

/// Whether the NAL unit is an SPS.
pub(super) fn is_sps(nal: &RefNal<'_>) -> bool {
    nal.header()
        .is_ok_and(|h| h.nal_unit_type() == UnitType::SeqParameterSet)
}

/// Tag, size and timing from a complete SPS NAL unit.
pub(super) fn parse_sps(nal: &RefNal<'_>) -> Result<VideoParams, ParamError> {
    let sps = SeqParameterSet::from_bits(nal.rbsp_bits()).map_err(ParamError::Avc)?;
    let (width, height) = sps.pixel_dimensions().map_err(ParamError::Avc)?;
    Ok(VideoParams {
        // RFC 6381 `avc1.PPCCLL`; hex is case-insensitive, lower case is what ffmpeg and
        // Apple's examples write.
        codecs_tag: sps.rfc6381().to_string().to_ascii_lowercase(),
        width,
        height,
        frame_rate: sps.fps().and_then(plausible_frame_rate),
    })
}
