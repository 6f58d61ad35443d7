//! Wake-ups over pub/sub: one RESP3 connection per backend, made on the
//! first wait; a script publishes on a channel (a session's pushes or
//! releases, a node's release requests) and the message wakes the waiting
//! readers of that channel in this process.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, ProtocolVersion, PushKind};

use super::cluster::{cluster_builder, Conn, Endpoint};
use super::reply::{redis_error, text};
use super::{RedisBackend, CONNECT_TIMEOUT, LINGER, RESPONSE_TIMEOUT};
use crate::backend::BackendError;

impl RedisBackend {
    /// The RESP3 pub/sub connection, made on first use; its pushes wake the
    /// waiting readers. On a cluster, a classic `PUBLISH` (what the scripts
    /// send) reaches every node, so a subscription on any node hears it;
    /// the cluster client subscribes again after a node fails.
    async fn pubsub(&self) -> Result<Conn, BackendError> {
        let inner = &self.inner;
        inner
            .pubsub
            .get_or_try_init(|| async {
                let wakers = Arc::clone(&inner.wakers);
                let epoch = Arc::clone(&inner.epoch);
                let on_push = move |push: redis::PushInfo| {
                    match push.kind {
                        PushKind::Message => {
                            if let Some(channel) = push.data.first().and_then(text) {
                                wakers.wake(&channel);
                            }
                        }
                        PushKind::Disconnection => {
                            epoch.fetch_add(1, Ordering::SeqCst);
                            wakers.wake_all();
                        }
                        _ => {}
                    }
                    Ok::<(), std::convert::Infallible>(())
                };
                let failed = |e: redis::RedisError| redis_error("pubsub", "", &e);
                match &inner.endpoint {
                    Endpoint::Single(client) => {
                        let mut info = client.get_connection_info().clone();
                        info.redis.protocol = ProtocolVersion::RESP3;
                        let client = Client::open(info).map_err(failed)?;
                        let config = ConnectionManagerConfig::new()
                            .set_connection_timeout(CONNECT_TIMEOUT)
                            .set_response_timeout(RESPONSE_TIMEOUT)
                            .set_number_of_retries(1)
                            .set_push_sender(on_push);
                        ConnectionManager::new_with_config(client, config)
                            .await
                            .map(Conn::Single)
                            .map_err(failed)
                    }
                    Endpoint::Cluster { nodes, .. } => {
                        let client = cluster_builder(nodes)
                            .use_protocol(ProtocolVersion::RESP3)
                            .push_sender(on_push)
                            .build()
                            .map_err(failed)?;
                        client
                            .get_async_connection()
                            .await
                            .map(Conn::Cluster)
                            .map_err(failed)
                    }
                }
            })
            .await
            .cloned()
    }

    /// Makes sure `channel` is subscribed on the pub/sub connection.
    pub(super) async fn ensure_subscribed(&self, channel: &str) -> Result<(), BackendError> {
        let mut pubsub = self.pubsub().await?;
        let mut guard = self.inner.subscribed.lock().await;
        let epoch = self.inner.epoch.load(Ordering::SeqCst);
        if guard.0 != epoch {
            *guard = (epoch, HashSet::new());
        }
        if guard.1.contains(channel) {
            return Ok(());
        }
        match &mut pubsub {
            Conn::Single(c) => c.subscribe(channel).await,
            Conn::Cluster(c) => c.subscribe(channel).await,
        }
        .map_err(|e| redis_error("subscribe", channel, &e))?;
        guard.1.insert(channel.to_owned());
        Ok(())
    }

    /// Unsubscribes `channel` a little later if no reader waits on it then.
    pub(super) fn unsubscribe_later(&self, channel: String) {
        let backend = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(LINGER).await;
            let mut guard = backend.inner.subscribed.lock().await;
            if backend.inner.wakers.is_waited(&channel) || !guard.1.contains(&channel) {
                return;
            }
            guard.1.remove(&channel);
            if let Some(pubsub) = backend.inner.pubsub.get() {
                let mut pubsub = pubsub.clone();
                // A failure leaves a harmless subscription until reconnection.
                let _ = match &mut pubsub {
                    Conn::Single(c) => c.unsubscribe(&channel).await,
                    Conn::Cluster(c) => c.unsubscribe(&channel).await,
                };
            }
        });
    }
}
