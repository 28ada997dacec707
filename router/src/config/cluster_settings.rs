//! `[cluster]`: its keys (`etcd`, `node`, `lease`, `name`, `user`, `password`, `ca_file`), their
//! defaults and the checks they need alone, into a [`ClusterSettings`]. Pure like all of
//! compile: no host name is looked up, no file read (`ca_file` is only resolved as a path), no
//! etcd contacted. Knows nothing of what the daemon does with the settings (`crate::cluster`),
//! nor of the feeds a cluster shares (`cluster_feeds`, `cluster_checks`). No message quotes
//! `password`.

use std::path::Path;

use reqwest::Url;

use super::fields::{Fields, Located};
use super::model::{
    ClusterSettings, DEFAULT_CLUSTER_LEASE, DEFAULT_CLUSTER_NAME, MAX_CLUSTER_LEASE,
    MIN_CLUSTER_LEASE,
};

/// Keys of `[cluster]`, to point a stray top-level one at its table (`name`, `user` and
/// `password` are too common to be guessed as cluster keys).
pub(super) const CLUSTER_ONLY_KEYS: [&str; 4] = ["etcd", "node", "lease", "ca_file"];

/// Reads `[cluster]`. Values in error are replaced by their defaults (the graph is refused
/// anyway), so that the table always gives settings and the checks of a cluster still run.
pub(super) fn build_cluster(fields: &mut Fields<'_>, home: Option<&Path>) -> ClusterSettings {
    let endpoints = endpoints(fields);
    let node = plain_name(fields, "node");
    let lease = lease(fields);
    let name = plain_name(fields, "name").unwrap_or_else(|| DEFAULT_CLUSTER_NAME.to_owned());
    let (user, password) = credentials(fields);
    let ca_file = fields.path("ca_file", home);
    if ca_file.is_some() && !endpoints.is_empty() && !endpoints.iter().any(|e| is_https(e)) {
        let message = "`ca_file` only matters for https:// endpoints; it is ignored";
        fields.warning(fields.pos_of("ca_file"), "ca_file", message);
    }
    ClusterSettings {
        endpoints,
        node,
        lease,
        name,
        user,
        password,
        ca_file,
    }
}

fn is_https(endpoint: &str) -> bool {
    endpoint.starts_with("https://")
}

/// `etcd`: required, at least one endpoint, each once.
fn endpoints(fields: &mut Fields<'_>) -> Vec<String> {
    let what = "the etcd endpoints, like [\"http://10.0.0.5:2379\"]";
    if fields.pos_of("etcd") == fields.header() {
        fields.missing_with("etcd", format!("missing `etcd` ({what})"));
        return Vec::new();
    }
    let Some(written) = fields.strings("etcd") else {
        return Vec::new();
    };
    if written.is_empty() {
        let message = format!("must list at least one endpoint ({what})");
        fields.error(fields.pos_of("etcd"), "etcd", message);
    }
    let mut endpoints: Vec<String> = Vec::with_capacity(written.len());
    for Located { value, pos } in written {
        match endpoint(value) {
            Ok(endpoint) if endpoints.contains(&endpoint) => {
                let message = format!("`{value}` is listed twice (as {endpoint})");
                fields.error(pos, "etcd", message);
            }
            Ok(endpoint) => endpoints.push(endpoint),
            Err(message) => fields.error(pos, "etcd", message),
        }
    }
    endpoints
}

/// One etcd endpoint as the client takes it, `http://HOST[:PORT]` or `https://HOST[:PORT]`;
/// `HOST:PORT` alone is http. Why not, in plain words.
pub(super) fn endpoint(written: &str) -> Result<String, String> {
    let like = "like http://10.0.0.5:2379, https://etcd.example.com:2379 or 10.0.0.5:2379";
    if written.is_empty() || written.contains(char::is_whitespace) {
        return Err(format!("`{written}` is not an etcd endpoint {like}"));
    }
    let schemeless = !written.contains("://");
    if schemeless {
        let port = written
            .rsplit_once(':')
            .map(|(host, port)| (host, port.parse::<u16>()));
        if !matches!(port, Some((host, Ok(_))) if !host.is_empty()) {
            return Err(format!(
                "`{written}` is neither a URL nor a host and port: write an etcd endpoint {like}"
            ));
        }
    }
    let text = if schemeless {
        format!("http://{written}")
    } else {
        written.to_owned()
    };
    let url = Url::parse(&text)
        .map_err(|reason| format!("`{written}` is not an etcd endpoint {like}: {reason}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        // Not quoted: it holds a credential.
        return Err(
            "an endpoint must not hold a user or password: write them in `user` and `password`"
                .to_owned(),
        );
    }
    let scheme = url.scheme();
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "`{written}`: an etcd endpoint is http:// or https://, not {scheme}://"
        ));
    }
    let Some(host) = url.host_str().filter(|host| !host.is_empty()) else {
        return Err(format!(
            "`{written}` has no host: write an etcd endpoint {like}"
        ));
    };
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{written}`: an etcd endpoint is a scheme, a host and a port, without a path"
        ));
    }
    Ok(match url.port() {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

/// `[A-Za-z0-9._-]+`: a router's or a cluster's name.
pub(super) fn is_cluster_name(name: &str) -> bool {
    !name.is_empty()
        && (name.chars()).all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// `node` or `name`: a plain name, or none (reported) when it is not one.
fn plain_name(fields: &mut Fields<'_>, key: &'static str) -> Option<String> {
    let written = fields.string(key)?;
    if is_cluster_name(written.value) {
        Some(written.value.to_owned())
    } else {
        let message = format!(
            "`{}` may only use letters, digits, `.`, `_` and `-` (and is not empty)",
            written.value
        );
        fields.error(written.pos, key, message);
        None
    }
}

/// `lease`: a duration from [`MIN_CLUSTER_LEASE`] to [`MAX_CLUSTER_LEASE`].
fn lease(fields: &mut Fields<'_>) -> std::time::Duration {
    let errors = fields.diagnostics.error_count();
    let lease = fields.duration_or("lease", DEFAULT_CLUSTER_LEASE);
    if fields.diagnostics.error_count() != errors {
        return DEFAULT_CLUSTER_LEASE;
    }
    if (MIN_CLUSTER_LEASE..=MAX_CLUSTER_LEASE).contains(&lease) {
        return lease;
    }
    let message = format!(
        "{} is out of range: a lease lasts from {} (a router that is only slow must not lose \
         its feeds) to {} (the feeds of a router that stopped stay dark that long)",
        humantime::format_duration(lease),
        humantime::format_duration(MIN_CLUSTER_LEASE),
        humantime::format_duration(MAX_CLUSTER_LEASE),
    );
    fields.error(fields.pos_of("lease"), "lease", message);
    DEFAULT_CLUSTER_LEASE
}

/// `user` and `password`: both or neither, neither empty. The password is never quoted.
fn credentials(fields: &mut Fields<'_>) -> (Option<String>, Option<String>) {
    let user = fields.string("user");
    let password = fields.string("password");
    for (key, value) in [("user", &user), ("password", &password)] {
        if let Some(value) = value.as_ref().filter(|value| value.value.is_empty()) {
            fields.error(value.pos, key, "must not be empty");
        }
    }
    match (&user, &password) {
        (Some(user), None) => {
            let message = "`user` without `password`: set both, or neither";
            fields.error(user.pos, "user", message);
        }
        (None, Some(password)) => {
            let message = "`password` without `user`: set both, or neither";
            fields.error(password.pos, "password", message);
        }
        _ => {}
    }
    let owned = |value: Option<Located<&str>>| value.map(|value| value.value.to_owned());
    (owned(user), owned(password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_urls_or_host_and_port() {
        let ok = |written| endpoint(written).unwrap();
        assert_eq!(ok("http://10.0.0.5:2379"), "http://10.0.0.5:2379");
        assert_eq!(ok("http://10.0.0.5:2379/"), "http://10.0.0.5:2379");
        assert_eq!(ok("https://etcd.example.com"), "https://etcd.example.com");
        assert_eq!(
            ok("https://ETCD.example.com:2379"),
            "https://etcd.example.com:2379"
        );
        assert_eq!(ok("10.0.0.5:2379"), "http://10.0.0.5:2379");
        assert_eq!(ok("etcd-1:2379"), "http://etcd-1:2379");
        assert_eq!(ok("[::1]:2379"), "http://[::1]:2379");
        assert_eq!(ok("http://[::1]:2379"), "http://[::1]:2379");
    }

    #[test]
    fn other_endpoints_are_refused_in_plain_words() {
        let refused = |written| endpoint(written).unwrap_err();
        for written in ["", "etcd", "10.0.0.5", ":2379", "etcd:99999", "a b:2379"] {
            let message = refused(written);
            assert!(
                message.contains(&format!("`{written}`")),
                "{written}: {message}"
            );
        }
        assert_eq!(
            refused("unix://etcd:2379"),
            "`unix://etcd:2379`: an etcd endpoint is http:// or https://, not unix://"
        );
        assert_eq!(
            refused("http://etcd:2379/v3"),
            "`http://etcd:2379/v3`: an etcd endpoint is a scheme, a host and a port, without a \
             path"
        );
        let message = refused("http://root:Hunter2@etcd:2379");
        assert!(!message.contains("Hunter2"), "{message}");
    }

    #[test]
    fn cluster_names_are_plain() {
        for name in ["router-a", "r1.dc2", "Prod_2"] {
            assert!(is_cluster_name(name), "{name}");
        }
        for name in ["", "a b", "a/b", "é", "${X}"] {
            assert!(!is_cluster_name(name), "{name}");
        }
    }
}
