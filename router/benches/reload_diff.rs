//! Hot reload cost on a 1000-feed template config with one feed changed (issue 6: under 200 ms
//! from file write to applied): compiling the new config, diffing it against the running graph,
//! and both in a row, which is the reload's work before anything is applied.
//!
//! `cargo bench -p streamrouter --bench reload_diff`

#![allow(
    clippy::panic,
    reason = "like a test, a benchmark whose setup is wrong must stop loudly"
)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use streamrouter::config::compile_sources;
use streamrouter::config::diff::diff;
use streamrouter::config::model::Graph;

const FEEDS: usize = 1000;
/// The feed whose window the edit changes.
const CHANGED_FEED: usize = 500;

const TEMPLATE: &str = r#"
[templates.channel]
sources.in = { type = "udp", bind = "127.0.0.1:{{port}}" }
segmenters.seg = { input = "in", target_duration = 4 }
playlists.hls = { input = "seg", name = "{{feed}}/index.m3u8", segment_name = "{{feed}}/seg-{seq:05}.ts", window = "{{window}}" }
sinks.web = { type = "local", inputs = ["hls"], path = "/var/www/live" }
"#;

/// The config text: one feed line each, `changed_window` for [`CHANGED_FEED`].
fn config(changed_window: u32) -> Vec<(PathBuf, String)> {
    let mut text = String::from("feeds = [\n");
    for feed in 0..FEEDS {
        let window = if feed == CHANGED_FEED {
            changed_window
        } else {
            6
        };
        text.push_str(&format!(
            "  {{ template = \"channel\", name = \"ch{feed:04}\", port = {}, window = {window} }},\n",
            30000 + feed
        ));
    }
    text.push_str("]\n");
    text.push_str(TEMPLATE);
    vec![(PathBuf::from("/etc/streamrouter/feeds.toml"), text)]
}

fn compile(sources: &[(PathBuf, String)]) -> Graph {
    let loaded = compile_sources(sources);
    match loaded.graph {
        Some(graph) => graph,
        None => panic!(
            "the benchmark config does not compile: {:?}",
            loaded.diagnostics
        ),
    }
}

fn reload(c: &mut Criterion) {
    let running = compile(&config(6));
    let edited = config(8);
    // What is measured is the right thing: one playlist changed live, 999 feeds untouched.
    let changes = diff(&running, &compile(&edited)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        changes.playlists_live.iter().collect::<Vec<_>>(),
        [&format!("ch{CHANGED_FEED:04}.hls")]
    );
    assert_eq!(changes.sources.unchanged.len(), FEEDS);
    assert_eq!(changes.playlists.unchanged.len(), FEEDS - 1);
    assert!(changes.feed_restart.segmenters.is_empty());
    println!("diff: {changes}");

    let mut group = c.benchmark_group("reload_1000_feeds");
    group.sample_size(20);
    group.bench_function("compile", |b| b.iter(|| compile(black_box(&edited))));
    let new = compile(&edited);
    group.bench_function("diff", |b| {
        b.iter(|| diff(black_box(&running), black_box(&new)))
    });
    group.bench_function("compile_and_diff", |b| {
        b.iter(|| diff(&running, &compile(black_box(&edited))))
    });
    group.finish();
}

criterion_group!(benches, reload);
criterion_main!(benches);
