//! node-ipc's basic example over TCP, both sides in one process: `world`
//! serves `networkHost:networkPort` (127.0.0.1:8000) and answers each
//! `message` with `<message> world!`; `hello` connects with `connect_to_net`.
//!
//! ```sh
//! cargo run -p ipc-compat --example tcp-world-hello            # both; exits after one exchange
//! cargo run -p ipc-compat --example tcp-world-hello -- world   # the server only, until Ctrl-C
//! cargo run -p ipc-compat --example tcp-world-hello -- hello   # the client only
//! ```

mod common;

use std::sync::Arc;

use common::Role;
use ipc_compat::{Error, Ipc};
use tokio::sync::Notify;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let role = common::role();
    let mut server = None;
    if role != Role::Hello {
        // ipc.serveNet(() => ...); ipc.server.start();
        let ipc = Ipc::new(common::config("world"));
        let world = ipc.serve_net(None, None, None)?;
        common::world(&ipc, &world);
        world.start().await?;
        server = Some(world);
    }
    if role == Role::World {
        tokio::signal::ctrl_c().await?;
        return Ok(());
    }
    // ipc.connectToNet('world', () => ...)
    let ipc = Ipc::new(common::config("hello"));
    let done = Arc::new(Notify::new());
    ipc.connect_to_net_with("world", None, None, |world| common::hello(&ipc, world, done.clone()))?;
    common::wait(&done, 10).await?;
    ipc.disconnect("world");
    if let Some(server) = server {
        server.stop().await;
    }
    Ok(())
}
