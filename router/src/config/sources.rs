//! Sources: the keys of each source `type` (stdin, file, udp, tcp, http, exec), their
//! defaults and the checks a source needs alone (addresses, multicast, URL scheme, command).
//! Knows nothing of the nodes that read a source.

use std::path::Path;

use super::diagnostics::{Diagnostics, did_you_mean};
use super::fields::Fields;
use super::model::{
    CommandError, ExecCommand, HttpUrl, MulticastError, SourceKind, SourceNode, TcpMode, UdpSource,
};
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
    if group.is_none()
        && let Some(interface) = &interface
    {
        let message = "`interface` only matters with a multicast `group`; it is ignored";
        fields.warning(interface.pos, "interface", message);
    }
    let interface = interface.map(|interface| interface.value);
    let written_group = group.as_ref().map(|group| group.value);
    // The multicast rule is the source's own (`UdpSource`); it is reported at its key.
    let checked = match &bind {
        Some(bind) => UdpSource::new(bind.value, written_group, interface).map(Some),
        None => written_group
            .map_or(Ok(()), UdpSource::check_group)
            .map(|()| None),
    };
    let source = checked.unwrap_or_else(|refused| {
        let (pos, key) = match refused {
            MulticastError::NotMulticast(_) => (
                group.as_ref().map_or(fields.header(), |group| group.pos),
                "group",
            ),
            MulticastError::Ipv6Bind => (fields.pos_of("bind"), "bind"),
        };
        fields.error(pos, key, refused);
        // In error: the node stands without its group, for the graph checks.
        let bind = bind.as_ref()?;
        UdpSource::new(bind.value, None, interface).ok()
    });
    source.map(SourceKind::Udp)
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
    match HttpUrl::parse(url.value) {
        Ok(parsed) => Some(SourceKind::Http { url: parsed }),
        Err(refused) => {
            fields.error(url.pos, "url", refused.to_string());
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
    let argv = command.iter().map(|arg| arg.value.to_owned()).collect();
    match ExecCommand::new(argv) {
        Ok(command) => Some(SourceKind::Exec { command }),
        Err(refused) => {
            let pos = match (refused, command.first()) {
                (CommandError::EmptyProgram, Some(program)) => program.pos,
                _ => fields.pos_of("command"),
            };
            fields.error(pos, "command", refused.to_string());
            None
        }
    }
}
