//! node-ipc's basic example over a Unix socket (Windows: a named pipe), both
//! sides in one process: `world` serves `/tmp/app.world` and answers each
//! `message` with `<message> world!`; `hello` connects, sends `hello`, logs the
//! answer. The socket is node-ipc's, so either side also talks to node-ipc's
//! own `world-server.js` / `hello-client.js`.
//!
//! ```sh
//! cargo run -p ipc-compat --example unix-world-hello            # both; exits after one exchange
//! cargo run -p ipc-compat --example unix-world-hello -- world   # the server only, until Ctrl-C
//! cargo run -p ipc-compat --example unix-world-hello -- hello   # the client only
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
        // ipc.serve(() => ipc.server.on('message', ...)); ipc.server.start();
        let ipc = Ipc::new(common::config("world"));
        let world = ipc.serve(None)?;
        common::world(&ipc, &world);
        world.start().await?;
        server = Some(world);
    }
    if role == Role::World {
        tokio::signal::ctrl_c().await?;
        return Ok(());
    }
    // ipc.connectTo('world', () => { ipc.of.world.on('connect', ...) ... })
    let ipc = Ipc::new(common::config("hello"));
    let done = Arc::new(Notify::new());
    ipc.connect_to_with("world", None, |world| common::hello(&ipc, world, done.clone()))?;
    common::wait(&done, 10).await?;
    ipc.disconnect("world");
    if let Some(server) = server {
        server.stop().await;
    }
    Ok(())
}
