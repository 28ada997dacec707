//! Checked values of the model: each is made once, by compile, from the text of its key and by
//! the one rule it must meet, and cannot be made otherwise, so the stages that run it take it
//! as it is and cannot fail on it. Owns those rules and the words of their refusals (compile
//! reports them at the key). The segment name pattern is the playlist stage's
//! ([`crate::playlist::SegmentNamePattern`]).
//!
//! Each value keeps what was written: it is shown (by `graph`) and compared (by the reload
//! diff) as written.

use std::net::{Ipv4Addr, SocketAddr};

use reqwest::Url;

/// An `http://` URL (`url` of an http source), parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    written: String,
    url: Url,
}

/// Why a `url` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpUrlError {
    /// reqwest is built without a TLS backend: an https:// URL would fail at every attempt.
    /// Accept it here when the build gets one.
    #[error(
        "https:// is not supported yet (this build has no TLS); use http://, or an exec source \
         such as [\"ffmpeg\", \"-i\", URL, \"-c\", \"copy\", \"-f\", \"mpegts\", \"-\"]"
    )]
    Https,
    /// Another scheme, no host, or whitespace.
    #[error("`{0}` is not an http:// URL")]
    NotHttp(String),
    /// `http://` and something no URL parser takes.
    #[error("`{written}` is not a valid URL: {reason}")]
    Invalid {
        /// The value as written.
        written: String,
        /// What the URL parser said.
        reason: String,
    },
}

impl HttpUrl {
    /// The URL of `written`, which must start with `http://`.
    pub fn parse(written: &str) -> Result<Self, HttpUrlError> {
        if written.starts_with("https://") {
            return Err(HttpUrlError::Https);
        }
        match written.strip_prefix("http://") {
            Some(rest) if !rest.is_empty() && !written.contains(char::is_whitespace) => {}
            _ => return Err(HttpUrlError::NotHttp(written.to_owned())),
        }
        let url = Url::parse(written).map_err(|reason| HttpUrlError::Invalid {
            written: written.to_owned(),
            reason: reason.to_string(),
        })?;
        Ok(Self {
            written: written.to_owned(),
            url,
        })
    }

    /// The URL to request.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// As written in the config.
    pub fn as_str(&self) -> &str {
        &self.written
    }
}

impl std::fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.written)
    }
}

/// Where a udp source receives: `bind`, and the IPv4 multicast `group` it joins, if any, on
/// `interface` (any when not set). A group is always a multicast address and comes with an
/// IPv4 `bind`. An `interface` without a group is kept as written (compile warns that it is
/// ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpSource {
    pub(in crate::config) bind: SocketAddr,
    pub(in crate::config) group: Option<Ipv4Addr>,
    pub(in crate::config) interface: Option<Ipv4Addr>,
}

/// Why a multicast `group` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MulticastError {
    /// Reported at `group`.
    #[error("`{0}` is not a multicast address (224.0.0.0/4)")]
    NotMulticast(Ipv4Addr),
    /// Reported at `bind`.
    #[error("an IPv4 multicast `group` needs an IPv4 `bind` address")]
    Ipv6Bind,
}

impl UdpSource {
    /// Receives on `bind`, joining `group` on `interface` when there is a group.
    pub fn new(
        bind: SocketAddr,
        group: Option<Ipv4Addr>,
        interface: Option<Ipv4Addr>,
    ) -> Result<Self, MulticastError> {
        if let Some(group) = group {
            Self::check_group(group)?;
            if bind.is_ipv6() {
                return Err(MulticastError::Ipv6Bind);
            }
        }
        Ok(Self {
            bind,
            group,
            interface,
        })
    }

    /// Whether `group` may be joined at all (whatever the bind address).
    pub fn check_group(group: Ipv4Addr) -> Result<(), MulticastError> {
        if group.is_multicast() {
            Ok(())
        } else {
            Err(MulticastError::NotMulticast(group))
        }
    }

    /// `bind`.
    pub fn bind(&self) -> SocketAddr {
        self.bind
    }

    /// The multicast group joined, if any.
    pub fn group(&self) -> Option<Ipv4Addr> {
        self.group
    }

    /// The interface of the join: `interface`, or any.
    pub fn join_interface(&self) -> Ipv4Addr {
        self.interface.unwrap_or(Ipv4Addr::UNSPECIFIED)
    }
}

/// An exec source's `command`: a program (not empty) and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecCommand(Vec<String>);

/// Why a `command` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Reported at `command`.
    #[error("must name a program: the array is empty")]
    Empty,
    /// Reported at the program.
    #[error("the program name is empty")]
    EmptyProgram,
}

impl ExecCommand {
    /// The command of `argv`: its first element is the program.
    pub fn new(argv: Vec<String>) -> Result<Self, CommandError> {
        match argv.first() {
            None => Err(CommandError::Empty),
            Some(program) if program.trim().is_empty() => Err(CommandError::EmptyProgram),
            Some(_) => Ok(Self(argv)),
        }
    }

    /// The program.
    pub fn program(&self) -> &str {
        self.0.first().map_or("", String::as_str)
    }

    /// The arguments after the program.
    pub fn args(&self) -> &[String] {
        self.0.get(1..).unwrap_or_default()
    }

    /// Program and arguments, as written.
    pub fn argv(&self) -> &[String] {
        &self.0
    }
}

impl TryFrom<Vec<String>> for ExecCommand {
    type Error = CommandError;

    fn try_from(argv: Vec<String>) -> Result<Self, Self::Error> {
        Self::new(argv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_are_http_only_and_parse() {
        let url = HttpUrl::parse("http://Example.com:8000/live.ts").unwrap();
        assert_eq!(url.as_str(), "http://Example.com:8000/live.ts");
        assert_eq!(url.url().host_str(), Some("example.com"));
        assert_eq!(
            HttpUrl::parse("https://127.0.0.1:9/x"),
            Err(HttpUrlError::Https)
        );
        for refused in [
            "ftp://example.invalid/x",
            "not a url",
            "http://",
            "http://a b",
        ] {
            assert_eq!(
                HttpUrl::parse(refused),
                Err(HttpUrlError::NotHttp(refused.to_owned())),
                "{refused}"
            );
        }
        let invalid = HttpUrl::parse("http://[::1/x").unwrap_err();
        assert!(
            matches!(invalid, HttpUrlError::Invalid { .. }),
            "{invalid:?}"
        );
    }

    #[test]
    fn a_group_is_multicast_on_an_ipv4_bind() {
        let v4: SocketAddr = "0.0.0.0:5000".parse().unwrap();
        let v6: SocketAddr = "[::]:5000".parse().unwrap();
        let group = Ipv4Addr::new(239, 1, 1, 1);
        let joined = UdpSource::new(v4, Some(group), None).unwrap();
        assert_eq!(joined.group(), Some(group));
        assert_eq!(joined.join_interface(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(
            UdpSource::new(v4, Some(Ipv4Addr::LOCALHOST), None),
            Err(MulticastError::NotMulticast(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(
            UdpSource::new(v6, Some(group), None),
            Err(MulticastError::Ipv6Bind)
        );
        assert!(UdpSource::new(v6, None, Some(Ipv4Addr::LOCALHOST)).is_ok());
    }

    #[test]
    fn a_command_names_a_program() {
        let command = ExecCommand::new(vec!["ffmpeg".into(), "-i".into()]).unwrap();
        assert_eq!(
            (command.program(), command.args()),
            ("ffmpeg", &["-i".to_owned()][..])
        );
        assert_eq!(ExecCommand::new(Vec::new()), Err(CommandError::Empty));
        assert_eq!(
            ExecCommand::new(vec![" ".into()]),
            Err(CommandError::EmptyProgram)
        );
    }
}
