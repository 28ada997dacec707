//! A playlist's `[playlists.NAME.encryption]` table: `method`, `rotate_every`,
//! `key_name`, `key_uri`, `key_sink`, `key_source` in, [`PlaylistEncryption`] out. Owns these
//! keys, their defaults and the checks that need only the playlist (an unknown method, a
//! `key_uri` without `{key}` while keys rotate, `key_sink` without `key_uri`), and, after
//! `link` (they need every sink), that `key_sink` names a declared sink and that a sink with
//! `inputs = []` is some playlist's key sink.

use super::diagnostics::Diagnostics;
use super::fields::{Fields, Located};
use super::link::{Declared, Placed};
use super::model::{EncryptionMethod, KeyPattern, PlaylistEncryption, PlaylistNode, Severity};
use super::nodes::{NodeDecl, checked_relative};
use super::playlist_views::{muted_keys, view_fields, view_pos};

/// Reads the `encryption` table of playlist `decl`, when there is one and its values are
/// usable (its findings are reported either way).
pub(super) fn build_encryption(
    decl: &NodeDecl,
    fields: &mut Fields<'_>,
) -> Option<PlaylistEncryption> {
    let table = fields.table("encryption")?;
    let muted = muted_keys(decl, "encryption", table.value);
    let mut view = view_fields(decl, fields, "encryption", table, &muted);
    let encryption = read(&mut view, &decl.name);
    view.finish("a playlist's encryption");
    encryption
}

fn read(fields: &mut Fields<'_>, playlist: &str) -> Option<PlaylistEncryption> {
    let method = method(fields);
    let rotate_every = fields.count("rotate_every", 0).value as u64;
    let key_name = match fields.string("key_name") {
        Some(written) => {
            let parsed = pattern(fields, "key_name", written, true);
            if parsed.is_some() {
                checked_relative(fields, "key_name", written);
            }
            parsed
        }
        None => KeyPattern::parse(&format!("{playlist}-{{key:04}}.key")).ok(),
    };
    let key_uri = match fields.string("key_uri") {
        Some(written) => Some(pattern(fields, "key_uri", written, rotate_every > 0)?),
        None => None,
    };
    let key_sink = fields.string("key_sink").map(|sink| sink.value.to_owned());
    if key_sink.is_some() && key_uri.is_none() {
        let message = "a key sink needs `key_uri`: where players fetch the keys from (the \
                       key sink is another place than the playlist's), like \
                       \"https://keys.example.com/cam/{key:04}.key\"";
        fields.error(fields.pos_of("key_sink"), "key_sink", message);
    }
    if let Some(source) = fields.string("key_source")
        && source.value != "random"
    {
        let message = format!(
            "unknown key source `{}`; write `random` (keys from the OS's random source, the \
             only one this build has)",
            source.value
        );
        fields.error(source.pos, "key_source", message);
    }
    Some(PlaylistEncryption {
        method: method?,
        rotate_every,
        key_name: key_name?,
        key_uri,
        key_sink,
    })
}

fn method(fields: &mut Fields<'_>) -> Option<EncryptionMethod> {
    let Some(written) = fields.string("method") else {
        return Some(EncryptionMethod::Aes128);
    };
    let message = match written.value {
        "AES-128" => return Some(EncryptionMethod::Aes128),
        "SAMPLE-AES" | "SAMPLE-AES-CTR" | "cbcs" | "cenc" => format!(
            "method `{}` is not built yet; write `AES-128` (whole segments, RFC 8216 §4.3.2.4)",
            written.value
        ),
        other => format!("unknown encryption method `{other}`; write `AES-128`"),
    };
    fields.error(written.pos, "method", message);
    None
}

/// `written` parsed as a `{key}` pattern; `numbered`: it must hold the key's number.
fn pattern(
    fields: &mut Fields<'_>,
    key: &'static str,
    written: Located<&str>,
    numbered: bool,
) -> Option<KeyPattern> {
    let parsed = match KeyPattern::parse(written.value) {
        Ok(parsed) => parsed,
        Err(refused) => {
            fields.error(written.pos, key, format!("`{}` {refused}", written.value));
            return None;
        }
    };
    if numbered && !parsed.has_number() {
        let why = match key {
            "key_uri" => "keys rotate (`rotate_every` > 0), so every key needs its own URI",
            _ => "every key needs its own object (a number is never reused)",
        };
        let message = format!(
            "`{}` has no `{{key}}` or `{{key:0N}}`: {why}",
            written.value
        );
        fields.error(written.pos, key, message);
        return None;
    }
    Some(parsed)
}

/// Every `key_sink` names a declared sink, and a sink with `inputs = []` is one.
pub(super) fn check_key_sinks(declared: &Declared, diagnostics: &mut Diagnostics) {
    let key_sinks: Vec<(&Placed<PlaylistNode>, &str)> = (declared.playlists.iter())
        .filter_map(|placed| {
            let encryption = placed.built.node.as_ref()?.encryption.as_ref()?;
            Some((placed, encryption.key_sink.as_deref()?))
        })
        .collect();
    for placed in &declared.sinks {
        let empty = placed.built.node.is_some() && placed.built.inputs.is_empty();
        let named = (key_sinks.iter()).any(|(_, sink)| *sink == placed.decl.name);
        if empty && placed.built.ok && !named {
            let pos = placed.decl.key_pos("inputs");
            let message = "must list at least one playlist or master (only a playlist's \
                           `encryption.key_sink` may have none)";
            placed.decl.report(
                diagnostics,
                Severity::Error,
                pos,
                "inputs",
                message.to_owned(),
            );
        }
    }
    let sinks: Vec<&str> = (declared.sinks.iter())
        .map(|placed| placed.decl.name.as_str())
        .collect();
    for &(placed, key_sink) in &key_sinks {
        if sinks.contains(&key_sink) {
            continue;
        }
        let known: Vec<String> = sinks.iter().map(|name| format!("`{name}`")).collect();
        let message = format!(
            "key sink `{key_sink}` is not a declared sink (sinks: {}); declare \
             [sinks.{key_sink}] (it may have `inputs = []`), or leave `key_sink` out to store \
             the keys with the segments",
            known.join(", ")
        );
        let pos = view_pos(&placed.decl, "encryption", "key_sink");
        let key = "encryption.key_sink";
        placed
            .decl
            .report(diagnostics, Severity::Error, pos, key, message);
    }
}
