//! The fencing rule, once, for the stores that run it in Rust (memory and
//! SQLite; the Redis scripts in `redis/*.lua` spell the same rule in Lua).
//! See [fencing tokens](super#fencing-tokens).

/// What a store knows about one key's tokens, read in the step that checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tokens {
    /// The last issued token as the counter remembers it (0 when missing).
    pub(crate) counter: u64,
    /// The token recorded on the data record (0 when none).
    pub(crate) record: u64,
    /// The live (unexpired) lock entry: owner and token.
    pub(crate) entry: Option<(String, u64)>,
    /// The token of the last entry its owner released (0 when none): a
    /// renewal under it must not write the entry again.
    pub(crate) released: u64,
}

/// Why a write or renewal was refused: the newest token and the holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) token: u64,
    pub(crate) owner: Option<String>,
}

impl Tokens {
    /// The newest token issued for the key, as far as the store can tell.
    pub(crate) fn latest(&self) -> u64 {
        let entry = self.entry.as_ref().map_or(0, |(_, t)| *t);
        self.counter.max(self.record).max(entry)
    }

    /// The token of a new acquisition: above every token the store knows.
    pub(crate) fn next(&self) -> u64 {
        self.latest().saturating_add(1)
    }

    /// Whether `owner` may write (or renew) under `token`: the live entry
    /// is exactly ours, or no entry lives and nobody acquired after us (no
    /// token above ours is known: after a store lost everything, the owner
    /// from before the loss keeps working, so nothing it holds is lost).
    pub(crate) fn admit(&self, owner: &str, token: u64) -> Result<(), Refusal> {
        let ours = match &self.entry {
            Some((o, t)) => o == owner && *t == token,
            None => self.latest() <= token,
        };
        if ours {
            Ok(())
        } else {
            Err(self.refusal())
        }
    }

    /// Whether `owner` may renew its lock under `token`: as [`admit`], and
    /// with no live entry, only when that token's entry lapsed rather than
    /// being released. A renewal sent before its session released (a batch
    /// in flight, a try again) and landing after the release would
    /// otherwise take the lock again for a whole time to live, and the
    /// next server to open the key would wait for it to expire.
    ///
    /// [`admit`]: Tokens::admit
    pub(crate) fn renewable(&self, owner: &str, token: u64) -> Result<(), Refusal> {
        self.admit(owner, token)?;
        if self.entry.is_none() && self.released >= token {
            return Err(self.refusal());
        }
        Ok(())
    }

    /// The refusal: the newest token and the live entry's owner.
    fn refusal(&self) -> Refusal {
        Refusal {
            token: self.latest(),
            owner: self.entry.as_ref().map(|(o, _)| o.clone()),
        }
    }
}

#[cfg(test)]
#[path = "tests/fencing.rs"]
mod tests;
