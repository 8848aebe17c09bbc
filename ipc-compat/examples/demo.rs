//! The README's main command: a node-ipc conversation in one process, with no
//! setup. A `world` server listens on a Unix socket in a temporary directory;
//! three clients connect, each says hello (announcing its id in `data.id`, as
//! node-ipc clients do) and gets its answer; the server broadcasts to all of
//! them; one client leaves and the server reports it by id; a client emits
//! while the server is restarting and its events arrive after it reconnects.
//! Every line says who saw what. Exits 0. `DEMO_VERBOSE=1` also shows the
//! log lines node-ipc itself would print (`config.silent = false`).
//!
//! ```sh
//! cargo run --release -p ipc-compat --example demo
//! ```

use std::time::Duration;

use ipc_compat::{Client, Config, Error, Event, Ipc, Server, Socket};
use serde_json::{json, Value};
use tokio::sync::mpsc;

const CLIENTS: [&str; 3] = ["hello", "goodbye", "bonjour"];

fn say(who: &str, what: impl std::fmt::Display) {
    println!("{who:>8} | {what}");
}

/// Awaits `fut` for at most 10 s.
async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> Result<T, Error> {
    tokio::time::timeout(Duration::from_secs(10), fut).await.map_err(|_| {
        Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("timed out: {what}")))
    })
}

/// `socket #2 (id goodbye)`.
fn name(socket: &Socket) -> String {
    format!("socket #{} (id {})", socket.serial(), socket.id().as_deref().unwrap_or("false"))
}

type Gone = mpsc::UnboundedSender<(u64, Option<String>)>;

/// Handlers report to main through channels, so that lines print in a stable order.
fn world_server(
    ipc: &Ipc,
    connected: mpsc::UnboundedSender<u64>,
    counts: mpsc::UnboundedSender<(Value, Option<String>)>,
    gone: Gone,
) -> Result<Server, Error> {
    let server = ipc.serve(None)?;
    server.on_connect(move |socket: &Socket| {
        connected.send(socket.serial()).ok();
    });
    server.on("message", |event: &Event, socket: &Socket| {
        let data = event.data().unwrap_or_default();
        say("world", format!("<- message {data} from {}", name(socket)));
        let answer = format!("{} world!", data["message"].as_str().unwrap_or_default());
        socket.emit("message", json!({"id": "world", "message": answer})).ok();
    });
    server.on("count", move |event: &Event, socket: &Socket| {
        counts.send((event.data().unwrap_or_default(), socket.id())).ok();
    });
    // printed by main, in a stable order
    server.on_socket_disconnected(move |socket, id| {
        gone.send((socket.serial(), id.map(str::to_owned))).ok();
    });
    Ok(server)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let mut config = Config::default(); // node-ipc 9.x's defaults, as the seed README lists them
    config.socket_root = format!("{}/", dir.path().display());
    config.silent = std::env::var_os("DEMO_VERBOSE").is_none(); // this demo prints its own lines
    config.retry = Duration::from_millis(200);

    println!("node-ipc for Rust: a world server and {} clients on a Unix socket\n", CLIENTS.len());

    // ipc.config.id = 'world'; ipc.serve(...); ipc.server.start()
    let mut world_config = config.clone();
    world_config.id = "world".into();
    let world = Ipc::new(world_config);
    let (connected_tx, mut connected) = mpsc::unbounded_channel();
    let (counts_tx, mut counts) = mpsc::unbounded_channel();
    let (gone_tx, mut gone) = mpsc::unbounded_channel();
    let server = world_server(&world, connected_tx, counts_tx, gone_tx)?;
    let report = |left: Vec<(u64, Option<String>)>| {
        let mut ids: Vec<String> =
            left.into_iter().map(|(_, id)| id.unwrap_or_else(|| "false".into())).collect();
        ids.sort();
        for id in ids {
            say("world", format!("socket.disconnected, id {id}"));
        }
    };
    within("start", server.start()).await??;
    say("world", format!("listening on {}", server.endpoint()));

    // ipc.connectTo('world', ...) from three independent instances
    let (news_tx, mut news_rx) = mpsc::unbounded_channel::<(usize, Event)>();
    let (disconnected_tx, mut disconnected) = mpsc::unbounded_channel::<&str>();
    let mut clients: Vec<(Ipc, Client)> = Vec::new();
    for (n, id) in CLIENTS.into_iter().enumerate() {
        let mut client_config = config.clone();
        client_config.id = id.into();
        let ipc = Ipc::new(client_config);
        let (reply_tx, mut reply_rx) = mpsc::unbounded_channel::<Event>();
        let news = news_tx.clone();
        let disconnected = disconnected_tx.clone();
        let client = ipc.connect_to_with("world", None, |world| {
            world.on_disconnect(move |_| {
                disconnected.send(id).ok();
            });
            world.on("message", move |event, _| {
                reply_tx.send(event.clone()).ok();
            });
            world.on("news", move |event, _| {
                news.send((n, event.clone())).ok();
            });
        })?;
        within("connect", client.connected()).await??;
        let serial = within("the server's connect", connected.recv()).await?.ok_or(Error::Closed)?;
        say("world", format!("socket #{serial} connected"));
        say(id, "connected to world");
        let hello = json!({"id": id, "message": "hello"});
        say(id, format!("-> message {hello}"));
        client.emit("message", hello)?;
        let reply = within("reply", reply_rx.recv()).await?.ok_or(Error::Closed)?;
        say(id, format!("<- message {}", reply.data()?));
        clients.push((ipc, client));
    }

    // ipc.server.broadcast('news', ...)
    let reached = server.broadcast("news", json!({"headline": "everyone is here"}))?;
    say("world", format!("broadcast news to {reached} sockets"));
    let mut got = Vec::new();
    for _ in 0..reached {
        got.push(within("news", news_rx.recv()).await?.ok_or(Error::Closed)?);
    }
    got.sort_by_key(|(n, _)| *n);
    for (n, event) in got {
        say(CLIENTS[n], format!("<- news {}", event.data()?));
    }

    // ipc.disconnect('world') from one client: the server names it by the id it announced
    let (bonjour, _) = clients.pop().expect("three clients");
    say("bonjour", "disconnects");
    bonjour.disconnect("world");
    report(vec![within("socket.disconnected", gone.recv()).await?.ok_or(Error::Closed)?]);

    // the server restarts; a client keeps emitting: its events wait, then arrive in order
    server.stop().await;
    let mut left = Vec::new();
    for _ in &clients {
        left.push(within("socket.disconnected", gone.recv()).await?.ok_or(Error::Closed)?);
    }
    say("world", "stopped");
    report(left);
    let mut retrying = Vec::new();
    for _ in &clients {
        retrying.push(within("disconnect", disconnected.recv()).await?.ok_or(Error::Closed)?);
    }
    retrying.sort_by_key(|id| CLIENTS.iter().position(|c| c == id));
    for id in retrying {
        say(id, "disconnected from world; will retry");
    }
    let (_, hello) = &clients[0];
    say("hello", "-> count 1, 2, 3 while world is down (queued until it is back)");
    for n in 1..=3 {
        hello.emit("count", json!({"id": "hello", "n": n}))?;
    }
    within("restart", server.start()).await??;
    say("world", "started again; both clients reconnect by themselves");
    let mut serials = Vec::new();
    for _ in &clients {
        serials.push(within("reconnect", connected.recv()).await?.ok_or(Error::Closed)?);
    }
    serials.sort();
    say("world", format!("sockets #{} and #{} connected", serials[0], serials[1]));
    for _ in 1..=3 {
        let (data, id) = within("count", counts.recv()).await?.ok_or(Error::Closed)?;
        say("world", format!("<- count {data} from id {}", id.as_deref().unwrap_or("false")));
    }
    within("flush", hello.flush()).await??;

    for (ipc, _) in &clients {
        ipc.disconnect("world");
    }
    let mut left = Vec::new();
    for _ in &clients {
        left.push(within("socket.disconnected", gone.recv()).await?.ok_or(Error::Closed)?);
    }
    report(left);
    server.stop().await;
    println!("\ndone: {} clients served, 1 broadcast, 1 restart", CLIENTS.len());
    Ok(())
}
