//! Remote sinks (`s3`, `ftp`, `scp`): their keys and defaults, each bad value at its line and
//! key, and password files. Collisions at one remote place are in `remote_places`.

use std::path::{Path, PathBuf};

use super::super::model::{FtpSettings, S3Settings, ScpSettings, Secret, SinkKind};
use super::super::{Environment, compile_sources_with};
use super::{CHAIN, HOME, compile, compile_in, graph, listing};

/// `(line, key, message)` of every diagnostic.
fn found(loaded: &super::Loaded) -> Vec<(usize, &str, &str)> {
    loaded
        .diagnostics
        .iter()
        .map(|d| (d.location.line, d.key.as_str(), d.message.as_str()))
        .collect()
}

const REMOTE: &str = r#"
[sinks.cdn]
type = "s3"
inputs = ["cam"]
bucket = "ionlivestream"

[sinks.minio]
type = "s3"
inputs = ["cam"]
bucket = "live.bucket-1"
prefix = "stream0001/"
region = "eu-west-3"
endpoint = "http://127.0.0.1:9000"
access_key_id = "AKIDEXAMPLE"
secret_access_key = "wJalrXUtnFEMI"
acl = "public-read"

[sinks.partner]
type = "ftp"
inputs = ["cam"]
host = "ftp.example.com"

[sinks.partner_tls]
type = "ftp"
inputs = ["cam"]
host = "10.0.0.2"
port = 2121
user = "uploader"
password_file = "secrets/ftp.txt"
directory = "/pub/live"
tls = true

[sinks.origin]
type = "scp"
inputs = ["cam"]
host = "origin.example.com"
user = "deploy"
key_file = "keys/id_ed25519"

[sinks.origin2]
type = "scp"
inputs = ["cam"]
host = "origin.example.com"
port = 2222
user = "deploy"
key_file = "~/.ssh/id_ed25519"
directory = "www/live"
known_hosts = "known_hosts"
"#;

#[test]
fn remote_sinks_take_their_keys_and_defaults() {
    let text = format!("{CHAIN}{REMOTE}");
    let loaded = compile_in(
        &[("conf/test.toml", &text)],
        &[],
        &[("conf/secrets/ftp.txt", "pa55 word\r\n")],
    );
    let graph = graph(&loaded);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        listing(&loaded.diagnostics)
    );
    // Every other key is unset (a key added to the type is too, or this fails).
    let s3 = |bucket: &str| S3Settings {
        bucket: bucket.to_owned(),
        prefix: String::new(),
        region: "us-east-1".to_owned(),
        ..S3Settings::default()
    };
    assert_eq!(graph.sinks["cdn"].kind, SinkKind::S3(s3("ionlivestream")));
    assert_eq!(
        graph.sinks["minio"].kind,
        SinkKind::S3(S3Settings {
            prefix: "stream0001/".to_owned(),
            region: "eu-west-3".to_owned(),
            endpoint: Some("http://127.0.0.1:9000".to_owned()),
            access_key_id: Some(Secret::new("AKIDEXAMPLE")),
            secret_access_key: Some(Secret::new("wJalrXUtnFEMI")),
            acl: Some("public-read".to_owned()),
            ..s3("live.bucket-1")
        })
    );
    let ftp = FtpSettings {
        host: "ftp.example.com".to_owned(),
        port: 21,
        user: "anonymous".to_owned(),
        password: None,
        password_file: None,
        directory: String::new(),
        tls: false,
    };
    assert_eq!(graph.sinks["partner"].kind, SinkKind::Ftp(ftp.clone()));
    assert_eq!(
        graph.sinks["partner_tls"].kind,
        SinkKind::Ftp(FtpSettings {
            host: "10.0.0.2".to_owned(),
            port: 2121,
            user: "uploader".to_owned(),
            password: Some(Secret::new("pa55 word")),
            password_file: None,
            directory: "/pub/live".to_owned(),
            tls: true,
        }),
        "the password file's line end is removed"
    );
    let scp = ScpSettings {
        host: "origin.example.com".to_owned(),
        port: 22,
        user: "deploy".to_owned(),
        key_file: PathBuf::from("conf/keys/id_ed25519"),
        directory: String::new(),
        known_hosts: Path::new(HOME).join(".ssh/known_hosts"),
    };
    assert_eq!(graph.sinks["origin"].kind, SinkKind::Scp(scp.clone()));
    assert_eq!(
        graph.sinks["origin2"].kind,
        SinkKind::Scp(ScpSettings {
            port: 2222,
            key_file: Path::new(HOME).join(".ssh/id_ed25519"),
            directory: "www/live".to_owned(),
            known_hosts: PathBuf::from("conf/known_hosts"),
            ..scp
        })
    );
}

#[test]
fn bad_remote_values_are_each_explained() {
    let loaded = compile(&format!(
        r#"{CHAIN}
[sinks.a]
type = "s3"
inputs = ["cam"]
bucket = "My_Bucket"
prefix = "/live/"
region = "eu west"
endpoint = "s3.example.com"
acl = "public_read"
access_key_id = "AKIDEXAMPLE"
[sinks.b]
type = "s3"
inputs = ["cam"]
bucket = "s3://bucket/live"
prefix = "a/../b"
[sinks.c]
type = "ftp"
inputs = ["cam"]
host = "ftp://ftp.example.com"
port = 0
user = ""
directory = "../up"
[sinks.d]
type = "scp"
inputs = ["cam"]
host = "my host"
port = "22"
[sinks.e]
type = "ftp"
inputs = ["cam"]
host = ""
port = 65536
[sinks.f]
type = "sftp"
inputs = ["cam"]
[sinks.g]
type = "ftps"
inputs = ["cam"]
"#
    ));
    let bucket_rule = "is not a valid bucket name: 3 to 63 lowercase letters, digits, `.` and \
                       `-`, beginning and ending with a letter or digit";
    assert_eq!(
        found(&loaded),
        [
            (
                17,
                "sinks.a.secret_access_key",
                "missing `secret_access_key`: it goes with `access_key_id` (write both, or \
                 neither)"
            ),
            (20, "sinks.a.bucket", &*format!("`My_Bucket` {bucket_rule}")),
            (
                21,
                "sinks.a.prefix",
                "`/live/` must not start with `/`: keys are relative to the bucket"
            ),
            (
                22,
                "sinks.a.region",
                "`eu west` is not a region name, like us-east-1"
            ),
            (
                23,
                "sinks.a.endpoint",
                "`s3.example.com` is not an http:// or https:// URL, like http://127.0.0.1:9000"
            ),
            (
                24,
                "sinks.a.acl",
                "unknown acl `public_read`; expected one of private, public-read, \
                 public-read-write, authenticated-read, bucket-owner-read, \
                 bucket-owner-full-control; did you mean `public-read`?"
            ),
            (
                29,
                "sinks.b.bucket",
                "`s3://bucket/live` is a URL: write the bucket's name alone, and the key prefix \
                 in `prefix`"
            ),
            (30, "sinks.b.prefix", "`a/../b` must not contain `..`"),
            (
                34,
                "sinks.c.host",
                "`ftp://ftp.example.com` is not a host name or address: no URL, and the \
                 directory goes in `directory`"
            ),
            (35, "sinks.c.port", "must be from 1 to 65535, got 0"),
            (
                36,
                "sinks.c.user",
                "must be a login name, not empty and without spaces"
            ),
            (37, "sinks.c.directory", "`../up` must not contain `..`"),
            (38, "sinks.d.user", "missing `user` (the login name)"),
            (
                38,
                "sinks.d.key_file",
                "missing `key_file` (the private key to log in with)"
            ),
            (41, "sinks.d.host", "`my host` must not contain spaces"),
            (42, "sinks.d.port", "expected a port number, found a string"),
            (46, "sinks.e.host", "must not be empty"),
            (47, "sinks.e.port", "must be from 1 to 65535, got 65536"),
            (
                49,
                "sinks.f.type",
                "there is no sink type `sftp`: type = \"scp\" publishes over SFTP"
            ),
            (
                52,
                "sinks.g.type",
                "unknown sink type `ftps`; expected one of local, s3, ftp, scp, plugin; did you mean \
                 `ftp`?"
            ),
        ],
        "{}",
        listing(&loaded.diagnostics)
    );
    assert!(loaded.graph.is_none());
}

#[test]
fn a_prefix_without_a_final_slash_is_a_warning() {
    let loaded = compile(&format!(
        "{CHAIN}\n[sinks.cdn]\ntype = \"s3\"\ninputs = [\"cam\"]\nbucket = \"abc\"\nprefix = \"live\"\n"
    ));
    assert_eq!(
        found(&loaded),
        [(
            21,
            "sinks.cdn.prefix",
            "`live` does not end with `/`: object keys will be it directly followed by the file \
             name"
        )]
    );
    assert_eq!(
        loaded.diagnostics[0].severity,
        super::super::model::Severity::Warning
    );
    assert!(loaded.graph.is_some());
}

/// CHAIN plus an FTP sink with `password_settings`, whose password files are `readable`.
fn ftp_with(password_settings: &str, readable: &[(&str, &str)]) -> super::Loaded {
    let text = format!(
        "{CHAIN}\n[sinks.ftp]\ntype = \"ftp\"\ninputs = [\"cam\"]\nhost = \"h\"\n{password_settings}\n"
    );
    compile_in(&[("conf/test.toml", &text)], &[], readable)
}

#[test]
fn password_files_are_read_and_their_problems_name_the_file() {
    let loaded = ftp_with(
        "password_file = \"~/ftp.pass\"",
        &[("/home/tester/ftp.pass", "x\n")],
    );
    let SinkKind::Ftp(ftp) = &graph(&loaded).sinks["ftp"].kind else {
        panic!("an ftp sink")
    };
    assert_eq!(ftp.password, Some(Secret::new("x")));

    let loaded = ftp_with("password_file = \"missing.pass\"", &[]);
    assert_eq!(
        found(&loaded),
        [(
            21,
            "sinks.ftp.password_file",
            "cannot read the password file conf/missing.pass: No such file or directory"
        )]
    );
    let loaded = ftp_with("password_file = \"empty\"", &[("conf/empty", "\n")]);
    assert_eq!(
        found(&loaded),
        [(
            21,
            "sinks.ftp.password_file",
            "the password file conf/empty is empty"
        )]
    );
    let loaded = ftp_with(
        "password = \"a\"\npassword_file = \"p\"",
        &[("conf/p", "b")],
    );
    assert_eq!(
        found(&loaded),
        [(
            22,
            "sinks.ftp.password_file",
            "`password` and `password_file` exclude each other: write one"
        )]
    );
    let loaded = ftp_with("password = \"\"", &[]);
    assert_eq!(
        found(&loaded),
        [(21, "sinks.ftp.password", "must not be empty")]
    );
}

#[test]
fn known_hosts_needs_home_when_it_is_not_written() {
    let text = format!(
        "{CHAIN}\n[sinks.ssh]\ntype = \"scp\"\ninputs = [\"cam\"]\nhost = \"h\"\nuser = \"u\"\n\
         key_file = \"/k\"\n"
    );
    let sources = [(PathBuf::from("conf/test.toml"), text)];
    let environment = Environment {
        home: None,
        var: &|_: &str| None,
        read_file: &|_: &Path| Err(std::io::ErrorKind::NotFound.into()),
    };
    let loaded = compile_sources_with(&sources, &environment);
    assert_eq!(
        found(&loaded),
        [(
            17,
            "sinks.ssh.known_hosts",
            "`known_hosts` defaults to ~/.ssh/known_hosts, but HOME is not set: write \
             `known_hosts`"
        )]
    );
}

#[test]
fn delete_grace_takes_units_or_seconds_and_defaults_to_none() {
    let loaded = compile(&format!(
        "{CHAIN}delete_grace = \"30s\"\n\n[sinks.later]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"/srv/other\"\ndelete_grace = 90\n"
    ));
    let sinks = &graph(&loaded).sinks;
    assert_eq!(
        sinks["web"].delete_grace,
        std::time::Duration::from_secs(30)
    );
    assert_eq!(
        sinks["later"].delete_grace,
        std::time::Duration::from_secs(90)
    );
    let plain = compile(CHAIN);
    assert_eq!(
        graph(&plain).sinks["web"].delete_grace,
        std::time::Duration::ZERO
    );
}

#[test]
fn a_bad_delete_grace_is_an_error_at_its_key() {
    let loaded = compile(&format!("{CHAIN}delete_grace = \"soon\"\n"));
    let errors = found(&loaded);
    let line = CHAIN.lines().count() + 1;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].0, errors[0].1), (line, "sinks.web.delete_grace"));
    assert!(
        errors[0].2.starts_with("not a duration like \"30s\""),
        "{}",
        errors[0].2
    );
    assert!(loaded.graph.is_none());
}

#[test]
fn spool_limit_takes_units_or_bytes_and_defaults_to_a_gibibyte() {
    let loaded = compile(&format!(
        "{CHAIN}spool_limit = \"200MiB\"\n\n[sinks.later]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"/srv/other\"\nspool_limit = 5000\n"
    ));
    let sinks = &graph(&loaded).sinks;
    assert_eq!(sinks["web"].spool_limit, 200 * 1024 * 1024);
    assert_eq!(sinks["later"].spool_limit, 5000);
    assert_eq!(graph(&compile(CHAIN)).sinks["web"].spool_limit, 1 << 30);
}

#[test]
fn a_bad_spool_limit_is_an_error_at_its_key() {
    let loaded = compile(&format!("{CHAIN}spool_limit = \"lots\"\n"));
    let errors = found(&loaded);
    let line = CHAIN.lines().count() + 1;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].0, errors[0].1), (line, "sinks.web.spool_limit"));
    assert!(
        errors[0].2.starts_with("not a size like \"1GiB\""),
        "{}",
        errors[0].2
    );
}

#[test]
fn header_overrides_are_read_and_checked() {
    let loaded = compile(&format!(
        "{CHAIN}playlist_cache_control = \"no-cache\"\nsegment_content_type = \"video/MP2T\"\n"
    ));
    let headers = &graph(&loaded).sinks["web"].headers;
    assert_eq!(headers.playlist_cache_control.as_deref(), Some("no-cache"));
    assert_eq!(headers.segment_content_type.as_deref(), Some("video/MP2T"));
    assert_eq!(headers.segment_cache_control, None);
    let bad = compile(&format!("{CHAIN}segment_cache_control = \"  \"\n"));
    let errors = found(&bad);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].1, "sinks.web.segment_cache_control");
}
