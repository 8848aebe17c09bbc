//! What ipc-compat and ipc-transport tell `tracing`, captured: a subscriber
//! that formats into a buffer is the default of each test's thread (the
//! tests run on a current-thread runtime, so every task of the server and
//! the clients reports to it), and the tests look for the lines a connection
//! leaves: its span's fields, connect, bad frames with their excerpt,
//! disconnect, refusals, TLS failures, backpressure, retries.

mod support;

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt;
use interop::{pki, within};
use ipc_compat::{Config, Ipc, Logger, Server, StopRetrying, TlsConfig};
use support::{local_name, v14, v9, wait_lifecycle, watched};
use tokio::io::AsyncWriteExt;
use tracing::subscriber::DefaultGuard;

/// Everything the capturing subscriber wrote, shared with its writers.
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
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }

    /// The first line that holds every one of `needles`; fails showing the whole log.
    fn line(&self, needles: &[&str]) -> String {
        let text = self.text();
        match text.lines().find(|line| needles.iter().all(|n| line.contains(n))) {
            Some(line) => line.to_owned(),
            None => panic!("no line holds all of {needles:?}; the log:\n{text}"),
        }
    }
}

/// Captures every event and span (all levels) of this thread until the guard drops.
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

/// Starts `server`; returns it.
async fn started(server: Server) -> Server {
    within("server start", server.start()).await.unwrap();
    server
}

#[tokio::test]
async fn a_connection_reports_connect_bad_frame_and_disconnect_in_its_span() {
    let (logs, _guard) = capture();
    let dir = tempfile::tempdir().unwrap();
    let w = Ipc::new(v9(dir.path())); // 9.x: a bad frame is reported, the connection goes on
    let server = w.serve_net(Some("127.0.0.1"), Some(0), None).unwrap();
    let mut oks = server.subscribe("ok", 8);
    let mut life = server.lifecycle(16);
    let server = started(server).await;
    let port = server.local_addr().unwrap().port();

    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let me = raw.local_addr().unwrap();
    raw.write_all(b"{oops \x01\"\x0c{\"type\":\"ok\",\"data\":1}\x0c").await.unwrap();
    within("the event after the bad frame", oks.next()).await.unwrap();
    drop(raw);
    wait_lifecycle(&mut life, "socket.disconnected").await;

    let span = format!("connection{{side=\"server\" transport=\"tcp\" peer=tcp://{me} serial=1}}");
    let server_span = format!("server{{endpoint=tcp://127.0.0.1:{port}}}");
    logs.line(&[" INFO ", &server_span, "ipc_compat: listening"]);
    logs.line(&["DEBUG ", "ipc_transport: accepted", "transport=\"tcp\"", &format!("peer=tcp://{me}")]);
    let connected = logs.line(&[" INFO ", &span, "ipc_compat: connected"]);
    assert!(connected.contains(&format!("{server_span}:{span}")), "nested in the server's span: {connected}");
    // the excerpt is the start of the frame, escaped (the control byte and the quote)
    let bad = logs.line(&[" WARN ", &span, "bad frame", r#"excerpt="{oops \u{1}\"""#, "closing=false"]);
    assert!(bad.contains("is not valid JSON"), "{bad}");
    logs.line(&[" INFO ", &span, "disconnected", "reason=\"peer closed\""]);
    server.stop().await;
    logs.line(&[" INFO ", &server_span, "server stopped"]);
}

#[tokio::test]
async fn a_bad_datagram_names_its_source() {
    let (logs, _guard) = capture();
    let dir = tempfile::tempdir().unwrap();
    let w = Ipc::new(v9(dir.path()));
    let server = w.serve_net(Some("127.0.0.1"), Some(0), Some(ipc_compat::UdpType::Udp4)).unwrap();
    let mut life = server.lifecycle(16);
    let server = started(server).await;
    let port = server.local_addr().unwrap().port();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.send_to(b"\x1b[31mred\x0c", ("127.0.0.1", port)).unwrap();
    wait_lifecycle(&mut life, "error").await;
    logs.line(&[
        " WARN ",
        &format!("server{{endpoint=udp4://127.0.0.1:{port}}}"),
        "ipc_compat: bad frame",
        &format!("peer=udp4://{}", sender.local_addr().unwrap()),
        // a terminal escape sequence, escaped
        r#"excerpt="\u{1b}[31mred""#,
    ]);
    server.stop().await;
}

#[tokio::test]
async fn the_fourteen_policy_closes_on_a_bad_frame_and_says_so() {
    let (logs, _guard) = capture();
    let dir = tempfile::tempdir().unwrap();
    let config = v14(dir.path());
    let path = config.socket_path_for("strict");
    let w = Ipc::new(config);
    let server = w.serve(Some(&path)).unwrap();
    let mut life = server.lifecycle(16);
    let server = started(server).await;

    let mut raw = ipc_transport::local::LocalStream::connect(&path).await.unwrap();
    raw.write_all(b"[1,2]\x0c").await.unwrap();
    wait_lifecycle(&mut life, "socket.disconnected").await;

    let span =
        format!("connection{{side=\"server\" transport=\"unix\" peer=unix:{}", local_name(&path).display());
    logs.line(&[" INFO ", &span, "connected"]);
    logs.line(&[" WARN ", &span, "bad frame", "excerpt=\"[1,2]\"", "closing=true", "not a JSON object"]);
    logs.line(&[" INFO ", &span, "disconnected", "reason=\"bad frame\"", "error="]);
    server.stop().await;
}

#[tokio::test]
async fn refusals_are_warnings_max_connections_tls_and_assured() {
    let (logs, _guard) = capture();
    let dir = tempfile::tempdir().unwrap();

    // maxConnections, at accept (ipc-transport)
    let mut config = v9(dir.path());
    config.max_connections = 1;
    let w = Ipc::new(config);
    let server = w.serve_net(Some("127.0.0.1"), Some(0), None).unwrap();
    let mut life = server.lifecycle(16);
    let server = started(server).await;
    let port = server.local_addr().unwrap().port();
    let _first = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    wait_lifecycle(&mut life, "connect").await;
    let second = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    wait_lifecycle(&mut life, "error").await;
    logs.line(&[
        " WARN ",
        "ipc_transport: connection refused: maxConnections reached",
        "transport=\"tcp\"",
        &format!("peer=tcp://{}", second.local_addr().unwrap()),
        "max_connections=1",
    ]);
    server.stop().await;

    // a plaintext client on a TLS server: the handshake fails (ipc-transport)
    let pki = pki();
    let mut config = v9(dir.path());
    config.tls = Some({
        let mut tls = TlsConfig::default();
        tls.private = Some(pki.server_key.clone());
        tls.public = Some(pki.server_cert.clone());
        tls
    });
    let w = Ipc::new(config);
    let server = w.serve_net(Some("127.0.0.1"), Some(0), None).unwrap();
    let mut life = server.lifecycle(16);
    let server = started(server).await;
    let port = server.local_addr().unwrap().port();
    let mut plain = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    plain.write_all(b"{\"type\":\"hi\",\"data\":1}\x0c").await.unwrap();
    wait_lifecycle(&mut life, "error").await;
    logs.line(&[
        " WARN ",
        &format!("server{{endpoint=tls://127.0.0.1:{port}}}"),
        "ipc_transport: tls handshake failed",
        "transport=\"tls\"",
        &format!("peer=tls://{}", plain.local_addr().unwrap()),
        "side=\"server\"",
        "does not speak TLS",
    ]);
    server.stop().await;

    // the Assured profile refuses a plain TCP server (ipc-compat)
    let mut config = v14(dir.path());
    config.parser = ipc_compat::Profile::Assured;
    config.allowed_events = Some(vec!["app.message".into()]);
    let w = Ipc::new(config);
    assert!(w.serve_net(Some("127.0.0.1"), Some(0), None).unwrap().start().await.is_err());
    logs.line(&[
        " WARN ",
        "ipc_compat: assured profile refuses the endpoint",
        "side=\"server\"",
        "requires TLS",
    ]);
}

#[tokio::test]
async fn backpressure_is_reported_when_max_pending_bytes_is_reached() {
    let (logs, _guard) = capture();
    let dir = tempfile::tempdir().unwrap();
    let mut config = v9(dir.path());
    config.max_pending_bytes = Some(1024);
    let w = Ipc::new(config);
    let server = w.serve_net(Some("127.0.0.1"), Some(0), None).unwrap();
    server.on("flood", |_, socket| {
        let _ = socket.emit("big", "x".repeat(4096)); // over maxPendingBytes: the connection closes
    });
    let mut life = server.lifecycle(16);
    let server = started(server).await;
    let port = server.local_addr().unwrap().port();
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    raw.write_all(b"{\"type\":\"flood\",\"data\":null}\x0c").await.unwrap();
    wait_lifecycle(&mut life, "socket.disconnected").await;
    let span = format!("peer=tcp://{}", raw.local_addr().unwrap());
    logs.line(&[" WARN ", &span, "backpressure: maxPendingBytes reached", "max_pending_bytes=1024"]);
    logs.line(&[" INFO ", &span, "disconnected", "reason=\"maxPendingBytes\""]);
    server.stop().await;
}

#[tokio::test]
async fn a_client_reports_its_connections_and_retries_in_its_own_span() {
    let (logs, _guard) = capture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.world");
    let mut config = v9(dir.path());
    config.max_retries = Some(1);
    let server = started(Ipc::new(config.clone()).serve(Some(&path)).unwrap()).await;
    let h = Ipc::new(config.clone());
    let (client, mut life) = watched(&h, "world", Some(&path));
    within("connect", client.connected()).await.unwrap();
    server.stop().await;
    wait_lifecycle(&mut life, "destroy").await;

    let client_span = format!("client{{id=\"world\" endpoint=unix:{}}}", path.display());
    let span = format!(
        "{client_span}:connection{{side=\"client\" transport=\"unix\" peer=unix:{}}}",
        local_name(&path).display()
    );
    logs.line(&[" INFO ", &span, "ipc_compat: connected"]);
    logs.line(&[" INFO ", &span, "disconnected", "reason=\"peer closed\""]);
    logs.line(&[" INFO ", &client_span, "reconnecting", "retry_ms=20", "retries_remaining=1"]);
    logs.line(&[" WARN ", &client_span, "connect failed"]);
    logs.line(&[" WARN ", &client_span, "giving up", "maxRetries"]);
}

#[tokio::test]
async fn the_node_ipc_logger_can_forward_to_tracing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = v9(dir.path());
    config.silent = false;
    config.logger = Logger::tracing();
    config.stop_retrying = StopRetrying::Now;
    let ipc = Ipc::new(config.clone());
    // no subscriber yet: nothing wants the lines, so none is built
    assert!(!ipc.is_logging());

    let (logs, _guard) = capture();
    assert!(ipc.is_logging());
    ipc.log("hello from ipc.log");
    let path = dir.path().join("app.loud");
    let server = started(ipc.serve(Some(&path)).unwrap()).await;
    logs.line(&[" INFO ", "ipc_compat::log: hello from ipc.log"]);
    logs.line(&[" INFO ", "ipc_compat::log: starting server on", "as Unix || Windows Socket"]);
    server.stop().await;
    let _: Config = config;
}
