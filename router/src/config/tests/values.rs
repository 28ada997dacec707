//! Bad values of one node, each explained at its own line and key.

use super::super::model::Severity;
use super::{CHAIN, compile, errors_at, listing};

#[test]
fn bad_source_values_are_each_explained() {
    let loaded = compile(
        r#"[sources.both]
type = "tcp"
listen = "0.0.0.0:9000"
connect = "10.0.0.1:9000"
[sources.neither]
type = "tcp"
[sources.dial_nowhere]
type = "tcp"
connect = "0.0.0.0:9000"
[sources.web]
type = "http"
url = "ftp://example.com/x.ts"
[sources.nothing]
type = "exec"
command = []
[sources.mcast]
type = "udp"
bind = "0.0.0.0:5000"
group = "10.1.1.1"
[sources.typo]
type = "upd"
bind = "0.0.0.0:5001"
"#,
    );
    let errors = errors_at(&loaded);
    assert_eq!(
        errors,
        [
            (
                4,
                "sources.both.connect",
                "a tcp source has `listen` or `connect`, not both"
            ),
            (
                5,
                "sources.neither.listen",
                "missing `listen` (accept a sender) or `connect` (dial out), like 0.0.0.0:9000"
            ),
            (
                9,
                "sources.dial_nowhere.connect",
                "cannot connect to the unspecified address `0.0.0.0:9000`"
            ),
            (
                12,
                "sources.web.url",
                "`ftp://example.com/x.ts` is not an http:// URL"
            ),
            (
                15,
                "sources.nothing.command",
                "must name a program: the array is empty"
            ),
            (
                19,
                "sources.mcast.group",
                "`10.1.1.1` is not a multicast address (224.0.0.0/4)"
            ),
            (
                21,
                "sources.typo.type",
                "unknown source type `upd`; expected one of stdin, file, udp, tcp, http, exec, srt; \
                 did you mean `udp`?"
            ),
        ],
        "{}",
        listing(&loaded.diagnostics)
    );
}

#[test]
fn bad_playlist_and_sink_values_are_each_explained() {
    let loaded = compile(&format!(
        r#"{CHAIN}
[playlists.p1]
input = "cam"
name = "../up.m3u8"
segment_name = "a-{{seq}}-{{seq:03}}.ts"
[playlists.p2]
input = "cam"
name = "/abs.m3u8"
segment_name = "b-{{seq:021}}.ts"
[playlists.p3]
input = "cam"
segment_name = "c-{{seq:5}}.ts"
base_url = "http://cdn/x"
[sinks.cloud]
type = "s3"
inputs = ["p1", "p2", "p3"]
[sinks.typo]
type = "locl"
inputs = ["p1"]
"#
    ));
    let found: Vec<(usize, &str, &str)> = loaded
        .diagnostics
        .iter()
        .map(|d| (d.location.line, d.key.as_str(), d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                19,
                "playlists.p1.name",
                "`../up.m3u8` must not contain `..`"
            ),
            (
                20,
                "playlists.p1.segment_name",
                "must contain `{seq}` or `{seq:0N}` exactly once (found 2), like \
                 `segment-{seq:05}.ts`"
            ),
            (
                23,
                "playlists.p2.name",
                "`/abs.m3u8` must be relative to the sink's directory, not absolute"
            ),
            (
                24,
                "playlists.p2.segment_name",
                "has `{seq:021}`; write `{seq}` or `{seq:0N}` with N from 1 to 20"
            ),
            (
                27,
                "playlists.p3.segment_name",
                "has `{seq:5}`; write `{seq}` or `{seq:0N}` with N from 1 to 20"
            ),
            (
                28,
                "playlists.p3.base_url",
                "`http://cdn/x` does not end with `/`: segment URIs will be it directly followed \
                 by the segment name"
            ),
            (
                29,
                "sinks.cloud.bucket",
                "missing `bucket` (the bucket to publish into)"
            ),
            (
                33,
                "sinks.typo.type",
                "unknown sink type `locl`; expected one of local, s3, ftp, scp, plugin; did you mean \
                 `local`?"
            ),
        ],
        "{}",
        listing(&loaded.diagnostics)
    );
    assert_eq!(loaded.diagnostics[5].severity, Severity::Warning);
}

#[test]
fn a_missing_required_key_does_not_turn_the_others_into_unknown_keys() {
    let loaded = compile("[sources.clip]\ntype = \"file\"\nrealtime = true\nloop = true\n");
    let errors = errors_at(&loaded);
    assert_eq!(
        errors,
        [(1, "sources.clip.path", "missing `path` (the file to read)")]
    );
}

#[test]
fn https_sources_are_refused_until_the_build_has_tls() {
    let loaded = compile(
        r#"[sources.secure]
type = "http"
url = "https://example.com/live.ts"
"#,
    );
    let error = loaded
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Error)
        .expect("an error");
    assert_eq!(
        (error.location.line, error.key.as_str()),
        (3, "sources.secure.url")
    );
    assert!(
        error.message.starts_with("https:// is not supported yet"),
        "{}",
        error.message
    );
    assert!(loaded.graph.is_none());
}

#[test]
fn an_http_url_no_url_parser_takes_is_refused_at_its_key() {
    // It used to pass compile and make the source give up at start.
    let loaded = compile(
        r#"[sources.web]
type = "http"
url = "http://[::1/live.ts"
"#,
    );
    let errors = errors_at(&loaded);
    assert_eq!(
        errors,
        [(
            3,
            "sources.web.url",
            "`http://[::1/live.ts` is not a valid URL: invalid IPv6 address"
        )]
    );
}

#[test]
fn the_multicast_and_command_rules_are_reported_where_they_were() {
    let loaded = compile(
        r#"[sources.v6]
type = "udp"
bind = "[::]:5000"
group = "239.1.1.1"
[sources.unbound]
type = "udp"
group = "10.1.1.1"
[sources.blank]
type = "exec"
command = [" ", "-i"]
"#,
    );
    let errors: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            let at = (d.location.line, d.location.column);
            (at, d.key.as_str(), d.message.as_str())
        })
        .collect();
    assert_eq!(
        errors,
        [
            (
                (3, 1),
                "sources.v6.bind",
                "an IPv4 multicast `group` needs an IPv4 `bind` address"
            ),
            (
                (5, 1),
                "sources.unbound.bind",
                "missing `bind` (the address to receive on, like 0.0.0.0:40000)"
            ),
            (
                (7, 9),
                "sources.unbound.group",
                "`10.1.1.1` is not a multicast address (224.0.0.0/4)"
            ),
            (
                (10, 12),
                "sources.blank.command",
                "the program name is empty"
            ),
        ],
        "{}",
        listing(&loaded.diagnostics)
    );
}
