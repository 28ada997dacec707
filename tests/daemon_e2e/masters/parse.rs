//! A small parser of master playlists (EXT-X-STREAM-INF attribute lists).

use std::collections::BTreeMap;

// ----------------------------------------------------------------------- master playlists ---

/// One `#EXT-X-STREAM-INF` and its URI.
#[derive(Debug, Clone)]
pub(crate) struct StreamInf {
    /// Attribute values as written (quoted strings keep their quotes).
    pub(crate) attributes: BTreeMap<String, String>,
    pub(crate) uri: String,
}

impl StreamInf {
    pub(crate) fn raw(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    pub(crate) fn number(&self, key: &str) -> u64 {
        let value = self
            .raw(key)
            .unwrap_or_else(|| panic!("{key} missing: {self:?}"));
        value
            .parse()
            .unwrap_or_else(|_| panic!("{key}={value} is not a decimal integer"))
    }

    /// A quoted-string attribute without its quotes; panics if not quoted.
    pub(crate) fn quoted(&self, key: &str) -> Option<&str> {
        self.raw(key).map(|value| {
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or_else(|| panic!("{key}={value} must be a quoted string"))
        })
    }

    pub(crate) fn codecs(&self) -> Vec<&str> {
        self.quoted("CODECS")
            .unwrap_or_else(|| panic!("CODECS missing: {self:?}"))
            .split(',')
            .collect()
    }

    pub(crate) fn resolution(&self) -> Option<(u32, u32)> {
        self.raw("RESOLUTION").map(|value| {
            let (w, h) = value
                .split_once('x')
                .unwrap_or_else(|| panic!("RESOLUTION={value} is not WxH"));
            (w.parse().unwrap(), h.parse().unwrap())
        })
    }
}

/// A master playlist.
#[derive(Debug, Clone, Default)]
pub(crate) struct Master {
    pub(crate) version: Option<u64>,
    pub(crate) independent_segments: bool,
    pub(crate) variants: Vec<StreamInf>,
}

/// Splits an attribute list at the commas outside quoted strings.
pub(crate) fn attribute_list(list: &str) -> BTreeMap<String, String> {
    let mut attributes = BTreeMap::new();
    let mut quoted = false;
    let mut start = 0;
    let mut items = Vec::new();
    for (i, c) in list.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                items.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&list[start..]);
    for item in items {
        let (key, value) = item
            .split_once('=')
            .unwrap_or_else(|| panic!("attribute {item:?} without = in {list:?}"));
        let previous = attributes.insert(key.to_owned(), value.to_owned());
        assert!(previous.is_none(), "attribute {key} twice in {list:?}");
    }
    attributes
}

impl Master {
    /// Parses a master playlist; panics with the text on anything that does not belong there.
    pub(crate) fn parse(text: &str) -> Self {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        assert_eq!(lines.next(), Some("#EXTM3U"), "master:\n{text}");
        let mut master = Master::default();
        let mut pending: Option<BTreeMap<String, String>> = None;
        for line in lines {
            if let Some(value) = line.strip_prefix("#EXT-X-VERSION:") {
                master.version = Some(value.parse().unwrap());
            } else if line == "#EXT-X-INDEPENDENT-SEGMENTS" {
                master.independent_segments = true;
            } else if let Some(list) = line.strip_prefix("#EXT-X-STREAM-INF:") {
                assert!(pending.is_none(), "two STREAM-INF without a URI:\n{text}");
                pending = Some(attribute_list(list));
            } else if line.starts_with('#') {
                panic!("unexpected line {line:?} in a master playlist:\n{text}");
            } else {
                let attributes = pending
                    .take()
                    .unwrap_or_else(|| panic!("URI {line:?} without STREAM-INF:\n{text}"));
                master.variants.push(StreamInf {
                    attributes,
                    uri: line.to_owned(),
                });
            }
        }
        assert!(pending.is_none(), "STREAM-INF without a URI:\n{text}");
        master
    }
}
