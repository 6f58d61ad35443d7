//! The identity of a session: `name/scope/key` (scope `global` by default).

/// The identity of a session: `name/scope/key`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId {
    /// The data store name (`"Player"`).
    pub name: String,
    /// The scope; `"global"` when none is given.
    pub scope: String,
    /// The key (`"1234"`, a player's user id).
    pub key: String,
}

impl SessionId {
    /// A session id; `scope` defaults to `global`.
    pub fn new(name: impl Into<String>, scope: Option<&str>, key: impl Into<String>) -> Self {
        SessionId {
            name: name.into(),
            scope: scope.unwrap_or("global").to_owned(),
            key: key.into(),
        }
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.name, self.scope, self.key)
    }
}
