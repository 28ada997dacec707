//! Sources: the keys of each source `type` (stdin, file, udp, tcp, http, exec), their
//! defaults and the checks a source needs alone (addresses, multicast, URL scheme, command).
//! Knows nothing of the nodes that read a source.

use std::path::Path;

use super::diagnostics::{Diagnostics, did_you_mean};
use super::fields::Fields;
use super::model::{SourceKind, SourceNode, TcpMode};
use super::nodes::{Built, NodeDecl};

/// Source types that exist, for messages.
const SOURCE_TYPES: [&str; 6] = ["stdin", "file", "udp", "tcp", "http", "exec"];

pub(super) fn build_source(
    decl: &NodeDecl,
    diagnostics: &mut Diagnostics,
    home: Option<&Path>,
) -> Built<SourceNode> {
    let mut fields = decl.fields(diagnostics);
    let none = Built {
        node: None,
        ok: false,
        inputs: Vec::new(),
    };
    let Some(source_type) =
        fields.required_string("type", "one of stdin, file, udp, tcp, http, exec")
    else {
        fields.abandon("a source");
        return none;
    };
    let kind = match source_type.value {
        "stdin" => Some(SourceKind::Stdin),
        "file" => {
            let path = fields.required_path("path", "the file to read", home);
            let realtime = fields.boolean("realtime", false);
            let looped = fields.boolean("loop", false);
            path.map(|path| SourceKind::File {
                path,
                realtime,
                looped,
            })
        }
        "udp" => udp_source(&mut fields),
        "tcp" => tcp_source(&mut fields),
        "http" => http_source(&mut fields),
        "exec" => exec_source(&mut fields),
        other => {
            let hint = did_you_mean(other, SOURCE_TYPES);
            let message = format!(
                "unknown source type `{other}`; expected one of {}{hint}",
                SOURCE_TYPES.join(", ")
            );
            fields.error(source_type.pos, "type", message);
            fields.abandon("a source");
            return none;
        }
    };
    let ok = fields.ok();
    fields.finish(&format!("a {} source", source_type.value));
    Built {
        node: kind.map(|kind| SourceNode {
            name: decl.name.clone(),
            kind,
        }),
        ok,
        inputs: Vec::new(),
    }
}

fn udp_source(fields: &mut Fields<'_>) -> Option<SourceKind> {
    let bind = fields.required_socket_addr("bind", "the address to receive on, like 0.0.0.0:40000");
    let group = fields.ipv4("group");
    let interface = fields.ipv4("interface");
    if let Some(group) = &group {
        if !group.value.is_multicast() {
            let message = format!("`{}` is not a multicast address (224.0.0.0/4)", group.value);
            fields.error(group.pos, "group", message);
        } else if bind.as_ref().is_some_and(|bind| bind.value.is_ipv6()) {
            let pos = fields.pos_of("bind");
            fields.error(
                pos,
                "bind",
                "an IPv4 multicast `group` needs an IPv4 `bind` address",
            );
        }
    } else if let Some(interface) = &interface {
        let message = "`interface` only matters with a multicast `group`; it is ignored";
        fields.warning(interface.pos, "interface", message);
    }
    Some(SourceKind::Udp {
        bind: bind?.value,
        group: group.map(|group| group.value),
        interface: interface.map(|interface| interface.value),
    })
}

fn tcp_source(fields: &mut Fields<'_>) -> Option<SourceKind> {
    let listen = fields.socket_addr("listen");
    let connect = fields.socket_addr("connect");
    let header = fields.header();
    let listen_written = fields.pos_of("listen") != header;
    let connect_written = fields.pos_of("connect") != header;
    if listen_written && connect_written {
        let pos = fields.pos_of("connect");
        fields.error(
            pos,
            "connect",
            "a tcp source has `listen` or `connect`, not both",
        );
        return None;
    }
    if !listen_written && !connect_written {
        let message =
            "missing `listen` (accept a sender) or `connect` (dial out), like 0.0.0.0:9000";
        fields.missing_with("listen", message.to_owned());
        return None;
    }
    if let Some(connect) = &connect
        && connect.value.ip().is_unspecified()
    {
        let message = format!(
            "cannot connect to the unspecified address `{}`",
            connect.value
        );
        fields.error(connect.pos, "connect", message);
        return None;
    }
    match (listen, connect) {
        (Some(listen), _) => Some(SourceKind::Tcp(TcpMode::Listen(listen.value))),
        (_, Some(connect)) => Some(SourceKind::Tcp(TcpMode::Connect(connect.value))),
        (None, None) => None,
    }
}

fn http_source(fields: &mut Fields<'_>) -> Option<SourceKind> {
    let url = fields.required_string("url", "the stream's http:// address")?;
    if url.value.starts_with("https://") {
        let message = "https:// is not supported yet (this build has no TLS); use http://, or an \
                       exec source such as [\"ffmpeg\", \"-i\", URL, \"-c\", \"copy\", \"-f\", \"mpegts\", \"-\"]";
        fields.error(url.pos, "url", message.to_owned());
        return None;
    }
    let rest = url.value.strip_prefix("http://");
    match rest {
        Some(rest) if !rest.is_empty() && !url.value.contains(char::is_whitespace) => {
            Some(SourceKind::Http {
                url: url.value.to_owned(),
            })
        }
        _ => {
            let message = format!("`{}` is not an http:// URL", url.value);
            fields.error(url.pos, "url", message);
            None
        }
    }
}

fn exec_source(fields: &mut Fields<'_>) -> Option<SourceKind> {
    if fields.pos_of("command") == fields.header() {
        let message = "missing `command` (program and arguments, like [\"ffmpeg\", \"-i\", …])";
        fields.missing_with("command", message.to_owned());
        return None;
    }
    let command = fields.strings("command")?;
    match command.first() {
        None => {
            let pos = fields.pos_of("command");
            fields.error(pos, "command", "must name a program: the array is empty");
            None
        }
        Some(program) if program.value.trim().is_empty() => {
            fields.error(program.pos, "command", "the program name is empty");
            None
        }
        Some(_) => Some(SourceKind::Exec {
            command: command.iter().map(|arg| arg.value.to_owned()).collect(),
        }),
    }
}
