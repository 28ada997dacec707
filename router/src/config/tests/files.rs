//! Several files: a directory merged in name order, names unique across files, `[router]` keys
//! set once, and files or directories that cannot be read.

use std::fs;
use std::path::Path;

use super::super::load;
use super::super::model::{LocalSettings, Location, Severity, SinkKind};
use super::{compile_files, graph, listing};

fn write(dir: &Path, name: &str, text: &str) {
    fs::write(dir.join(name), text).unwrap();
}

#[test]
fn a_directory_is_every_toml_file_merged_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "20-publish.toml",
        "[sinks.web]\ntype = \"local\"\ninputs = [\"cam\"]\npath = \"www\"\n",
    );
    write(
        dir.path(),
        "10-input.toml",
        "[router]\nserve = \"127.0.0.1:8080\"\n[sources.cam]\ntype = \"stdin\"\n\
         [segmenters.cam]\ninput = \"cam\"\n[playlists.cam]\ninput = \"cam\"\n",
    );
    write(dir.path(), "notes.txt", "not a config");
    fs::create_dir(dir.path().join("sub")).unwrap();
    write(&dir.path().join("sub"), "ignored.toml", "this is not toml");
    let loaded = load(dir.path());
    let graph = graph(&loaded);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        listing(&loaded.diagnostics)
    );
    assert_eq!(graph.sinks["web"].inputs, ["cam"]);
    assert_eq!(
        graph.sinks["web"].kind,
        SinkKind::Local(LocalSettings {
            path: dir.path().join("www")
        }),
        "relative to the file's directory"
    );
    assert_eq!(graph.router.serve, Some("127.0.0.1:8080".parse().unwrap()));
}

#[test]
fn a_name_declared_in_two_files_names_both() {
    let a = "[sources.cam]\ntype = \"stdin\"\n[segmenters.cam]\ninput = \"cam\"\n";
    let b = "\n[sources.cam]\ntype = \"udp\"\nbind = \"0.0.0.0:1\"\n";
    let loaded = compile_files(&[("d/a.toml", a), ("d/b.toml", b)]);
    assert!(loaded.graph.is_none());
    assert_eq!(
        loaded
            .diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "d/a.toml:3:13: warning: segmenters.cam: segmenter is not listed by any playlist",
            "d/b.toml:2:10: error: sources.cam: source `cam` is also declared at d/a.toml:1; names \
             must be unique per kind",
        ]
    );
}

#[test]
fn router_keys_are_set_once_across_files_and_templates_are_shared() {
    let a = "[router]\nserve = \"127.0.0.1:1\"\n[templates.t]\nsources.in = { type = \"stdin\" }\n";
    let b = "[router]\nstate_dir = \"/s\"\nserve = \"127.0.0.1:2\"\n\
             [[feeds]]\ntemplate = \"t\"\nname = \"f\"\n[templates.t]\n";
    let loaded = compile_files(&[("a.toml", a), ("b.toml", b)]);
    let found: Vec<String> = loaded.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        [
            "a.toml:4:9: warning: sources.f.in: source is not read by any segmenter; in feed f \
             (b.toml:4)",
            "b.toml:3:1: error: router.serve: also set at a.toml:2",
            "b.toml:7:12: error: templates.t: template `t` is also declared at a.toml:3",
        ]
    );
}

#[test]
fn each_file_reports_its_first_syntax_error() {
    let loaded = compile_files(&[
        ("a.toml", "[sources.a]\ntype = = \"stdin\"\n"),
        ("b.toml", "[sources.b]\ntype = \"stdin\"\n"),
        ("c.toml", "x = [1,\n"),
    ]);
    let found: Vec<(&str, usize)> = loaded
        .diagnostics
        .iter()
        .map(|d| (d.location.file.to_str().unwrap(), d.location.line))
        .collect();
    assert_eq!(
        found,
        [("a.toml", 2), ("c.toml", 1)],
        "{}",
        listing(&loaded.diagnostics)
    );
    assert!(
        loaded
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Error && d.key.is_empty())
    );
}

#[test]
fn what_cannot_be_read_is_a_diagnostic_at_line_zero() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let loaded = load(&missing);
    assert!(loaded.graph.is_none());
    let error = &loaded.diagnostics[0];
    assert_eq!(
        error.location,
        Location {
            file: missing.clone(),
            line: 0,
            column: 0
        }
    );
    assert!(error.message.starts_with("cannot read: "), "{error}");
    assert_eq!(loaded.diagnostics.len(), 1);

    let loaded = load(dir.path());
    assert_eq!(
        loaded.diagnostics[0].message,
        "the directory has no .toml file"
    );

    write(
        dir.path(),
        "a.toml",
        "[sources.a]\ntype = \"stdin\"\n[segmenters.a]\ninput = \"a\"\n",
    );
    fs::write(dir.path().join("b.toml"), [0xff, 0xfe, b'\n']).unwrap();
    let loaded = load(dir.path());
    assert!(loaded.graph.is_none(), "a file not read means no graph");
    let errors: Vec<_> = loaded.errors().collect();
    assert_eq!(errors.len(), 1, "{}", listing(&loaded.diagnostics));
    assert_eq!(errors[0].location.file, dir.path().join("b.toml"));
}
