//! Interop with real node-ipc peers, both directions, every socket kind:
//!
//! - node-ipc 9.2.1 (Node 20) and 14.0.0 (Node 22) servers (`echoServer` of `interop/peers/common.cjs`)
//!   answered by our framed clients, over unix, tcp, tls, udp4 and udp6;
//! - our framed servers answering node-ipc 9.2.1 and 14.0.0 clients
//!   (`interop/peers/transport/client-common.cjs`), over the same five;
//! - the official `node-ipc = "=14.0.0"` Rust crate as a third peer over tcp and unix, both ways.
//!
//! Every exchange is one transcript: every golden-vector payload of
//! `ipc-codec/tests/golden/frames.json`, 1,000 pipelined events, then `done`,
//! each echoed back unchanged and in order. Echoes are compared byte for byte
//! with the golden frame of the peer's node-ipc version.
//!
//! `IPC_INTEROP_SKIP=1` skips these tests loudly (see the `interop` crate).
//!
//! On Windows (`.ci/windows`, under Wine) the same matrix runs against
//! Windows Node, with named pipes for `unix` (node-ipc maps the socket path
//! to a pipe name as we do) and the crate's `windows_pipe` module.
#![cfg(all(feature = "local", feature = "tcp", feature = "tls", feature = "udp"))]

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::BytesMut;
use futures::StreamExt;
use interop::{pki, within, NodeIpc, PeerProcess, Pki};
use ipc_codec::{Event, JsonCodec};
use ipc_transport::local::{LocalListener, LocalStream};
use ipc_transport::tcp::{TcpListener, TcpStream};
use ipc_transport::tls::{TlsClientConfig, TlsListener, TlsServerConfig, TlsStream};
use ipc_transport::udp::{UdpEndpoint, UdpOptions};
use ipc_transport::{batch_writer, framed};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::Encoder;

/// Pipelined events in each transcript, after the golden vectors.
const PIPELINED: usize = 1_000;
/// How long a peer may take to start, and to finish a transcript.
const PEER_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------- transcript

struct Vector {
    name: String,
    event_type: String,
    data_json: Option<String>,
    /// node-ipc version -> the frame that version writes, delimiter included.
    frames: Vec<(String, String)>,
}

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ipc-codec/tests/golden/frames.json")
}

fn golden() -> &'static [Vector] {
    static GOLDEN: OnceLock<Vec<Vector>> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        let text = std::fs::read_to_string(golden_path()).expect("golden frames");
        let doc: Value = serde_json::from_str(&text).unwrap();
        let vectors: Vec<Vector> = doc["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| Vector {
                name: v["name"].as_str().unwrap().to_owned(),
                event_type: v["type"].as_str().unwrap().to_owned(),
                data_json: v.get("data_json").and_then(Value::as_str).map(str::to_owned),
                frames: v["frames"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(version, f)| (version.clone(), f["utf8"].as_str().unwrap().to_owned()))
                    .collect(),
            })
            .collect();
        assert!(vectors.len() >= 50, "only {} golden vectors", vectors.len());
        vectors
    })
}

/// What we send: every golden payload, the pipelined events, `done`.
fn transcript() -> Vec<Event> {
    let mut events: Vec<Event> = golden()
        .iter()
        .map(|v| match &v.data_json {
            Some(json) => Event::from_json_data(&v.event_type, json.clone()).unwrap(),
            None => Event::without_data(&v.event_type),
        })
        .collect();
    events.extend((0..PIPELINED).map(|i| Event::new("seq", json!({ "i": i }))));
    let total = events.len() + 1;
    events.push(Event::new("done", json!({ "events": total })));
    events
}

/// The frames `version` writes for the transcript (what must come back, and
/// what a node-ipc client of that version sends), delimiter included.
fn expected_frames(version: &str) -> Vec<(String, Vec<u8>)> {
    let mut frames: Vec<(String, Vec<u8>)> = golden()
        .iter()
        .map(|v| {
            let frame = &v.frames.iter().find(|(ver, _)| ver == version).expect("a frame for this version").1;
            (v.name.clone(), frame.as_bytes().to_vec())
        })
        .collect();
    for (i, e) in transcript().iter().enumerate().skip(frames.len()) {
        frames.push((format!("event {i} ({})", e.event_type()), encode(e)));
    }
    frames
}

fn encode(event: &Event) -> Vec<u8> {
    let mut buf = BytesMut::new();
    JsonCodec::default().encode(event, &mut buf).unwrap();
    buf.to_vec()
}

fn check_frame(who: &str, index: usize, (name, want): &(String, Vec<u8>), got: &Event) {
    let got = encode(got);
    assert!(
        &got == want,
        "{who}: frame {index} ({name}) differs\n got: {:?}\nwant: {:?}",
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(want)
    );
}

// ---------------------------------------------------------------- our side

/// Our framed client: sends the transcript through the batching writer while
/// checking each echo against `version`'s golden frames.
async fn client_transcript<S>(io: S, version: &'static str, who: &str)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (sink, mut stream) = framed(io, JsonCodec::default()).split();
    let (tx, writer) = batch_writer(sink, 1024);
    let writer = tokio::spawn(writer.run());
    let producer = tokio::spawn(async move {
        for event in transcript() {
            tx.send(event).await.expect("writer alive");
        }
    });
    let expected = expected_frames(version);
    within(who, async {
        for (index, want) in expected.iter().enumerate() {
            let echo = stream
                .next()
                .await
                .unwrap_or_else(|| panic!("{who}: stream ended after {index} echoes"))
                .unwrap_or_else(|e| panic!("{who}: echo {index}: {e}"));
            check_frame(who, index, want, &echo);
        }
    })
    .await;
    producer.await.unwrap();
    let _sink = writer.await.unwrap().unwrap();
}

/// Our framed server side of one connection: checks what a `version` client
/// sends and echoes every event back (batched) until `done`.
async fn echo_transcript<S>(io: S, version: &'static str, who: String) -> usize
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (sink, mut stream) = framed(io, JsonCodec::default()).split();
    let (tx, writer) = batch_writer(sink, 1024);
    let writer = tokio::spawn(writer.run());
    let expected = expected_frames(version);
    let mut index = 0;
    while let Some(event) = stream.next().await {
        let event = event.unwrap_or_else(|e| panic!("{who}: event {index}: {e}"));
        check_frame(&who, index, &expected[index], &event);
        index += 1;
        let done = event.event_type() == "done";
        tx.send(event).await.expect("writer alive");
        if done {
            break;
        }
    }
    drop(tx);
    let _sink = writer.await.unwrap().unwrap();
    index
}

/// Our UDP client: the transcript to `server`, echoes checked.
async fn udp_client_transcript(ep: UdpEndpoint, server: SocketAddr, version: &'static str, who: &str) {
    let (sink, mut stream) = ep.split();
    let (tx, writer) = batch_writer(sink, 1024);
    let writer = tokio::spawn(writer.run());
    let producer = tokio::spawn(async move {
        for event in transcript() {
            tx.send((event, server)).await.expect("writer alive");
        }
    });
    let expected = expected_frames(version);
    within(who, async {
        for (index, want) in expected.iter().enumerate() {
            let (echo, from) = stream
                .next()
                .await
                .unwrap_or_else(|| panic!("{who}: stream ended after {index} echoes"))
                .unwrap_or_else(|e| panic!("{who}: echo {index}: {e}"));
            assert_eq!(from, server, "{who}: echo from elsewhere");
            check_frame(who, index, want, &echo);
        }
    })
    .await;
    producer.await.unwrap();
    let _sink = writer.await.unwrap().unwrap();
}

/// Our UDP server: checks what a `version` peer sends, answers each datagram's source.
async fn udp_echo_transcript(ep: UdpEndpoint, version: &'static str, who: String) -> (usize, SocketAddr) {
    let (sink, mut stream) = ep.split();
    let (tx, writer) = batch_writer(sink, 1024);
    let writer = tokio::spawn(writer.run());
    let expected = expected_frames(version);
    let mut index = 0;
    let mut source = None;
    while let Some(item) = stream.next().await {
        let (event, from) = item.unwrap_or_else(|e| panic!("{who}: event {index}: {e}"));
        assert_eq!(*source.get_or_insert(from), from, "{who}: a second source");
        check_frame(&who, index, &expected[index], &event);
        index += 1;
        let done = event.event_type() == "done";
        tx.send((event, from)).await.expect("writer alive");
        if done {
            break;
        }
    }
    drop(tx);
    let _sink = writer.await.unwrap().unwrap();
    (index, source.expect("a source"))
}

fn udp_options() -> UdpOptions {
    // UDP has no flow control: leave room for a peer's burst (node's recvBufferSize)
    UdpOptions::default().recv_buffer_size(4 << 20)
}

// ---------------------------------------------------------------- node-ipc peers

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Unix,
    Tcp,
    Tls,
    Udp4,
    Udp6,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Unix => "unix",
            Kind::Tcp => "tcp",
            Kind::Tls => "tls",
            Kind::Udp4 => "udp4",
            Kind::Udp6 => "udp6",
        }
    }

    fn ip(self) -> &'static str {
        if self == Kind::Udp6 {
            "::1"
        } else {
            "127.0.0.1"
        }
    }
}

/// A free loopback port (node-ipc reads port 0 as 8000).
fn free_port(kind: Kind) -> u16 {
    match kind {
        Kind::Udp4 | Kind::Udp6 => {
            std::net::UdpSocket::bind((kind.ip(), 0)).unwrap().local_addr().unwrap().port()
        }
        _ => interop::pick_loopback_port().unwrap(),
    }
}

fn tls_server_json(pki: &Pki) -> String {
    json!({"tls": {
        "private": pki.server_key, "public": pki.server_cert,
        "trustedConnections": [pki.ca], "requestCert": true, "rejectUnauthorized": true,
    }})
    .to_string()
}

fn tls_client_json(pki: &Pki) -> String {
    json!({"tls": {"private": pki.client_key, "public": pki.client_cert, "trustedConnections": [pki.ca]}})
        .to_string()
}

/// The TLS key exchange we agree on with node: Node 22 (OpenSSL 3.5, node-ipc
/// 14) takes the post-quantum hybrid we offer first; Node 20 (OpenSSL 3.0,
/// node-ipc 9) has no ML-KEM and takes the X25519 share we send beside it.
fn node_key_exchange(flavor: NodeIpc) -> &'static str {
    match flavor {
        NodeIpc::V9 => "X25519",
        NodeIpc::V14 => "X25519MLKEM768",
    }
}

/// A node-ipc server (the echo peer) answered by our framed client.
async fn node_server_our_client(flavor: NodeIpc, kind: Kind) {
    let Some(rt) = interop::peer(flavor) else { return };
    let version = flavor.version();
    let who = format!("{flavor} {} server <- ipc-transport client", kind.name());
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let path = dir.path().join("app.echo");
    let port = free_port(kind);
    let mut peer = rt.echo_server();
    peer = match kind {
        Kind::Unix => peer.arg(format!("path={}", path.display())),
        Kind::Tcp => peer.args(["host=127.0.0.1".to_owned(), format!("port={port}")]),
        Kind::Tls => peer.args([
            "host=127.0.0.1".to_owned(),
            format!("port={port}"),
            format!("config={}", tls_server_json(&pki)),
        ]),
        Kind::Udp4 | Kind::Udp6 => {
            peer.args([format!("host={}", kind.ip()), format!("port={port}"), format!("udp={}", kind.name())])
        }
    };
    let (peer, ready) = peer.spawn_ready(PEER_TIMEOUT).unwrap_or_else(|e| panic!("{who}: {e}"));
    let ready: Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["version"], version);
    match kind {
        Kind::Unix => {
            let stream = within("connect", LocalStream::connect(&path)).await.unwrap();
            client_transcript(stream, version, &who).await;
        }
        Kind::Tcp => {
            let stream = within("connect", TcpStream::connect("127.0.0.1", port)).await.unwrap();
            client_transcript(stream, version, &who).await;
        }
        Kind::Tls => {
            let config = TlsClientConfig::new()
                .trusted_connections([&pki.ca])
                .private(&pki.client_key)
                .public(&pki.client_cert);
            let stream = within("connect", TlsStream::connect("localhost", port, &config)).await.unwrap();
            assert!(stream.is_authorized());
            assert_eq!(stream.key_exchange_group().as_deref(), Some(node_key_exchange(flavor)), "{who}");
            client_transcript(stream, version, &who).await;
        }
        Kind::Udp4 | Kind::Udp6 => {
            let local = SocketAddr::new(kind.ip().parse().unwrap(), 0);
            let ep = within("bind", UdpEndpoint::bind_with(local, JsonCodec::default(), udp_options()))
                .await
                .unwrap();
            let server = SocketAddr::new(kind.ip().parse().unwrap(), port);
            udp_client_transcript(ep, server, version, &who).await;
        }
    }
    drop(peer);
}

/// Waits (off the runtime) for the peer's RESULT line and checks it.
async fn peer_result(mut peer: PeerProcess, who: String) -> PeerProcess {
    tokio::task::spawn_blocking(move || {
        let result = peer.wait_for_line("RESULT", PEER_TIMEOUT).unwrap_or_else(|e| panic!("{who}: {e}"));
        let result: Value = serde_json::from_str(&result).unwrap();
        assert_eq!(result["ok"], true, "{who}: the peer saw {result}");
        assert_eq!(result["received"], result["expected"]);
        peer
    })
    .await
    .unwrap()
}

/// A node-ipc client answered by our framed server.
async fn node_client_our_server(flavor: NodeIpc, kind: Kind) {
    let Some(rt) = interop::peer(flavor) else { return };
    let version = flavor.version();
    let who = format!("ipc-transport {} server <- {flavor} client", kind.name());
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let script = rt.role("transport/client-common.cjs", "run").args([
        format!("version={version}"),
        format!("transport={}", kind.name()),
        format!("vectors={}", golden_path().display()),
        format!("count={PIPELINED}"),
    ]);
    let total = transcript().len();
    match kind {
        Kind::Unix => {
            let path = dir.path().join("app.rust");
            let listener = within("bind", LocalListener::bind(&path)).await.unwrap();
            let w = who.clone();
            let server = tokio::spawn(async move {
                let stream = listener.accept().await.unwrap();
                echo_transcript(stream, version, w).await
            });
            let peer = script.arg(format!("path={}", path.display())).spawn().unwrap();
            let peer = peer_result(peer, who.clone()).await;
            assert_eq!(within("server", server).await.unwrap(), total);
            drop(peer);
        }
        Kind::Tcp => {
            let listener = within("bind", TcpListener::bind("127.0.0.1:0".parse().unwrap())).await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let w = who.clone();
            let server = tokio::spawn(async move {
                let stream = listener.accept().await.unwrap();
                assert!(stream.get_ref().nodelay().unwrap());
                echo_transcript(stream, version, w).await
            });
            let peer = script.args(["host=127.0.0.1".to_owned(), format!("port={port}")]).spawn().unwrap();
            let peer = peer_result(peer, who.clone()).await;
            assert_eq!(within("server", server).await.unwrap(), total);
            drop(peer);
        }
        Kind::Tls => {
            let config = TlsServerConfig::new()
                .private(&pki.server_key)
                .public(&pki.server_cert)
                .trusted_connections([&pki.ca]);
            let mut listener = within(
                "bind",
                TlsListener::bind("127.0.0.1:0".parse().unwrap(), &config, &Default::default()),
            )
            .await
            .unwrap();
            let port = listener.local_addr().unwrap().port();
            let w = who.clone();
            let server = tokio::spawn(async move {
                let stream = listener.accept().await.unwrap();
                assert!(stream.is_authorized(), "the node-ipc client's certificate verified");
                assert_eq!(stream.key_exchange_group().as_deref(), Some(node_key_exchange(flavor)), "{w}");
                echo_transcript(stream, version, w).await
            });
            let peer = script
                .args([
                    "host=localhost".to_owned(),
                    format!("port={port}"),
                    format!("config={}", tls_client_json(&pki)),
                ])
                .spawn()
                .unwrap();
            let peer = peer_result(peer, who.clone()).await;
            assert_eq!(within("server", server).await.unwrap(), total);
            drop(peer);
        }
        Kind::Udp4 | Kind::Udp6 => {
            let ip = kind.ip();
            let local = SocketAddr::new(ip.parse().unwrap(), 0);
            let ep = within("bind", UdpEndpoint::bind_with(local, JsonCodec::default(), udp_options()))
                .await
                .unwrap();
            let port = ep.local_addr().unwrap().port();
            let peer_port = free_port(kind);
            let server = tokio::spawn(udp_echo_transcript(ep, version, who.clone()));
            let peer = script
                .args([format!("host={ip}"), format!("port={port}"), format!("localPort={peer_port}")])
                .spawn()
                .unwrap();
            let peer = peer_result(peer, who.clone()).await;
            let (count, from) = within("server", server).await.unwrap();
            assert_eq!(count, total);
            assert_eq!(from, SocketAddr::new(ip.parse().unwrap(), peer_port));
            drop(peer);
        }
    }
}

macro_rules! node_cells {
    ($($name:ident: $flavor:ident $kind:ident $dir:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $dir(NodeIpc::$flavor, Kind::$kind).await;
        }
    )*};
}

node_cells! {
    v9_unix_server_our_client: V9 Unix node_server_our_client;
    v9_tcp_server_our_client: V9 Tcp node_server_our_client;
    v9_tls_server_our_client: V9 Tls node_server_our_client;
    v9_udp4_server_our_client: V9 Udp4 node_server_our_client;
    v9_udp6_server_our_client: V9 Udp6 node_server_our_client;
    v14_unix_server_our_client: V14 Unix node_server_our_client;
    v14_tcp_server_our_client: V14 Tcp node_server_our_client;
    v14_tls_server_our_client: V14 Tls node_server_our_client;
    v14_udp4_server_our_client: V14 Udp4 node_server_our_client;
    v14_udp6_server_our_client: V14 Udp6 node_server_our_client;
    v9_unix_client_our_server: V9 Unix node_client_our_server;
    v9_tcp_client_our_server: V9 Tcp node_client_our_server;
    v9_tls_client_our_server: V9 Tls node_client_our_server;
    v9_udp4_client_our_server: V9 Udp4 node_client_our_server;
    v9_udp6_client_our_server: V9 Udp6 node_client_our_server;
    v14_unix_client_our_server: V14 Unix node_client_our_server;
    v14_tcp_client_our_server: V14 Tcp node_client_our_server;
    v14_tls_client_our_server: V14 Tls node_client_our_server;
    v14_udp4_client_our_server: V14 Udp4 node_client_our_server;
    v14_udp6_client_our_server: V14 Udp6 node_client_our_server;
}

// ---------------------------------------------------------------- the node-ipc Rust crate

/// The crate's frames for the transcript: its events parsed from node-ipc 14's golden frames.
fn crate_transcript() -> Vec<node_ipc::Event> {
    expected_frames("14.0.0")
        .into_iter()
        .map(|(_, frame)| {
            node_ipc::Event::from_json(&frame[..frame.len() - 1]).expect("the crate parses the frame")
        })
        .collect()
}

/// Serves one connection with the crate: echoes until `done`; returns how many events came.
fn crate_echo<S: std::io::Read + std::io::Write>(stream: S) -> usize {
    let mut conn = node_ipc::Connection::new(stream, node_ipc::CodecConfig::fast()).unwrap();
    let mut n = 0;
    while let Some(message) = conn.recv().unwrap() {
        let node_ipc::Message::Event(event) = message else { panic!("raw message") };
        n += 1;
        conn.send(&event).unwrap();
        if event.event_type() == "done" {
            break;
        }
    }
    conn.flush().unwrap();
    n
}

/// Sends the transcript with the crate, then checks every echo.
fn crate_client<S: std::io::Read + std::io::Write>(stream: S) {
    let mut conn = node_ipc::Connection::new(stream, node_ipc::CodecConfig::fast()).unwrap();
    let events = crate_transcript();
    for event in &events {
        conn.send(event).unwrap();
    }
    conn.flush().unwrap();
    let expected = expected_frames("14.0.0");
    for (index, (name, want)) in expected.iter().enumerate() {
        let Some(node_ipc::Message::Event(echo)) = conn.recv().unwrap() else {
            panic!("echo {index} missing")
        };
        let got = echo.to_json_string();
        assert_eq!(got.as_bytes(), &want[..want.len() - 1], "crate client: echo {index} ({name})");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_crate_unix_server_our_client() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.crate");
    #[cfg(unix)]
    let server = {
        let listener = node_ipc::local::LocalListener::bind(&path).unwrap();
        std::thread::spawn(move || crate_echo(listener.accept().unwrap().0))
    };
    #[cfg(windows)]
    let server = {
        let mut listener = node_ipc::windows_pipe::NamedPipeListener::bind(path.to_str().unwrap()).unwrap();
        std::thread::spawn(move || crate_echo(listener.accept().unwrap()))
    };
    let stream = within("connect", LocalStream::connect(&path)).await.unwrap();
    client_transcript(stream, "14.0.0", "node-ipc crate unix server <- ipc-transport client").await;
    assert_eq!(server.join().unwrap(), transcript().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_crate_tcp_server_our_client() {
    let listener = node_ipc::tcp::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || crate_echo(node_ipc::tcp::accept(&listener).unwrap().0));
    let stream = within("connect", TcpStream::connect("127.0.0.1", port)).await.unwrap();
    client_transcript(stream, "14.0.0", "node-ipc crate tcp server <- ipc-transport client").await;
    assert_eq!(server.join().unwrap(), transcript().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_crate_unix_client_our_server() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.rust");
    let listener = within("bind", LocalListener::bind(&path)).await.unwrap();
    let who = "ipc-transport unix server <- node-ipc crate client".to_owned();
    let server =
        tokio::spawn(async move { echo_transcript(listener.accept().await.unwrap(), "14.0.0", who).await });
    #[cfg(unix)]
    let client = std::thread::spawn(move || crate_client(node_ipc::local::connect(&path).unwrap()));
    #[cfg(windows)]
    let client = std::thread::spawn(move || {
        crate_client(node_ipc::windows_pipe::NamedPipeStream::connect(path.to_str().unwrap()).unwrap())
    });
    assert_eq!(within("server", server).await.unwrap(), transcript().len());
    within("crate client", tokio::task::spawn_blocking(move || client.join())).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_crate_tcp_client_our_server() {
    let listener = within("bind", TcpListener::bind("127.0.0.1:0".parse().unwrap())).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let who = "ipc-transport tcp server <- node-ipc crate client".to_owned();
    let server =
        tokio::spawn(async move { echo_transcript(listener.accept().await.unwrap(), "14.0.0", who).await });
    let client = std::thread::spawn(move || crate_client(node_ipc::tcp::connect(addr).unwrap()));
    assert_eq!(within("server", server).await.unwrap(), transcript().len());
    within("crate client", tokio::task::spawn_blocking(move || client.join())).await.unwrap().unwrap();
}

// ---------------------------------------------------------------- repeated members

/// A frame whose `type` and `data` repeat: `JSON.parse` keeps the last of each.
const REPEATED: &[u8] = b"{\"type\":\"first\",\"data\":null,\"type\":\"last\",\"data\":{\"ok\":true}}\x0c";

/// A node-ipc echo server (`config` merged into `ipc.config`) dispatches the
/// event our decoder yields for [`REPEATED`] (`last`, `{"ok":true}`), echoes
/// it, and keeps the connection: the next event comes back too.
async fn repeated_members_decode_as_node_dispatches(flavor: NodeIpc, config: &str) {
    use tokio::io::AsyncWriteExt;
    use tokio_util::codec::Decoder;

    let Some(rt) = interop::peer(flavor) else { return };
    let who = format!("{flavor} unix server ({config}) <- repeated members");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.repeat");
    let (mut peer, _ready) = rt
        .echo_server()
        .args([format!("path={}", path.display()), format!("config={config}")])
        .spawn_ready(PEER_TIMEOUT)
        .unwrap_or_else(|e| panic!("{who}: {e}"));

    // What our decoder makes of the frame, in the Fast and the Guarded profile.
    let mut ours = Vec::new();
    for profile in [ipc_codec::Profile::Fast, ipc_codec::Profile::Guarded] {
        let mut codec = JsonCodec::builder().profile(profile).build().unwrap();
        let event = codec.decode(&mut BytesMut::from(REPEATED)).unwrap().unwrap();
        ours.push((event.event_type().to_owned(), event.raw_data().map(<[u8]>::to_vec)));
    }
    assert_eq!(ours[0], ("last".to_owned(), Some(b"{\"ok\":true}".to_vec())), "{who}");
    assert_eq!(ours[0], ours[1], "{who}");

    let mut stream = within("connect", LocalStream::connect(&path)).await.unwrap();
    within("write", stream.write_all(REPEATED)).await.unwrap();
    within("write", stream.write_all(b"{\"type\":\"after\",\"data\":1}\x0c")).await.unwrap();
    let mut events = framed(stream, JsonCodec::default());
    let echo = within(&who, events.next()).await.unwrap().unwrap();
    assert_eq!((echo.event_type().to_owned(), echo.raw_data().map(<[u8]>::to_vec)), ours[0], "{who}");
    let after = within(&who, events.next()).await.expect("the connection was closed").unwrap();
    assert_eq!(after.event_type(), "after", "{who}");
    let line = peer.wait_for_line("EVENT", PEER_TIMEOUT).unwrap_or_else(|e| panic!("{who}: {e}"));
    assert_eq!(line, "{\"type\":\"last\",\"data\":{\"ok\":true}}", "{who}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_fast_server_dispatches_the_last_repeated_members() {
    repeated_members_decode_as_node_dispatches(NodeIpc::V14, "{}").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_guarded_server_dispatches_the_last_repeated_members() {
    repeated_members_decode_as_node_dispatches(NodeIpc::V14, "{\"parser\":\"guarded\"}").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v9_server_dispatches_the_last_repeated_members() {
    repeated_members_decode_as_node_dispatches(NodeIpc::V9, "{}").await;
}
