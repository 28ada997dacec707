//! Master playlists as the tests see them: read by the `m3u8-rs` crate (EXT-X-STREAM-INF and
//! its attributes), not by code of ours.

/// One `#EXT-X-STREAM-INF` and its URI.
#[derive(Debug, Clone)]
pub(crate) struct StreamInf {
    variant: m3u8_rs::VariantStream,
    pub(crate) uri: String,
}

impl StreamInf {
    /// `BANDWIDTH` or `AVERAGE-BANDWIDTH`; panics if absent.
    pub(crate) fn number(&self, key: &str) -> u64 {
        let value = match key {
            "BANDWIDTH" => Some(self.variant.bandwidth),
            "AVERAGE-BANDWIDTH" => self.variant.average_bandwidth,
            _ => panic!("no number attribute {key} in the tests"),
        };
        value.unwrap_or_else(|| panic!("{key} missing: {self:?}"))
    }

    /// `CODECS`, split; panics if absent (or not a quoted string, which m3u8-rs does not take
    /// for CODECS).
    pub(crate) fn codecs(&self) -> Vec<&str> {
        (self.variant.codecs.as_deref())
            .unwrap_or_else(|| panic!("CODECS missing: {self:?}"))
            .split(',')
            .collect()
    }

    pub(crate) fn resolution(&self) -> Option<(u32, u32)> {
        self.variant.resolution.map(|resolution| {
            let side = |n: u64| u32::try_from(n).expect("RESOLUTION fits u32");
            (side(resolution.width), side(resolution.height))
        })
    }

    pub(crate) fn frame_rate(&self) -> Option<f64> {
        self.variant.frame_rate
    }
}

/// A master playlist.
#[derive(Debug, Clone, Default)]
pub(crate) struct Master {
    pub(crate) version: Option<u64>,
    pub(crate) independent_segments: bool,
    pub(crate) variants: Vec<StreamInf>,
}

impl Master {
    /// Parses a master playlist; panics with the text on anything that does not belong there.
    pub(crate) fn parse(text: &str) -> Self {
        assert!(text.starts_with("#EXTM3U"), "master:\n{text}");
        let parsed = m3u8_rs::parse_master_playlist_res(text.as_bytes())
            .unwrap_or_else(|e| panic!("not a master playlist ({e:?}):\n{text}"));
        assert!(
            parsed.unknown_tags.is_empty()
                && parsed.alternatives.is_empty()
                && parsed.session_data.is_empty()
                && parsed.session_key.is_empty()
                && parsed.start.is_none(),
            "unexpected lines in a master playlist:\n{text}"
        );
        let variants = (parsed.variants.into_iter())
            .map(|variant| {
                assert!(
                    !variant.is_i_frame && variant.other_attributes.is_none(),
                    "unexpected STREAM-INF {variant:?}:\n{text}"
                );
                StreamInf {
                    uri: variant.uri.clone(),
                    variant,
                }
            })
            .collect();
        Master {
            version: parsed.version.map(|version| version as u64),
            independent_segments: parsed.independent_segments,
            variants,
        }
    }
}
