//! streamrouter-s3: publishes to a bucket on AWS S3 or any S3-compatible server, through the
//! shared OpenDAL core. A whole-buffer write is one PutObject, which S3 swaps atomically;
//! Content-Type and Cache-Control are stored with every object.
//!
//! Owns the S3 sink's settings (their keys, defaults and checks, for the router's config and
//! the plugin build alike) and their mapping to OpenDAL's S3 service.

use serde::{Deserialize, Serialize};
use streamrouter_opendal::opendal::services::S3;
use streamrouter_opendal::settings::{self, Finding, Secret, SinkSettings, did_you_mean};
use streamrouter_opendal::{OpendalSink, Replace};
use streamrouter_plugin::SinkError;

/// The keys of `type = "s3"` (and of the S3 plugin's options).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// `bucket` (required): the bucket's name.
    pub bucket: String,
    /// `prefix`: text before every key, like `stream0001/` (default empty).
    #[serde(default)]
    pub prefix: String,
    /// `region` (default `us-east-1`): needed for signing, also by S3-compatible servers.
    #[serde(default = "default_region")]
    pub region: String,
    /// `endpoint`: an S3-compatible server, like `http://127.0.0.1:9000` (default AWS).
    pub endpoint: Option<String>,
    /// `acl`: canned ACL for every object, like `public-read`.
    pub acl: Option<String>,
    /// `access_key_id` (usually `${AWS_ACCESS_KEY_ID}`); none for anonymous access.
    pub access_key_id: Option<Secret>,
    /// `secret_access_key` (usually `${AWS_SECRET_ACCESS_KEY}`), with `access_key_id`.
    pub secret_access_key: Option<Secret>,
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

/// The canned ACLs S3 can give an object.
const ACLS: [&str; 6] = [
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
];

impl SinkSettings for S3Settings {
    const REQUIRED: &'static [(&'static str, &'static str)] =
        &[("bucket", "the bucket to publish into")];
    const SECRET_KEYS: &'static [&'static str] = &["access_key_id", "secret_access_key"];
    const DESTINATION_KEYS: &'static [&'static str] = &["bucket", "prefix", "endpoint"];

    fn check(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        if let Some(problem) = bucket_problem(&self.bucket) {
            let message = format!("`{}` {problem}", self.bucket);
            findings.push(Finding::error("bucket", message));
        }
        findings.extend(prefix_finding(&self.prefix));
        let region = &self.region;
        if region.is_empty() || region.contains(|c: char| c.is_whitespace() || c == '/') {
            let message = format!("`{region}` is not a region name, like us-east-1");
            findings.push(Finding::error("region", message));
        }
        if let Some(endpoint) = self.endpoint.as_deref().filter(|url| !is_http_url(url)) {
            let message = format!(
                "`{endpoint}` is not an http:// or https:// URL, like http://127.0.0.1:9000"
            );
            findings.push(Finding::error("endpoint", message));
        }
        if let Some(acl) = self.acl.as_deref().filter(|acl| !ACLS.contains(acl)) {
            let message = format!(
                "unknown acl `{acl}`; expected one of {}{}",
                ACLS.join(", "),
                did_you_mean(acl, ACLS)
            );
            findings.push(Finding::error("acl", message));
        }
        let keys = [
            ("access_key_id", &self.access_key_id),
            ("secret_access_key", &self.secret_access_key),
        ];
        for (key, secret) in keys {
            if secret
                .as_ref()
                .is_some_and(|secret| secret.expose().is_empty())
            {
                findings.push(Finding::error(key, "must not be empty"));
            }
        }
        let pair = match (&self.access_key_id, &self.secret_access_key) {
            (Some(_), None) => Some(("secret_access_key", "access_key_id")),
            (None, Some(_)) => Some(("access_key_id", "secret_access_key")),
            _ => None,
        };
        if let Some((missing, written)) = pair {
            let message =
                format!("missing `{missing}`: it goes with `{written}` (write both, or neither)");
            findings.push(Finding::error(missing, message));
        }
        findings
    }
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
fn prefix_finding(prefix: &str) -> Option<Finding> {
    if prefix.starts_with('/') {
        let message =
            format!("`{prefix}` must not start with `/`: keys are relative to the bucket");
        Some(Finding::error("prefix", message))
    } else if settings::has_parent_part(prefix) {
        Some(Finding::error(
            "prefix",
            format!("`{prefix}` must not contain `..`"),
        ))
    } else if !prefix.is_empty() && !prefix.ends_with('/') {
        let message = format!(
            "`{prefix}` does not end with `/`: object keys will be it directly followed by the \
             file name"
        );
        Some(Finding::warning("prefix", message))
    } else {
        None
    }
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

/// Builds the sink. Credentials come only from the settings: no environment, profile or
/// instance-metadata lookup behind the operator's back.
pub fn build(settings: &S3Settings) -> Result<OpendalSink, SinkError> {
    let mut builder = S3::default()
        .bucket(&settings.bucket)
        .root("/")
        .region(&settings.region)
        .disable_config_load()
        .disable_ec2_metadata();
    if let Some(endpoint) = &settings.endpoint {
        builder = builder.endpoint(endpoint);
    }
    match (&settings.access_key_id, &settings.secret_access_key) {
        (Some(id), Some(secret)) => {
            builder = builder
                .access_key_id(id.expose())
                .secret_access_key(secret.expose());
        }
        _ => builder = builder.skip_signature(),
    }
    if let Some(acl) = &settings.acl {
        builder = builder.default_acl(acl);
    }
    let what = format!("s3://{}/{}", settings.bucket, settings.prefix);
    Ok(OpendalSink::new(builder, Replace::Native, &what)?.with_key_prefix(&settings.prefix))
}

/// The S3 sink as a plugin (`libstreamrouter_s3_plugin.so`, from `streamrouter-s3-plugin`): its
/// options are the keys of [`S3Settings`].
pub struct S3Backend;

/// The settings an options text describes, read and checked as the router's config does.
pub fn settings_from_options(options: &str) -> Result<S3Settings, String> {
    settings::from_options(options, None)
}

impl streamrouter_opendal::Backend for S3Backend {
    const NAME: &'static str = "s3";

    fn build(options: &str) -> Result<OpendalSink, String> {
        build(&settings_from_options(options)?).map_err(|e| e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_settings_with_the_built_in_defaults() {
        let settings = settings_from_options("bucket = \"live\"\nacl = \"public-read\"").unwrap();
        assert_eq!(
            (settings.bucket.as_str(), settings.prefix.as_str()),
            ("live", "")
        );
        assert_eq!(settings.region, "us-east-1");
        assert_eq!(settings.acl.as_deref(), Some("public-read"));
        let error = settings_from_options("bucket = \"bb\"\naccess_key_id = \"x\"").unwrap_err();
        assert!(error.contains("it goes with `access_key_id`"), "{error}");
        assert!(error.contains("not a valid bucket name"), "{error}");
        let error = settings_from_options("prefix = \"p/\"").unwrap_err();
        assert!(error.contains("missing `bucket`"), "{error}");
    }

    #[test]
    fn a_credential_is_never_shown() {
        let settings = settings_from_options(
            "bucket = \"live\"\naccess_key_id = \"AKID\"\nsecret_access_key = \"hush\"",
        )
        .unwrap();
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("AKID") && !shown.contains("hush"),
            "{shown}"
        );
        let error = settings_from_options("bucket = \"live\"\naccess_key_id = 5").unwrap_err();
        assert!(
            error.contains("access_key_id: expected a string, found an integer"),
            "{error}"
        );
    }
}
