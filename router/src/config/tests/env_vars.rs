//! `${VAR}` in every node and in `[router]`, its errors at their keys, and credentials that
//! never show: not in diagnostics, renderings or the graph's `Debug`.

use std::path::PathBuf;

use super::super::model::{LocalSettings, Secret, Severity, SinkKind, SourceKind};
use super::super::{render_dot, render_text};
use super::{CHAIN, compile_in, graph, listing};

/// `(line, column, key, message)` of every diagnostic.
fn found(loaded: &super::Loaded) -> Vec<(usize, usize, &str, &str)> {
    loaded
        .diagnostics
        .iter()
        .map(|d| {
            let at = &d.location;
            (at.line, at.column, d.key.as_str(), d.message.as_str())
        })
        .collect()
}

fn compile_with_vars(text: &str, vars: &[(&str, &str)]) -> super::Loaded {
    compile_in(&[("conf/test.toml", text)], vars, &[])
}

const WITH_VARS: &str = r#"[router]
state_dir = "${STATE}/streamrouter"

[sources.cam]
type = "exec"
command = ["${FFMPEG}", "-i", "rtsp://${CAMERA}/live", "-f", "mpegts", "-"]

[segmenters.cam]
input = "cam"

[playlists.cam]
input = "cam"
base_url = "https://${CDN}/live/"

[sinks.cdn]
type = "s3"
inputs = ["cam"]
bucket = "${BUCKET}"
access_key_id = "${AWS_ACCESS_KEY_ID}"
secret_access_key = "${AWS_SECRET_ACCESS_KEY}"

[sinks.web]
type = "local"
inputs = ["cam"]
path = "/srv/$${literal}/$HOME"
"#;

const VARS: [(&str, &str); 7] = [
    ("STATE", "/var/lib"),
    ("FFMPEG", "/usr/bin/ffmpeg"),
    ("CAMERA", "10.0.0.7"),
    ("CDN", "cdn.example.com"),
    ("BUCKET", "live-bucket"),
    ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
    ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG"),
];

#[test]
fn variables_are_read_in_every_node_and_in_router() {
    let loaded = compile_with_vars(WITH_VARS, &VARS);
    let graph = graph(&loaded);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        listing(&loaded.diagnostics)
    );
    assert_eq!(
        graph.router.state_dir,
        Some(PathBuf::from("/var/lib/streamrouter"))
    );
    let SourceKind::Exec { command } = &graph.sources["cam"].kind else {
        panic!("an exec source")
    };
    assert_eq!(
        command.argv()[..3],
        ["/usr/bin/ffmpeg", "-i", "rtsp://10.0.0.7/live"]
    );
    assert_eq!(
        graph.playlists["cam"].base_url.as_deref(),
        Some("https://cdn.example.com/live/")
    );
    let SinkKind::S3(s3) = &graph.sinks["cdn"].kind else {
        panic!("an s3 sink")
    };
    assert_eq!(s3.bucket, "live-bucket");
    assert_eq!(s3.access_key_id, Some(Secret::new("AKIDEXAMPLE")));
    assert_eq!(
        s3.secret_access_key.as_ref().map(Secret::expose),
        Some("wJalrXUtnFEMI/K7MDENG")
    );
    assert_eq!(
        graph.sinks["web"].kind,
        SinkKind::Local(LocalSettings {
            path: PathBuf::from("/srv/${literal}/$HOME")
        }),
        "`$${{` is a literal `${{`, a `$` alone is itself"
    );
}

#[test]
fn a_variable_that_is_not_set_is_an_error_at_its_key_and_nothing_more() {
    let vars: Vec<(&str, &str)> = (VARS.iter().copied())
        .filter(|(name, _)| !["AWS_SECRET_ACCESS_KEY", "BUCKET", "STATE"].contains(name))
        .collect();
    let loaded = compile_with_vars(
        &WITH_VARS.replace("\"${FFMPEG}\"", "\"${FFMPEG}${NOPE}${ALSO_NOPE}\""),
        &vars,
    );
    assert_eq!(
        found(&loaded),
        [
            (
                2,
                13,
                "router.state_dir",
                "environment variable STATE is not set"
            ),
            (
                6,
                12,
                "sources.cam.command",
                "environment variable NOPE is not set"
            ),
            (
                6,
                12,
                "sources.cam.command",
                "environment variable ALSO_NOPE is not set"
            ),
            (
                18,
                10,
                "sinks.cdn.bucket",
                "environment variable BUCKET is not set"
            ),
            (
                20,
                21,
                "sinks.cdn.secret_access_key",
                "environment variable AWS_SECRET_ACCESS_KEY is not set"
            ),
        ],
        "no invalid bucket name, no missing key pair: the values are not what was meant"
    );
    assert!(loaded.graph.is_none());
    assert_eq!(
        loaded.diagnostics[4].to_string(),
        "conf/test.toml:20:21: error: sinks.cdn.secret_access_key: environment variable \
         AWS_SECRET_ACCESS_KEY is not set"
    );
}

#[test]
fn badly_written_references_are_errors_and_unknown_keys_still_show() {
    let loaded = compile_with_vars(
        &format!(
            "{CHAIN}\n[sinks.cdn]\ntype = \"s3\"\ninputs = [\"cam\"]\nbucket = \"b-${{1X}}\"\n\
             prefix = \"${{OPEN\"\nacess_key_id = \"${{NOPE}}\"\n"
        ),
        &[],
    );
    assert_eq!(
        found(&loaded)
            .iter()
            .map(|&(line, _, key, _)| (line, key))
            .collect::<Vec<_>>(),
        [
            (20, "sinks.cdn.bucket"),
            (21, "sinks.cdn.prefix"),
            (22, "sinks.cdn.acess_key_id"),
            (22, "sinks.cdn.acess_key_id"),
        ],
        "the unknown key (column 1) and its unset variable (column 16):\n{}",
        listing(&loaded.diagnostics)
    );
    let messages: Vec<&str> = found(&loaded).iter().map(|found| found.3).collect();
    assert!(messages[0].starts_with("`${` must be followed by an environment variable name"));
    assert_eq!(
        messages[1],
        "`${` is not closed with `}`; write `$${` for a literal `${`"
    );
    assert_eq!(
        messages[2],
        "unknown key `acess_key_id` for an s3 sink; did you mean `access_key_id`?"
    );
    assert_eq!(messages[3], "environment variable NOPE is not set");
}

#[test]
fn a_variable_in_a_template_is_read_per_feed() {
    let text = r#"feeds = [
  { template = "t", name = "a" },
  { template = "t", name = "b" },
  { template = "t", name = "c" },
]

[templates.t]
sources.in = { type = "udp", bind = "${BIND_{{feed}}}" }
segmenters.seg = { input = "in" }
playlists.hls = { input = "seg" }
sinks.out = { type = "ftp", inputs = ["hls"], host = "h", directory = "{{feed}}", password = "${FTP_PASSWORD}" }
"#;
    let vars = [("BIND_a", "0.0.0.0:5001"), ("BIND_b", "0.0.0.0:5002")];
    let loaded = compile_with_vars(text, &vars);
    assert_eq!(
        found(&loaded),
        [
            (
                8,
                37,
                "sources.c.in.bind",
                "environment variable BIND_c is not set; in feed c (conf/test.toml:4)"
            ),
            (
                11,
                94,
                "sinks.a.out.password",
                "environment variable FTP_PASSWORD is not set; in feeds a (conf/test.toml:2), b \
                 (conf/test.toml:3), c (conf/test.toml:4)"
            ),
        ]
    );
    let vars = [
        ("BIND_c", "0.0.0.0:5003"),
        ("FTP_PASSWORD", "x"),
        vars[0],
        vars[1],
    ];
    let loaded = compile_with_vars(text, &vars);
    let graph = graph(&loaded);
    let SourceKind::Udp(udp) = graph.sources["c.in"].kind else {
        panic!("a udp source")
    };
    assert_eq!(udp.bind().port(), 5003);
}

/// Credentials of every kind, written through variables, literally and in a password file.
const WITH_SECRETS: &str = r#"
[sinks.cdn]
type = "s3"
inputs = ["cam"]
bucket = "live"
prefix = "no-slash"
access_key_id = "${KEY_ID}"
secret_access_key = "${SECRET_KEY}"

[sinks.partner]
type = "ftp"
inputs = ["cam"]
host = "ftp.example.com"
password = "Literal-Hunter2"

[sinks.partner_file]
type = "ftp"
inputs = ["cam"]
host = "ftp.example.com"
directory = "other"
password_file = "ftp.pass"
"#;

#[test]
fn secrets_never_show() {
    let secrets = [
        "AKID-Known-Id",
        "Known-Secret-Key",
        "Literal-Hunter2",
        "File-Password-9",
    ];
    let vars = [("KEY_ID", secrets[0]), ("SECRET_KEY", secrets[1])];
    let readable = [("conf/ftp.pass", "File-Password-9\n")];
    let text = format!("{CHAIN}{WITH_SECRETS}");
    let loaded = compile_in(&[("conf/test.toml", &text)], &vars, &readable);
    let graph = graph(&loaded);
    assert_eq!(loaded.diagnostics[0].severity, Severity::Warning);
    let mut shown = vec![
        render_text(graph),
        render_dot(graph),
        format!("{graph:?}"),
        format!("{graph:#?}"),
        format!("{loaded:?}"),
    ];
    assert!(shown[0].contains("secret_access_key=***"), "{}", shown[0]);
    assert!(shown[0].contains("password=***"), "{}", shown[0]);
    // The same credentials in configs with errors about them.
    let broken = [
        text.replace(
            "password = \"Literal-Hunter2\"",
            "password = \"Literal-Hunter2\"\npassword_file = \"ftp.pass\"",
        ),
        text.replace(
            "password = \"Literal-Hunter2\"",
            "passwrd = \"Literal-Hunter2\"",
        ),
        text.replace(
            "access_key_id = \"${KEY_ID}\"",
            "access_key_id = 5\nsecret_key = \"${SECRET_KEY}\"",
        ),
        text.replace("password = \"Literal-Hunter2\"", "password = 5"),
    ];
    for (index, broken) in broken.iter().enumerate() {
        let loaded = compile_in(&[("conf/test.toml", broken)], &vars, &readable);
        assert!(
            loaded.graph.is_none(),
            "{index}: {}",
            listing(&loaded.diagnostics)
        );
        shown.extend(loaded.diagnostics.iter().map(ToString::to_string));
    }
    shown.extend(loaded.diagnostics.iter().map(ToString::to_string));
    for secret in secrets {
        for text in &shown {
            assert!(!text.contains(secret), "{secret} shown in:\n{text}");
        }
    }
}

#[test]
fn a_bad_placeholder_in_a_credential_is_reported_without_its_text() {
    let text = r#"feeds = [{ template = "t", name = "a" }]
[templates.t]
sources.in = { type = "stdin" }
segmenters.seg = { input = "in" }
playlists.hls = { input = "seg" }
sinks.out = { type = "ftp", inputs = ["hls"], host = "h", password = "Pw-{{hidden}}-x" }
"#;
    let loaded = compile_with_vars(text, &[]);
    assert_eq!(
        found(&loaded),
        [(
            6,
            70,
            "sinks.a.out.password",
            "has a `{{` placeholder that cannot be replaced (not quoted: this is a credential); \
             in feed a (conf/test.toml:1)"
        )]
    );
}

#[test]
fn a_bad_placeholder_in_an_srt_passphrase_is_reported_without_its_text() {
    let text = r#"feeds = [{ template = "t", name = "a" }]
[templates.t]
sources.in = { type = "srt", bind = "0.0.0.0:9000", passphrase = "Pw-{{hidden}}-long-enough" }
segmenters.seg = { input = "in" }
playlists.hls = { input = "seg" }
sinks.out = { type = "local", inputs = ["hls"], path = "/srv/live" }
"#;
    let loaded = compile_with_vars(text, &[]);
    let errors = found(&loaded);
    let about: Vec<_> = (errors.iter())
        .filter(|(_, _, key, _)| *key == "sources.a.in.passphrase")
        .collect();
    assert_eq!(about.len(), 1, "{errors:?}");
    assert!(
        about[0].3.starts_with(
            "has a `{{` placeholder that cannot be replaced (not quoted: this is a credential)"
        ),
        "{errors:?}"
    );
    assert!(!format!("{errors:?}").contains("hidden"), "{errors:?}");
}
