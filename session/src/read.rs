//! Read(template?): load the value without taking the lock.
//!
//! Destroyed answers `State Destroyed`; a queued Read is joined; an open
//! session with no Close queued answers `State Open` (its value is the live
//! one); otherwise the value is loaded, the template applied, `Success`.
//!
//! Loading reads the value, metadata, user ids, times and version; when the
//! metadata has `Compress`, the stored string is decompressed with its
//! Decimals.

use crate::backend::Record;
use crate::retry::{retry, CALL_TIMEOUT};
use crate::session::state::Core;
use crate::session::Inner;
use crate::tasks::{enqueue, join, Admission, TaskKind};
use crate::{Response, Session, SessionError, State, StateKind};
use sdm_codec::Value;
use serde_json::{Map, Value as Json};
use std::sync::Arc;

impl Session {
    /// Read: loads the stored value into Value without opening the session;
    /// `template` (if any) is reconciled onto it.
    pub async fn read(&self, template: Option<Value>) -> Response {
        let admission = {
            let mut core = self.0.core();
            admit(&self.0, &mut core, template)
        };
        self.0.finish(admission).await
    }
}

fn admit(inner: &Arc<Inner>, core: &mut Core, mut template: Option<Value>) -> Admission {
    if core.state == State::Destroyed {
        return Admission::Answer(Response::State(StateKind::Destroyed));
    }
    if let Some(a) = join(core, TaskKind::Read, &mut template, false) {
        return a;
    }
    if core.state == State::Open && !core.tasks.queued(TaskKind::Close) {
        return Admission::Answer(Response::State(StateKind::Open));
    }
    enqueue(inner, core, TaskKind::Read, template)
}

pub(crate) async fn run(inner: &Arc<Inner>) -> Response {
    match inner.core().state {
        State::Destroyed => return Response::State(StateKind::Destroyed),
        State::Open => return Response::State(StateKind::Open),
        State::Closed => {}
    }
    match load(inner).await {
        Ok(loaded) => {
            *inner.value() = loaded.value.clone();
            loaded.commit(&mut inner.core());
            Response::Success
        }
        Err(e) => Response::Error(e),
    }
}

/// A loaded record, decoded.
pub(crate) struct Loaded {
    pub(crate) value: Value,
    metadata: Map<String, Json>,
    user_ids: Vec<i64>,
    created_ms: i64,
    updated_ms: i64,
    version: String,
    compressed: String,
}

impl Loaded {
    /// Stores everything but the value into the session's state.
    pub(crate) fn commit(self, core: &mut Core) {
        core.metadata = self.metadata;
        core.user_ids = self.user_ids;
        core.created_ms = self.created_ms;
        core.updated_ms = self.updated_ms;
        core.version = self.version;
        core.compressed = self.compressed;
    }
}

/// Gets and decodes the session's record (an absent key loads as nil).
pub(crate) async fn load(inner: &Inner) -> Result<Loaded, SessionError> {
    let backend = &*inner.backend;
    let id = &inner.id;
    let record = retry(CALL_TIMEOUT, || backend.get(id))
        .await
        .map_err(|e| inner.backend_error("get", e))?;
    let Some(Record {
        value,
        metadata,
        user_ids,
        created_ms,
        updated_ms,
        version,
        ..
    }) = record
    else {
        return Ok(Loaded {
            value: Value::Nil,
            metadata: Map::new(),
            user_ids: Vec::new(),
            created_ms: 0,
            updated_ms: 0,
            version: String::new(),
            compressed: String::new(),
        });
    };
    let corrupt = |message: String| SessionError::Corrupt {
        id: inner.id_text.clone(),
        message,
    };
    let metadata = crate::record::parse_metadata(&metadata).map_err(corrupt)?;
    let (value, compressed) = crate::record::decode(&value, &metadata).map_err(corrupt)?;
    Ok(Loaded {
        value,
        metadata,
        user_ids,
        created_ms,
        updated_ms,
        version,
        compressed: compressed.unwrap_or_default(),
    })
}
