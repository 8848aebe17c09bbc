//! `nipc` end to end: the built binary against real node-ipc servers and
//! clients (9.2.1 and 14.0.0, through `interop`) over unix, tcp, tls and udp4,
//! raw buffers in hex, against itself, and its exit codes.
//!
//! Every wait is bounded ([`harness::STEP`]); readiness comes from printed
//! lines (`READY` from node peers, `nipc: listening on` / `connected to` from nipc).

#[path = "nipc/harness.rs"]
mod harness;

use harness::{free_udp_port, run, run_with_log, Nipc, STEP};
use interop::{pki, NodeIpc, PeerBuilder, PeerProcess, Pki};
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Unix,
    Tcp,
    Tls,
    Udp4,
}

/// Starts a node-ipc server peer of `kind` (`config` merged into its
/// `ipc.config`); returns it, the endpoint nipc reaches it at, and the extra
/// nipc arguments that takes.
fn node_server(
    builder: PeerBuilder,
    kind: Kind,
    dir: &tempfile::TempDir,
    pki: &Pki,
    config: Value,
) -> (PeerProcess, String, Vec<String>) {
    let mut config = config;
    let (builder, endpoint, extra) = match kind {
        Kind::Unix => {
            let path = dir.path().join("app.node");
            (builder.arg(format!("path={}", path.display())), format!("unix:{}", path.display()), vec![])
        }
        Kind::Tcp | Kind::Tls => {
            let port = interop::pick_loopback_port().unwrap();
            let builder = builder.args(["host=127.0.0.1".to_owned(), format!("port={port}")]);
            if kind == Kind::Tcp {
                (builder, format!("tcp://127.0.0.1:{port}"), vec![])
            } else {
                config["tls"] = json!({"private": pki.server_key, "public": pki.server_cert});
                let extra = vec!["--tls-ca".to_owned(), pki.ca.display().to_string()];
                (builder, format!("tls://127.0.0.1:{port}"), extra)
            }
        }
        Kind::Udp4 => {
            let port = free_udp_port();
            let builder =
                builder.args(["host=127.0.0.1".to_owned(), format!("port={port}"), "udp=udp4".to_owned()]);
            (builder, format!("udp4://127.0.0.1:{port}"), vec![])
        }
    };
    let builder = if config.as_object().is_some_and(|o| !o.is_empty()) {
        builder.arg(format!("config={config}"))
    } else {
        builder
    };
    let (peer, _ready) = builder.spawn_ready(STEP).unwrap_or_else(|e| panic!("node {kind:?} server: {e}"));
    (peer, endpoint, extra)
}

fn node_line(peer: &mut PeerProcess, tag: &str) -> String {
    peer.wait_for_line(tag, STEP).unwrap_or_else(|e| panic!("{e}"))
}

fn args(fixed: &[&str], extra: &[String]) -> Vec<String> {
    fixed.iter().map(|s| (*s).to_owned()).chain(extra.iter().cloned()).collect()
}

// ---------------------------------------------------------------------------
// nipc connect -> node-ipc server

/// nipc connect against node-ipc's echo server: data bytes printed as node
/// wrote them (`1e+21`, `\f` escaped), a bad stdin line reported and skipped,
/// exit 0 at the end of stdin.
fn connect_to_node_server(flavor: NodeIpc, kind: Kind) {
    let Some(rt) = interop::peer(flavor) else { return };
    let (dir, pki) = (tempfile::tempdir().unwrap(), pki());
    let (mut server, endpoint, extra) = node_server(rt.echo_server(), kind, &dir, &pki, json!({}));
    let mut nipc = Nipc::spawn(args(&["connect", &endpoint], &extra));
    nipc.stderr_until(if kind == Kind::Udp4 { "sending to" } else { "connected to" });

    // A lone surrogate (which no Rust string holds) and 1e21 (which JS prints as
    // 1e+21) show the bytes are node's, not a re-serialization.
    nipc.send(r#"{"type":"app.message","data":{"id":"nipc","n":1e21,"s":"\u00e9\f","u":"\ud800"}}"#);
    let want = r#"{"type":"app.message","data":{"id":"nipc","n":1e+21,"s":"é\f","u":"\ud800"}}"#;
    assert_eq!(nipc.stdout_line(), want, "{flavor} {kind:?}");
    assert_eq!(node_line(&mut server, "EVENT"), want);
    nipc.send("not json");
    nipc.send(r#"{"type":"nodata"}"#);
    assert_eq!(nipc.stdout_line(), r#"{"type":"nodata","data":{}}"#);
    nipc.close_stdin();
    assert_eq!(nipc.exit_code(), 0, "{}", nipc.context());
    let skipped: Vec<_> = nipc.stderr_seen.iter().filter(|l| l.contains("skipped")).collect();
    assert_eq!(skipped.len(), 1, "{}", nipc.context());
    assert!(skipped[0].starts_with("nipc: stdin line 2: "), "{}", skipped[0]);
}

macro_rules! matrix {
    ($($name:ident => $scenario:ident($flavor:ident, $kind:ident);)*) => {
        $(
            #[test]
            fn $name() {
                $scenario(NodeIpc::$flavor, Kind::$kind);
            }
        )*
    };
}

matrix! {
    connect_v9_unix => connect_to_node_server(V9, Unix);
    connect_v9_tcp => connect_to_node_server(V9, Tcp);
    connect_v9_tls => connect_to_node_server(V9, Tls);
    connect_v9_udp4 => connect_to_node_server(V9, Udp4);
    connect_v14_unix => connect_to_node_server(V14, Unix);
    connect_v14_tcp => connect_to_node_server(V14, Tcp);
    connect_v14_tls => connect_to_node_server(V14, Tls);
    connect_v14_udp4 => connect_to_node_server(V14, Udp4);
}

// ---------------------------------------------------------------------------
// nipc emit -> node-ipc server

/// nipc emit with --id: node-ipc sees the event with the id announced first;
/// a 9.x server learns the socket's id from it.
fn emit_to_node_server(flavor: NodeIpc, kind: Kind) {
    let Some(rt) = interop::peer(flavor) else { return };
    let (dir, pki) = (tempfile::tempdir().unwrap(), pki());
    let (mut server, endpoint, extra) = node_server(rt.echo_server(), kind, &dir, &pki, json!({}));
    let fixed = ["emit", "--id", "me", endpoint.as_str(), "app.message", r#"{"message":"hi","n":1e21}"#];
    let (code, stdout, stderr) = run(args(&fixed, &extra), "");
    assert_eq!(code, 0, "{stderr:?}");
    assert!(stdout.is_empty(), "{stdout:?}");
    let want = r#"{"type":"app.message","data":{"id":"me","message":"hi","n":1e+21}}"#;
    assert_eq!(node_line(&mut server, "EVENT"), want);
    if flavor == NodeIpc::V9 && kind != Kind::Udp4 {
        assert_eq!(node_line(&mut server, "DISCONNECT"), r#""me""#);
    }
}

matrix! {
    emit_v9_unix => emit_to_node_server(V9, Unix);
    emit_v9_tcp => emit_to_node_server(V9, Tcp);
    emit_v9_udp4 => emit_to_node_server(V9, Udp4);
    emit_v14_unix => emit_to_node_server(V14, Unix);
    emit_v14_tcp => emit_to_node_server(V14, Tcp);
    emit_v14_tls => emit_to_node_server(V14, Tls);
}

// ---------------------------------------------------------------------------
// node-ipc client -> nipc serve

/// nipc serve with a node-ipc client: the event printed with data as node
/// wrote it and a peer that, passed back as "to", reaches that client; a
/// broadcast after a bad stdin line; exit 0 on SIGTERM (Unix).
fn serve_node_client(flavor: NodeIpc, kind: Kind) {
    let Some(rt) = interop::peer(flavor) else { return };
    let (dir, pki) = (tempfile::tempdir().unwrap(), pki());
    let socket = dir.path().join("app.nipc");
    let (endpoint, extra) = match kind {
        Kind::Unix => (format!("unix:{}", socket.display()), vec![]),
        Kind::Tcp => ("tcp://127.0.0.1:0".to_owned(), vec![]),
        Kind::Tls => (
            "tls://127.0.0.1:0".to_owned(),
            vec![
                "--tls-key".to_owned(),
                pki.server_key.display().to_string(),
                "--tls-cert".to_owned(),
                pki.server_cert.display().to_string(),
            ],
        ),
        Kind::Udp4 => ("udp4://127.0.0.1:0".to_owned(), vec![]),
    };
    let mut nipc = Nipc::spawn(args(&["serve", &endpoint], &extra));
    let listening = nipc.stderr_until("listening on ");
    let port: u16 = listening.rsplit(':').next().unwrap().parse().unwrap_or(0);

    let client = rt.role("nipc/client-common.cjs", "run");
    let local_port = free_udp_port();
    let client = match kind {
        Kind::Unix => client.arg(format!("path={}", socket.display())),
        Kind::Tcp => client.args(["host=127.0.0.1".to_owned(), format!("port={port}")]),
        Kind::Tls => client.args([
            "host=127.0.0.1".to_owned(),
            format!("port={port}"),
            format!("config={}", json!({"tls": {"trustedConnections": [pki.ca]}})),
        ]),
        Kind::Udp4 => client.args([
            "udp=udp4".to_owned(),
            "host=127.0.0.1".to_owned(),
            format!("port={port}"),
            format!("localPort={local_port}"),
        ]),
    };
    let (mut client, _ready) = client.spawn_ready(STEP).unwrap_or_else(|e| panic!("node client: {e}"));
    if kind != Kind::Udp4 {
        nipc.stderr_until("connected");
    }

    let sent = r#"EMIT {"type":"app.message","data":{"id":"node","message":"hello","n":1e21,"u":"\udc00"}}"#;
    client.send_line(sent).unwrap();
    let line = nipc.stdout_line();
    let head =
        r#"{"type":"app.message","data":{"id":"node","message":"hello","n":1e+21,"u":"\udc00"},"peer":"#;
    assert!(line.starts_with(head), "{line}");
    // (not through a Value: a lone surrogate does not fit in a Rust string)
    let (_, peer) = line.strip_suffix('}').unwrap().rsplit_once(",\"peer\":").unwrap();
    let peer: String = serde_json::from_str(peer).unwrap();
    match kind {
        Kind::Udp4 => assert_eq!(peer, format!("udp4://127.0.0.1:{local_port}")),
        _ => assert!(peer.starts_with("#1 "), "{peer}"),
    }

    nipc.send(
        &json!({"type": "app.reply", "data": {"id": "nipc", "message": "to you"}, "to": peer}).to_string(),
    );
    assert_eq!(
        node_line(&mut client, "EVENT"),
        r#"{"type":"app.reply","data":{"id":"nipc","message":"to you"}}"#
    );
    nipc.send(r#"{"type":"#);
    nipc.send(r#"{"type":"all","data":[1,"two",{"x":null}]}"#);
    assert_eq!(node_line(&mut client, "EVENT"), r#"{"type":"all","data":[1,"two",{"x":null}]}"#);
    nipc.stderr_until("stdin line 2: ");
    client.kill();
    nipc.interrupt();
}

matrix! {
    serve_v9_unix => serve_node_client(V9, Unix);
    serve_v9_tcp => serve_node_client(V9, Tcp);
    serve_v9_tls => serve_node_client(V9, Tls);
    serve_v9_udp4 => serve_node_client(V9, Udp4);
    serve_v14_unix => serve_node_client(V14, Unix);
    serve_v14_tcp => serve_node_client(V14, Tcp);
    serve_v14_tls => serve_node_client(V14, Tls);
    serve_v14_udp4 => serve_node_client(V14, Udp4);
}

// ---------------------------------------------------------------------------
// raw buffers, hex encoding

/// nipc connect --raw --encoding hex against a node-ipc raw-buffer echo server.
fn raw_connect(flavor: NodeIpc, kind: Kind) {
    let Some(rt) = interop::peer(flavor) else { return };
    let (dir, pki) = (tempfile::tempdir().unwrap(), pki());
    let config = json!({"rawBuffer": true, "encoding": "hex"});
    let (_server, endpoint, extra) =
        node_server(rt.role("common.cjs", "rawEchoServer"), kind, &dir, &pki, config);
    let mut nipc = Nipc::spawn(args(&["connect", "--raw", "--encoding", "hex", &endpoint], &extra));
    nipc.stderr_until("connected to");
    nipc.send("68656c6c6f0c7b7d00ff");
    assert_eq!(nipc.stdout_line(), "68656c6c6f0c7b7d00ff");
    nipc.send("zz");
    nipc.close_stdin();
    assert_eq!(nipc.exit_code(), 0, "{}", nipc.context());
    assert!(nipc.stderr_seen.iter().any(|l| l.starts_with("nipc: stdin line 2: ")), "{}", nipc.context());
}

/// nipc serve --raw --encoding hex with a node-ipc raw-buffer client.
fn raw_serve(flavor: NodeIpc, kind: Kind) {
    let Some(rt) = interop::peer(flavor) else { return };
    assert_eq!(kind, Kind::Unix);
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("app.raw");
    let mut nipc =
        Nipc::spawn(["serve", "--raw", "--encoding", "hex", &format!("unix:{}", socket.display())]);
    nipc.stderr_until("listening on ");
    let config = json!({"rawBuffer": true, "encoding": "hex"});
    let (mut client, _ready) = rt
        .role("nipc/client-common.cjs", "run")
        .args([format!("path={}", socket.display()), format!("config={config}")])
        .spawn_ready(STEP)
        .unwrap_or_else(|e| panic!("node client: {e}"));
    nipc.stderr_until("connected");
    client.send_line("RAW 68656c6c6f0c").unwrap();
    assert_eq!(nipc.stdout_line(), "68656c6c6f0c");
    nipc.send("776f726c64ff");
    assert_eq!(node_line(&mut client, "DATA"), "776f726c64ff");
    client.kill();
    nipc.interrupt();
}

matrix! {
    raw_connect_v9_unix => raw_connect(V9, Unix);
    raw_connect_v14_tcp => raw_connect(V14, Tcp);
    raw_serve_v9_unix => raw_serve(V9, Unix);
    raw_serve_v14_unix => raw_serve(V14, Unix);
}

// ---------------------------------------------------------------------------
// nipc against itself (runs without node too)

/// serve <- connect and emit over a Unix socket: "to" by number, by printed
/// peer and broadcast; a custom delimiter and the guarded profile on both
/// sides; the server going away is exit 1 for connect.
#[test]
fn nipc_serves_nipc() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("unix:{}", dir.path().join("app.self").display());
    let opts = ["--delimiter", r"\n", "--profile", "guarded"];
    let mut server = Nipc::spawn(args(&["serve", &endpoint], &opts.map(String::from)));
    server.stderr_until("listening on ");
    let mut a = Nipc::spawn(args(&["connect", &endpoint], &opts.map(String::from)));
    a.stderr_until("connected to");
    server.stderr_until("#1 ");
    let mut b = Nipc::spawn(args(&["connect", &endpoint], &opts.map(String::from)));
    b.stderr_until("connected to");
    server.stderr_until("#2 ");

    a.send(r#"{"type":"hi","data":{ "spaced" : [1, 2.50] }}"#);
    let line = server.stdout_line();
    let printed: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(printed["type"], "hi");
    assert!(line.contains(r#""data":{ "spaced" : [1, 2.50] },"#), "data bytes kept: {line}");
    assert!(printed["peer"].as_str().unwrap().starts_with("#1 unix:"), "{line}");

    server.send(&json!({"type": "only-a", "data": 1, "to": printed["peer"]}).to_string());
    server.send(r#"{"type":"only-b","data":2,"to":2}"#);
    server.send(r#"{"type":"connect","data":3}"#); // reserved under guarded: skipped
    server.send(r#"{"type":"both","data":null}"#);
    assert_eq!(a.stdout_line(), r#"{"type":"only-a","data":1}"#);
    assert_eq!(a.stdout_line(), r#"{"type":"both","data":null}"#);
    assert_eq!(b.stdout_line(), r#"{"type":"only-b","data":2}"#);
    assert_eq!(b.stdout_line(), r#"{"type":"both","data":null}"#);
    server.stderr_until("stdin line 3: ");

    let emitted = args(&["emit", &endpoint, "solo", r#"{"k":"v"}"#], &opts.map(String::from));
    let (code, _, stderr) = run(emitted, "");
    assert_eq!(code, 0, "{stderr:?}");
    let line = server.stdout_line();
    assert!(line.starts_with(r##"{"type":"solo","data":{"k":"v"},"peer":"#3 "##), "{line}");

    a.close_stdin();
    assert_eq!(a.exit_code(), 0, "{}", a.context());
    server.interrupt();
    assert_eq!(b.exit_code(), 1, "the server went away: {}", b.context());
    assert!(b.stderr_seen.last().unwrap().contains("closed the connection"), "{}", b.context());
}

/// UDP between two nipc: connect sends from its --bind address, which serve
/// prints as the peer and reaches with "to".
#[test]
fn nipc_udp_with_bind() {
    let mut server = Nipc::spawn(["serve", "udp4://127.0.0.1:0"]);
    let listening = server.stderr_until("listening on ");
    let endpoint = listening.rsplit(' ').next().unwrap().to_owned();
    let local = free_udp_port();
    let mut client = Nipc::spawn(["connect", "--bind", &format!("127.0.0.1:{local}"), &endpoint]);
    client.stderr_until("sending to");
    client.send(r#"{"type":"ping","data":{"n":1}}"#);
    let peer = format!("udp4://127.0.0.1:{local}");
    assert_eq!(server.stdout_line(), format!(r#"{{"type":"ping","data":{{"n":1}},"peer":"{peer}"}}"#));
    server.send(&json!({"type": "pong", "data": [true], "to": peer}).to_string());
    assert_eq!(client.stdout_line(), r#"{"type":"pong","data":[true]}"#);
    client.close_stdin();
    assert_eq!(client.exit_code(), 0, "{}", client.context());
    server.interrupt();
}

// ---------------------------------------------------------------------------
// -v and RUST_LOG

/// Without -v (and without RUST_LOG) stderr holds nipc's notes alone; -v adds
/// the tracing output: each connection's span (transport, peer) on its
/// connect, bad frame (with the frame's escaped start) and disconnect;
/// RUST_LOG, when set, replaces what -v selects.
#[test]
fn verbose_adds_tracing_to_stderr_and_rust_log_wins() {
    let mut server = Nipc::spawn(["serve", "-v", "tcp://127.0.0.1:0"]);
    let listening = server.stderr_until("nipc: listening on ");
    let endpoint = listening.rsplit(' ').next().unwrap().to_owned();
    let traced = server.stderr_until("nipc: listening endpoint=");
    assert!(traced.contains(" INFO "), "{traced}");

    // quiet: notes only
    let (code, _, stderr) = run(["emit", &endpoint, "quiet"], "");
    assert_eq!(code, 0, "{stderr:?}");
    assert!(!stderr.is_empty() && stderr.iter().all(|l| l.starts_with("nipc: ")), "{stderr:?}");
    assert_eq!(server.stdout_line().split(',').next().unwrap(), r#"{"type":"quiet""#);

    // -v: the client's connection, in its span
    let (code, _, stderr) = run(["emit", "-v", &endpoint, "loud"], "");
    assert_eq!(code, 0, "{stderr:?}");
    let port = endpoint.rsplit(':').next().unwrap();
    let span = format!("connection{{side=\"client\" transport=\"tcp\" peer=tcp://127.0.0.1:{port}}}");
    for want in ["nipc: connected", "nipc: disconnected"] {
        assert!(
            stderr.iter().any(|l| l.contains(" INFO ") && l.contains(&span) && l.contains(want)),
            "{want}: {stderr:?}"
        );
    }
    assert!(!stderr.iter().any(|l| l.contains("DEBUG")), "-v is info: {stderr:?}");
    server.stdout_line();

    // RUST_LOG wins over -v: the transport's debug events, none of nipc's own
    let (code, _, stderr) =
        run_with_log(["emit", "-v", &endpoint, "filtered"], "", Some("ipc_transport=debug"));
    assert_eq!(code, 0, "{stderr:?}");
    assert!(
        stderr.iter().any(|l| l.contains("DEBUG") && l.contains("ipc_transport: connected")),
        "{stderr:?}"
    );
    assert!(!stderr.iter().any(|l| l.contains(": nipc: ")), "{stderr:?}");
    server.stdout_line();

    // the server's side of a connection that sends a bad frame
    let mut raw = std::net::TcpStream::connect(endpoint.trim_start_matches("tcp://")).unwrap();
    let me = raw.local_addr().unwrap();
    std::io::Write::write_all(&mut raw, b"not \"json\x01\x0c{\"type\":\"after\",\"data\":1}\x0c").unwrap();
    assert!(server.stdout_line().starts_with(r#"{"type":"after""#));
    drop(raw);
    let span = format!("connection{{side=\"server\" transport=\"tcp\" peer=tcp://{me} number=4}}");
    let connected = server.stderr_until(&format!("{span}: nipc: connected"));
    assert!(connected.contains(" INFO "), "{connected}");
    let bad = server.stderr_until(&format!("{span}: nipc: bad frame"));
    assert!(bad.contains(" WARN ") && bad.contains(r#"excerpt="not \"json\u{1}""#), "{bad}");
    server.stderr_until(&format!("{span}: nipc: disconnected"));
    server.interrupt();
}

// ---------------------------------------------------------------------------
// exit codes

#[test]
fn bad_arguments_exit_2_with_one_line() {
    let cases: &[&[&str]] = &[
        &[],
        &["serve"],
        &["frobnicate"],
        &["connect", "bogus"],
        &["connect", "tcp://::1:80"],
        &["--frob", "connect", "unix:/nonexistent/x"],
        &["emit", "unix:/nonexistent/x", "t", "{"],
        &["emit", "unix:/nonexistent/x", "t", "1", "extra"],
        &["emit", "--profile", "guarded", "unix:/nonexistent/x", "connect"],
        &["connect", "--profile", "assured", "unix:/nonexistent/x"],
        &["connect", "--profile", "paranoid", "unix:/nonexistent/x"],
        &["connect", "--allow", "a", "unix:/nonexistent/x"],
        &["connect", "--encoding", "hex", "unix:/nonexistent/x"],
        &["connect", "--raw", "--encoding", "ebcdic", "unix:/nonexistent/x"],
        &["connect", "--raw", "--profile", "fast", "unix:/nonexistent/x"],
        &["connect", "--delimiter", "", "unix:/nonexistent/x"],
        &["connect", "--max-message-size", "0", "unix:/nonexistent/x"],
        &["connect", "--tls-ca", "/nonexistent/ca.pem", "tcp://127.0.0.1:1"],
        &["connect", "tls://127.0.0.1:1"],
        &["connect", "--tls-ca", "/nonexistent/ca.pem", "tls://127.0.0.1:1"],
        &["serve", "tls://127.0.0.1:0"],
        &["serve", "--id", "x", "unix:/nonexistent/x"],
        &["connect", "--bind", "127.0.0.1", "tcp://127.0.0.1:1"],
        &["connect", "--bind", "::1", "udp4://127.0.0.1:1"],
        &["connect", "--socket-root", "/tmp/", "unix:/nonexistent/x"],
    ];
    for case in cases {
        let (code, stdout, stderr) = run(*case, "");
        assert_eq!(code, 2, "nipc {case:?}: {stderr:?}");
        assert!(stdout.is_empty(), "nipc {case:?}: {stdout:?}");
        assert_eq!(stderr.len(), 1, "nipc {case:?}: one line: {stderr:?}");
        assert!(stderr[0].starts_with("nipc: "), "nipc {case:?}: {stderr:?}");
    }
    let (code, stdout, _) = run(["--help"], "");
    assert_eq!(code, 0);
    assert!(stdout.iter().any(|l| l.contains("ENDPOINT")), "{stdout:?}");
}

#[test]
fn runtime_failures_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("unix:{}", dir.path().join("nobody").display());
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("tcp://127.0.0.1:{}", listener.local_addr().unwrap().port())
    };
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = format!("tcp://127.0.0.1:{}", busy.local_addr().unwrap().port());
    let cases: &[&[&str]] = &[
        &["connect", &missing],
        &["connect", &refused],
        &["emit", &refused, "t"],
        &["emit", &missing, "t", "{}"],
        &["serve", &busy],
    ];
    for case in cases {
        let (code, stdout, stderr) = run(*case, "{\"type\":\"x\"}\n");
        assert_eq!(code, 1, "nipc {case:?}: {stderr:?}");
        assert!(stdout.is_empty(), "nipc {case:?}: {stdout:?}");
        assert_eq!(stderr.len(), 1, "nipc {case:?}: one line: {stderr:?}");
        assert!(stderr[0].starts_with("nipc: cannot "), "nipc {case:?}: {stderr:?}");
    }
    let (_, _, stderr) = run(["connect", &refused], "");
    assert!(stderr[0].contains("refused"), "{stderr:?}");
}

// ---------------------------------------------------------------------------
// the README's example, as it is written there

/// `nipc serve` then `nipc emit` exactly as nipc/README.md shows them (the
/// port aside: the system picks one here), and the line the server prints.
#[test]
fn readme_serve_and_emit() {
    const README: &str = include_str!("../README.md");
    let emit = r#"nipc emit tcp://127.0.0.1:8000 app.message '{"id":"cli","message":"hi"}'"#;
    let printed = r##"{"type":"app.message","data":{"id":"cli","message":"hi"},"peer":"#1 tcp://127.0.0.1:"##;
    for shown in ["$ nipc serve tcp://127.0.0.1:8000\nnipc: listening on tcp://127.0.0.1:8000", emit, printed]
    {
        assert!(README.contains(shown), "nipc/README.md no longer shows {shown:?}");
    }

    let mut server = Nipc::spawn(["serve", "tcp://127.0.0.1:0"]);
    let listening = server.stderr_until("listening on ");
    let endpoint = listening.rsplit(' ').next().unwrap().to_owned();
    assert_eq!(listening.trim_end(), format!("nipc: listening on {endpoint}"));
    assert!(endpoint.starts_with("tcp://127.0.0.1:"), "{listening}");
    let (code, _, stderr) = run(["emit", &endpoint, "app.message", r#"{"id":"cli","message":"hi"}"#], "");
    assert_eq!(code, 0, "{stderr:?}");
    let line = server.stdout_line();
    assert!(line.starts_with(printed), "{line}");
    let port: u16 =
        line[printed.len()..].trim_end_matches("\"}").parse().unwrap_or_else(|_| panic!("{line}"));
    assert_ne!(port, 0);
    server.interrupt();
}
