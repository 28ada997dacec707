//! The reload diff on compiled configs: every classification (live playlist policy, playlist
//! restart, sink replacement, feed restart, links), refusals of router settings, the summary
//! line (and that it never shows a secret), and the keys reported for each kind of node.

use std::collections::BTreeSet;

use super::super::diff::{ChangedKeys, GraphDiff, KeyEffects, LiveChangeRefused, diff};
use super::super::model::{
    Graph, PlaylistNode, SegmentNamePattern, SourceKind, SourceNode, TcpMode, UdpSource,
};
use super::{CHAIN, compile, compile_in, graph};

fn compiled(text: &str) -> Graph {
    graph(&compile(text)).clone()
}

fn diff_of(old: &str, new: &str) -> GraphDiff {
    diff(&compiled(old), &compiled(new)).unwrap_or_else(|refused| panic!("{refused}"))
}

/// CHAIN with `keys` added to the table `[table]`.
fn chain_with(table: &str, keys: &str) -> String {
    let header = format!("[{table}]\n");
    assert!(CHAIN.contains(&header), "CHAIN has no [{table}]");
    CHAIN.replace(&header, &format!("{header}{keys}\n"))
}

fn names(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

#[test]
fn an_unchanged_graph_is_an_empty_diff() {
    let diff = diff_of(CHAIN, CHAIN);
    assert!(diff.is_empty());
    assert_eq!(diff.summary(), "no change (4 unchanged)");
    assert_eq!(diff.sources.unchanged, names(&["cam"]));
    assert_eq!(diff.sinks.unchanged, names(&["web"]));
    assert_eq!(diff, diff_of(CHAIN, &format!("# a comment\n{CHAIN}")));
}

#[test]
fn playlist_policy_applies_live_and_touches_nothing_else() {
    let edits = [
        ("window = 8", "window"),
        ("base_url = \"http://cdn.example.com/\"", "base_url"),
        ("delete_expired = false", "delete_expired"),
        ("program_date_time = false", "program_date_time"),
        ("endlist_on_stop = false", "endlist_on_stop"),
    ];
    for (edit, key) in edits {
        let diff = diff_of(CHAIN, &chain_with("playlists.cam", edit));
        assert_eq!(
            diff.playlists.changed.get("cam"),
            Some(&vec![key]),
            "{edit}"
        );
        assert_eq!(diff.playlists_live, names(&["cam"]), "{edit}");
        assert!(diff.playlists_restart.is_empty(), "{edit}");
        assert_eq!(diff.feed_restart, Default::default(), "{edit}");
        assert!(diff.sources.is_empty() && diff.segmenters.is_empty() && diff.sinks.is_empty());
        assert_eq!(
            diff.summary(),
            format!("1 changed, 0 added, 0 removed, 3 unchanged: playlists.cam ({key})")
        );
    }
}

#[test]
fn several_policy_keys_at_once_stay_live_and_are_all_named() {
    let diff = diff_of(
        CHAIN,
        &chain_with("playlists.cam", "window = 10\ndelete_expired = false"),
    );
    assert_eq!(diff.playlists.changed["cam"], ["window", "delete_expired"]);
    assert_eq!(diff.playlists_live, names(&["cam"]));
    assert!(
        diff.summary()
            .ends_with("playlists.cam (window, delete_expired)")
    );
}

#[test]
fn a_new_file_name_segment_name_or_input_restarts_the_playlist() {
    for (edit, key) in [
        ("name = \"other.m3u8\"", "name"),
        ("segment_name = \"x-{seq:06}.ts\"", "segment_name"),
    ] {
        let diff = diff_of(CHAIN, &chain_with("playlists.cam", edit));
        assert_eq!(diff.playlists.changed["cam"], [key]);
        assert_eq!(diff.playlists_restart, names(&["cam"]));
        assert!(diff.playlists_live.is_empty());
        assert_eq!(diff.feed_restart, Default::default());
    }

    // With a policy key too, the playlist restarts (and the policy comes with the restart).
    let diff = diff_of(
        CHAIN,
        &chain_with("playlists.cam", "window = 9\nname = \"n.m3u8\""),
    );
    assert_eq!(diff.playlists.changed["cam"], ["name", "window"]);
    assert_eq!(diff.playlists_restart, names(&["cam"]));
    assert!(diff.playlists_live.is_empty());

    // Moved to another (new) segmenter of the same source.
    let old = format!("{CHAIN}\n[segmenters.other]\ninput = \"cam\"\n");
    let new = old.replace(
        "[playlists.cam]\ninput = \"cam\"",
        "[playlists.cam]\ninput = \"other\"",
    );
    let diff = diff_of(&old, &new);
    assert_eq!(diff.playlists.changed["cam"], ["input"]);
    assert_eq!(diff.playlists_restart, names(&["cam"]));
    assert!(diff.segmenters.is_empty(), "both segmenters are unchanged");
    assert_eq!(diff.feed_restart, Default::default());
    // `cam` lost its only playlist, `other` gained it: both are relinked, neither restarts.
    assert_eq!(diff.relinked.segmenters, names(&["cam", "other"]));
}

#[test]
fn repeat_ts_headers_is_live_for_the_playlist_but_restarts_its_segmenter() {
    let diff = diff_of(
        CHAIN,
        &chain_with("playlists.cam", "repeat_ts_headers = false"),
    );
    assert_eq!(diff.playlists.changed["cam"], ["repeat_ts_headers"]);
    assert_eq!(diff.playlists_live, names(&["cam"]));
    assert_eq!(diff.segmenters.changed["cam"], ["repeat_ts_headers"]);
    assert!(diff.feed_restart.sources.is_empty());
    assert_eq!(diff.feed_restart.segmenters, names(&["cam"]));
    assert_eq!(diff.feed_restart.playlists, names(&["cam"]));
}

#[test]
fn a_changed_sink_is_replaced_alone() {
    let moved = CHAIN.replace("path = \"/srv/live\"", "path = \"/srv/elsewhere\"");
    let diff = diff_of(CHAIN, &moved);
    assert_eq!(diff.sinks.changed["web"], ["path"]);
    assert_eq!(diff.sinks.unchanged.len(), 0);
    assert!(diff.sources.is_empty() && diff.segmenters.is_empty() && diff.playlists.is_empty());
    assert_eq!(diff.feed_restart, Default::default());
    assert_eq!(
        diff.summary(),
        "1 changed, 0 added, 0 removed, 3 unchanged: sinks.web (path)"
    );

    // Its inputs: the sink is replaced; the playlists gaining or losing it keep running.
    let old = format!("{CHAIN}\n[playlists.alt]\ninput = \"cam\"\n");
    let new = old.replace("inputs = [\"cam\"]", "inputs = [\"cam\", \"alt\"]");
    let diff = diff_of(&old, &new);
    assert_eq!(diff.sinks.changed["web"], ["inputs"]);
    assert_eq!(diff.relinked.playlists, names(&["alt"]));
    assert!(diff.playlists.is_empty());

    // Settings shared by every sink type are keys too.
    let diff = diff_of(
        CHAIN,
        &chain_with(
            "sinks.web",
            "delete_grace = \"30s\"\nplaylist_cache_control = \"no-store\"",
        ),
    );
    assert_eq!(
        diff.sinks.changed["web"],
        ["delete_grace", "playlist_cache_control"]
    );
    let diff = diff_of(
        CHAIN,
        &CHAIN.replace(
            "type = \"local\"\ninputs = [\"cam\"]\npath = \"/srv/live\"",
            "type = \"s3\"\ninputs = [\"cam\"]\nbucket = \"live-bucket\"",
        ),
    );
    assert_eq!(diff.sinks.changed["web"], ["type"]);
}

#[test]
fn a_changed_secret_is_a_change_named_but_never_shown() {
    let s3 = |secret_var: &str| {
        format!(
            "{CHAIN}\n[sinks.cdn]\ntype = \"s3\"\ninputs = [\"cam\"]\nbucket = \"live-bucket\"\n\
             access_key_id = \"AKID\"\nsecret_access_key = \"${{{secret_var}}}\"\n"
        )
    };
    let vars = [
        ("OLD_SECRET", "old-s3cr3t-value"),
        ("NEW_SECRET", "new-s3cr3t-value"),
    ];
    let compiled = |text: &str| {
        let loaded = compile_in(&[("conf/test.toml", text)], &vars, &[]);
        graph(&loaded).clone()
    };
    let old = compiled(&s3("OLD_SECRET"));
    let new = compiled(&s3("NEW_SECRET"));
    let diff = diff(&old, &new).unwrap_or_else(|refused| panic!("{refused}"));
    assert_eq!(diff.sinks.changed["cdn"], ["secret_access_key"]);
    let shown = format!("{diff}\n{diff:?}");
    assert!(shown.contains("sinks.cdn (secret_access_key)"), "{shown}");
    assert!(!shown.contains("s3cr3t"), "a secret value leaked: {shown}");

    // The same value from another variable is no change.
    let same = compile_in(
        &[("conf/test.toml", &s3("AGAIN"))],
        &[("AGAIN", "old-s3cr3t-value")],
        &[],
    );
    assert!(diff_ok(&old, graph(&same)).is_empty());
}

fn diff_ok(old: &Graph, new: &Graph) -> GraphDiff {
    diff(old, new).unwrap_or_else(|refused| panic!("{refused}"))
}

#[test]
fn a_changed_source_restarts_its_feed_only() {
    let two = format!(
        "{CHAIN}\n[sources.other]\ntype = \"udp\"\nbind = \"0.0.0.0:40001\"\n\
         [segmenters.other]\ninput = \"other\"\n[playlists.other]\ninput = \"other\"\n\
         [sinks.web2]\ntype = \"local\"\ninputs = [\"other\"]\npath = \"/srv/other\"\n"
    );
    let diff = diff_of(&two, &two.replace("0.0.0.0:40000", "0.0.0.0:41000"));
    assert_eq!(diff.sources.changed["cam"], ["bind"]);
    assert_eq!(diff.sources.unchanged, names(&["other"]));
    assert!(
        diff.segmenters.is_empty(),
        "the segmenter itself is unchanged"
    );
    assert_eq!(diff.feed_restart.sources, names(&["cam"]));
    assert_eq!(diff.feed_restart.segmenters, names(&["cam"]));
    assert_eq!(diff.feed_restart.playlists, names(&["cam"]));
    assert_eq!(
        diff.summary(),
        "1 changed, 0 added, 0 removed, 7 unchanged: sources.cam (bind)"
    );
}

#[test]
fn a_changed_source_restarts_every_segmenter_reading_it() {
    let old = format!(
        "{CHAIN}\n[segmenters.fast]\ninput = \"cam\"\ntarget_duration = 2\n\
         [playlists.fast]\ninput = \"fast\"\n"
    );
    let new = old.replace("0.0.0.0:40000", "0.0.0.0:41000");
    let diff = diff_of(&old, &new);
    assert_eq!(diff.feed_restart.segmenters, names(&["cam", "fast"]));
    assert_eq!(diff.feed_restart.playlists, names(&["cam", "fast"]));
    assert!(diff.relinked.sources.is_empty());
}

#[test]
fn a_changed_segmenter_restarts_itself_not_its_source() {
    let diff = diff_of(CHAIN, &chain_with("segmenters.cam", "target_duration = 6"));
    assert_eq!(diff.segmenters.changed["cam"], ["target_duration"]);
    assert!(diff.feed_restart.sources.is_empty());
    assert_eq!(diff.feed_restart.segmenters, names(&["cam"]));
    assert_eq!(diff.feed_restart.playlists, names(&["cam"]));
    assert!(
        diff.playlists.is_empty(),
        "the playlist itself is unchanged"
    );
}

/// Three feeds from a template, each with its own window.
fn feeds(lines: &[&str]) -> String {
    format!(
        "feeds = [\n{}]\n[templates.channel]\n\
         sources.in = {{ type = \"udp\", bind = \"0.0.0.0:{{{{port}}}}\" }}\n\
         segmenters.seg = {{ input = \"in\" }}\n\
         playlists.hls = {{ input = \"seg\", name = \"{{{{feed}}}}/index.m3u8\", \
         segment_name = \"{{{{feed}}}}/s-{{seq:05}}.ts\", window = \"{{{{window}}}}\" }}\n\
         sinks.web = {{ type = \"local\", inputs = [\"hls\"], path = \"/srv/live\" }}\n",
        lines.concat()
    )
}

const A: &str = "{ template = \"channel\", name = \"a\", port = 40001, window = 6 },\n";
const B: &str = "{ template = \"channel\", name = \"b\", port = 40002, window = 6 },\n";
const B8: &str = "{ template = \"channel\", name = \"b\", port = 40002, window = 8 },\n";
const C: &str = "{ template = \"channel\", name = \"c\", port = 40003, window = 6 },\n";
const D: &str = "{ template = \"channel\", name = \"d\", port = 40004, window = 6 },\n";

#[test]
fn feeds_from_templates_change_one_at_a_time() {
    let diff = diff_of(&feeds(&[A, B, C]), &feeds(&[A, B8, C]));
    assert_eq!(diff.playlists_live, names(&["b.hls"]));
    assert_eq!(diff.sources.unchanged, names(&["a.in", "b.in", "c.in"]));
    assert_eq!(diff.playlists.unchanged, names(&["a.hls", "c.hls"]));
    assert_eq!(
        diff.summary(),
        "1 changed, 0 added, 0 removed, 11 unchanged: playlists.b.hls (window)"
    );

    // Add d, remove c: four nodes each.
    let diff = diff_of(&feeds(&[A, B, C]), &feeds(&[A, B, D]));
    for kind in [
        &diff.sources,
        &diff.segmenters,
        &diff.playlists,
        &diff.sinks,
    ] {
        assert_eq!(kind.added.len(), 1);
        assert_eq!(kind.removed.len(), 1);
        assert!(kind.changed.is_empty());
    }
    assert_eq!(diff.playlists.added, names(&["d.hls"]));
    assert_eq!(diff.sinks.removed, names(&["c.web"]));
    assert_eq!(diff.feed_restart, Default::default());
    assert_eq!(diff.relinked, Default::default());
    assert_eq!(
        diff.summary(),
        "0 changed, 4 added, 4 removed, 8 unchanged: sources.d.in added, \
         segmenters.d.seg added, playlists.d.hls added, sinks.d.web added, sources.c.in removed, \
         segmenters.c.seg removed, playlists.c.hls removed, sinks.c.web removed"
    );
}

#[test]
fn the_summary_lists_twenty_nodes_at_most() {
    let lines: Vec<String> = (0..10)
        .map(|n| {
            format!(
                "{{ template = \"channel\", name = \"f{n}\", port = {}, window = 6 }},\n",
                41000 + n
            )
        })
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let diff = diff_of(&feeds(&[A]), &feeds(&lines));
    let summary = diff.summary();
    assert!(
        summary.starts_with("0 changed, 40 added, 4 removed, 0 unchanged: "),
        "{summary}"
    );
    assert!(summary.ends_with(", … and 24 more"), "{summary}");
    assert_eq!(
        summary.matches(" added").count(),
        21,
        "20 items and the count: {summary}"
    );
}

#[test]
fn a_renamed_node_is_removed_and_added() {
    let renamed = CHAIN.replace("[sinks.web]", "[sinks.www]");
    let diff = diff_of(CHAIN, &renamed);
    assert_eq!(diff.sinks.removed, names(&["web"]));
    assert_eq!(diff.sinks.added, names(&["www"]));
    assert!(diff.sinks.changed.is_empty());
}

#[test]
fn new_consumers_of_running_nodes_are_relinked() {
    let more = format!(
        "{CHAIN}\n[segmenters.fast]\ninput = \"cam\"\ntarget_duration = 2\n\
         [playlists.alt]\ninput = \"cam\"\n\
         [sinks.cdn]\ntype = \"local\"\ninputs = [\"cam\", \"alt\"]\npath = \"/srv/cdn\"\n\
         [playlists.fast]\ninput = \"fast\"\n[sinks.fast]\ntype = \"local\"\ninputs = [\"fast\"]\npath = \"/srv/fast\"\n"
    );
    let diff = diff_of(CHAIN, &more);
    assert_eq!(diff.relinked.sources, names(&["cam"]));
    assert_eq!(diff.relinked.segmenters, names(&["cam"]));
    assert_eq!(diff.relinked.playlists, names(&["cam"]));
    assert!(diff.feed_restart.segmenters.is_empty());
    // And back: the same nodes lose them.
    assert_eq!(diff_of(&more, CHAIN).relinked, diff.relinked);
}

#[test]
fn router_settings_refuse_the_whole_reload_by_name() {
    let with_router = |settings: &str| format!("[router]\n{settings}\n{CHAIN}");
    let refused = |old: &str, new: &str| -> LiveChangeRefused {
        match diff(&compiled(old), &compiled(new)) {
            Err(refused) => refused,
            Ok(diff) => panic!("accepted: {diff}"),
        }
    };
    let state = refused(
        &with_router("state_dir = \"/var/lib/a\""),
        // Refused even with node changes beside it: all or nothing.
        &with_router("state_dir = \"/var/lib/b\"").replace("/srv/live", "/srv/x"),
    );
    assert_eq!(state.settings, ["router.state_dir"]);
    assert_eq!(
        state.to_string(),
        "cannot change while the daemon runs: router.state_dir; restart the daemon to apply \
         them (nothing of this reload was applied)"
    );
    let serve = refused(CHAIN, &with_router("serve = \"127.0.0.1:8080\""));
    assert_eq!(serve.settings, ["router.serve"]);
    let both = refused(
        &with_router("state_dir = \"/a\"\nserve = \"127.0.0.1:8080\""),
        &with_router("serve = \"127.0.0.1:8081\""),
    );
    assert_eq!(both.settings, ["router.state_dir", "router.serve"]);
    assert!(!both.to_string().contains("8081"), "names only");
}

#[test]
fn source_keys_are_named_as_written() {
    let node = |kind| SourceNode {
        name: "s".into(),
        kind,
    };
    let udp = |bind: &str, group: Option<&str>| {
        let group = group.map(|g| g.parse().unwrap());
        node(SourceKind::Udp(
            UdpSource::new(bind.parse().unwrap(), group, None).unwrap(),
        ))
    };
    let tcp = |mode| node(SourceKind::Tcp(mode));
    let addr = |s: &str| s.parse().unwrap();
    let file = |looped| {
        node(SourceKind::File {
            path: "/a.ts".into(),
            realtime: true,
            looped,
        })
    };
    let a = udp("0.0.0.0:1", None);
    assert!(a.changed_keys(&a.clone()).is_empty());
    assert_eq!(
        a.changed_keys(&udp("0.0.0.0:2", Some("239.1.1.1"))),
        ["bind", "group"]
    );
    assert_eq!(a.changed_keys(&node(SourceKind::Stdin)), ["type"]);
    assert_eq!(
        tcp(TcpMode::Listen(addr("0.0.0.0:1")))
            .changed_keys(&tcp(TcpMode::Connect(addr("0.0.0.0:1")))),
        ["listen", "connect"]
    );
    assert_eq!(
        tcp(TcpMode::Connect(addr("1.2.3.4:1")))
            .changed_keys(&tcp(TcpMode::Connect(addr("1.2.3.4:2")))),
        ["connect"]
    );
    assert_eq!(file(false).changed_keys(&file(true)), ["loop"]);
}

#[test]
fn the_playlist_keys_declared_live_are_those_that_shape_its_text() {
    let old = compiled(CHAIN).playlists["cam"].clone();
    let mut new = old.clone();
    new.window += 1;
    new.repeat_ts_headers = !new.repeat_ts_headers;
    new.base_url = Some("x/".into());
    new.delete_expired = !new.delete_expired;
    new.program_date_time = !new.program_date_time;
    new.endlist_on_stop = !new.endlist_on_stop;
    let live = old.key_changes(&new);
    assert!(live.all_live());
    assert_eq!(
        live.keys(),
        [
            "window",
            "repeat_ts_headers",
            "base_url",
            "delete_expired",
            "program_date_time",
            "endlist_on_stop"
        ]
    );
    assert_eq!(old.changed_keys(&new), live.keys());
    // Each other key restarts the playlist, with or without live keys beside it.
    type Change = fn(&mut PlaylistNode);
    let restarts: [(&str, Change); 3] = [
        ("input", |p| p.input.push('2')),
        ("name", |p| p.file_name.push('2')),
        ("segment_name", |p| {
            p.segment_name = SegmentNamePattern::parse(&format!("2{}", p.segment_name)).unwrap()
        }),
    ];
    for (key, change) in restarts {
        let mut alone = old.clone();
        change(&mut alone);
        let mut with_live = new.clone();
        change(&mut with_live);
        for restarted in [alone, with_live] {
            let changes = old.key_changes(&restarted);
            assert!(!changes.all_live(), "{key}");
            assert!(changes.keys().contains(&key), "{key}");
        }
    }
    assert!(old.key_changes(&old.clone()).all_live());
}

#[test]
fn a_plugin_sink_changes_with_its_library_or_options_not_its_place_in_the_file() {
    let plugin = "[sinks.custom]\ntype = \"plugin\"\ninputs = [\"cam\"]\nlibrary = \"/usr/lib/libsink.so\"\n[sinks.custom.options]\nendpoint = \"https://a.example\"\n";
    let old = format!("{CHAIN}\n{plugin}");
    let moved = format!("{CHAIN}\n# a comment that moves every line below\n\n{plugin}");
    assert!(diff_of(&old, &moved).is_empty());
    let new = old.replace("a.example", "b.example");
    assert_eq!(diff_of(&old, &new).sinks.changed["custom"], ["options"]);
    let new = old.replace("libsink.so", "libother.so");
    assert_eq!(diff_of(&old, &new).sinks.changed["custom"], ["library"]);
}
