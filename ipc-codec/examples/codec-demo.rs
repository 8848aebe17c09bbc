//! A node-ipc conversation over an in-memory duplex stream: the exact bytes on
//! the wire, typed data, byte-exact pass-through, and recovery from a bad frame.
//!
//! Run: `cargo run -p ipc-codec --example codec-demo`

use futures::{SinkExt, StreamExt};
use ipc_codec::{CodecError, ContinueOnError, Event, JsonCodec};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio_util::codec::{FramedRead, FramedWrite};

#[derive(Serialize, Deserialize, Debug)]
struct Hello<'a> {
    id: &'a str,
    message: &'a str,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), CodecError> {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let (server_read, _server_write) = tokio::io::split(server_io);
    let (_client_read, client_write) = tokio::io::split(client_io);

    let mut client = FramedWrite::new(client_write, JsonCodec::default());
    // node-ipc 9 reported a bad frame as an `error` event and carried on: ContinueOnError does that.
    let mut server = FramedRead::new(server_read, ContinueOnError::new(JsonCodec::default()));

    println!("client -> server:");
    client.send(("app.message", &Hello { id: "client-1", message: "hello" })).await?;
    client
        .send(Event::new(
            "app.numbers",
            json!({"big": 1e21, "small": 1e-7, "ints": [0, 9007199254740991_u64]}),
        ))
        .await?;
    client.get_mut().write_all(b"{\"type\":42}\x0c").await?; // a malformed frame from a buggy peer
    client.send(Event::new("app.unicode", json!("f\u{c}rm feed, \u{2028} and \u{1F600}"))).await?;
    // JsonCodec encodes several item types, so name one for close().
    SinkExt::<Event>::close(&mut client).await?;

    let mut echo = Vec::new();
    while let Some(item) = server.next().await {
        match item? {
            Ok(event) => {
                let raw = String::from_utf8_lossy(event.raw_data().unwrap_or_default()).into_owned();
                println!("  {:<12} data bytes as sent: {raw}", event.event_type());
                if let Ok(hello) = event.data_as::<Hello<'_>>() {
                    println!("  {:<12} typed, borrowed from the frame: {hello:?}", "");
                }
                echo.push(event);
            }
            Err(err) => println!("  bad frame reported, stream goes on: {err}"),
        }
    }

    // Events passed on keep their data bytes: what node-ipc 14 would send.
    let mut wire = bytes::BytesMut::new();
    for event in &echo {
        tokio_util::codec::Encoder::encode(&mut JsonCodec::default(), event, &mut wire)?;
    }
    println!("server re-emits {} events, {} bytes:", echo.len(), wire.len());
    for frame in wire[..].split(|&b| b == 0x0c).filter(|f| !f.is_empty()) {
        println!("  {}\\f", String::from_utf8_lossy(frame));
    }
    Ok(())
}
