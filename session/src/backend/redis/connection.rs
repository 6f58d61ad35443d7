//! The command connection (made, and the scripts loaded, on first use) and
//! the replication setting it resolves: one server's, or a Redis
//! Cluster's (see [`cluster`](super::cluster)).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Value;

use super::cluster::{masters, Conn, Endpoint};
use super::replication::{
    cluster_replicas_to_wait, replicas_to_wait, Call, Replication, DEFAULT_REPLICATION_TIMEOUT,
};
use super::reply::redis_error;
use super::{scripts, RedisBackend, CONNECT_TIMEOUT, RESPONSE_TIMEOUT};
use crate::backend::BackendError;

impl RedisBackend {
    /// Sets replication safety (see [`Replication`]): whether lock steps
    /// and saves are acknowledged only after replicas have them, and how
    /// long they wait. Takes effect when the backend connects: call it
    /// before the first call (default: [`Replication::Auto`], 2 s).
    pub fn set_replication(&self, replication: Replication, timeout: Duration) {
        let mut setting = self
            .inner
            .replication
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *setting = (replication, timeout);
    }

    /// Replicas each lock step and save waits for: known once connected.
    pub fn replicas_waited_for(&self) -> Option<u32> {
        self.inner.replicas.get().copied()
    }

    /// The replicas to wait for and how long.
    pub(super) fn replication(&self) -> (u32, Duration) {
        let timeout = self
            .inner
            .replication
            .lock()
            .map_or(DEFAULT_REPLICATION_TIMEOUT, |s| s.1);
        (self.inner.replicas.get().copied().unwrap_or(0), timeout)
    }

    /// The command connection, made (and the scripts loaded) on first use.
    pub(super) async fn conn(&self) -> Result<Conn, BackendError> {
        let inner = &self.inner;
        inner
            .conn
            .get_or_try_init(|| async {
                let what = |e: redis::RedisError| redis_error("connect", "", &e);
                let setting = inner.replication.lock().map_or(Replication::Auto, |s| s.0);
                match &inner.endpoint {
                    Endpoint::Single(client) => {
                        let config = ConnectionManagerConfig::new()
                            .set_connection_timeout(CONNECT_TIMEOUT)
                            .set_response_timeout(RESPONSE_TIMEOUT)
                            .set_number_of_retries(1);
                        let mut conn = ConnectionManager::new_with_config(client.clone(), config)
                            .await
                            .map_err(what)?;
                        let mut pipe = redis::pipe();
                        for source in scripts::ALL {
                            pipe.cmd("SCRIPT").arg("LOAD").arg(source);
                        }
                        let _: Vec<String> = pipe.query_async(&mut conn).await.map_err(what)?;
                        let info: String = if setting == Replication::Auto {
                            redis::cmd("INFO")
                                .arg("replication")
                                .query_async(&mut conn)
                                .await
                                .map_err(what)?
                        } else {
                            String::new()
                        };
                        let _ = inner.replicas.set(replicas_to_wait(setting, &info));
                        Ok(Conn::Single(conn))
                    }
                    Endpoint::Cluster { client, .. } => {
                        let mut conn = client.get_async_connection().await.map_err(what)?;
                        // `SCRIPT LOAD` goes to every master (one command
                        // each: a pipeline would reach one node only).
                        for source in scripts::ALL {
                            let _: String = redis::cmd("SCRIPT")
                                .arg("LOAD")
                                .arg(source)
                                .query_async(&mut conn)
                                .await
                                .map_err(what)?;
                        }
                        let masters = if setting == Replication::Auto {
                            masters(&mut conn).await.map_err(what)?
                        } else {
                            Vec::new()
                        };
                        let _ = inner
                            .replicas
                            .set(cluster_replicas_to_wait(setting, &masters));
                        Ok(Conn::Cluster(conn))
                    }
                }
            })
            .await
            .cloned()
    }

    /// Runs a replicated step (lock, renewal, write): one round trip, with
    /// `WAIT` for the replicas when there are any to wait for.
    pub(super) async fn replicated(
        &self,
        call: &Call<'_>,
        what: &str,
        base: &str,
    ) -> Result<Value, BackendError> {
        let mut conn = self.conn().await?;
        let (replicas, timeout) = self.replication();
        call.run(&mut conn, replicas, timeout, what, base).await
    }
}
