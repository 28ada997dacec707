//! `render_text` and `render_dot` over compiled graphs.

use super::super::{render_dot, render_text};
use super::{compile, graph};

const SMALL: &str = r#"
feeds = [{ template = "t", name = "f1", port = 5 }]

[router]
serve = "127.0.0.1:8080"

[sources.cam]
type = "udp"
bind = "0.0.0.0:40000"
group = "239.1.1.1"

[segmenters.cam]
input = "cam"
target_duration = 2.5

[playlists.cam]
input = "cam"
name = "live/index.m3u8"
window = 0
base_url = "http://cdn/x/"

[sinks.web]
type = "local"
inputs = ["cam"]
path = "/srv/my live"

[templates.t]
sources.in = { type = "exec", command = ["ffmpeg", "-i", "say \"hi\"", "-"] }
segmenters.seg = { input = "in" }
playlists.hls = { input = "seg", name = "f/{{feed}}.m3u8", segment_name = "f/{{feed}}-{seq}.ts", window = "{{port}}" }
sinks.web = { type = "local", inputs = ["hls"], path = "/srv/feeds" }
"#;

#[test]
fn text_lists_every_node_with_inputs_and_settings_per_feed() {
    let loaded = compile(&SMALL.replace("window = \"{{port}}\"", "window = 6"));
    let text = render_text(graph(&loaded));
    let expected = r#"router serve=127.0.0.1:8080
2 sources, 2 segmenters, 2 playlists, 2 sinks

top level
  source    cam type=udp bind=0.0.0.0:40000 group=239.1.1.1
  segmenter cam <- cam target_duration=2.5 repeat_ts_headers=true
  playlist  cam <- cam name=live/index.m3u8 segment_name=cam-{seq:05}.ts window=0 base_url=http://cdn/x/ repeat_ts_headers=true delete_expired=true program_date_time=true endlist_on_stop=true
  sink      web <- cam type=local path="/srv/my live"

feed f1
  source    f1.in  type=exec command=["ffmpeg", "-i", "say \"hi\"", "-"]
  segmenter f1.seg <- f1.in target_duration=4 repeat_ts_headers=true
  playlist  f1.hls <- f1.seg name=f/f1.m3u8 segment_name=f/f1-{seq}.ts window=6 repeat_ts_headers=true delete_expired=true program_date_time=true endlist_on_stop=true
  sink      f1.web <- f1.hls type=local path=/srv/feeds
"#;
    assert_eq!(text, expected, "\n{text}");
}

/// A DOT statement list checked without Graphviz: balanced braces, every quoted string closed,
/// every edge between declared nodes.
fn check_dot_structure(dot: &str) {
    assert!(
        dot.starts_with("digraph streamrouter {\n") && dot.ends_with("}\n"),
        "{dot}"
    );
    let mut depth = 0i32;
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for line in dot.lines() {
        let strings = quoted_strings(line);
        if line.trim_end().ends_with('{') {
            depth += 1;
        } else if line.trim() == "}" {
            depth -= 1;
        } else if line.contains(" -> ") {
            assert_eq!(strings.len(), 2, "{line}");
            edges.push((strings[0].clone(), strings[1].clone()));
        } else if line.contains("[shape=") {
            nodes.push(strings[0].clone());
        }
        assert!(depth >= 0, "{line}");
    }
    assert_eq!(depth, 0);
    for (from, to) in &edges {
        assert!(
            nodes.contains(from) && nodes.contains(to),
            "{from} -> {to} undeclared"
        );
    }
    assert!(!edges.is_empty());
}

/// The quoted strings of a line, unescaped; fails on an unclosed quote.
fn quoted_strings(line: &str) -> Vec<String> {
    let mut strings = Vec::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut string = String::new();
        loop {
            match chars.next() {
                Some('\\') => string.push(chars.next().unwrap()),
                Some('"') => break,
                Some(c) => string.push(c),
                None => panic!("unclosed string in {line}"),
            }
        }
        strings.push(string);
    }
    strings
}

#[test]
fn dot_is_a_digraph_in_data_flow_order() {
    let loaded = compile(&SMALL.replace("window = \"{{port}}\"", "window = 6"));
    let dot = render_dot(graph(&loaded));
    check_dot_structure(&dot);
    for edge in [
        r#"  "source:cam" -> "segmenter:cam";"#,
        r#"  "segmenter:cam" -> "playlist:cam";"#,
        r#"  "playlist:cam" -> "sink:web";"#,
        r#"  "playlist:f1.hls" -> "sink:f1.web";"#,
    ] {
        assert!(dot.contains(edge), "{edge} missing:\n{dot}");
    }
    assert!(
        dot.contains("  subgraph cluster_1 {\n    label=\"feed f1\";"),
        "{dot}"
    );
    assert!(
        dot.contains(
            r##""source:f1.in" [shape=invhouse, fillcolor="#d8eefe", label="f1.in\nexec ffmpeg"];"##
        ),
        "{dot}"
    );
    assert!(dot.contains(r#"label="web\nlocal /srv/my live""#), "{dot}");
    if let Ok(mut child) = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(dot.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "Graphviz refused:\n{dot}");
    }
}

#[test]
fn remote_sinks_show_their_settings_and_hide_their_credentials() {
    let text = r#"[sources.cam]
type = "stdin"
[segmenters.cam]
input = "cam"
[playlists.cam]
input = "cam"
[sinks.cdn]
type = "s3"
inputs = ["cam"]
bucket = "ionlivestream"
prefix = "stream0001/"
endpoint = "http://127.0.0.1:9000"
access_key_id = "id"
secret_access_key = "key"
acl = "public-read"
[sinks.partner]
type = "ftp"
inputs = ["cam"]
host = "ftp.example.com"
password = "pw"
tls = true
[sinks.origin]
type = "scp"
inputs = ["cam"]
host = "origin.example.com"
user = "deploy"
key_file = "/keys/id"
directory = "www/live"
"#;
    let loaded = compile(text);
    let graph = graph(&loaded);
    let rendered = render_text(graph);
    let sinks: Vec<&str> = rendered
        .lines()
        .filter(|line| line.starts_with("  sink"))
        .collect();
    assert_eq!(
        sinks,
        [
            "  sink      cdn     <- cam type=s3 bucket=ionlivestream prefix=stream0001/ \
             region=us-east-1 endpoint=http://127.0.0.1:9000 acl=public-read access_key_id=*** \
             secret_access_key=***",
            "  sink      origin  <- cam type=scp host=origin.example.com port=22 user=deploy \
             key_file=/keys/id directory=www/live known_hosts=/home/tester/.ssh/known_hosts",
            "  sink      partner <- cam type=ftp host=ftp.example.com port=21 user=anonymous \
             password=*** directory=\"\" tls=true",
        ],
        "\n{rendered}"
    );
    let dot = render_dot(graph);
    check_dot_structure(&dot);
    for label in [
        r#"label="cdn\ns3 bucket=ionlivestream prefix=stream0001/ endpoint=http://127.0.0.1:9000""#,
        r#"label="partner\nftp host=ftp.example.com port=21 user=anonymous directory=\"\" tls=true""#,
        r#"label="origin\nscp host=origin.example.com port=22 user=deploy directory=www/live""#,
    ] {
        assert!(dot.contains(label), "{label} missing:\n{dot}");
    }
}

#[test]
fn a_master_is_shown_between_its_variants_and_its_sinks() {
    let text = r#"[sources.low]
type = "udp"
bind = "0.0.0.0:40001"
[sources.high]
type = "udp"
bind = "0.0.0.0:40002"
[segmenters.low]
input = "low"
[segmenters.high]
input = "high"
[playlists.low]
input = "low"
[playlists.high]
input = "high"
[playlists.extra]
input = "high"
segment_name = "extra-{seq}.ts"
[masters.show]
variants = ["low", "high"]
[sinks.web]
type = "local"
inputs = ["show", "extra"]
path = "/srv/live"
"#;
    let loaded = compile(text);
    let graph = graph(&loaded);
    let rendered = render_text(graph);
    assert!(
        rendered.contains("\n2 sources, 2 segmenters, 3 playlists, 1 masters, 1 sinks\n"),
        "{rendered}"
    );
    let lines: Vec<&str> = rendered
        .lines()
        .filter(|line| !line.starts_with("  source") && !line.starts_with("  playlist"))
        .filter(|line| line.starts_with("  "))
        .collect();
    assert_eq!(
        lines,
        [
            "  segmenter high  <- high target_duration=4 repeat_ts_headers=true aligned=true",
            "  segmenter low   <- low target_duration=4 repeat_ts_headers=true aligned=true",
            "  master    show  <- low, high name=show.m3u8",
            "  sink      web   <- low, high, extra type=local masters=show path=/srv/live",
        ],
        "\n{rendered}"
    );
    let dot = render_dot(graph);
    check_dot_structure(&dot);
    for edge in [
        r#"  "playlist:low" -> "master:show";"#,
        r#"  "playlist:high" -> "master:show";"#,
        r#"  "master:show" -> "sink:web";"#,
        r#"  "playlist:extra" -> "sink:web";"#,
    ] {
        assert!(dot.contains(edge), "{edge} missing:\n{dot}");
    }
    assert!(
        !dot.contains(r#""playlist:low" -> "sink:web""#),
        "a variant reaches the sink through its master:\n{dot}"
    );
    assert!(
        dot.contains(r##""master:show" [shape=tab, fillcolor="#e8ddf7", label="show\nshow.m3u8, 2 variants"];"##),
        "{dot}"
    );
}

#[test]
fn an_encrypted_playlist_shows_its_encryption_settings() {
    let text = SMALL
        .replace("window = \"{{port}}\"", "window = 6")
        .replace(
            "base_url = \"http://cdn/x/\"\n",
            "base_url = \"http://cdn/x/\"\n\n[playlists.cam.encryption]\nrotate_every = 3\n\
         key_uri = \"https://keys.example.com/{key:04}.key\"\nkey_sink = \"keys\"\n\n\
         [sinks.keys]\ntype = \"local\"\ninputs = []\npath = \"/srv/keys\"\n",
        );
    let loaded = compile(&text);
    let shown = render_text(graph(&loaded));
    let line = (shown.lines())
        .find(|line| line.starts_with("  playlist  cam"))
        .unwrap();
    assert!(
        line.ends_with(
            " encryption.method=AES-128 encryption.rotate_every=3 \
             encryption.key_name=cam-{key:04}.key \
             encryption.key_uri=https://keys.example.com/{key:04}.key encryption.key_sink=keys"
        ),
        "{shown}"
    );
    let dot = render_dot(graph(&loaded));
    assert!(dot.contains("AES-128 (key every 3)"), "{dot}");
}
