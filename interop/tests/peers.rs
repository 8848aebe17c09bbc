//! The pinned node-ipc peers install, run, and echo frames byte for byte.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use interop::{NodeIpc, PeerErrorKind, PeerProcess, PeerRuntime, DEFAULT_TIMEOUT};

const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads from `stream` until the buffer ends with the `\f` delimiter.
fn read_frames(stream: &mut impl Read, want_frames: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    while out.iter().filter(|&&b| b == 0x0c).count() < want_frames {
        let n = stream
            .read(&mut chunk)
            .unwrap_or_else(|e| panic!("read failed after {:?}: {e}", String::from_utf8_lossy(&out)));
        assert!(n > 0, "peer closed after {:?}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&chunk[..n]);
    }
    out
}

fn ready_json(ready: &str) -> serde_json::Value {
    serde_json::from_str(ready).unwrap_or_else(|e| panic!("READY payload {ready:?}: {e}"))
}

fn connect_unix(path: &Path) -> UnixStream {
    let stream = UnixStream::connect(path).unwrap_or_else(|e| panic!("connect {}: {e}", path.display()));
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

fn spawn_echo(rt: &PeerRuntime, args: &[String]) -> (PeerProcess, serde_json::Value) {
    let (peer, ready) =
        rt.echo_server().args(args).spawn_ready(DEFAULT_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    (peer, ready_json(&ready))
}

#[test]
fn peers_install_and_report_versions() {
    for flavor in NodeIpc::ALL {
        let Some(rt) = interop::peer(flavor) else { continue };
        assert_eq!(rt.ipc_version(), flavor.version());
        let major = format!("v{}.", flavor.node_major());
        assert!(rt.node_version().starts_with(&major), "{flavor}: node {}", rt.node_version());

        // The module loads from an inline script through `import_line`, and is the pinned version.
        let manifest = serde_json::to_string(&flavor.package_dir().join("package.json")).unwrap();
        let source = format!(
            "{import}\n\
             const fs = {fs};\n\
             const version = JSON.parse(fs.readFileSync({manifest}, 'utf8')).version;\n\
             console.log('READY ' + JSON.stringify({{version, node: process.version, serve: typeof ipc.serve}}));\n",
            import = flavor.import_line("ipc"),
            fs = if flavor.is_esm() { "(await import('node:fs')).default" } else { "require('fs')" },
        );
        let (mut peer, ready) =
            rt.inline(source).spawn_ready(DEFAULT_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
        let ready = ready_json(&ready);
        assert_eq!(ready["version"], flavor.version());
        assert_eq!(ready["node"], rt.node_version());
        assert_eq!(ready["serve"], "function");
        let status = peer.wait_exit(DEFAULT_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
        assert!(status.success(), "{status}: {}", peer.stderr_text());
    }
}

fn echo_over_unix(flavor: NodeIpc) {
    let Some(rt) = interop::peer(flavor) else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = format!("{}/", dir.path().display());
    let (mut peer, ready) =
        spawn_echo(&rt, &[format!("socketRoot={root}"), "appspace=app.".into(), "id=echo".into()]);
    let path = dir.path().join("app.echo");
    assert_eq!(ready["version"], flavor.version());
    assert_eq!(ready["transport"], "unix");
    assert_eq!(ready["path"], path.to_str().unwrap(), "socketRoot + appspace + id");

    let mut stream = connect_unix(&path);
    let frame = b"{\"type\":\"ping\",\"data\":{\"n\":1}}\x0c";
    stream.write_all(frame).unwrap();
    assert_eq!(read_frames(&mut stream, 1), frame, "{flavor} echo");

    assert_eq!(peer.wait_for_line("CONNECT", IO_TIMEOUT).unwrap_or_else(|e| panic!("{e}")), "");
    let event = peer.wait_for_line("EVENT", IO_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(event, r#"{"type":"ping","data":{"n":1}}"#);

    // Server-initiated events: the EMIT stdin command broadcasts.
    peer.send_line(r#"EMIT {"type":"hello","data":["from",9,"or",14]}"#).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read_frames(&mut stream, 1), b"{\"type\":\"hello\",\"data\":[\"from\",9,\"or\",14]}\x0c");

    drop(stream);
    assert_eq!(peer.wait_for_line("DISCONNECT", IO_TIMEOUT).unwrap_or_else(|e| panic!("{e}")), "false");
    let status = peer.shutdown(IO_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "{status}");
}

#[test]
fn echo_server_v9_unix() {
    echo_over_unix(NodeIpc::V9);
}

#[test]
fn echo_server_v14_unix() {
    echo_over_unix(NodeIpc::V14);
}

/// Two frames in one write, and an event whose data is missing: the peer
/// echoes what its emit path makes of it (both lines send `{}` for undefined).
#[test]
fn echo_server_batched_frames() {
    for flavor in NodeIpc::ALL {
        let Some(rt) = interop::peer(flavor) else { continue };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("batch.sock");
        let (_peer, _ready) = spawn_echo(&rt, &[format!("path={}", path.display())]);
        let mut stream = connect_unix(&path);
        stream.write_all(b"{\"type\":\"a\",\"data\":\"x\"}\x0c{\"type\":\"b\"}\x0c").unwrap();
        assert_eq!(
            read_frames(&mut stream, 2),
            b"{\"type\":\"a\",\"data\":\"x\"}\x0c{\"type\":\"b\",\"data\":{}}\x0c",
            "{flavor}"
        );
    }
}

#[test]
fn echo_server_tcp_loopback() {
    for flavor in NodeIpc::ALL {
        let Some(rt) = interop::peer(flavor) else { continue };
        let port = interop::pick_loopback_port().unwrap();
        let (_peer, ready) = spawn_echo(&rt, &["host=127.0.0.1".into(), format!("port={port}")]);
        assert_eq!(ready["transport"], "tcp");
        assert_eq!(ready["port"], port);
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let frame = "{\"type\":\"ünï\\\"cødé\",\"data\":[\"𝄞\",1e+21]}\x0c".as_bytes();
        stream.write_all(frame).unwrap();
        assert_eq!(read_frames(&mut stream, 1), frame, "{flavor}");
    }
}

/// 14.x creates a missing socketRoot (mode 0700) when the socket lies inside it;
/// 9.x does not, so its server fails to listen and the error carries its stderr.
#[test]
fn socket_root_creation_differs() {
    let dir = tempfile::tempdir().unwrap();
    if let Some(rt) = interop::peer(NodeIpc::V14) {
        let root = dir.path().join("v14-root");
        let (_peer, ready) = spawn_echo(&rt, &[format!("socketRoot={}/", root.display()), "id=x".into()]);
        assert_eq!(ready["path"], root.join("app.x").to_str().unwrap());
        let mode = std::fs::metadata(&root).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
    if let Some(rt) = interop::peer(NodeIpc::V9) {
        let root = dir.path().join("v9-root");
        let mut peer = rt
            .echo_server()
            .arg(format!("socketRoot={}/", root.display()))
            .arg("id=x")
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let error = peer.wait_ready(DEFAULT_TIMEOUT).expect_err("9.x cannot listen in a missing dir");
        assert_eq!(error.kind(), PeerErrorKind::Exited, "{error}");
        // libuv reports a missing directory as EACCES for unix sockets.
        assert!(
            error.to_string().contains("server failed to start: listen EACCES"),
            "stderr should be in the message: {error}"
        );
        assert!(!root.exists());
    }
}

#[test]
fn readiness_timeout_reports_stderr() {
    let Some(rt) = interop::peer(NodeIpc::V9) else { return };
    let mut peer = rt
        .inline("process.stderr.write('still thinking\\n'); console.log('NOT READY'); setInterval(() => {}, 1000);")
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // Make sure stderr has arrived before the timeout message is built.
    assert_eq!(peer.next_line(DEFAULT_TIMEOUT).unwrap_or_else(|e| panic!("{e}")), "NOT READY");
    let error = peer.wait_ready(Duration::from_millis(300)).expect_err("never ready");
    assert_eq!(error.kind(), PeerErrorKind::Timeout, "{error}");
    let text = error.to_string();
    assert!(text.contains("NOT READY"), "{text}");
    for _ in 0..200 {
        if peer.stderr_text().contains("still thinking") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(peer.stderr_text().contains("still thinking"), "{}", peer.stderr_text());
    peer.kill();
}
