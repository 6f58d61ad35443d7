//! A TCP proxy for partition tests: forwards every connection to an
//! upstream address until [`Proxy::cut`], which drops every forwarded
//! connection and closes each new one at once (the client sees its
//! connection refused or reset), until [`Proxy::heal`].
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// A proxy on 127.0.0.1 (an ephemeral port), stopped on drop.
pub struct Proxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
    refused: Arc<AtomicUsize>,
    accept: AbortHandle,
}

impl Proxy {
    /// Starts forwarding to `upstream` (on the current tokio runtime).
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let cut = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let refused = Arc::new(AtomicUsize::new(0));
        let accept = {
            let (cut, links, refused) = (cut.clone(), links.clone(), refused.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((mut client, _)) = listener.accept().await else {
                        continue;
                    };
                    if cut.load(Ordering::SeqCst) {
                        refused.fetch_add(1, Ordering::SeqCst);
                        drop(client);
                        continue;
                    }
                    let link = tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(upstream).await else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    });
                    let mut all = links.lock().unwrap();
                    all.retain(|l| !l.is_finished());
                    all.push(link.abort_handle());
                    // A cut between the check above and here: drop it too.
                    if cut.load(Ordering::SeqCst) {
                        for l in all.drain(..) {
                            l.abort();
                        }
                    }
                }
            })
            .abort_handle()
        };
        Proxy {
            addr,
            cut,
            links,
            refused,
            accept,
        }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every forwarded connection; new ones are closed at once.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for l in self.links.lock().unwrap().drain(..) {
            l.abort();
        }
    }

    /// Forwards new connections again.
    pub fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }

    /// How many connections were closed at once while cut.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for l in self.links.lock().unwrap().drain(..) {
            l.abort();
        }
    }
}
