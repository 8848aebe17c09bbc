//! The `json-service` example, run end to end as a user runs it: its own
//! process on an ephemeral port, found ready by its "listening on" line,
//! answered over real TCP, stopped by a real SIGINT, every step under a timeout.
//! (Ignored on Windows, where the example stops on Ctrl-C: see the reason.)

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use ipc_codec::{Event, JsonCodec};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio_util::codec::Framed;

const LIMIT: Duration = Duration::from_secs(30);

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, f).await.unwrap_or_else(|_| panic!("{what}: no answer within {LIMIT:?}"))
}

/// The example's binary, beside this test's own (`target/<profile>/examples/`).
/// `cargo test` builds examples before it runs tests; when only this test was
/// asked for, build it here.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap().to_owned();
    let binary = profile_dir.join("examples").join(format!("json-service{}", std::env::consts::EXE_SUFFIX));
    if !binary.exists() {
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev".to_owned(),
            Some(other) => other.to_owned(),
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = std::process::Command::new(cargo)
            .args(["build", "-p", "ipc-codec", "--example", "json-service", "--profile", &profile])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the json-service example failed");
    }
    assert!(binary.exists(), "{} not found", binary.display());
    binary
}

#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "Windows: stopped by Ctrl-C there, which a test cannot send to another process without unsafe Win32 calls"
)]
async fn json_service_answers_and_shuts_down_gracefully_on_sigint() {
    let mut child = Command::new(example_binary())
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();

    // Ready when it says where it listens.
    let ready = within("readiness line", stdout.next_line()).await.unwrap().expect("a first line");
    let addr =
        ready.strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {ready:?}"));
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    assert!(addr.ip().is_loopback() && addr.port() != 0);

    // node-ipc's hello world, through Framed.
    let mut hello =
        Framed::new(within("connect", TcpStream::connect(addr)).await.unwrap(), JsonCodec::default());
    within("send", hello.send(Event::new("app.message", json!({"id": "hello", "message": "hello"}))))
        .await
        .unwrap();
    let reply = within("reply", hello.next()).await.unwrap().unwrap();
    assert_eq!(reply.event_type(), "app.message");
    assert_eq!(reply.data().unwrap(), json!({"id": "world", "message": "hello world!"}));
    within("send", hello.send(Event::without_data("ping"))).await.unwrap();
    assert_eq!(within("pong", hello.next()).await.unwrap().unwrap().event_type(), "pong");

    // The bytes a node-ipc client would write and read, exactly.
    let mut raw = within("connect", TcpStream::connect(addr)).await.unwrap();
    let frame =
        "{\"type\":\"app.message\",\"data\":{\"id\":\"raw\",\"message\":\"caf\\u00e9 \\\"quoted\\\"\"}}\x0c";
    within("write", raw.write_all(frame.as_bytes())).await.unwrap();
    let expected = "{\"type\":\"app.message\",\"data\":{\"id\":\"world\",\"message\":\"café \\\"quoted\\\" world!\"}}\x0c";
    let mut got = vec![0; expected.len()];
    within("raw reply", raw.read_exact(&mut got)).await.unwrap();
    assert_eq!(String::from_utf8(got).unwrap(), expected);
    drop(raw);

    // A bad frame closes that connection only (node-ipc 14's policy).
    let mut bad = within("connect", TcpStream::connect(addr)).await.unwrap();
    within("write", bad.write_all(b"{not json}\x0c")).await.unwrap();
    let mut rest = Vec::new();
    within("closed after a bad frame", bad.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.is_empty());

    // An idle client, and the one that spoke: both are told, then closed.
    let mut idle =
        Framed::new(within("connect", TcpStream::connect(addr)).await.unwrap(), JsonCodec::default());
    within("send", idle.send(Event::without_data("ping"))).await.unwrap();
    assert_eq!(within("pong", idle.next()).await.unwrap().unwrap().event_type(), "pong");

    #[cfg(unix)]
    {
        let pid = rustix::process::Pid::from_raw(child.id().unwrap() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    }

    for (who, conn) in [("hello", &mut hello), ("idle", &mut idle)] {
        let notice = within("shutdown notice", conn.next()).await.unwrap().unwrap();
        assert_eq!(notice.event_type(), "service.shutdown", "{who}");
        assert!(within("end of stream", conn.next()).await.is_none(), "{who}: closed after the notice");
    }

    let status = within("exit", child.wait()).await.unwrap();
    let mut rest = Vec::new();
    while let Some(line) = within("stdout", stdout.next_line()).await.unwrap() {
        rest.push(line);
    }
    let mut log = String::new();
    within("stderr", stderr.read_to_string(&mut log)).await.unwrap();
    assert!(status.success(), "exit status {status}; stdout {rest:?}; stderr:\n{log}");
    assert!(rest.first().is_some_and(|l| l.starts_with("shutting down: ")), "{rest:?}");
    assert_eq!(rest.last().map(String::as_str), Some("stopped"), "{rest:?}");
    assert!(log.contains("bad frame, closing"), "{log}");
    assert_eq!(log.matches(": connected").count(), 4, "{log}");

    // Nobody listens any more.
    assert!(TcpStream::connect(addr).await.is_err());
}
