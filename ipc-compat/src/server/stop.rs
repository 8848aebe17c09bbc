//! A graceful stop: [`Server::stop_within`].

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::Server;
use crate::core::{Outbox, Queue};
use crate::error::Error;
use crate::log::log;

impl Server {
    /// Stops serving after delivering what is queued, for at most
    /// `deadline`: the graceful counterpart of [`stop`](Server::stop).
    ///
    /// The listener closes at once (no new connections). Every connection is
    /// ended as [`Socket::end`](crate::Socket::end) ends it: emits to it fail
    /// from this call on, what was queued for it is written, then it is
    /// half-closed and closes once the client closed its side too (node-ipc
    /// clients do at once), raising `close` and `socket.disconnected`. A UDP
    /// server sends its queued datagrams. Returns when every connection is
    /// closed, or at the deadline, when what is left is dropped and the
    /// connections closed as [`stop`](Server::stop) closes them. Requests
    /// still waiting for a reply fail with [`Error::Disconnected`]. Does
    /// nothing when not running.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ipc_compat::Error> {
    /// use std::time::Duration;
    /// use futures::StreamExt;
    /// use ipc_compat::{Config, Ipc};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("app.world");
    /// let mut config = Config::default();
    /// config.silent = true;
    /// let server = Ipc::new(config.clone()).serve(Some(&path))?;
    /// server.start().await?;
    ///
    /// let client = Ipc::new(config).connect_to("world", Some(&path))?;
    /// let mut ticks = client.subscribe("tick", 10_000);
    /// client.connected().await?;
    /// while server.sockets().is_empty() {
    ///     tokio::task::yield_now().await;
    /// }
    /// for n in 0..10_000 {
    ///     server.broadcast("tick", n)?;
    /// }
    /// server.stop_within(Duration::from_secs(5)).await?; // every tick written, then closed
    /// for n in 0..10_000 {
    ///     assert_eq!(ticks.next().await.unwrap().0.data_as::<u32>()?, n);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Undelivered`] with how many events (for how many
    /// connections) were not written: the deadline passed first, or a
    /// connection broke.
    pub async fn stop_within(&self, deadline: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + deadline;
        let Some(mut running) = self.lock_run().take() else { return Ok(()) };
        let mut task = running.task.take();
        // connections accepted from now on are ended as they come (streams.rs)
        self.inner.draining.store(true, Ordering::SeqCst);
        let _ = running.drain.send(true);
        let sockets = self.sockets();
        let mut streams = Vec::with_capacity(sockets.len());
        for socket in &sockets {
            socket.end();
            streams.extend(socket.outbox().map(Queued::of));
        }
        let datagrams = running.udp.as_deref().map(|udp| {
            udp.close(false);
            Queued::of(udp)
        });
        // the task ends once the listener is closed and every connection it
        // accepted is closed (UDP: once its queue is sent)
        let mut closed = match task.as_mut() {
            Some(task) => tokio::time::timeout_at(deadline, task).await.is_ok(),
            None => true,
        };
        // connections given to serve_connection are not the task's: wait until theirs are written
        for queue in &streams {
            closed = closed && tokio::time::timeout_at(deadline, queue.written()).await.is_ok();
        }
        let _ = running.shutdown.send(true);
        if let (Some(task), false) = (task, closed) {
            let _ = task.await;
        }
        log(&running.config, || "server stopped".to_owned());
        let lost: Vec<u64> = streams
            .iter()
            .map(Queued::lost)
            .chain(datagrams.iter().map(Queued::lost))
            .filter(|&n| n > 0)
            .collect();
        match lost.iter().sum() {
            0 => Ok(()),
            events => Err(Error::Undelivered { events, connections: lost.len() }),
        }
    }
}

/// The frames one queue held when the stop began.
struct Queued<'a, Q> {
    outbox: &'a Outbox<Q>,
    from: u64,
    to: u64,
}

impl<'a, Q: Queue> Queued<'a, Q> {
    fn of(outbox: &'a Outbox<Q>) -> Queued<'a, Q> {
        let (from, to) = outbox.progress();
        Queued { outbox, from, to }
    }

    async fn written(&self) {
        self.outbox.finished(self.to).await;
    }

    fn lost(&self) -> u64 {
        self.outbox.lost_in(self.from, self.to)
    }
}
