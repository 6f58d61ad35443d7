//! Free loopback ports for the test servers, chosen below the kernel's
//! ephemeral range: a port taken from that range (`bind 127.0.0.1:0`) is
//! free only until the listener is dropped, and any outgoing connection
//! of a test running alongside (a client's local port) may take it before
//! `redis-server` binds it, so the server would exit at once.
#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::TcpListener;

/// The lowest port we choose from.
const LOW: u16 = 16_000;

/// The first port of the kernel's ephemeral range (Linux's
/// `ip_local_port_range`; 32768, its default, elsewhere).
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// A random number (std's per-instance random hash keys).
fn random() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}

/// `n` distinct loopback ports that were free when chosen, below the
/// ephemeral range when it leaves room (else anywhere the kernel gives).
pub fn free_ports(n: usize) -> Vec<u16> {
    let high = ephemeral_start();
    let mut ports: Vec<u16> = Vec::with_capacity(n);
    let mut held: Vec<TcpListener> = Vec::with_capacity(n);
    let mut tries = 0;
    while ports.len() < n {
        tries += 1;
        let port = if high > LOW + 1_000 && tries < 10_000 {
            LOW + (random() % u64::from(high - LOW)) as u16
        } else {
            0
        };
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
            let port = l.local_addr().expect("a bound listener's port").port();
            if !ports.contains(&port) {
                ports.push(port);
                held.push(l);
            }
        }
    }
    ports
}

/// One free loopback port (see [`free_ports`]).
pub fn free_port() -> u16 {
    free_ports(1)[0]
}

/// Starts a server with `start(attempt)` (attempt 0, 1, ...), which answers
/// `Err` (what exited, on which ports) when the server exited at once, as
/// it does when its port was taken after it was chosen: the next attempt
/// chooses fresh ports. Panics after 5 attempts, naming every exit.
pub fn start_retrying(mut start: impl FnMut(usize) -> Result<(), String>) {
    let mut exits = Vec::new();
    for attempt in 0..5 {
        match start(attempt) {
            Ok(()) => return,
            Err(exit) => exits.push(exit),
        }
    }
    panic!("redis-server exited at once on every port tried: {exits:?}");
}
