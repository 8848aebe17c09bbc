//! The async benchmark server of the `ours` lane (`Framed` + `JsonCodec`,
//! through the [`Proto`] seam): one task per connection on a current-thread runtime, replies fed while more
//! input is ready and flushed once, broadcasts through a bounded queue per
//! registered client.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use futures::{Sink, Stream};
use ipc_transport::local::{LocalListener, LocalListenerOptions};
use ipc_transport::tcp::{TcpListener, TcpListenerOptions};
use ipc_transport::tls::{TlsListener, TlsServerConfig};
use ipc_transport::IpcFramed;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use super::common::{Ack, Res, Stats, Transport};
use super::proto::{Proto, Request};
use super::serve::ServeArgs;

#[derive(Default)]
struct Shared<O> {
    connections: AtomicUsize,
    registered: Mutex<Vec<mpsc::Sender<O>>>,
}

/// Serves `args` with `P` until the process is killed (or stdin closes).
pub(crate) fn serve<P: Proto>(args: &ServeArgs) -> Res<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async move {
        let shared = Arc::new(Shared::<P::Out> {
            connections: AtomicUsize::new(0),
            registered: Mutex::new(Vec::new()),
        });
        match args.transport {
            Transport::Unix => {
                let options = LocalListenerOptions::default().max_connections(0);
                let listener = LocalListener::bind_with(&args.bind, &options).await?;
                super::serve::ready(&args.bind);
                loop {
                    match listener.accept().await {
                        Ok(stream) => spawn_conn::<P, _>(stream, &shared),
                        Err(e) if e.is_connection_error() => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Transport::Tcp => {
                let options = TcpListenerOptions::default().max_connections(0);
                let listener = TcpListener::bind_with(args.bind.parse()?, &options).await?;
                super::serve::ready(listener.local_addr()?.port());
                loop {
                    match listener.accept().await {
                        Ok(stream) => spawn_conn::<P, _>(stream, &shared),
                        Err(e) if e.is_connection_error() => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Transport::Tls => {
                let tls = args.tls.as_ref().ok_or("tls needs cert= and key=")?;
                let config = TlsServerConfig::new().private(&tls.1).public(&tls.0);
                let options = TcpListenerOptions::default().max_connections(0);
                let mut listener = TlsListener::bind(args.bind.parse()?, &config, &options).await?;
                super::serve::ready(listener.local_addr()?.port());
                loop {
                    match listener.accept().await {
                        Ok(stream) => spawn_conn::<P, _>(stream, &shared),
                        Err(e) if e.is_connection_error() => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Transport::Udp => Err("the stream server does not serve udp".into()),
        }
    })
}

fn spawn_conn<P: Proto, S>(stream: S, shared: &Arc<Shared<P::Out>>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        shared.connections.fetch_add(1, Ordering::Relaxed);
        let framed = ipc_transport::framed(stream, P::codec());
        let mut conn = Conn::<P, S> {
            framed,
            rx: None,
            shared: Arc::clone(&shared),
            count: 0,
            first: None,
            dirty: false,
        };
        let result = std::future::poll_fn(|cx| conn.poll_run(cx)).await;
        if let Err(e) = result {
            eprintln!("connection ended: {e}");
        }
        shared.connections.fetch_sub(1, Ordering::Relaxed);
    });
}

struct Conn<P: Proto, S> {
    framed: IpcFramed<S, P::Codec>,
    rx: Option<mpsc::Receiver<P::Out>>,
    shared: Arc<Shared<P::Out>>,
    count: u64,
    first: Option<Instant>,
    dirty: bool,
}

impl<P: Proto, S: AsyncRead + AsyncWrite + Unpin> Conn<P, S> {
    fn send(&mut self, item: P::Out) -> Result<(), P::Error> {
        Pin::new(&mut self.framed).start_send(item)?;
        self.dirty = true;
        Ok(())
    }

    /// Reads, answers and forwards broadcasts until the peer goes away:
    /// everything ready is fed, then one flush.
    fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), P::Error>> {
        loop {
            // Room in the write buffer first (Framed flushes past its boundary here).
            match Pin::new(&mut self.framed).poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
            match Pin::new(&mut self.framed).poll_next(cx) {
                Poll::Ready(Some(Ok(item))) => {
                    self.on_request(item)?;
                    continue;
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => {}
            }
            if let Some(rx) = &mut self.rx {
                if let Poll::Ready(Some(item)) = rx.poll_recv(cx) {
                    self.send(item)?;
                    continue;
                }
            }
            if self.dirty {
                match Pin::new(&mut self.framed).poll_flush(cx) {
                    Poll::Ready(Ok(())) => self.dirty = false,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            return Poll::Pending;
        }
    }

    fn on_request(&mut self, item: P::In) -> Result<(), P::Error> {
        match P::classify(item) {
            Request::Echo(out) => self.send(out)?,
            Request::Count => {
                // One clock read per run, not per event: stream clients time
                // the run themselves, and a clock read costs as much as a decode here.
                if self.count == 0 {
                    self.first = Some(Instant::now());
                }
                self.count += 1;
            }
            Request::End => {
                let us = self.first.take().map_or(0, |first| first.elapsed().as_micros() as u64);
                let ack = Ack { count: self.count, us };
                self.count = 0;
                self.send(P::reply(super::common::ty::ACK, &ack))?;
            }
            Request::Hello => {
                if self.rx.is_none() {
                    let (tx, rx) = mpsc::channel(1024);
                    self.shared.registered.lock().expect("registry lock").push(tx);
                    self.rx = Some(rx);
                }
            }
            Request::Stats => {
                let stats = Stats {
                    connections: self.shared.connections.load(Ordering::Relaxed) as u64,
                    registered: self.shared.registered.lock().expect("registry lock").len() as u64,
                };
                self.send(P::reply(super::common::ty::STATS, &stats))?;
            }
            Request::Fanout(req) => {
                let peers = self.shared.registered.lock().expect("registry lock").clone();
                tokio::spawn(async move {
                    for seq in 0..req.count {
                        let event = P::fan(seq, req.size as usize);
                        for peer in &peers {
                            // try_send first: an await on every send spends tokio's
                            // cooperative budget and yields after ~128 sends, waking each
                            // connection for about one event (one write each).
                            if let Err(mpsc::error::TrySendError::Full(event)) = peer.try_send(event.clone())
                            {
                                let _ = peer.send(event).await;
                            }
                        }
                    }
                });
            }
            Request::Other => {}
        }
        Ok(())
    }
}
