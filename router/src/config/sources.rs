//! Sources: the keys of each source `type` (stdin, file, udp, tcp, http, exec, srt), their
//! defaults and the checks a source needs alone (addresses, multicast, URL scheme, command).
//! Knows nothing of the nodes that read a source.

use std::path::Path;

use super::diagnostics::{Diagnostics, did_you_mean};
use super::fields::Fields;
use super::model::{
    CommandError, ExecCommand, HttpUrl, KeyLength, MulticastError, SourceKind, SourceNode, SrtMode,
    SrtPassphrase, SrtSource, TcpMode, UdpSource,
};
use super::nodes::{Built, NodeDecl};

/// Source types that exist, for messages.
const SOURCE_TYPES: [&str; 7] = ["stdin", "file", "udp", "tcp", "http", "exec", "srt"];
/// Source keys holding a credential (an SRT `passphrase`): no message ever quotes their text.
pub(super) const SECRET_KEYS: &[&str] = &["passphrase"];

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
        fields.required_string("type", "one of stdin, file, udp, tcp, http, exec, srt")
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
        "srt" => srt_source(&mut fields),
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

/// `bind` of listener and rendezvous, `connect` (host:port) of caller and rendezvous.
fn srt_source(fields: &mut Fields<'_>) -> Option<SourceKind> {
    let mode = fields.string("mode");
    let mode_name = mode.as_ref().map_or("listener", |mode| mode.value);
    let header = fields.header();
    let connect = fields.string("connect").and_then(|connect| {
        let text = connect.value.trim();
        let port = text
            .rsplit_once(':')
            .map(|(host, port)| (host, port.parse::<u16>()));
        match port {
            Some((host, Ok(port))) if !host.is_empty() && port != 0 => Some(text.to_owned()),
            _ => {
                let message = "not a host and port, like encoder.example.com:9000";
                fields.error(connect.pos, "connect", message);
                None
            }
        }
    });
    let connect_written = fields.pos_of("connect") != header;
    let bind_written = fields.pos_of("bind") != header;
    let mode = match mode_name {
        "listener" | "rendezvous" => {
            let bind =
                fields.required_socket_addr("bind", "the address to receive on, like 0.0.0.0:9000");
            if mode_name == "listener" {
                if connect_written {
                    let message = "a listener takes callers on `bind`; `connect` is for caller and rendezvous";
                    fields.error(fields.pos_of("connect"), "connect", message);
                }
                bind.map(|bind| SrtMode::Listener { bind: bind.value })
            } else {
                if !connect_written {
                    fields.missing_with(
                        "connect",
                        "missing `connect`: the peer's host:port, for rendezvous".to_owned(),
                    );
                }
                bind.zip(connect)
                    .map(|(bind, connect)| SrtMode::Rendezvous {
                        bind: bind.value,
                        connect,
                    })
            }
        }
        "caller" => {
            let _ = fields.socket_addr("bind");
            if bind_written {
                let message = "a caller dials `connect`; `bind` is for listener and rendezvous";
                fields.error(fields.pos_of("bind"), "bind", message);
            }
            if !connect_written {
                fields.missing_with(
                    "connect",
                    "missing `connect`: the listener's host:port, like encoder.example.com:9000"
                        .to_owned(),
                );
            }
            connect.map(|connect| SrtMode::Caller { connect })
        }
        other => {
            // Its addresses are not checked against a mode that does not exist.
            let _ = fields.entry("bind");
            let message =
                format!("unknown SRT mode `{other}`; expected listener, caller or rendezvous");
            fields.error(fields.pos_of("mode"), "mode", message);
            None
        }
    };
    let stream_id = fields.string("stream_id").map(|id| id.value.to_owned());
    // Never quoted: only its length is.
    let passphrase = fields.string("passphrase").and_then(|text| {
        SrtPassphrase::new(text.value)
            .map_err(|refused| fields.error(text.pos, "passphrase", refused))
            .ok()
    });
    let pbkeylen = match fields.entry("pbkeylen") {
        None => None,
        Some(entry) => {
            let pos = entry.item.pos;
            let bytes = match entry.item.value {
                super::raw::Value::Integer(bytes) => KeyLength::from_bytes(bytes),
                _ => None,
            };
            if bytes.is_none() {
                fields.error(pos, "pbkeylen", "must be 16, 24 or 32 (bytes of AES key)");
            }
            bytes
        }
    };
    let latency = fields.duration_or("latency", crate::source::SRT_DEFAULT_LATENCY);
    mode.map(|mode| {
        SourceKind::Srt(SrtSource {
            mode,
            stream_id,
            passphrase,
            pbkeylen,
            latency,
        })
    })
}
