//! streamrouter-s3: publishes to a bucket on AWS S3 or any S3-compatible server, through the
//! shared OpenDAL core. A whole-buffer write is one PutObject, which S3 swaps atomically;
//! Content-Type and Cache-Control are stored with every object.
//!
//! Owns only the mapping from its settings to OpenDAL's S3 service.

use streamrouter_opendal::opendal::services::S3;
use streamrouter_opendal::{OpendalSink, Replace};
use streamrouter_plugin::SinkError;

/// Settings of an S3 sink.
#[derive(Clone, Default)]
pub struct S3Settings {
    /// Bucket name.
    pub bucket: String,
    /// Text put before every key (`stream0001/`, or `cam-`), may be empty.
    pub prefix: String,
    /// Region (mandatory for signing, also with S3-compatible servers).
    pub region: String,
    /// Server URL for S3-compatible servers; `None` is AWS.
    pub endpoint: Option<String>,
    /// Access key id; `None` for anonymous access.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
    /// Canned ACL for every object (`public-read`…).
    pub acl: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("acl", &self.acl)
            .finish_non_exhaustive()
    }
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
            builder = builder.access_key_id(id).secret_access_key(secret);
        }
        _ => builder = builder.skip_signature(),
    }
    if let Some(acl) = &settings.acl {
        builder = builder.default_acl(acl);
    }
    let what = format!("s3://{}/{}", settings.bucket, settings.prefix);
    Ok(OpendalSink::new(builder, Replace::Native, &what)?.with_key_prefix(&settings.prefix))
}

/// The S3 sink as a plugin (`libstreamrouter_s3_plugin.so`, from `streamrouter-s3-plugin`).
/// Options: `bucket` (required), `prefix` (default ""), `region` (default `us-east-1`),
/// `endpoint`, `access_key_id` with `secret_access_key`, `acl`.
pub struct S3Backend;

/// `[sinks.NAME.options]` of an S3 plugin sink.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct S3Options {
    bucket: String,
    #[serde(default)]
    prefix: String,
    #[serde(default = "default_region")]
    region: String,
    endpoint: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    acl: Option<String>,
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

/// The settings an options text describes.
pub fn settings_from_options(options: &str) -> Result<S3Settings, String> {
    let options: S3Options = streamrouter_opendal::parse_options(options)?;
    if options.access_key_id.is_some() != options.secret_access_key.is_some() {
        return Err("`access_key_id` and `secret_access_key` go together".to_owned());
    }
    Ok(S3Settings {
        bucket: options.bucket,
        prefix: options.prefix,
        region: options.region,
        endpoint: options.endpoint,
        access_key_id: options.access_key_id,
        secret_access_key: options.secret_access_key,
        acl: options.acl,
    })
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
        let error = settings_from_options("bucket = \"b\"\naccess_key_id = \"x\"").unwrap_err();
        assert!(error.contains("go together"), "{error}");
        let error = settings_from_options("prefix = \"p/\"").unwrap_err();
        assert!(error.contains("missing field `bucket`"), "{error}");
    }
}
