//! node-ipc's UDP example: `world` is a udp4 server on 127.0.0.1:8000 that
//! answers each `message` `{from, message}` to the address it came from;
//! `hello` is a udp4 server on port 8001 (UDP has no clients: both sides bind)
//! that sends `{from: 'hello', message: 'Hello'}` to `{address, port}` of world.
//!
//! ```sh
//! cargo run -p ipc-compat --example udp-world-hello            # both; exits after one exchange
//! cargo run -p ipc-compat --example udp-world-hello -- world   # the world only, until Ctrl-C
//! cargo run -p ipc-compat --example udp-world-hello -- hello   # the hello only
//! ```

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::Role;
use ipc_compat::{ipc_log, Error, Ipc, UdpType};
use serde_json::json;
use tokio::sync::Notify;

#[derive(serde::Deserialize)]
struct Message {
    from: String,
    message: String,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let role = common::role();
    let mut world_server = None;
    if role != Role::Hello {
        // ipc.serveNet('udp4', () => ipc.server.on('message', (data, socket) => ...))
        let ipc = Ipc::new(common::config("world"));
        let server = ipc.serve_net(None, None, Some(UdpType::Udp4))?;
        let log = ipc.clone();
        server.on_typed("message", move |data: Message, socket| {
            ipc_log!(log, "got a message from", data.from, ":", data.message);
            socket
                .emit("message", json!({"from": "world", "message": format!("{} world!", data.message)}))
                .ok();
        });
        server.start().await?;
        world_server = Some(server);
    }
    if role == Role::World {
        tokio::signal::ctrl_c().await?;
        return Ok(());
    }
    // note the port 8001: world already uses the default networkPort 8000
    let ipc = Ipc::new(common::config("hello"));
    let server = ipc.serve_net(None, Some(8001), Some(UdpType::Udp4))?;
    let done = Arc::new(Notify::new());
    let log = ipc.clone();
    let got = done.clone();
    server.on_typed("message", move |data: Message, _socket| {
        ipc_log!(log, "got a message from", data.from, ":", data.message);
        got.notify_one();
    });
    server.start().await?;
    let world: SocketAddr = ([127, 0, 0, 1], ipc.config().network_port).into(); // {address, port}
    server.emit_to(world, "message", json!({"from": "hello", "message": "Hello"}))?;
    common::wait(&done, 10).await?;
    server.stop().await;
    if let Some(world) = world_server {
        world.stop().await;
    }
    Ok(())
}
