//! What a load does with a stored record before the session takes it (Open
//! and Read alike): decode it, migrate it to this server's data version,
//! reconcile the callers' templates onto it and validate the result. A refused load changes nothing in the session.

use crate::backend::Record;
use crate::hooks::MigrateError;
use crate::record::Stored;
use crate::session::Inner;
use crate::SessionError;
use sdm_codec::Value;

/// The value and what is known of the stored key, ready for the session.
pub(crate) fn prepare(
    inner: &Inner,
    record: Option<Record>,
) -> Result<(Value, Stored), SessionError> {
    let (value, mut stored) = Stored::load(record).map_err(|message| SessionError::Corrupt {
        id: inner.id_text.clone(),
        message,
    })?;
    let hooks = inner.shared.hooks.of(&inner.id.name);
    let from = stored.data_version.unwrap_or_default();
    let (mut value, version) = hooks.migrate(value, from).map_err(|e| match e {
        MigrateError::Step(step, message) => SessionError::Migration {
            id: inner.id_text.clone(),
            step,
            message,
        },
        MigrateError::Newer { stored, known } => SessionError::NewerData {
            id: inner.id_text.clone(),
            stored: stored.version,
            readable_from: stored.readable_from,
            known,
        },
    })?;
    stored.data_version = Some(version);
    for template in templates(inner) {
        crate::reconcile::reconcile(&mut value, &template);
    }
    hooks
        .validate(&value)
        .map_err(|message| SessionError::Invalid {
            id: inner.id_text.clone(),
            message,
        })?;
    Ok((value, stored))
}

/// The templates of the callers of the running Open or Read.
fn templates(inner: &Inner) -> Vec<Value> {
    inner
        .core()
        .tasks
        .running
        .as_ref()
        .map(|t| {
            t.waiters
                .iter()
                .filter_map(|w| w.template.clone())
                .collect()
        })
        .unwrap_or_default()
}
