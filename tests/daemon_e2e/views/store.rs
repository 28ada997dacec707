//! What a sink holds, read back the way a user would: a folder on this machine (a local sink, or
//! the directory a test-owned sshd writes into) or the objects under a prefix of an S3 bucket
//! (ListObjects and GET straight from moto). Keys are `/`-separated paths from the sink's root.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::durable::bucket::Bucket;

/// A sink's published files, by key.
pub(crate) trait Store {
    /// Every key there now.
    fn keys(&self) -> BTreeSet<String>;
    /// The text of `key`, if it is there.
    fn text(&self, key: &str) -> Option<String>;
    /// Where ffmpeg reads `key`: a file path, or a URL.
    fn locate(&self, key: &str) -> PathBuf;
}

/// A folder: a local sink's `path`, or the remote directory of an SFTP sink.
pub(crate) struct Folder(pub(crate) PathBuf);

impl Store for Folder {
    fn keys(&self) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        let mut folders = vec![self.0.clone()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    folders.push(path);
                } else if let Ok(key) = path.strip_prefix(&self.0) {
                    keys.insert(key.to_string_lossy().into_owned());
                }
            }
        }
        keys
    }

    fn text(&self, key: &str) -> Option<String> {
        std::fs::read_to_string(self.0.join(key)).ok()
    }

    fn locate(&self, key: &str) -> PathBuf {
        self.0.join(key)
    }
}

/// The objects under `prefix` in a bucket.
pub(crate) struct Prefixed<'a> {
    pub(crate) bucket: &'a Bucket,
    pub(crate) prefix: &'a str,
}

impl Prefixed<'_> {
    /// The URL of `key` on the S3 server.
    pub(crate) fn url(&self, key: &str) -> String {
        self.bucket.object_url(&format!("{}{key}", self.prefix))
    }
}

impl Store for Prefixed<'_> {
    fn keys(&self) -> BTreeSet<String> {
        (self.bucket.keys().into_iter())
            .filter_map(|key| key.strip_prefix(self.prefix).map(str::to_owned))
            .collect()
    }

    fn text(&self, key: &str) -> Option<String> {
        self.bucket.text(&format!("{}{key}", self.prefix))
    }

    fn locate(&self, key: &str) -> PathBuf {
        PathBuf::from(self.url(key))
    }
}

/// The key a playlist at `playlist` (a key) means by `uri`: resolved against its folder, `..`
/// taken back.
pub(crate) fn resolve(playlist: &str, uri: &str) -> String {
    let folder = Path::new(playlist).parent().unwrap_or(Path::new(""));
    let mut parts: Vec<String> = Vec::new();
    for part in folder.join(uri).components() {
        match part {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::CurDir => {}
            other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    parts.join("/")
}
