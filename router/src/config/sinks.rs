//! Sinks: the keys of each sink `type`, their defaults and the checks a sink needs alone.
//! `local` and `s3` are here; the servers reached by host and port (`ftp`, `scp`) are in
//! `remote`. Credentials become [`Secret`]s here and no message ever quotes them. Knows nothing
//! of the playlists and masters a sink publishes but their names (`link` resolves them).

use super::Environment;
use super::diagnostics::{Diagnostics, did_you_mean};
use super::fields::{Fields, Located};
use super::model::{HeaderOverrides, S3Sink, Secret, SinkKind, SinkNode};
use super::nodes::{Built, NodeDecl, owned};
use super::{plugin_sink, remote};

/// Sink types that exist, for messages.
const SINK_TYPES: [&str; 5] = ["local", "s3", "ftp", "scp", "plugin"];
/// The canned ACLs S3 can give an object.
const S3_ACLS: [&str; 6] = [
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
];
/// Keys whose values are credentials: never quoted in a message.
const CREDENTIAL_KEYS: [&str; 3] = ["access_key_id", "secret_access_key", "password"];
/// `spool_limit` when none is written: unsent segment bytes a sink may hold (1 GiB).
pub const DEFAULT_SPOOL_LIMIT: u64 = 1 << 30;
/// `region` when none is written.
const DEFAULT_REGION: &str = "us-east-1";

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
    if inputs.is_empty() && fields.pos_of("inputs") != header && fields.ok() {
        let pos = fields.pos_of("inputs");
        fields.error(pos, "inputs", "must list at least one playlist or master");
    }
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
        "local" => fields
            .required_path("path", "the directory to publish into", environment.home)
            .map(|path| SinkKind::Local { path }),
        "s3" => s3_sink(&mut fields),
        "ftp" => remote::ftp_sink(&mut fields, environment),
        "scp" => remote::scp_sink(&mut fields, environment.home),
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

fn s3_sink(fields: &mut Fields<'_>) -> Option<SinkKind> {
    let bucket = fields.required_string("bucket", "the bucket to publish into");
    if let Some(bucket) = &bucket
        && let Some(problem) = bucket_problem(bucket.value)
    {
        fields.error(
            bucket.pos,
            "bucket",
            format!("`{}` {problem}", bucket.value),
        );
    }
    let prefix = fields.string("prefix");
    if let Some(prefix) = &prefix {
        check_prefix(fields, prefix);
    }
    let region = fields.string("region");
    if let Some(region) = &region
        && (region.value.is_empty()
            || region
                .value
                .contains(|c: char| c.is_whitespace() || c == '/'))
    {
        let message = format!("`{}` is not a region name, like us-east-1", region.value);
        fields.error(region.pos, "region", message);
    }
    let endpoint = fields.string("endpoint");
    if let Some(endpoint) = &endpoint
        && !is_http_url(endpoint.value)
    {
        let message = format!(
            "`{}` is not an http:// or https:// URL, like http://127.0.0.1:9000",
            endpoint.value
        );
        fields.error(endpoint.pos, "endpoint", message);
    }
    let access_key_id = secret(fields, "access_key_id");
    let secret_access_key = secret(fields, "secret_access_key");
    check_key_pair(fields);
    let acl = fields.string("acl");
    if let Some(acl) = &acl
        && !S3_ACLS.contains(&acl.value)
    {
        let message = format!(
            "unknown acl `{}`; expected one of {}{}",
            acl.value,
            S3_ACLS.join(", "),
            did_you_mean(acl.value, S3_ACLS)
        );
        fields.error(acl.pos, "acl", message);
    }
    Some(SinkKind::S3(S3Sink {
        bucket: bucket?.value.to_owned(),
        prefix: prefix.map_or_else(String::new, |prefix| prefix.value.to_owned()),
        region: region
            .map_or(DEFAULT_REGION, |region| region.value)
            .to_owned(),
        endpoint: endpoint.map(|endpoint| endpoint.value.to_owned()),
        access_key_id,
        secret_access_key,
        acl: acl.map(|acl| acl.value.to_owned()),
    }))
}

/// Whether `key` (of a node) holds a credential.
pub(super) fn is_credential_key(key: &str) -> bool {
    CREDENTIAL_KEYS.contains(&key)
}

/// A credential, never quoted in a message.
pub(super) fn secret(fields: &mut Fields<'_>, key: &'static str) -> Option<Secret> {
    let text = fields.string(key)?;
    if text.value.is_empty() {
        fields.error(text.pos, key, "must not be empty");
        return None;
    }
    Some(Secret::new(text.value))
}

/// `access_key_id` and `secret_access_key` come together.
fn check_key_pair(fields: &mut Fields<'_>) {
    let header = fields.header();
    let id_written = fields.pos_of("access_key_id") != header;
    let key_written = fields.pos_of("secret_access_key") != header;
    let (missing, written) = match (id_written, key_written) {
        (true, false) => ("secret_access_key", "access_key_id"),
        (false, true) => ("access_key_id", "secret_access_key"),
        _ => return,
    };
    let message = format!("missing `{missing}`: it goes with `{written}` (write both, or neither)");
    fields.missing_with(missing, message);
}

/// Why a bucket name is refused: S3's naming basics.
fn bucket_problem(bucket: &str) -> Option<&'static str> {
    if bucket.contains("://") {
        return Some("is a URL: write the bucket's name alone, and the key prefix in `prefix`");
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    let letter_or_digit = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let valid = (3..=63).contains(&bucket.len())
        && bucket.chars().all(allowed)
        && bucket.starts_with(letter_or_digit)
        && bucket.ends_with(letter_or_digit);
    (!valid).then_some(
        "is not a valid bucket name: 3 to 63 lowercase letters, digits, `.` and `-`, beginning \
         and ending with a letter or digit",
    )
}

/// `prefix`: relative to the bucket, no `..`; without a final `/` it is warned, like `base_url`.
fn check_prefix(fields: &mut Fields<'_>, prefix: &Located<&str>) {
    let text = prefix.value;
    if text.starts_with('/') {
        let message = format!("`{text}` must not start with `/`: keys are relative to the bucket");
        fields.error(prefix.pos, "prefix", message);
    } else if has_parent_part(text) {
        fields.error(
            prefix.pos,
            "prefix",
            format!("`{text}` must not contain `..`"),
        );
    } else if !text.is_empty() && !text.ends_with('/') {
        let message = format!(
            "`{text}` does not end with `/`: object keys will be it directly followed by the \
             file name"
        );
        fields.warning(prefix.pos, "prefix", message);
    }
}

/// A `..` part in a `/`-separated path.
pub(super) fn has_parent_part(path: &str) -> bool {
    path.split('/').any(|part| part == "..")
}

/// `http://HOST…` or `https://HOST…`, without spaces.
fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    rest.is_some_and(|rest| {
        !rest.is_empty() && !rest.starts_with('/') && !url.contains(char::is_whitespace)
    })
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
