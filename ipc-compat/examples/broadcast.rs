//! node-ipc's multi-client broadcast example: the `world` server greets
//! every client that says hello and broadcasts a `message` to all of them
//! every 100 ms; the `hello` and `goodbye` clients log what they get. Each
//! client sends its id in `data.id`, which is how the server names it in
//! `socket.disconnected`.
//!
//! ```sh
//! cargo run -p ipc-compat --example broadcast
//! ```

use std::sync::Arc;
use std::time::Duration;

use ipc_compat::{ipc_log, Config, Error, Ipc};
use serde_json::json;
use tokio::sync::Notify;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let mut config = Config::default();
    config.socket_root = format!("{}/", dir.path().display());

    let mut world = config.clone();
    world.id = "world".into();
    let ipc = Ipc::new(world);
    let server = ipc.serve(None)?;
    let log = ipc.clone();
    server.on("app.message", move |event, socket| {
        let data = event.data().unwrap_or_default();
        ipc_log!(log, "got a message from", data["id"], ":", data["message"]);
        socket.emit("app.message", json!({"id": "world", "message": format!("{} world!", data["message"].as_str().unwrap_or(""))})).ok();
    });
    let log = ipc.clone();
    let gone = Arc::new(Notify::new());
    let left = gone.clone();
    server.on_socket_disconnected(move |_, id| {
        ipc_log!(log, "client", id.unwrap_or("false"), "has disconnected!");
        left.notify_one();
    });
    server.start().await?;

    let mut clients = Vec::new();
    for id in ["hello", "goodbye"] {
        let mut client_config = config.clone();
        client_config.id = id.into();
        let client_ipc = Ipc::new(client_config);
        let log = client_ipc.clone();
        let world = client_ipc.connect_to_with("world", None, |world| {
            world.on_connect(move |world| {
                world.emit("app.message", json!({"id": id, "message": "hello"})).ok();
            });
            world.on("app.message", move |event, _| {
                let data = event.data().unwrap_or_default();
                ipc_log!(log, id, "got a message from", data["id"], ":", data["message"]);
            });
        })?;
        world.connected().await?;
        clients.push(client_ipc);
    }
    while server.sockets().len() < clients.len() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for n in 1..=3 {
        // ipc.server.broadcast('app.message', {id: ipc.config.id, message: ...})
        let reached =
            server.broadcast("app.message", json!({"id": "world", "message": format!("broadcast #{n}")}))?;
        ipc_log!(ipc, "broadcast", n, "to", reached, "clients");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for client in &clients {
        client.disconnect("world");
        gone.notified().await;
    }
    server.stop().await;
    Ok(())
}
