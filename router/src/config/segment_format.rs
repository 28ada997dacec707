//! A playlist's `segment_format` (`ts` | `fmp4`) and `init_name` keys: parsed, checked against
//! the playlist's other keys (`repeat_ts_headers`, `segment_name`), and the default segment
//! name each format gives (`.ts` or `.m4s`).
//!
//! Owns these two keys only; `nodes` builds the rest of the playlist.

use super::fields::Fields;
use crate::playlist::{SegmentFormat, SegmentNamePattern};

/// The placeholder of `init_name`.
pub const INIT_PLACEHOLDER: &str = "{n}";

/// `segment_format`, default `ts`; an unknown value is reported and `ts` stands in.
pub(super) fn segment_format(fields: &mut Fields<'_>) -> SegmentFormat {
    let Some(written) = fields.string("segment_format") else {
        return SegmentFormat::Ts;
    };
    match written.value {
        "ts" => SegmentFormat::Ts,
        "fmp4" => SegmentFormat::Fmp4,
        other => {
            let message = format!("unknown segment format `{other}`; write `ts` or `fmp4`");
            fields.error(written.pos, "segment_format", message);
            SegmentFormat::Ts
        }
    }
}

/// The default segment name of playlist `name` in `format`: `NAME-{seq:05}.ts` or `.m4s`.
pub(super) fn default_segment_name(name: &str, format: SegmentFormat) -> SegmentNamePattern {
    let ts = SegmentNamePattern::with_prefix(name);
    match format {
        SegmentFormat::Ts => ts,
        SegmentFormat::Fmp4 => {
            SegmentNamePattern::parse(&format!("{name}-{{seq:05}}.m4s")).unwrap_or(ts)
        }
    }
}

/// `init_name` (default `NAME-init-{n}.mp4`), checked: exactly one `{n}`, a relative path,
/// not a name a segment could have; written with `ts` it is reported as unused.
pub(super) fn init_name(
    fields: &mut Fields<'_>,
    name: &str,
    format: SegmentFormat,
    segment_name: &SegmentNamePattern,
) -> String {
    let default = format!("{name}-init-{INIT_PLACEHOLDER}.mp4");
    let Some(written) = fields.string("init_name") else {
        return default;
    };
    if format == SegmentFormat::Ts {
        let message = "init_name is only used with segment_format = \"fmp4\"";
        fields.warning(written.pos, "init_name", message);
    }
    let Some(problem) = init_name_problem(written.value, segment_name) else {
        return super::nodes::checked_relative(fields, "init_name", written);
    };
    fields.error(
        written.pos,
        "init_name",
        format!("`{}` {problem}", written.value),
    );
    default
}

fn init_name_problem(pattern: &str, segment_name: &SegmentNamePattern) -> Option<String> {
    let found = pattern.matches(INIT_PLACEHOLDER).count();
    if found != 1 {
        return Some(format!(
            "must contain `{{n}}` exactly once (found {found}): the init segment's number, \
             which changes when the codec configuration does, like `cam-init-{{n}}.mp4`"
        ));
    }
    let (before, after) = pattern.split_once(INIT_PLACEHOLDER)?;
    let (seg_before, seg_after) = segment_name.parts();
    (before == seg_before && after == seg_after).then(|| {
        format!(
            "can name the same objects as segment_name `{segment_name}`; give the init \
             segments another name"
        )
    })
}

/// fMP4 fragments are remuxed from segments cut with PAT/PMT in front: `repeat_ts_headers =
/// false` cannot go with them.
pub(super) fn check_headers(
    fields: &mut Fields<'_>,
    format: SegmentFormat,
    repeat_ts_headers: bool,
    pos: super::raw::Pos,
) {
    if format == SegmentFormat::Fmp4 && !repeat_ts_headers {
        let message = "repeat_ts_headers = false cannot go with segment_format = \"fmp4\": \
                       fragments are remuxed from segments that start with PAT/PMT";
        fields.error(pos, "repeat_ts_headers", message);
    }
}

/// The key of init segment `n` of pattern `init_name`.
pub fn init_key(init_name: &str, n: u64) -> String {
    init_name.replace(INIT_PLACEHOLDER, &n.to_string())
}
