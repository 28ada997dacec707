//! `[cluster]`: its keys, defaults and errors (all at once, at their keys), `${VAR}` in it, a
//! password that never shows, and reloads refused when it changes (its warnings about sources:
//! `cluster_checks`).

use std::path::PathBuf;
use std::time::Duration;

use super::super::diff::diff;
use super::super::model::{ClusterSettings, Severity};
use super::{CHAIN, compile, compile_files, compile_in, errors_at, graph, listing, places};

/// [`CHAIN`] with a source a feed can take along to another router (no warning in a cluster).
fn pulled_chain() -> String {
    let udp = "type = \"udp\"\nbind = \"0.0.0.0:40000\"";
    assert!(CHAIN.contains(udp));
    CHAIN.replace(udp, "type = \"http\"\nurl = \"http://encoder/live.ts\"")
}

/// `[cluster]` with `keys`, then [`pulled_chain`].
fn with_cluster(keys: &str) -> String {
    format!("[cluster]\n{keys}\n{}", pulled_chain())
}

fn cluster_of(text: &str, vars: &[(&str, &str)]) -> ClusterSettings {
    let loaded = compile_in(&[("conf/test.toml", text)], vars, &[]);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        listing(&loaded.diagnostics)
    );
    match &graph(&loaded).router.cluster {
        Some(cluster) => cluster.clone(),
        None => panic!("no cluster settings"),
    }
}

#[test]
fn every_key_is_read_with_variables_expanded() {
    let text = format!(
        r#"[router]
state_dir = "/tmp/x/state-${{NODE}}"
[cluster]
etcd = ["http://10.0.0.5:2379", "10.0.0.6:2379", "https://etcd.example.com:2379/"]
node = "${{NODE}}"
lease = "1m 30s"
name = "prod"
user = "${{ETCD_USER}}"
password = "${{ETCD_PASSWORD}}"
ca_file = "ssl/etcd-ca.pem"
{}"#,
        pulled_chain()
    );
    let vars = [
        ("NODE", "router-a"),
        ("ETCD_USER", "streamrouter"),
        ("ETCD_PASSWORD", "Hunter2-etcd"),
    ];
    let loaded = compile_in(&[("conf/test.toml", &text)], &vars, &[]);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        listing(&loaded.diagnostics)
    );
    let graph = graph(&loaded);
    assert_eq!(
        graph.router.state_dir,
        Some(PathBuf::from("/tmp/x/state-router-a"))
    );
    assert_eq!(
        graph.router.cluster,
        Some(ClusterSettings {
            endpoints: vec![
                "http://10.0.0.5:2379".to_owned(),
                "http://10.0.0.6:2379".to_owned(),
                "https://etcd.example.com:2379".to_owned(),
            ],
            node: Some("router-a".to_owned()),
            lease: Duration::from_secs(90),
            name: "prod".to_owned(),
            user: Some("streamrouter".to_owned()),
            password: Some("Hunter2-etcd".to_owned()),
            ca_file: Some(PathBuf::from("conf/ssl/etcd-ca.pem")),
        })
    );
    // Where each key is written, for a reload refused because of it.
    let lease = &loaded.router_keys["cluster.lease"];
    assert_eq!((lease.line, lease.column), (6, 1));
    assert_eq!(loaded.router_keys["cluster"].line, 3);
    assert_eq!(loaded.router_keys["state_dir"].line, 2);
    // The password shows nowhere.
    let shown = [
        format!("{graph:?}"),
        format!("{graph:#?}"),
        format!("{loaded:?}"),
        super::super::render_text(graph),
        super::super::render_dot(graph),
    ];
    for text in shown {
        assert!(!text.contains("Hunter2"), "{text}");
    }
    assert!(format!("{:?}", graph.router.cluster).contains("password: Some(\"***\")"));
}

#[test]
fn only_etcd_is_required() {
    let cluster = cluster_of(&with_cluster("etcd = [\"127.0.0.1:2379\"]"), &[]);
    assert_eq!(
        cluster,
        ClusterSettings {
            endpoints: vec!["http://127.0.0.1:2379".to_owned()],
            node: None,
            lease: Duration::from_secs(5),
            name: "streamrouter".to_owned(),
            user: None,
            password: None,
            ca_file: None,
        }
    );
    let alone = graph(&compile(CHAIN)).router.cluster.clone();
    assert_eq!(alone, None, "no [cluster]: the router runs alone");
    let at_bounds = |lease: &str| {
        let text = with_cluster(&format!("etcd = [\"h:1\"]\nlease = {lease}"));
        cluster_of(&text, &[]).lease
    };
    assert_eq!(at_bounds("\"2s\""), Duration::from_secs(2));
    assert_eq!(at_bounds("\"5min\""), Duration::from_secs(300));
    assert_eq!(at_bounds("10"), Duration::from_secs(10), "seconds");
}

#[test]
fn every_mistake_is_reported_at_once_at_its_key() {
    let loaded = compile(&with_cluster(
        r#"etcd = ["http://10.0.0.5:2379", "10.0.0.5", "unix://etcd:2379", "10.0.0.5:2379"]
node = "router a"
lease = "1s"
name = ""
user = "streamrouter"
leese = "5s"
ca = "/etc/ssl/ca.pem""#,
    ));
    assert_eq!(
        errors_at(&loaded),
        [
            (
                2,
                "cluster.etcd",
                "`10.0.0.5` is neither a URL nor a host and port: write an etcd endpoint like \
                 http://10.0.0.5:2379, https://etcd.example.com:2379 or 10.0.0.5:2379"
            ),
            (
                2,
                "cluster.etcd",
                "`unix://etcd:2379`: an etcd endpoint is http:// or https://, not unix://"
            ),
            (
                2,
                "cluster.etcd",
                "`10.0.0.5:2379` is listed twice (as http://10.0.0.5:2379)"
            ),
            (
                3,
                "cluster.node",
                "`router a` may only use letters, digits, `.`, `_` and `-` (and is not empty)"
            ),
            (
                4,
                "cluster.lease",
                "1s is out of range: a lease lasts from 2s (a router that is only slow must not \
                 lose its feeds) to 5m (the feeds of a router that stopped stay dark that long)"
            ),
            (
                5,
                "cluster.name",
                "`` may only use letters, digits, `.`, `_` and `-` (and is not empty)"
            ),
            (
                6,
                "cluster.user",
                "`user` without `password`: set both, or neither"
            ),
            (
                7,
                "cluster.leese",
                "unknown key `leese` for [cluster]; did you mean `lease`?"
            ),
            (
                8,
                "cluster.ca",
                "unknown key `ca` for [cluster] (valid: `etcd`, `node`, `lease`, `name`, `user`, \
                 `password`, `ca_file`)"
            ),
        ],
        "{}",
        listing(&loaded.diagnostics)
    );
}

#[test]
fn etcd_must_be_a_list_of_endpoints() {
    let loaded = compile(&with_cluster("node = \"a\""));
    assert_eq!(
        errors_at(&loaded),
        [(
            1,
            "cluster.etcd",
            "missing `etcd` (the etcd endpoints, like [\"http://10.0.0.5:2379\"])"
        )]
    );
    let loaded = compile(&with_cluster("etcd = []"));
    assert_eq!(
        errors_at(&loaded),
        [(
            2,
            "cluster.etcd",
            "must list at least one endpoint (the etcd endpoints, like \
             [\"http://10.0.0.5:2379\"])"
        )]
    );
    let loaded = compile(&with_cluster("etcd = \"http://10.0.0.5:2379\""));
    assert_eq!(
        errors_at(&loaded),
        [(
            2,
            "cluster.etcd",
            "expected an array of strings, found a string"
        )]
    );
    let loaded = compile(&with_cluster("etcd = [\"http://root:Hunter2@etcd:2379\"]"));
    assert_eq!(
        errors_at(&loaded),
        [(
            2,
            "cluster.etcd",
            "an endpoint must not hold a user or password: write them in `user` and `password`"
        )]
    );
    let loaded = compile(&with_cluster("etcd = [\"h:1\"]\nlease = \"soon\""));
    assert_eq!(
        errors_at(&loaded),
        [(
            3,
            "cluster.lease",
            "not a duration like \"30s\" or \"2m\": expected number at 0"
        )]
    );
}

#[test]
fn a_password_needs_a_user_and_neither_is_ever_quoted() {
    let loaded = compile(&with_cluster(
        "etcd = [\"h:1\"]\npassword = \"Hunter2-etcd\"\nuser = \"\"",
    ));
    assert_eq!(
        errors_at(&loaded),
        [(4, "cluster.user", "must not be empty")],
        "{}",
        listing(&loaded.diagnostics)
    );
    let loaded = compile(&with_cluster(
        "etcd = [\"h:1\"]\npassword = \"Hunter2-etcd\"",
    ));
    assert_eq!(
        errors_at(&loaded),
        [(
            3,
            "cluster.password",
            "`password` without `user`: set both, or neither"
        )]
    );
    assert!(!format!("{loaded:?}").contains("Hunter2"));
}

#[test]
fn a_variable_not_set_is_reported_once_at_its_key() {
    let loaded = compile_in(
        &[(
            "conf/test.toml",
            &with_cluster("etcd = [\"${ETCD}\"]\nnode = \"${NODE}\""),
        )],
        &[("ETCD", "10.0.0.5:2379")],
        &[],
    );
    assert_eq!(
        errors_at(&loaded),
        [(3, "cluster.node", "environment variable NODE is not set")],
        "no other finding about `node`: its value is not what was meant"
    );
}

#[test]
fn ca_file_without_an_https_endpoint_is_ignored_with_a_warning() {
    let loaded = compile(&with_cluster(
        "etcd = [\"http://h:1\"]\nca_file = \"/etc/ssl/ca.pem\"",
    ));
    assert_eq!(
        places(&loaded, Severity::Warning),
        [(3, 1, "cluster.ca_file")]
    );
    assert_eq!(
        loaded.diagnostics[0].message,
        "`ca_file` only matters for https:// endpoints; it is ignored"
    );
    let https = with_cluster("etcd = [\"http://h:1\", \"https://g:1\"]\nca_file = \"/ca.pem\"");
    assert!(compile(&https).diagnostics.is_empty());
}

#[test]
fn cluster_keys_merge_over_files_and_stray_ones_are_pointed_at_the_table() {
    let loaded = compile_files(&[
        ("conf/a.toml", &with_cluster("etcd = [\"h:1\"]")),
        ("conf/b.toml", "[cluster]\nnode = \"b\"\n"),
    ]);
    let cluster = graph(&loaded).router.cluster.clone();
    assert_eq!(cluster.and_then(|c| c.node), Some("b".to_owned()));
    let loaded = compile_files(&[
        ("conf/a.toml", &with_cluster("etcd = [\"h:1\"]")),
        ("conf/b.toml", "[cluster]\netcd = [\"g:1\"]\n"),
    ]);
    assert_eq!(
        errors_at(&loaded),
        [(2, "cluster.etcd", "also set at conf/a.toml:2")]
    );
    let loaded = compile(&format!("etcd = [\"h:1\"]\n{CHAIN}"));
    assert_eq!(
        errors_at(&loaded),
        [(
            1,
            "etcd",
            "`etcd` belongs in [cluster]: write it after a `[cluster]` line"
        )]
    );
    let loaded = compile(&format!("clustr = {{ etcd = [\"h:1\"] }}\n{CHAIN}"));
    assert_eq!(
        errors_at(&loaded),
        [(
            1,
            "clustr",
            "unknown top-level key `clustr` (valid: router, cluster, sources, segmenters, \
             playlists, masters, sinks, templates, feeds); did you mean `cluster`?"
        )]
    );
}

#[test]
fn a_reload_changing_the_cluster_is_refused_by_key() {
    let compiled = |text: &str| graph(&compile(text)).clone();
    let base = "etcd = [\"h:1\"]\nuser = \"u\"\npassword = \"Hunter2-old\"";
    let old = compiled(&with_cluster(base));
    let refused = |new: &str| match diff(&old, &compiled(new)) {
        Ok(_) => panic!("applied: {new}"),
        Err(refusal) => refusal,
    };
    assert!(diff(&old, &compiled(&with_cluster(base))).is_ok());
    let lease = refused(&with_cluster(&format!("{base}\nlease = \"10s\"")));
    assert_eq!(lease.settings, ["cluster.lease"]);
    let secret = refused(&with_cluster(&base.replace("Hunter2-old", "Hunter2-new")));
    assert_eq!(secret.settings, ["cluster.password"]);
    assert!(!secret.to_string().contains("Hunter2"), "{secret}");
    let several = refused(&with_cluster(
        "etcd = [\"h:1\", \"g:1\"]\nnode = \"n\"\nname = \"x\"",
    ));
    assert_eq!(
        several.settings,
        [
            "cluster.etcd",
            "cluster.node",
            "cluster.name",
            "cluster.user",
            "cluster.password"
        ]
    );
    assert_eq!(refused(CHAIN).settings, ["cluster"], "removed");
    let added = diff(&compiled(CHAIN), &old).map(|_| ());
    assert_eq!(
        added.map_err(|refusal| refusal.settings),
        Err(vec!["cluster"])
    );
    let both = format!(
        "[router]\nstate_dir = \"/s\"\n{}",
        with_cluster(&format!("{base}\nlease = \"9s\""))
    );
    assert_eq!(
        refused(&both).settings,
        ["router.state_dir", "cluster.lease"]
    );
}
