//! Request/response between Rust processes (`PROTOCOL.md`): 10,000 concurrent
//! requests from 100 clients to a server in another process, every reply
//! matched to its request; deadlines against a handler that sleeps, and the
//! late reply dropped without a word; dropped futures that leave nothing
//! behind (`pending_requests`); handler errors as typed remote errors; a
//! disconnect that fails the requests in flight; the answering side's limit;
//! the Guarded and Assured profiles. Against node-ipc: `request_interop.rs`.

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::join_all;
use interop::within;
use ipc_codec::CodecError;
use ipc_compat::{Client, Config, Error, Ipc, Lifecycle, Logger, Profile, Server, Socket};
use serde_json::{json, Value};
use support::{child_arg, tell_parent, v14, v9, wait_for, ChildProcess};

/// How long a request may take when it is meant to succeed.
const T: Duration = Duration::from_secs(20);

/// Child helper: a server on the socket path it is given, answering `echo`
/// with the request's data after `data.n % 7` ms (so that replies overtake
/// each other), and `count` with how many echo requests it answered.
#[test]
#[ignore = "helper: runs as a child process of the tests of this file"]
fn child_server() {
    let Some(path) = child_arg() else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = Ipc::new(v9(Path::new("/nonexistent"))).serve(Some(Path::new(&path))).unwrap();
        let answered = Arc::new(AtomicUsize::new(0));
        let count = answered.clone();
        server.on_request("echo", move |request, _| {
            let answered = answered.clone();
            async move {
                let delay = request.data()?["n"].as_u64().unwrap_or(0) % 7;
                tokio::time::sleep(Duration::from_millis(delay)).await;
                answered.fetch_add(1, Ordering::Relaxed);
                request.data()
            }
        });
        server.on_request("count", move |_, _| {
            let count = count.load(Ordering::Relaxed);
            async move { Ok::<_, Error>(count) }
        });
        server.start().await.unwrap();
        tell_parent("ready");
        std::future::pending::<()>().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_requests_from_a_hundred_clients_each_get_their_own_reply() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.echo");
    let child = ChildProcess::spawn("child_server", path.to_str().unwrap());
    tokio::task::block_in_place(|| child.expect_line("ready"));

    let ipc = Ipc::new(v9(dir.path()));
    let clients: Vec<Client> =
        (0..100).map(|c| ipc.connect_to(&format!("c{c}"), Some(&path)).unwrap()).collect();
    for client in &clients {
        within("connect", client.connected()).await.unwrap();
    }
    let started = Instant::now();
    let per_client = clients.iter().enumerate().map(|(c, client)| async move {
        let asks = (0..100).map(|n| {
            let data = json!({"client": c, "n": n, "tag": format!("{c}/{n}")});
            async move { (client.request_typed::<_, Value>("echo", &data, T).await.unwrap(), data) }
        });
        join_all(asks).await
    });
    let replies: Vec<(Value, Value)> =
        within("10,000 replies", join_all(per_client)).await.into_iter().flatten().collect();
    let took = started.elapsed();
    assert_eq!(replies.len(), 10_000);
    for (reply, asked) in &replies {
        assert_eq!(reply, asked);
    }
    let answered: usize = clients[0].request_typed("count", (), T).await.unwrap();
    assert_eq!(answered, 10_000, "each request answered once");
    assert!(clients.iter().all(|c| c.pending_requests() == 0));
    eprintln!("10,000 requests from 100 clients (100 in flight each): {took:?}");
}

/// A server in this process with a lifecycle stream, and a client of it.
async fn pair(config: Config, setup: impl FnOnce(&Server)) -> (Server, Client, Socket) {
    let path = Path::new(&config.socket_root).join("app.pair");
    let server = Ipc::new(config.clone()).serve(Some(&path)).unwrap();
    setup(&server);
    let mut life = server.lifecycle(16);
    within("start", server.start()).await.unwrap();
    let client = Ipc::new(config).connect_to("pair", Some(&path)).unwrap();
    within("connect", client.connected()).await.unwrap();
    let Lifecycle::Connect(socket) = wait_for(&mut life, "connect").await else { unreachable!() };
    (server, client, socket)
}

fn sleeper(server: &Server) {
    server.on_request("sleep", |request, _| async move {
        let ms = request.data_as::<u64>()?;
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok::<_, Error>(ms)
    });
}

#[tokio::test]
async fn a_deadline_against_a_sleeping_handler_is_a_timeout_and_the_late_reply_is_dropped_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut config = v9(dir.path());
    let (_server, _, _) = pair(config.clone(), sleeper).await;
    let sink = lines.clone();
    config.silent = false;
    config.log_payloads = true;
    config.logger = Logger::new(move |line| sink.lock().unwrap().push(line.to_owned()));
    let mut life = None;
    let ipc = Ipc::new(config);
    // where pair() serves (not dir.path().join: on Windows the separator decides the pipe name)
    let path = Path::new(&ipc.config().socket_root).join("app.pair");
    let client = ipc.connect_to_with("pair", Some(&path), |c| life = Some(c.lifecycle(16))).unwrap();
    let mut life = life.unwrap();
    within("connect", client.connected()).await.unwrap();

    let asked = Instant::now();
    let late = client.request("sleep", 400, Duration::from_millis(100)).await;
    let waited = asked.elapsed();
    match late {
        Err(Error::Timeout { event_type, after }) => {
            assert_eq!((event_type.as_str(), after), ("sleep", Duration::from_millis(100)))
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(waited >= Duration::from_millis(100) && waited < Duration::from_millis(400), "{waited:?}");
    assert_eq!(client.pending_requests(), 0);
    let logged = lines.lock().unwrap().len();

    // the reply comes 300 ms later: dropped, no error, nothing logged but the event itself
    tokio::time::sleep(Duration::from_millis(500)).await;
    let raised: Vec<_> = std::iter::from_fn(|| life.try_recv()).map(|e| e.name()).collect();
    assert_eq!(raised, ["connect"]);
    let after: Vec<String> = lines.lock().unwrap()[logged..].to_vec();
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(after[0].starts_with("detected event ipc.reply"), "{after:?}");
    // and the connection goes on
    assert_eq!(client.request_typed::<_, u64>("sleep", 1, T).await.unwrap(), 1);
}

#[tokio::test]
async fn dropped_requests_leave_nothing_behind_on_either_side() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client, socket) = pair(v9(dir.path()), sleeper).await;
    let mut life = server.lifecycle(16);
    client.on_request("sleep", |request, _| async move {
        tokio::time::sleep(Duration::from_millis(request.data_as()?)).await;
        Ok::<_, Error>(())
    });

    // sent at the call, waiting in the table until dropped
    let asks: Vec<_> = (0..1000).map(|_| client.request("sleep", 200, T)).collect();
    assert_eq!(client.pending_requests(), 1000);
    drop(asks);
    assert_eq!(client.pending_requests(), 0);

    // half of them polled, then cut short by a timer
    let asks = (0..1000).map(|_| async {
        tokio::select! {
            asked = client.request("sleep", 200, T) => panic!("answered early: {asked:?}"),
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    });
    join_all(asks).await;
    assert_eq!(client.pending_requests(), 0);

    // the server's side, to the client
    let asks: Vec<_> = (0..1000).map(|_| socket.request("sleep", 200, T)).collect();
    assert_eq!(socket.pending_requests(), 1000);
    drop(asks);
    assert_eq!(socket.pending_requests(), 0);

    // every reply of the 3,000 comes, and is dropped
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!((client.pending_requests(), socket.pending_requests()), (0, 0));
    assert!(std::iter::from_fn(|| life.try_recv()).all(|e| e.name() != "error"));
    assert_eq!(client.request_typed::<_, u64>("sleep", 0, T).await.unwrap(), 0);
}

#[tokio::test]
async fn handler_errors_reach_the_asker_as_typed_remote_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, client, _) = pair(v9(dir.path()), |server| {
        server.on_request(
            "fail",
            |request, _| async move { Err::<(), _>(request.data_as::<String>().unwrap()) },
        );
        server.on_request_typed("half", |n: u64, _| async move {
            if n % 2 == 1 {
                return Err(format!("{n} is odd"));
            }
            Ok(n / 2)
        });
        server.on_request("panic", |_, _| async move {
            if true {
                panic!("on purpose");
            }
            Ok::<_, Error>(())
        });
        server.on_request("text", |_, _| async { Ok::<_, Error>("not a number") });
    })
    .await;
    let remote = |result: Result<Value, Error>| match result {
        Err(Error::Remote { message, .. }) => message,
        other => panic!("expected a remote error, got {other:?}"),
    };
    assert_eq!(remote(client.request_typed("fail", "it broke", T).await), "it broke");
    assert_eq!(client.request_typed::<_, u64>("half", 8, T).await.unwrap(), 4);
    assert_eq!(remote(client.request_typed("half", 7, T).await), "7 is odd");
    assert!(
        remote(client.request_typed("half", "seven", T).await).starts_with("the request's data does not fit")
    );
    assert_eq!(remote(client.request_typed("panic", (), T).await), "the request handler panicked");
    assert_eq!(remote(client.request_typed("none", (), T).await), r#"no handler for request "none""#);
    let misfit = client.request_typed::<_, u64>("text", (), T).await;
    assert!(matches!(misfit, Err(Error::Codec(CodecError::Data(_)))), "{misfit:?}");
    let shown = client.request("fail", "shown", T).await.unwrap_err().to_string();
    assert_eq!(shown, r#"request "fail" failed on the peer: shown"#);
}

#[tokio::test]
async fn a_disconnect_fails_every_request_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client, socket) = pair(v9(dir.path()), sleeper).await;
    client.on_request("sleep", |_, _| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<_, Error>(())
    });
    let from_client: Vec<_> = (0..50).map(|_| client.request("sleep", 60_000, T)).collect();
    let from_server: Vec<_> = (0..50).map(|_| socket.request("sleep", 60_000, T)).collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    socket.destroy();
    for failed in within("the client's requests", join_all(from_client)).await {
        assert!(
            matches!(failed, Err(Error::Disconnected { ref event_type }) if event_type == "sleep"),
            "{failed:?}"
        );
    }
    for failed in within("the server's requests", join_all(from_server)).await {
        assert!(matches!(failed, Err(Error::Disconnected { .. })), "{failed:?}");
    }
    assert_eq!((client.pending_requests(), socket.pending_requests()), (0, 0));
    // a closed socket refuses at once
    assert!(matches!(socket.request("sleep", 1, T).await, Err(Error::Closed)));
    // the client reconnects and asks again
    within("reconnect", client.connected()).await.unwrap();
    assert_eq!(client.request_typed::<_, u64>("sleep", 1, T).await.unwrap(), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_connection_answers_at_most_max_concurrent_requests_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = v9(dir.path());
    config.max_concurrent_requests = 3;
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (running2, most2) = (running.clone(), most.clone());
    let (_server, client, _) = pair(config, move |server| {
        server.on_request("work", move |_, _| {
            let (running, most) = (running2.clone(), most2.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, Error>(now)
            }
        });
    })
    .await;
    let started = Instant::now();
    let asks = (0..12).map(|_| client.request_typed::<_, usize>("work", (), T));
    assert!(join_all(asks).await.into_iter().all(|r| r.is_ok()));
    assert_eq!(most.load(Ordering::SeqCst), 3);
    assert!(started.elapsed() >= Duration::from_millis(200), "four waves of three");
}

fn answer_double(server: &Server) {
    server.on_request_typed("app.double", |n: i64, _| async move { Ok::<_, Error>(n * 2) });
}

#[tokio::test]
async fn requests_work_under_guarded() {
    let dir = tempfile::tempdir().unwrap();
    let mut guarded = v14(dir.path());
    guarded.parser = Profile::Guarded;
    let (server, client, socket) = pair(guarded, answer_double).await;
    client.on_request_typed("app.double", |n: i64, _| async move { Ok::<_, Error>(n * 2) });
    assert_eq!(client.request_typed::<_, i64>("app.double", 21, T).await.unwrap(), 42);
    assert_eq!(socket.request_typed::<_, i64>("app.double", 4, T).await.unwrap(), 8);
    // a request type is an event type: lifecycle names stay reserved
    let reserved = client.request("connect", (), T).await;
    assert!(matches!(reserved, Err(Error::Codec(CodecError::ReservedEvent { .. }))), "{reserved:?}");
    assert_eq!(client.pending_requests(), 0);
    server.stop().await;
}

#[tokio::test]
#[cfg_attr(
    windows,
    ignore = "Windows: an Assured server on a local endpoint is refused there (node-ipc 14's rule)"
)]
async fn requests_work_under_assured_with_the_names_allow_listed() {
    let dir = tempfile::tempdir().unwrap();
    let mut assured = v14(dir.path());
    assured.parser = Profile::Assured;
    assured.allowed_events =
        Some(vec!["ipc.request".into(), "ipc.reply".into(), "app.double".into(), "app.other".into()]);
    let (server, client, socket) = pair(assured.clone(), answer_double).await;
    assert_eq!(client.request_typed::<_, i64>("app.double", 5, T).await.unwrap(), 10);
    let off_list = client.request("app.triple", 5, T).await;
    assert!(matches!(off_list, Err(Error::Codec(CodecError::EventNotAllowed { .. }))), "{off_list:?}");
    let unanswered = client.request("app.other", 5, T).await;
    assert!(matches!(unanswered, Err(Error::Remote { .. })), "{unanswered:?}");
    assert!(matches!(socket.request("app.double", 5, T).await, Err(Error::Remote { .. })));
    server.stop().await;

    // without the reserved names on the list, nothing is sent
    assured.allowed_events = Some(vec!["app.double".into()]);
    let (server, client, _) = pair(assured, answer_double).await;
    let refused = client.request("app.double", 5, T).await;
    assert!(
        matches!(refused, Err(Error::Codec(CodecError::EventNotAllowed { ref event_type })) if event_type == "ipc.request"),
        "{refused:?}"
    );
    assert_eq!(client.pending_requests(), 0);
    server.stop().await;
}

#[tokio::test]
async fn requests_work_between_udp_servers() {
    let udp = || {
        Ipc::new(v9(Path::new("/nonexistent"))).serve_net(
            Some("127.0.0.1"),
            Some(0),
            Some(ipc_compat::UdpType::Udp4),
        )
    };
    let (a, b) = (udp().unwrap(), udp().unwrap());
    a.on_request_typed(
        "sum",
        |numbers: Vec<i64>, _| async move { Ok::<_, Error>(numbers.iter().sum::<i64>()) },
    );
    let mut heard = b.subscribe("hi", 4);
    within("start a", a.start()).await.unwrap();
    within("start b", b.start()).await.unwrap();
    // b knows a as a socket once a has sent it something (UDP peers are source addresses)
    a.emit_to(b.local_addr().unwrap(), "hi", ()).unwrap();
    let (_, a_seen_by_b) = within("hi", heard.recv()).await.unwrap();
    assert_eq!(a_seen_by_b.request_typed::<_, i64>("sum", [1, 2, 3], T).await.unwrap(), 6);
    let unknown = a_seen_by_b.request("nope", (), T).await;
    assert!(matches!(unknown, Err(Error::Remote { .. })), "{unknown:?}");
    assert_eq!(a_seen_by_b.pending_requests(), 0);
}

/// The wire as `PROTOCOL.md` writes it, byte for byte, from a peer that
/// speaks it by hand: the `rid` copied as it came, the refusals in order.
#[cfg(unix)]
#[tokio::test]
async fn the_wire_is_what_protocol_md_says() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.wire");
    let server = Ipc::new(v9(dir.path())).serve(Some(&path)).unwrap();
    server.on_request_typed("sum", |numbers: Vec<i64>, _| async move {
        Ok::<_, Error>(numbers.iter().sum::<i64>())
    });
    server.on_request("fail", |_, _| async { Err::<(), _>("boom") });
    server.on_request("nothing", |_, _| async { Ok::<_, Error>(()) });
    let mut life = server.lifecycle(16);
    within("start", server.start()).await.unwrap();
    let (read, mut write) = tokio::net::UnixStream::connect(&path).await.unwrap().into_split();
    let mut replies = BufReader::new(read);
    let mut ask = async |request: &str| {
        write
            .write_all(format!("{{\"type\":\"ipc.request\",\"data\":{request}}}\x0c").as_bytes())
            .await
            .unwrap();
        let mut reply = Vec::new();
        within("a reply", replies.read_until(0x0c, &mut reply)).await.unwrap();
        String::from_utf8(reply).unwrap()
    };
    let reply = |data: &str| format!("{{\"type\":\"ipc.reply\",\"data\":{data}}}\x0c");
    assert_eq!(ask(r#"{"rid":1,"type":"sum","data":[1,2,3]}"#).await, reply(r#"{"rid":1,"ok":6}"#));
    assert_eq!(ask(r#"{"rid":"a-b","type":"sum","data":[]}"#).await, reply(r#"{"rid":"a-b","ok":0}"#));
    assert_eq!(ask(r#"{"rid":2,"type":"fail"}"#).await, reply(r#"{"rid":2,"error":{"message":"boom"}}"#));
    assert_eq!(
        ask(r#"{"rid":3,"type":"nope"}"#).await,
        reply(r#"{"rid":3,"error":{"message":"no handler for request \"nope\""}}"#)
    );
    assert_eq!(
        ask(r#"{"rid":4,"type":7}"#).await,
        reply(r#"{"rid":4,"error":{"message":"a request needs a string type"}}"#)
    );
    // unit: `null` (JavaScript would leave `ok` out for undefined; both read as no value)
    assert_eq!(ask(r#"{"rid":5,"type":"nothing"}"#).await, reply(r#"{"rid":5,"ok":null}"#));
    // no rid: nothing to reply to; the server reports it
    write.write_all(b"{\"type\":\"ipc.request\",\"data\":{\"type\":\"sum\"}}\x0c").await.unwrap();
    let (_, error) = support::next_error(&mut life).await;
    assert!(error.to_string().contains("without a rid"), "{error}");
}
