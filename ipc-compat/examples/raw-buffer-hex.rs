//! node-ipc's raw buffers with `encoding = 'hex'`: no JSON, bytes in and bytes
//! out. The client sends a byte array (`[0x05, 0x6d, 0x5c]`), a hex string
//! (`'0a141e'`, turned into bytes by the encoding) and the README's 6-byte
//! buffer (a UInt16BE then a UInt32BE); the server logs each chunk in hex and
//! echoes it back.
//!
//! ```sh
//! cargo run -p ipc-compat --example raw-buffer-hex
//! ```

use std::time::Duration;

use ipc_compat::{ipc_log, Config, Encoding, Error, Ipc};
use tokio::sync::mpsc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let mut config = Config::default();
    config.socket_root = format!("{}/", dir.path().display());
    config.raw_buffer = true; // ipc.config.rawBuffer = true
    config.encoding = Encoding::Hex; // ipc.config.encoding = 'hex'

    let mut world = config.clone();
    world.id = "world".into();
    let ipc = Ipc::new(world);
    let server = ipc.serve(None)?;
    let log = ipc.clone();
    server.on_data(move |bytes, socket| {
        ipc_log!(log, "server got", Encoding::Hex.decode(bytes));
        socket.emit_raw(bytes.clone()).ok(); // ipc.server.emit(socket, buffer)
    });
    server.start().await?;

    let mut hello = config;
    hello.id = "hello".into();
    let client_ipc = Ipc::new(hello);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let log = client_ipc.clone();
    let world = client_ipc.connect_to_with("world", None, |world| {
        world.on_data(move |bytes, _| {
            ipc_log!(log, "client got", Encoding::Hex.decode(bytes));
            tx.send(bytes.len()).ok();
        });
    })?;
    world.emit_raw([0x05u8, 0x6d, 0x5c])?; // ipc.of.world.emit([0x05, 0x6d, 0x5c])
    world.flush().await?;
    world.emit_raw("0a141e")?; // a string, in the configured encoding
    world.flush().await?;
    let mut buffer = [0u8; 6]; // new Buffer(6).fill(0)
    buffer[..2].copy_from_slice(&2u16.to_be_bytes()); // writeUInt16BE(2, 0)
    buffer[2..].copy_from_slice(&16_772_812u32.to_be_bytes()); // writeUInt32BE(16772812, 2)
    world.emit_raw(buffer)?;

    let mut received = 0;
    while received < 12 {
        received += tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .map_err(|_| Error::Io(std::io::ErrorKind::TimedOut.into()))?
            .unwrap_or(0);
    }
    client_ipc.disconnect("world");
    server.stop().await;
    Ok(())
}
