//! A `redis-server` of the examples' own, on a free loopback port (or the
//! one `SDM_BENCH_REDIS_URL` names).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The examples' error type.
pub type Error = Box<dyn std::error::Error>;

/// A `redis-server` of our own, killed on drop.
pub struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a server (or names `SDM_BENCH_REDIS_URL`): its URL, the server
/// (killed on drop) and its directory.
pub fn start_redis() -> Result<(String, Option<Server>, tempfile::TempDir), Error> {
    let dir = tempfile::tempdir()?;
    if let Ok(url) = std::env::var("SDM_BENCH_REDIS_URL") {
        return Ok((url, None, dir));
    }
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new("redis-server")
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("redis-server not found ({e}); apt-get install redis-server"))?;
    let url = format!("redis://127.0.0.1:{port}/0");
    let server = Server(child);
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((url, Some(server), dir));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err("redis-server did not start".into())
}
