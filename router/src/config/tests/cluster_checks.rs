//! The warnings a `[cluster]` adds: every source the stream is pushed to (UDP unicast, an SRT
//! listener, TCP `listen`) or that is this router's own (stdin), at its key; none without a
//! cluster, none for pulled sources and multicast.

use super::super::model::Severity;
use super::{compile, listing, places};

/// One source of each kind, each with its own segmenter and playlist, published by `web`.
const EVERY_SOURCE: &str = r#"
[sources.unicast]
type = "udp"
bind = "0.0.0.0:40000"
[sources.multicast]
type = "udp"
bind = "0.0.0.0:40001"
group = "239.1.1.1"
[sources.listener]
type = "srt"
bind = "0.0.0.0:9000"
[sources.caller]
type = "srt"
mode = "caller"
connect = "encoder:9000"
[sources.rendezvous]
type = "srt"
mode = "rendezvous"
bind = "0.0.0.0:9001"
connect = "encoder:9001"
[sources.accepting]
type = "tcp"
listen = "0.0.0.0:5000"
[sources.dialling]
type = "tcp"
connect = "10.0.0.9:5000"
[sources.pipe]
type = "stdin"
[sources.pulled]
type = "http"
url = "http://encoder/live.ts"
[sources.clip]
type = "file"
path = "/srv/clip.ts"
[sources.child]
type = "exec"
command = ["ffmpeg", "-i", "x", "-f", "mpegts", "-"]
"#;

fn every_source_graph(cluster: &str) -> String {
    let names = [
        "unicast",
        "multicast",
        "listener",
        "caller",
        "rendezvous",
        "accepting",
        "dialling",
        "pipe",
        "pulled",
        "clip",
        "child",
    ];
    let mut text = format!("{cluster}{EVERY_SOURCE}");
    for name in names {
        text.push_str(&format!(
            "[segmenters.{name}]\ninput = \"{name}\"\n[playlists.{name}]\ninput = \"{name}\"\n"
        ));
    }
    let inputs: Vec<String> = names.iter().map(|name| format!("\"{name}\"")).collect();
    text.push_str(&format!(
        "[sinks.web]\ntype = \"local\"\npath = \"/srv/live\"\ninputs = [{}]\n",
        inputs.join(", ")
    ));
    text
}

#[test]
fn in_a_cluster_every_push_source_is_warned_at_its_key() {
    let loaded = compile(&every_source_graph("[cluster]\netcd = [\"h:1\"]\n"));
    let warnings: Vec<(usize, &str, &str)> = (loaded.diagnostics.iter())
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| (d.location.line, d.key.as_str(), d.message.as_str()))
        .collect();
    let pushed = "needs a virtual IP or a load balancer in front of the routers, so that \
                  senders reach it on whichever router runs its feed";
    assert_eq!(
        warnings,
        [
            (
                6,
                "sources.unicast.bind",
                &*format!("UDP unicast is sent to one router's address: it {pushed}")
            ),
            (
                13,
                "sources.listener.bind",
                &format!("an SRT listener is called at one router's address: it {pushed}")
            ),
            (
                25,
                "sources.accepting.listen",
                &format!("a TCP `listen` source is dialled at one router's address: it {pushed}")
            ),
            (
                30,
                "sources.pipe.type",
                "stdin is this router's own input: in a cluster its feed cannot move to another \
                 router (it is not shared)"
            ),
        ],
        "{}",
        listing(&loaded.diagnostics)
    );
    assert!(loaded.graph.is_some(), "warnings only");
    let alone = compile(&every_source_graph(""));
    assert!(
        alone.diagnostics.is_empty(),
        "{}",
        listing(&alone.diagnostics)
    );
}

#[test]
fn a_push_source_of_a_template_is_warned_once_for_every_feed() {
    let text = r#"feeds = [{ template = "t", name = "a", port = 1 }, { template = "t", name = "b", port = 2 }]
[cluster]
etcd = ["h:1"]
[templates.t]
sources.in = { type = "udp", bind = "0.0.0.0:4000{{port}}" }
segmenters.seg = { input = "in" }
playlists.hls = { input = "seg", name = "{{feed}}.m3u8", segment_name = "{{feed}}-{seq}.ts" }
sinks.web = { type = "local", inputs = ["hls"], path = "/srv/live" }
"#;
    let loaded = compile(text);
    assert_eq!(
        places(&loaded, Severity::Warning),
        [(5, 30, "sources.a.in.bind")]
    );
    assert!(
        loaded.diagnostics[0]
            .message
            .ends_with("; in feeds a (conf/test.toml:1), b (conf/test.toml:1)"),
        "{}",
        listing(&loaded.diagnostics)
    );
}
