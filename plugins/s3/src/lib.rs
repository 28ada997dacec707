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
