//! One bucket on a moto S3 server started for the test, read the way a CDN or a curious user
//! would: ListObjects, GET, straight from the server (never through the test's proxy).

use std::collections::BTreeMap;

use crate::daemon::{http_get, http_request};
use crate::servers::{self, Server};

/// A moto server holding one (empty at start) bucket.
pub(crate) struct Bucket {
    server: Server,
    name: String,
}

impl Bucket {
    /// Starts moto and creates bucket `name`.
    pub(crate) fn create(name: &str) -> Self {
        let server = servers::s3();
        let bucket = Self {
            server,
            name: name.to_owned(),
        };
        let (status, _, _) = http_request("PUT", &bucket.url(""));
        assert!(status.contains("200"), "create bucket: {status}");
        bucket
    }

    /// moto's port on 127.0.0.1.
    pub(crate) fn port(&self) -> u16 {
        self.server.port
    }

    fn url(&self, rest: &str) -> String {
        format!("http://127.0.0.1:{}/{}{rest}", self.server.port, self.name)
    }

    /// The URL a player (or ffmpeg) reads object `key` at, straight from the server.
    pub(crate) fn object_url(&self, key: &str) -> String {
        self.url(&format!("/{key}"))
    }

    /// Every key in the bucket, sorted (ListObjects, following its pages).
    pub(crate) fn keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        loop {
            let query = match keys.last() {
                Some(last) => format!("?marker={last}"),
                None => String::new(),
            };
            let (status, _, body) = http_get(&self.url(&query));
            assert!(status.contains("200"), "ListObjects: {status}");
            let xml = String::from_utf8_lossy(&body).into_owned();
            let page: Vec<String> = xml
                .split("<Key>")
                .skip(1)
                .filter_map(|rest| rest.split_once("</Key>"))
                .map(|(key, _)| key.replace("&amp;", "&"))
                .collect();
            let truncated = xml.contains("<IsTruncated>true</IsTruncated>");
            let empty = page.is_empty();
            keys.extend(page);
            if !truncated || empty {
                break;
            }
        }
        keys.sort();
        keys
    }

    /// The bytes of object `key`, if it exists.
    pub(crate) fn get(&self, key: &str) -> Option<Vec<u8>> {
        let (status, _, body) = http_get(&self.object_url(key));
        status.contains("200").then_some(body)
    }

    /// The text of object `key`, if it exists.
    pub(crate) fn text(&self, key: &str) -> Option<String> {
        self.get(key)
            .map(|body| String::from_utf8_lossy(&body).into_owned())
    }

    /// Every segment object (`*.ts`) with its bytes.
    pub(crate) fn segments(&self) -> BTreeMap<String, Vec<u8>> {
        self.keys()
            .into_iter()
            .filter(|key| key.ends_with(".ts"))
            .filter_map(|key| self.get(&key).map(|body| (key, body)))
            .collect()
    }
}
