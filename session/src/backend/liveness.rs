//! Owner liveness and handoff, as the stores exchange them: the identity of
//! a server process ([`NodeInfo`]), the lock entry as a store holds it
//! ([`LockEntry`]), a request to take a lock ([`Claim`]) and its answer
//! ([`Acquisition`]).
//!
//! Each registry keeps one heartbeat entry in the store
//! ([`Backend::heartbeat`](super::Backend::heartbeat)) with a short
//! store-side expiry, and writes its node id into every lock entry it
//! takes. A lock whose node's heartbeat has expired
//! ([`Backend::node_alive`](super::Backend::node_alive) answers `false`)
//! may be taken at once by a claim that names the entry it replaces
//! ([`Claim::replacing`]): the store takes it only if the entry is still
//! exactly that owner and token, so a renewal or another taker in between
//! wins. Reading the heartbeat and taking the lock are two steps (no step
//! touches keys of two Redis Cluster slots); safety never rests on them:
//! the taker gets a new fencing token, and the old owner's writes are
//! refused from then on.

/// A server process as other servers see it: a random id, and the host
/// name and process id for people.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeInfo {
    /// Random, unique per registry (a UUID without dashes).
    pub id: String,
    /// The host name of the process (for people; never compared).
    pub host: String,
    /// The process id (for people; never compared).
    pub pid: u32,
}

impl NodeInfo {
    /// A new identity for this process: a fresh random id, this host's
    /// name and this process's id.
    ///
    /// ```
    /// let a = sdm_session::backend::NodeInfo::this_process();
    /// let b = sdm_session::backend::NodeInfo::this_process();
    /// assert_ne!(a.id, b.id);
    /// assert_eq!(a.pid, std::process::id());
    /// ```
    pub fn this_process() -> NodeInfo {
        NodeInfo {
            id: uuid::Uuid::new_v4().simple().to_string(),
            host: host_name(),
            pid: std::process::id(),
        }
    }
}

impl std::fmt::Display for NodeInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} pid {})", self.id, self.host, self.pid)
    }
}

/// This host's name: the kernel's, else `$HOSTNAME`, else `unknown`.
fn host_name() -> String {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    kernel
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .or_else(|| std::env::var("COMPUTERNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A live lock entry as the store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockEntry {
    /// The UniqueId of the session holding it.
    pub owner: String,
    /// The fencing token of its acquisition.
    pub token: u64,
    /// The node that took it (`None` for an entry taken without one: by
    /// [`Backend::lock`](super::Backend::lock), or by an earlier version).
    pub node: Option<NodeInfo>,
    /// When it was acquired, in milliseconds since the Unix epoch by the
    /// store's clock (0 when unknown).
    pub since_ms: i64,
}

/// A request to take a lock ([`Backend::acquire`](super::Backend::acquire)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim<'a> {
    /// The UniqueId of the session taking it.
    pub owner: &'a str,
    /// The node of the taking process, written into the entry so that
    /// others can tell whether its process lives.
    pub node: Option<&'a NodeInfo>,
    /// Also take it if the live entry is exactly this (owner, token): an
    /// entry whose node's heartbeat has expired.
    pub replacing: Option<(&'a str, u64)>,
}

impl<'a> Claim<'a> {
    /// A plain claim: taken if the entry is absent, expired or ours.
    pub fn new(owner: &'a str) -> Self {
        Claim {
            owner,
            node: None,
            replacing: None,
        }
    }

    /// The same claim, written with `node`.
    pub fn on(self, node: &'a NodeInfo) -> Self {
        Claim {
            node: Some(node),
            ..self
        }
    }

    /// The same claim, also taking the entry (`owner`, `token`) if it is
    /// still the live one.
    pub fn replacing(self, owner: &'a str, token: u64) -> Self {
        Claim {
            replacing: Some((owner, token)),
            ..self
        }
    }
}

/// The answer of [`Backend::acquire`](super::Backend::acquire).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Acquisition {
    /// Ours, under a new fencing token (greater than every token issued for
    /// the key before).
    Acquired {
        /// The fencing token of this acquisition.
        token: u64,
    },
    /// Another session holds it.
    Held(LockEntry),
}

/// The lock entry's text in stores that keep it as one string (Redis):
/// `token:owner`, then, when a node is known, `\n`-separated node id,
/// host, pid and acquisition time. An entry of an earlier version (a bare
/// owner, or `token:owner`) reads with no node.
pub(crate) fn entry_text(
    owner: &str,
    token: u64,
    node: Option<&NodeInfo>,
    since_ms: i64,
) -> String {
    match node {
        Some(n) => format!(
            "{token}:{owner}\n{}\n{}\n{}\n{since_ms}",
            n.id,
            clean(&n.host),
            n.pid
        ),
        None => format!("{token}:{owner}"),
    }
}

/// A host name without the separator.
fn clean(host: &str) -> String {
    host.replace('\n', " ")
}

/// Reads [`entry_text`]'s format (and the earlier ones).
pub(crate) fn parse_entry(text: &str) -> LockEntry {
    let mut lines = text.split('\n');
    let head = lines.next().unwrap_or_default();
    let (token, owner) = match head.split_once(':') {
        Some((t, o)) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
            (t.parse().unwrap_or(0), o.to_owned())
        }
        _ => (0, head.to_owned()),
    };
    let rest: Vec<&str> = lines.collect();
    let (node, since_ms) = match rest.as_slice() {
        [id, host, pid, since, ..] => (
            Some(NodeInfo {
                id: (*id).to_owned(),
                host: (*host).to_owned(),
                pid: pid.parse().unwrap_or(0),
            }),
            since.parse().unwrap_or(0),
        ),
        _ => (None, 0),
    };
    LockEntry {
        owner,
        token,
        node,
        since_ms,
    }
}

#[cfg(test)]
#[path = "tests/liveness.rs"]
mod tests;
