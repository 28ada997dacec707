//! A playlist's other views (issue 16): `[playlists.NAME.dvr]` (`name`, `duration`) and
//! `[playlists.NAME.archive]` (`every`, `name`, `retain`) in, [`DvrView`] and [`ArchiveView`]
//! out. Owns their keys, defaults and the checks that need only the playlist (a DVR name that
//! is the live one, `retain` under `every`, archive names that repeat while both archives
//! exist), and, after `link`, the checks against the segmenter the playlist reads (a DVR view
//! shorter than the live window, `every` under the target duration). The name pattern's own
//! rule is its owner's ([`crate::playlist::views`]); collisions at a sink are `graph_checks`'.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::diagnostics::Diagnostics;
use super::fields::{Fields, Located};
use super::link::Declared;
use super::model::{ArchiveNamePattern, ArchiveView, DvrView, SegmenterNode, Severity};
use super::nodes::{NodeDecl, checked_relative};
use super::raw::{Pos, Table, Value};

/// Reads the `dvr` and `archive` tables of a playlist whose file is `live_name`. A view is
/// there when its values are usable (its findings are reported either way).
pub(super) fn build_views(
    decl: &NodeDecl,
    fields: &mut Fields<'_>,
    live_name: &str,
) -> (Option<DvrView>, Option<ArchiveView>) {
    let dvr = fields.table("dvr").and_then(|table| {
        let muted = muted_keys(decl, "dvr", table.value);
        let mut view = view_fields(decl, fields, "dvr", table, &muted);
        let dvr = build_dvr(&mut view, live_name);
        view.finish("a DVR view");
        dvr
    });
    let archive = fields.table("archive").and_then(|table| {
        let muted = muted_keys(decl, "archive", table.value);
        let mut view = view_fields(decl, fields, "archive", table, &muted);
        let archive = build_archive(&mut view, &decl.name);
        view.finish("an archive view");
        archive
    });
    (dvr, archive)
}

/// A `${VAR}` left unresolved anywhere in the table (already reported) silences all of it.
pub(super) fn muted_keys(decl: &NodeDecl, key: &str, table: &Table) -> Vec<String> {
    if decl.unresolved.iter().any(|unresolved| unresolved == key) {
        table
            .entries
            .iter()
            .map(|entry| entry.key.clone())
            .collect()
    } else {
        Vec::new()
    }
}

/// The fields of the view table `key` (`playlists.NAME.KEY.…` in findings).
pub(super) fn view_fields<'a>(
    decl: &'a NodeDecl,
    parent: &'a mut Fields<'_>,
    key: &str,
    table: Located<&'a Table>,
    muted: &'a [String],
) -> Fields<'a> {
    let prefix = parent.key(key);
    Fields::new(
        table.value,
        prefix,
        table.pos,
        decl.feed.as_ref(),
        parent.diagnostics,
    )
    .muting(muted)
}

fn build_dvr(fields: &mut Fields<'_>, live_name: &str) -> Option<DvrView> {
    let default_name = DvrView::default_file_name(live_name);
    let file_name = match fields.string("name") {
        Some(written) => {
            let name = checked_relative(fields, "name", written);
            if name == live_name {
                let message = format!(
                    "`{name}` is the live playlist's name too: the DVR view is another file; \
                     write another name, or leave `name` out for `{default_name}`"
                );
                fields.error(written.pos, "name", message);
            }
            name
        }
        None => default_name,
    };
    let duration = required_duration(
        fields,
        "duration",
        "how much media the DVR view lists, like \"2h\"",
    );
    Some(DvrView {
        file_name,
        duration: duration?,
    })
}

fn build_archive(fields: &mut Fields<'_>, node_name: &str) -> Option<ArchiveView> {
    let every = required_duration(
        fields,
        "every",
        "the length of one archive's period, aligned to UTC, like \"1h\"",
    );
    let name = match fields.string("name") {
        Some(written) => ArchiveNamePattern::parse(written.value)
            .map_err(|refused| fields.error(written.pos, "name", refused))
            .ok(),
        None => {
            let default = ArchiveView::default_name(node_name);
            let header = fields.header();
            ArchiveNamePattern::parse(&default)
                .map_err(|refused| fields.error(header, "name", refused))
                .ok()
        }
    };
    let retain = match fields.entry("retain") {
        None => Some(None),
        Some(_) => positive_duration(fields, "retain").map(Some),
    };
    let view = ArchiveView {
        every: every?,
        name: name?,
        retain: retain?,
    };
    if let Some(retain) = view.retain
        && retain < view.every
    {
        let message = format!(
            "{} is shorter than `every` ({}): an archive would be deleted before its period \
             ends; write {} or more, or leave `retain` out to keep archives forever",
            shown(retain),
            shown(view.every),
            shown(view.every)
        );
        fields.error(fields.pos_of("retain"), "retain", message);
        return None;
    }
    if let Some(clash) = view.name_clash() {
        let kept = view
            .retain
            .map_or_else(|| "forever".to_owned(), |retain| shown(retain).to_string());
        let message = format!(
            "`{}` gives the archives of the periods starting {} and {} the same name `{}`, \
             and with every = {} and retain = {kept} both exist at once; add the fields that \
             tell them apart, like `{{start:%Y%m%dT%H%M%SZ}}`",
            view.name,
            utc(clash.first),
            utc(clash.second),
            clash.name,
            shown(view.every),
        );
        let pos = fields
            .entry("name")
            .map_or(fields.header(), |entry| entry.item.pos);
        fields.error(pos, "name", message);
        return None;
    }
    Some(view)
}

/// A duration that must be written and more than zero; `what` says what it is.
fn required_duration(fields: &mut Fields<'_>, key: &'static str, what: &str) -> Option<Duration> {
    if fields.entry(key).is_none() {
        fields.missing_with(key, format!("missing `{key}` ({what})"));
        return None;
    }
    positive_duration(fields, key)
}

/// The duration at `key` (written), or `None` when it is refused (reported).
fn positive_duration(fields: &mut Fields<'_>, key: &'static str) -> Option<Duration> {
    let errors = fields.diagnostics.error_count();
    let duration = fields.duration(key);
    if fields.diagnostics.error_count() > errors {
        return None;
    }
    if duration.is_zero() {
        let pos = fields.entry(key).map_or(fields.header(), |e| e.item.pos);
        fields.error(pos, key, "must be more than 0, like \"1h\"");
        return None;
    }
    Some(duration)
}

fn shown(duration: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(duration)
}

/// A time as RFC 3339 in UTC.
pub(super) fn utc(time: SystemTime) -> String {
    jiff::Timestamp::try_from(time).map_or_else(|_| format!("{time:?}"), |t| t.to_string())
}

/// Where `key` of the view table `view` is written in `decl` (its value), else the table, else
/// the node's header.
pub(super) fn view_pos(decl: &NodeDecl, view: &str, key: &str) -> Pos {
    let Some(entry) = decl.table.get(view) else {
        return decl.header;
    };
    match &entry.item.value {
        Value::Table(table) => table
            .get(key)
            .map_or(entry.item.pos, |found| found.item.pos),
        _ => entry.item.pos,
    }
}

/// The views against the segmenter each playlist reads: a DVR view reaches back at least as
/// far as the live window (window × target duration), a period holds at least one target
/// duration. A view is there only with usable values, so it is judged even when another key
/// of its playlist is in error, but not against a `window` in error (it holds the default) nor
/// a segmenter in error (its target may be the default).
pub(super) fn check_durations(declared: &Declared, diagnostics: &mut Diagnostics) {
    let segmenters: BTreeMap<&str, &SegmenterNode> = (declared.segmenters.iter())
        .filter(|placed| placed.built.ok)
        .filter_map(|placed| placed.built.node.as_ref())
        .map(|node| (node.name.as_str(), node))
        .collect();
    for placed in &declared.playlists {
        let Some(playlist) = placed.built.node.as_ref() else {
            continue;
        };
        let Some(segmenter) = segmenters.get(playlist.input.as_str()) else {
            continue;
        };
        let decl = &placed.decl;
        let window_written = match decl.table.get("window").map(|entry| &entry.item.value) {
            None => true,
            Some(Value::Integer(count)) => *count >= 0,
            Some(_) => false,
        };
        let window_usable = window_written && !decl.unresolved.iter().any(|key| key == "window");
        let target = segmenter.target_duration;
        let target_shown = shown(Duration::from_secs_f64(target));
        if let Some(dvr) = playlist.dvr.as_ref().filter(|_| window_usable) {
            let pos = view_pos(decl, "dvr", "duration");
            if playlist.window == 0 {
                let message = "the live playlist already lists every segment (window = 0): \
                               the DVR view lists nothing more";
                decl.report(
                    diagnostics,
                    Severity::Warning,
                    pos,
                    "dvr.duration",
                    message.to_owned(),
                );
            } else {
                let live = Duration::from_secs_f64(playlist.window as f64 * target);
                if dvr.duration < live {
                    let message = format!(
                        "{} is shorter than the live window: {} segments of about \
                         {target_shown} (segmenter `{}`) last about {}; the DVR view must \
                         reach back at least as far, write {} or more",
                        shown(dvr.duration),
                        playlist.window,
                        segmenter.name,
                        shown(live),
                        shown(live)
                    );
                    decl.report(diagnostics, Severity::Error, pos, "dvr.duration", message);
                }
            }
        }
        if let Some(archive) = &playlist.archive
            && archive.every < Duration::from_secs_f64(target)
        {
            let message = format!(
                "{} is shorter than the target duration of segmenter `{}` ({target_shown}): a \
                 period must hold whole segments, write {target_shown} or more",
                shown(archive.every),
                segmenter.name
            );
            let pos = view_pos(decl, "archive", "every");
            decl.report(diagnostics, Severity::Error, pos, "archive.every", message);
        }
    }
}
