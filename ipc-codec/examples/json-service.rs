//! A small node-ipc service on tokio and `Framed<TcpStream, JsonCodec>` alone
//! (no ipc-transport, no ipc-compat). It answers node-ipc's "hello world"
//! example server: `app.message` with `{"id":..,"message":"hello"}` gets
//! `app.message` with `{"id":"world","message":"hello world!"}`.
//!
//! On Ctrl-C (or SIGTERM on Unix) it shuts down gracefully: it stops
//! accepting, sends every connected client a `service.shutdown` event, closes
//! its side of each connection, and waits (at most 5 s) for them to end.
//!
//! ```sh
//! cargo run -p ipc-codec --example json-service                 # 127.0.0.1:8000, node-ipc's networkPort
//! cargo run -p ipc-codec --example json-service -- 127.0.0.1:0  # a free port: the first line says which
//! ```
//!
//! A node-ipc client talks to it as is (`ipc.connectToNet('world', '127.0.0.1', 8000, ...)`),
//! and so does `nipc connect tcp://127.0.0.1:8000`. `ipc-codec/tests/json_service.rs`
//! runs it end to end: readiness, answers, and a real SIGINT.
#![forbid(unsafe_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use ipc_codec::{CodecError, Event, JsonCodec};
use serde::Deserialize;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::codec::Framed;

/// How long open connections get to end once shutdown has started.
const DRAIN: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8000".to_owned());
    // Install the signal handlers before saying we are ready, so that a signal
    // sent right after the "listening" line is not missed.
    let shutdown = shutdown_signal()?;
    tokio::pin!(shutdown);
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);

    let (stopping, stop) = watch::channel(false);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve(stream, peer, stop.clone()));
                }
                // Out of descriptors, say: the open connections go on; wait a
                // little rather than spin.
                Err(e) => {
                    eprintln!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            // Reap the connections that ended, so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }

    drop(listener);
    println!("shutting down: {} connection(s) open", connections.len());
    stopping.send_replace(true);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(DRAIN, drain).await.is_err() {
        println!("{} connection(s) did not end within {DRAIN:?}: dropped", connections.len());
        connections.shutdown().await;
    }
    println!("stopped");
    Ok(())
}

/// One connection: answer its events until the client leaves, sends a bad
/// frame (closed, as node-ipc 14 does), or the service stops.
async fn serve(stream: TcpStream, peer: SocketAddr, mut stop: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true); // node-ipc turns Nagle off too
    let mut conn = Framed::new(stream, JsonCodec::default()); // bounded: frames up to 16 MiB
    eprintln!("{peer}: connected");
    loop {
        tokio::select! {
            event = conn.next() => match event {
                Some(Ok(event)) => {
                    if let Err(e) = answer(&mut conn, &event).await {
                        eprintln!("{peer}: cannot answer {:?}: {e}", event.event_type());
                        break;
                    }
                }
                Some(Err(e)) => {
                    eprintln!("{peer}: bad frame, closing: {e}");
                    break;
                }
                None => {
                    eprintln!("{peer}: disconnected");
                    return;
                }
            },
            _ = stop.changed() => {
                let _ = conn.send(("service.shutdown", &json!({"reason": "the service is stopping"}))).await;
                break;
            }
        }
    }
    // Flush what is queued and close our side; the client reads end-of-stream.
    let _ = SinkExt::<Event>::close(&mut conn).await;
}

/// node-ipc's hello-world `app.message`.
#[derive(Debug, Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    message: std::borrow::Cow<'a, str>,
}

async fn answer(conn: &mut Framed<TcpStream, JsonCodec>, event: &Event) -> Result<(), CodecError> {
    match event.event_type() {
        "app.message" => {
            // Typed data straight from the frame's bytes; no serde_json::Value.
            let Message { message } = event.data_as()?;
            conn.send(("app.message", &json!({"id": "world", "message": format!("{message} world!")}))).await
        }
        "ping" => conn.send(Event::without_data("pong")).await,
        // Other events are not ours: node-ipc ignores events nobody listens to.
        _ => Ok(()),
    }
}

/// Ctrl-C, or SIGTERM on Unix. The handlers are installed when this is called;
/// the future completes at the first signal.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        let mut ctrl_c = tokio::signal::windows::ctrl_c()?;
        Ok(async move {
            ctrl_c.recv().await;
        })
    }
}
