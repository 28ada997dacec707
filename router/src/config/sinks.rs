//! Sinks: the keys every sink has (`type`, `inputs`, `delete_grace`, `spool_limit`, the header
//! overrides) and `local`'s `path`. The keys of `s3`, `ftp` and `scp` are their backend crates'
//! settings types, read by `backend`; `plugin`'s are `plugin_sink`'s. Knows nothing of the
//! playlists and masters a sink publishes but their names (`link` resolves them).

use streamrouter_opendal::settings::SinkSettings;

use super::Environment;
use super::diagnostics::{Diagnostics, did_you_mean};
use super::fields::{Fields, Located};
use super::model::{FtpSettings, HeaderOverrides, S3Settings, ScpSettings, SinkKind, SinkNode};
use super::nodes::{Built, NodeDecl, owned};
use super::{backend, plugin_sink};

/// Sink types that exist, for messages.
const SINK_TYPES: [&str; 5] = ["local", "s3", "ftp", "scp", "plugin"];
/// `spool_limit` when none is written: unsent segment bytes a sink may hold (1 GiB).
pub const DEFAULT_SPOOL_LIMIT: u64 = 1 << 30;

pub(super) fn build_sink(
    decl: &NodeDecl,
    diagnostics: &mut Diagnostics,
    environment: &Environment<'_>,
) -> Built<SinkNode> {
    let mut fields = decl.fields(diagnostics);
    let header = fields.header();
    let inputs = if fields.pos_of("inputs") == header {
        fields.missing_with(
            "inputs",
            "missing `inputs` (the playlists and masters to publish)".to_owned(),
        );
        Vec::new()
    } else {
        fields.strings("inputs").unwrap_or_default()
    };
    // An empty list is judged after `link`: a key sink needs no playlist of its own.
    let inputs: Vec<Located<String>> = inputs.iter().map(owned).collect();
    let none = |inputs| Built {
        node: None,
        ok: false,
        inputs,
    };
    let Some(sink_type) = fields.required_string("type", "one of local, s3, ftp, scp, plugin")
    else {
        fields.abandon("a sink");
        return none(inputs);
    };
    let kind = match sink_type.value {
        "local" => backend::backend(&mut fields, environment.home).map(SinkKind::Local),
        "s3" => backend::backend(&mut fields, environment.home).map(SinkKind::S3),
        "ftp" => backend::ftp(&mut fields, environment).map(SinkKind::Ftp),
        "scp" => backend::backend(&mut fields, environment.home).map(SinkKind::Scp),
        "plugin" => plugin_sink::plugin_sink(&mut fields, environment.home),
        other => {
            let message = match other {
                "sftp" => {
                    "there is no sink type `sftp`: type = \"scp\" publishes over SFTP".to_owned()
                }
                _ => format!(
                    "unknown sink type `{other}`; expected one of {}{}",
                    SINK_TYPES.join(", "),
                    did_you_mean(other, SINK_TYPES)
                ),
            };
            fields.error(sink_type.pos, "type", message);
            fields.abandon("a sink");
            return none(inputs);
        }
    };
    let delete_grace = fields.duration("delete_grace");
    let spool_limit = fields.byte_size("spool_limit", DEFAULT_SPOOL_LIMIT);
    let headers = HeaderOverrides {
        segment_content_type: header_value(&mut fields, "segment_content_type"),
        segment_cache_control: header_value(&mut fields, "segment_cache_control"),
        playlist_content_type: header_value(&mut fields, "playlist_content_type"),
        playlist_cache_control: header_value(&mut fields, "playlist_cache_control"),
    };
    let ok = fields.ok();
    let article = if matches!(sink_type.value, "local" | "plugin") {
        "a"
    } else {
        "an"
    };
    fields.finish(&format!("{article} {} sink", sink_type.value));
    Built {
        node: kind.map(|kind| SinkNode {
            name: decl.name.clone(),
            inputs: inputs.iter().map(|input| input.value.clone()).collect(),
            masters: Vec::new(),
            kind,
            delete_grace,
            spool_limit,
            headers,
        }),
        ok,
        inputs,
    }
}

/// Whether `key` (of a node) holds a credential: a secret key of a backend's settings or of
/// a source.
pub(super) fn is_credential_key(key: &str) -> bool {
    [
        super::sources::SECRET_KEYS,
        S3Settings::SECRET_KEYS,
        FtpSettings::SECRET_KEYS,
        ScpSettings::SECRET_KEYS,
    ]
    .iter()
    .any(|keys| keys.contains(&key))
}

/// A header value: not empty, printable ASCII only (what HTTP allows without encoding).
fn header_value(fields: &mut Fields<'_>, key: &'static str) -> Option<String> {
    let value = fields.string(key)?;
    let printable = value.value.bytes().all(|b| (0x20..0x7f).contains(&b));
    if value.value.trim().is_empty() || !printable {
        let message = "must be a non-empty header value of printable ASCII characters".to_owned();
        fields.error(value.pos, key, message);
        return None;
    }
    Some(value.value.to_owned())
}
