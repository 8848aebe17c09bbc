//! node-ipc's local socket with `ipc-transport` built for that one transport:
//!
//! ```sh
//! cargo run -p ipc-transport --no-default-features --features local --example local-world
//! ```
//!
//! No TCP, TLS or UDP code is compiled in (no rustls, no socket2). A server is
//! bound where node-ipc 14 would put `ipc.serve()` with `ipc.config.id =
//! 'world'` (socket root + appspace + id; the root created 0700 and checked, as
//! `secureSocketRoot` does), though under a fresh temporary root rather than
//! the per-user one. A client connects by the same id, the two play node-ipc's
//! hello world over `ipc_transport::framed`, the program checks the answers and
//! exits 0 (1 if anything is off). On Windows the same code uses the named
//! pipe the path maps to.
#![forbid(unsafe_code)]

use futures::{SinkExt, StreamExt};
use ipc_codec::{Event, JsonCodec};
use ipc_transport::local::{LocalListener, LocalListenerOptions, LocalStream, SocketPathRules};
use ipc_transport::{framed, Endpoint};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::temp_dir().join(format!("ipc-transport-local-world-{}", std::process::id()));
    let rules = SocketPathRules::new(format!("{}/", root.display()), "app.", true);
    let world = Endpoint::id("world");

    let listener = LocalListener::bind_endpoint(&world, &rules, &LocalListenerOptions::default()).await?;
    println!("server: listening on {}", listener.path().display());
    let server = tokio::spawn(async move {
        let stream = listener.accept().await?;
        let mut conn = framed(stream, JsonCodec::default());
        let mut answered = 0;
        while let Some(event) = conn.next().await {
            let event = event?;
            if event.event_type() == "app.message" {
                let data = event.data()?;
                let message = data["message"].as_str().unwrap_or_default();
                conn.send(("app.message", &json!({"id": "world", "message": format!("{message} world!")})))
                    .await?;
                answered += 1;
            }
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(answered)
    });

    let stream = LocalStream::connect_endpoint(&world, &rules).await?;
    println!("client: connected to {}", stream.peer());
    let mut client = framed(stream, JsonCodec::default());
    for message in ["hello", "goodbye"] {
        client.send(Event::new("app.message", json!({"id": "hello", "message": message}))).await?;
        let reply = client.next().await.ok_or("the server closed early")??;
        println!("client: got {} {}", reply.event_type(), reply.data()?);
        if reply.data()? != json!({"id": "world", "message": format!("{message} world!")}) {
            return Err(format!("unexpected answer to {message:?}").into());
        }
    }
    SinkExt::<Event>::close(&mut client).await?; // the server reads end-of-stream
    let answered = server.await?.map_err(|e| e.to_string())?;
    println!("server: answered {answered} events, client gone");
    if answered != 2 {
        return Err(format!("the server answered {answered} events, not 2").into());
    }
    std::fs::remove_dir_all(&root).or_else(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Ok(())
        } else {
            Err(e)
        }
    })?;
    println!("ok");
    Ok(())
}
