//! The README's world and hello, shared by the world/hello examples.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use ipc_compat::{ipc_log, Client, Config, Error, Ipc, Server};
use tokio::sync::Notify;

/// Which side(s) to run: `world`, `hello`, or both (no argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    World,
    Hello,
    Both,
}

pub fn role() -> Role {
    match std::env::args().nth(1).as_deref() {
        Some("world") => Role::World,
        Some("hello") => Role::Hello,
        None => Role::Both,
        Some(other) => {
            eprintln!("unknown role {other:?}: expected world, hello, or nothing for both");
            std::process::exit(2);
        }
    }
}

/// `ipc.config.id = id; ipc.config.retry = 1500;`
pub fn config(id: &str) -> Config {
    let mut config = Config::default();
    config.id = id.into();
    config.retry = Duration::from_millis(1500);
    config
}

/// The world server's handlers:
/// `ipc.server.on('message', (data, socket) => ipc.server.emit(socket, 'message', data + ' world!'))`.
pub fn world(ipc: &Ipc, server: &Server) {
    let log = ipc.clone();
    server.on("message", move |event, socket| {
        let data: String = event.data_as().unwrap_or_default();
        ipc_log!(log, "got a message :", data);
        socket.emit("message", format!("{data} world!")).ok();
    });
    let log = ipc.clone();
    server.on_socket_disconnected(move |_socket, id| {
        ipc_log!(log, "client", id.unwrap_or("false"), "has disconnected!");
    });
}

/// The hello client's handlers: on connect emit `message` `hello`; log the
/// answer and notify `done`.
pub fn hello(ipc: &Ipc, world: &Client, done: Arc<Notify>) {
    let log = ipc.clone();
    world.on_connect(move |world| {
        ipc_log!(log, "## connected to world ##");
        world.emit("message", "hello").ok();
    });
    let log = ipc.clone();
    world.on_disconnect(move |_| ipc_log!(log, "disconnected from world"));
    let log = ipc.clone();
    world.on("message", move |event, _| {
        let data: String = event.data_as().unwrap_or_default();
        ipc_log!(log, "got a message from world :", data);
        done.notify_one();
    });
}

/// Waits for `done`, or fails after `secs` seconds.
pub async fn wait(done: &Notify, secs: u64) -> Result<(), Error> {
    tokio::time::timeout(Duration::from_secs(secs), done.notified())
        .await
        .map_err(|_| Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer from world")))
}
