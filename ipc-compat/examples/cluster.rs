//! node-ipc's cluster example: several workers serve one socket path with
//! `unlink = false`. In node each worker is a process sharing the master's
//! listening socket; here each worker is an `Ipc` instance with a server on
//! the same path, and with `unlink` off the second and later servers share the
//! first one's listener, so each connection goes to whichever worker accepts it.
//! The master removes a stale socket file first, as node-ipc's example does.
//!
//! ```sh
//! cargo run -p ipc-compat --example cluster
//! ```

use std::time::Duration;

use ipc_compat::{ipc_log, Config, Error, Ipc};
use tokio::sync::mpsc;

const WORKERS: usize = 4;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let socket_path = dir.path().join("app.cluster");
    let mut config = Config::default();
    config.unlink = false; // ipc.config.unlink = false

    // master: if (fs.existsSync(socketPath)) fs.unlinkSync(socketPath)
    if socket_path.exists() {
        std::fs::remove_file(&socket_path)?;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut workers = Vec::new();
    for worker in 1..=WORKERS {
        let ipc = Ipc::new(config.clone());
        let server = ipc.serve(Some(&socket_path))?;
        let log = ipc.clone();
        let tx = tx.clone();
        server.on("currentDate", move |event, _socket| {
            let date: String = event.data_as().unwrap_or_default();
            ipc_log!(log, "worker", worker, "got:", date);
            tx.send(worker).ok();
        });
        server.start().await?;
        ipc_log!(ipc, "worker", worker, "listening on", socket_path.display());
        workers.push(server);
    }

    // clients: connect, send the date, disconnect, a few times over
    let client = Ipc::new(config);
    for n in 0..12 {
        let id = format!("client-{n}");
        let world = client.connect_to(&id, Some(&socket_path))?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        world.emit("currentDate", format!("{}.{:03}", now.as_secs(), now.subsec_millis()))?;
        tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.map_err(|_| Error::Closed)?;
        world.flush().await?;
        client.disconnect(&id);
    }
    for server in workers {
        server.stop().await;
    }
    Ok(())
}
