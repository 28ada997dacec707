//! Where a cluster keeps things in etcd, under its name: `/NAME/members/NODE` (a live router,
//! on its lease), `/NAME/owners/FEED` (the router owning a feed, on that router's lease),
//! `/NAME/moves/FEED` (a planned move in progress: `FROM TO`, on the giver's lease) and
//! `/NAME/numbers/PLAYLIST` (the next sequence number of a playlist, kept for good).
//!
//! Pure: names only.

/// The key layout of one cluster.
#[derive(Debug, Clone)]
pub struct Keys {
    root: String,
}

impl Keys {
    /// The keys of cluster `name`.
    pub fn new(name: &str) -> Self {
        Self {
            root: format!("/{name}/"),
        }
    }

    /// The prefix of every member key.
    pub fn members(&self) -> String {
        format!("{}members/", self.root)
    }

    /// The key of member `node`.
    pub fn member(&self, node: &str) -> String {
        format!("{}{node}", self.members())
    }

    /// The prefix of every owner key.
    pub fn owners(&self) -> String {
        format!("{}owners/", self.root)
    }

    /// The owner key of `feed`.
    pub fn owner(&self, feed: &str) -> String {
        format!("{}{feed}", self.owners())
    }

    /// The prefix of every move key.
    pub fn moves(&self) -> String {
        format!("{}moves/", self.root)
    }

    /// The move key of `feed`.
    pub fn moving(&self, feed: &str) -> String {
        format!("{}{feed}", self.moves())
    }

    /// The number key of `playlist`.
    pub fn number(&self, playlist: &str) -> String {
        format!("{}numbers/{playlist}", self.root)
    }

    /// The key of `sink`'s plan of `playlist`.
    pub fn plan(&self, playlist: &str, sink: &str) -> String {
        format!("{}plans/{playlist}/{sink}", self.root)
    }

    /// The name after `prefix` in `key`, if `key` starts with it.
    pub fn name_after<'a>(prefix: &str, key: &'a [u8]) -> Option<&'a str> {
        std::str::from_utf8(key).ok()?.strip_prefix(prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_key_lives_under_the_cluster_name() {
        let keys = Keys::new("prod");
        assert_eq!(keys.member("a"), "/prod/members/a");
        assert_eq!(keys.owner("cam1"), "/prod/owners/cam1");
        assert_eq!(keys.moving("cam1"), "/prod/moves/cam1");
        assert_eq!(keys.number("cam1.live"), "/prod/numbers/cam1.live");
        assert_eq!(keys.plan("cam1", "s3"), "/prod/plans/cam1/s3");
        assert_eq!(
            Keys::name_after(&keys.owners(), b"/prod/owners/cam1"),
            Some("cam1")
        );
        assert_eq!(Keys::name_after(&keys.owners(), b"/test/owners/cam1"), None);
    }
}
