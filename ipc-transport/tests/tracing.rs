//! What ipc-transport tells `tracing`, captured by a subscriber that formats
//! into a buffer (the default of the test's thread; the tests run on a
//! current-thread runtime): accepts and connects, refusals at
//! `maxConnections`, and UDP frames that do not decode, with their excerpt.
#![cfg(all(feature = "tcp", feature = "udp"))]

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt;
use interop::within;
use ipc_codec::JsonCodec;
use ipc_transport::tcp::{TcpListener, TcpListenerOptions, TcpStream};
use ipc_transport::udp::UdpEndpoint;
use ipc_transport::Error;
use tracing::subscriber::DefaultGuard;

/// Everything the capturing subscriber wrote.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// The first line that holds every one of `needles`; fails showing the whole log.
    fn line(&self, needles: &[&str]) -> String {
        let text =
            String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned();
        match text.lines().find(|line| needles.iter().all(|n| line.contains(n))) {
            Some(line) => line.to_owned(),
            None => panic!("no line holds all of {needles:?}; the log:\n{text}"),
        }
    }
}

fn capture() -> (Logs, DefaultGuard) {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .without_time()
        .with_writer(move || writer.clone())
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn accepts_connects_and_refusals() {
    let (logs, _guard) = capture();
    let options = TcpListenerOptions::default().max_connections(1);
    let listener =
        within("bind", TcpListener::bind_with("127.0.0.1:0".parse().unwrap(), &options)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let first = within("connect", TcpStream::connect("127.0.0.1", addr.port())).await.unwrap();
    let _served = within("accept", listener.accept()).await.unwrap();
    let second = within("connect", TcpStream::connect("127.0.0.1", addr.port())).await.unwrap();
    let refused = within("accept", listener.accept()).await.unwrap_err();
    assert!(matches!(refused, Error::TooManyConnections { max: 1, .. }));

    logs.line(&[
        "DEBUG",
        "ipc_transport: listening",
        "transport=\"tcp\"",
        &format!("addr={addr}"),
        "max_connections=1",
    ]);
    logs.line(&["DEBUG", "ipc_transport: connected", &format!("peer=tcp://{addr}")]);
    logs.line(&["DEBUG", "ipc_transport: accepted", &format!("peer=tcp://{}", first.local_addr().unwrap())]);
    logs.line(&[
        " WARN ",
        "ipc_transport: connection refused: maxConnections reached",
        &format!("peer=tcp://{}", second.local_addr().unwrap()),
        "max_connections=1",
    ]);
}

#[tokio::test]
async fn a_bad_datagram_is_a_warning_with_its_excerpt() {
    let (logs, _guard) = capture();
    let mut server = within("bind", UdpEndpoint::bind("127.0.0.1:0".parse().unwrap(), JsonCodec::default()))
        .await
        .unwrap();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.send_to(b"{\"type\":7,\"data\":\"\\n\"}\x0c", server.local_addr().unwrap()).unwrap();
    let item = within("receive", server.next()).await.unwrap();
    assert!(matches!(item, Err(Error::Datagram { .. })), "{item:?}");
    logs.line(&[
        " WARN ",
        "ipc_transport: bad frame",
        "transport=\"udp4\"",
        &format!("peer=udp4://{}", sender.local_addr().unwrap()),
        r#"excerpt="{\"type\":7,\"data\":\"\\n\"}""#,
    ]);
}
