//! `streamrouter check` on cluster configs:
//!
//! - `check_warns_push_sources`: in a cluster, a pushed stream (a unicast `udp` bind, a `tcp`
//!   listen) reaches one host while its feed may be owned by another, so `check` warns and
//!   names each such source; a pulled one (a file) gets no warning; it is a warning, so the
//!   check passes.
//! - `deployment_examples_are_valid_configs`: the Kubernetes example's embedded config (the
//!   ConfigMap of `configs/k8s/streamrouter.yaml`) and `configs/systemd/cluster.toml` pass
//!   `check` with the variables their deployments set, without warnings; and what the
//!   manifests promise around them holds (the probe's path is served, the grace periods
//!   exceed `stop_timeout` by 10 s, the node name comes from the pod name or the host name).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::etcd::free_tcp_port;
use crate::common::router::{self, BIN};
use crate::daemon::{free_udp_port, write_config};

/// `streamrouter check CONFIG` with exactly `env` added to the environment.
fn check(config: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .arg("check")
        .arg(config)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .expect("run streamrouter check")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn check_warns_push_sources() {
    let dir = tempfile::tempdir().unwrap();
    let clip = router::data("h264_aac.ts");
    let mut text = format!(
        r#"[router]
state_dir = "{dir}/state-${{NODE}}"

[cluster]
etcd = ["http://127.0.0.1:{etcd}"]
node = "${{NODE}}"
lease = "3s"
name = "twarn"

[sources.filecam]
type = "file"
path = "{clip}"
realtime = true
loop = true

[sources.udpcam]
type = "udp"
bind = "127.0.0.1:{udp}"

[sources.tcpcam]
type = "tcp"
listen = "127.0.0.1:{tcp}"
"#,
        dir = dir.path().display(),
        etcd = free_tcp_port(),
        clip = clip.display(),
        udp = free_udp_port(),
        tcp = free_tcp_port(),
    );
    let feeds = ["filecam", "udpcam", "tcpcam"];
    for feed in feeds {
        text.push_str(&format!(
            "\n[segmenters.{feed}]\ninput = \"{feed}\"\n\n[playlists.{feed}]\ninput = \"{feed}\"\n"
        ));
    }
    text.push_str(&format!(
        "\n[sinks.out]\ntype = \"local\"\ninputs = [\"filecam\", \"udpcam\", \"tcpcam\"]\n\
         path = \"{}/out\"\n",
        dir.path().display()
    ));
    let config = write_config(dir.path(), "push.toml", &text);
    let output = check(&config, &[("NODE", "a")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "a warning must not fail the check:\n{stdout}{stderr}\n{text}"
    );
    let warnings: Vec<&str> = (stderr.lines().chain(stdout.lines()))
        .filter(|line| line.contains("warning"))
        .collect();
    for pushed in ["udpcam", "tcpcam"] {
        assert!(
            warnings.iter().any(|line| line.contains(pushed)),
            "no warning names the pushed source {pushed}:\n{stdout}{stderr}"
        );
    }
    assert!(
        !warnings.iter().any(|line| line.contains("filecam")),
        "a warning names the pulled source filecam:\n{stdout}{stderr}"
    );
}

/// The text of the block scalar `key: |` in `yaml` (its lines, the indentation removed).
fn block_scalar(yaml: &str, key: &str) -> String {
    let mut lines = yaml.lines();
    let header = format!("{key}: |");
    let start = (lines.by_ref())
        .find(|line| line.trim_start() == header)
        .unwrap_or_else(|| panic!("no `{header}` in the manifest"));
    let indent = start.len() - start.trim_start().len() + 2;
    let mut text = String::new();
    for line in lines {
        if line.trim().is_empty() {
            text.push('\n');
        } else if line.len() - line.trim_start().len() >= indent {
            text.push_str(&line[indent..]);
            text.push('\n');
        } else {
            break;
        }
    }
    text
}

/// The value of the first `key = "VALUE"` line of a TOML text (a duration such as `10s`).
fn toml_seconds(toml: &str, key: &str) -> u64 {
    let value = (toml.lines())
        .find_map(|line| line.trim().strip_prefix(&format!("{key} = \"")))
        .and_then(|rest| rest.split_once("s\""))
        .unwrap_or_else(|| panic!("no `{key} = \"Ns\"` in:\n{toml}"))
        .0;
    value.parse().unwrap()
}

/// The number after the first `KEY: ` (YAML) or `KEY=` (unit file) in `text`.
fn number_after(text: &str, key: &str) -> u64 {
    (text.lines())
        .find_map(|line| line.trim().strip_prefix(key))
        .map(|rest| rest.trim().trim_end_matches('s'))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no `{key}` number"))
}

#[test]
fn deployment_examples_are_valid_configs() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = [
        ("ETCD_ENDPOINT", "http://etcd.streaming.svc:2379"),
        ("ETCD_USER", "streamrouter"),
        ("ETCD_PASSWORD", "example-password"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "example-secret"),
    ];
    let operator = std::fs::read_to_string(repo().join("router/src/http/operator.rs")).unwrap();

    // Kubernetes: the ConfigMap's config, with what the StatefulSet's pods have in their
    // environment (the pod name from the downward API, the Secrets).
    let yaml = std::fs::read_to_string(repo().join("configs/k8s/streamrouter.yaml")).unwrap();
    let toml = block_scalar(&yaml, "streamrouter.toml");
    let config = write_config(dir.path(), "k8s.toml", &toml);
    let mut env = secrets.to_vec();
    env.push(("POD_NAME", "streamrouter-0"));
    let output = check(&config, &env);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "the ConfigMap's config:\n{said}");
    assert!(!said.contains("warning"), "the ConfigMap's config:\n{said}");
    for needed in [
        "kind: StatefulSet",
        "replicas: 3",
        "fieldPath: metadata.name",
        "mountPath: /etc/streamrouter\n",
        "\"/etc/streamrouter/streamrouter.toml\"",
        "mountPath: /var/lib/streamrouter\n",
        "volumeClaimTemplates:",
        "path: /healthz",
    ] {
        assert!(yaml.contains(needed), "the manifest has no `{needed}`");
    }
    assert!(toml.contains("node = \"${POD_NAME}\""), "{toml}");
    assert!(
        toml.contains("state_dir = \"/var/lib/streamrouter\""),
        "{toml}"
    );
    assert!(
        operator.contains(".route(\"/healthz\""),
        "the daemon serves no /healthz"
    );
    let grace = number_after(&yaml, "terminationGracePeriodSeconds:");
    let stop = toml_seconds(&toml, "stop_timeout");
    assert!(grace >= stop + 10, "grace {grace} s, stop_timeout {stop} s");

    // systemd: the example config with what the unit sets (NODE=%H) and its EnvironmentFile.
    let cluster = repo().join("configs/systemd/cluster.toml");
    let mut env = secrets.to_vec();
    env.push(("NODE", "host1"));
    let output = check(&cluster, &env);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "configs/systemd/cluster.toml:\n{said}"
    );
    assert!(
        !said.contains("warning"),
        "configs/systemd/cluster.toml:\n{said}"
    );
    let unit =
        std::fs::read_to_string(repo().join("configs/systemd/streamrouter@.service")).unwrap();
    for needed in [
        "Environment=NODE=%H\n",
        "EnvironmentFile=/etc/streamrouter/%i.env\n",
        "ExecStart=/usr/local/bin/streamrouter run /etc/streamrouter/%i.toml\n",
        "StateDirectory=streamrouter/%i\n",
        "KillSignal=SIGTERM\n",
    ] {
        assert!(unit.contains(needed), "the unit has no `{needed}`");
    }
    let toml = std::fs::read_to_string(&cluster).unwrap();
    assert!(toml.contains("node = \"${NODE}\""), "{toml}");
    assert!(toml.contains("state_dir = \"/var/lib/streamrouter/cluster\""));
    let timeout = number_after(&unit, "TimeoutStopSec=");
    let stop = toml_seconds(&toml, "stop_timeout");
    assert!(
        timeout >= stop + 10,
        "TimeoutStopSec {timeout} s, stop_timeout {stop} s"
    );
}

#[test]
fn block_scalars_and_durations_are_read() {
    let yaml = "data:\n  a.toml: |\n    x = 1\n\n    [t]\n    y = \"2s\"\n---\nkind: X\n";
    assert_eq!(block_scalar(yaml, "a.toml"), "x = 1\n\n[t]\ny = \"2s\"\n");
    assert_eq!(toml_seconds("[t]\ny = \"2s\"\n", "y"), 2);
    assert_eq!(number_after("a: 1\n  grace: 30\n", "grace:"), 30);
    assert_eq!(number_after("TimeoutStopSec=45s\n", "TimeoutStopSec="), 45);
}
