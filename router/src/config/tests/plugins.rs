//! `type = "plugin"` sinks in compile: `library` resolved like every path, the options table
//! handed over as TOML text (after `${VAR}`), the places findings of loading will point at, and
//! plugin sinks in collisions and rendering. Loading the library is not compile's (see
//! `plugin_sinks` and the end-to-end tests).

use std::path::PathBuf;

use super::super::model::{Location, PluginPlaces, PluginSink, Severity, SinkKind};
use super::super::render_text;
use super::{CHAIN, compile, compile_in, graph, listing, single};

fn at(line: usize, column: usize) -> Location {
    Location {
        file: PathBuf::from("conf/test.toml"),
        line,
        column,
    }
}

#[test]
fn a_plugin_sink_takes_its_library_and_options_as_toml_text() {
    let text = format!(
        r#"{CHAIN}
[sinks.cdn]
type = "plugin"
library = "lib/libsink_mycdn.so"
inputs = ["cam"]
[sinks.cdn.options]
endpoint = "https://cdn.example.com"
token = "${{CDN_TOKEN}}"
retries = 3
regions = ["eu", "us"]
limits = {{ rate = 2.5, burst = true }}
"#
    );
    let loaded = compile_in(
        &[("conf/test.toml", &text)],
        &[("CDN_TOKEN", "s3cr3t")],
        &[],
    );
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        listing(&loaded.diagnostics)
    );
    let SinkKind::Plugin(plugin) = &graph(&loaded).sinks["cdn"].kind else {
        panic!("a plugin sink")
    };
    assert_eq!(
        *plugin,
        PluginSink {
            library: PathBuf::from("conf/lib/libsink_mycdn.so"),
            options: "endpoint = \"https://cdn.example.com\"\nregions = [\"eu\", \"us\"]\n\
                      retries = 3\ntoken = \"s3cr3t\"\n\n[limits]\nburst = true\nrate = 2.5\n"
                .to_owned(),
            at: PluginPlaces {
                library: at(19, 11),
                options: at(21, 1),
            },
        }
    );
    // What the plugin gets is TOML: it reads back to the table as written.
    let table: toml::Table = plugin.options.parse().unwrap();
    assert_eq!(table["limits"]["rate"].as_float(), Some(2.5));
    // Debug (in a log line or an error) shows the keys only: a value may be a credential.
    let shown = format!("{plugin:?}");
    assert!(
        shown.contains("\"token\"") && !shown.contains("s3cr3t"),
        "{shown}"
    );
}

#[test]
fn without_options_the_plugin_gets_empty_text_and_findings_point_at_the_sink() {
    let text = format!(
        "{CHAIN}\n[sinks.p]\ntype = \"plugin\"\ninputs = [\"cam\"]\nlibrary = \"/usr/lib/x.so\"\n"
    );
    let loaded = compile(&text);
    let SinkKind::Plugin(plugin) = &graph(&loaded).sinks["p"].kind else {
        panic!("a plugin sink")
    };
    assert_eq!(plugin.options, "");
    assert_eq!(plugin.library, PathBuf::from("/usr/lib/x.so"));
    assert_eq!(plugin.at.options, at(17, 1));
}

#[test]
fn a_plugin_sink_needs_a_library_and_a_table_of_options() {
    let text = format!("{CHAIN}\n[sinks.p]\ntype = \"plugin\"\ninputs = [\"cam\"]\n");
    let loaded = compile(&text);
    let diagnostic = single(&loaded, Severity::Error, 17);
    assert_eq!(diagnostic.key, "sinks.p.library");
    assert_eq!(
        diagnostic.message,
        "missing `library` (the plugin's shared library)"
    );

    let text = format!(
        "{CHAIN}\n[sinks.p]\ntype = \"plugin\"\ninputs = [\"cam\"]\nlibrary = \"x.so\"\noptions = \"a=1\"\npath = \"/x\"\n"
    );
    let loaded = compile(&text);
    let found: Vec<(usize, &str)> = (loaded.diagnostics.iter())
        .map(|d| (d.location.line, d.key.as_str()))
        .collect();
    assert_eq!(
        found,
        [(21, "sinks.p.options"), (22, "sinks.p.path")],
        "{}",
        listing(&loaded.diagnostics)
    );
    assert_eq!(
        loaded.diagnostics[0].message,
        "expected a table, found a string"
    );
    // The keys every sink has follow; only the plugin's own are pinned here.
    let unknown = &loaded.diagnostics[1].message;
    assert!(
        unknown.starts_with(
            "unknown key `path` for a plugin sink (valid: `inputs`, `type`, `library`, \
             `options`, `delete_grace`, "
        ),
        "{unknown}"
    );
}

#[test]
fn plugin_sinks_with_the_same_library_and_options_are_one_place() {
    let sink = |name: &str, options: &str| {
        format!(
            "\n[sinks.{name}]\ntype = \"plugin\"\ninputs = [\"{name}\"]\nlibrary = \"/lib/x.so\"\noptions = {{ {options} }}\n"
        )
    };
    let chain = |name: &str| {
        format!(
            "\n[sources.{name}]\ntype = \"stdin\"\n[segmenters.{name}]\ninput = \"{name}\"\n\
             [playlists.{name}]\ninput = \"{name}\"\nname = \"index.m3u8\"\nsegment_name = \"{name}-{{seq}}.ts\"\n"
        )
    };
    let same = format!(
        "{}{}{}{}",
        chain("a"),
        sink("a", "dir = \"/x\""),
        chain("b"),
        sink("b", "dir = \"/x\"")
    );
    let loaded = compile(&same.replace(
        "type = \"stdin\"\n[segmenters.b]",
        "type = \"udp\"\nbind = \"0.0.0.0:1\"\n[segmenters.b]",
    ));
    let errors: Vec<&str> = loaded.errors().map(|d| d.message.as_str()).collect();
    assert_eq!(
        errors,
        ["`index.m3u8` in plugin /lib/x.so is also written by playlist `a` (sink `a`)"],
        "{}",
        listing(&loaded.diagnostics)
    );
    let apart = same.replacen("dir = \"/x\"", "dir = \"/y\"", 1);
    let loaded = compile(&apart.replace(
        "type = \"stdin\"\n[segmenters.b]",
        "type = \"udp\"\nbind = \"0.0.0.0:1\"\n[segmenters.b]",
    ));
    assert!(
        loaded.errors().next().is_none(),
        "{}",
        listing(&loaded.diagnostics)
    );
}

#[test]
fn the_graph_shows_a_plugin_sink_without_its_option_values() {
    let text = format!(
        "{CHAIN}\n[sinks.p]\ntype = \"plugin\"\ninputs = [\"cam\"]\nlibrary = \"/usr/lib/libcdn.so\"\n\
         options = {{ token = \"s3cr3t\", endpoint = \"https://x\" }}\n"
    );
    let rendered = render_text(graph(&compile(&text)));
    assert!(
        rendered.contains(
            "sink      p   <- cam type=plugin library=/usr/lib/libcdn.so options=[endpoint,token]"
        ),
        "{rendered}"
    );
    assert!(!rendered.contains("s3cr3t"), "{rendered}");
}
