//! Answering: the handlers of request types (one per type), and the task
//! each request runs in.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};

use futures::FutureExt;
use ipc_codec::{CodecError, Event};
use ipc_events::{Dispatcher, Lifecycle};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::OwnedSemaphorePermit;

use super::{Channel, REPLY_EVENT, REQUEST_EVENT};
use crate::error::Error;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A request handler, type-erased: given the request (an event of the
/// request's type), the peer and where the reply goes, the future that
/// answers it, reply sent (or the error sending it met).
pub(crate) type Respond<P> = dyn Fn(Event, P, Reply) -> BoxFuture<Result<(), Error>> + Send + Sync;

/// Where one reply goes: the request's `rid`, as the peer wrote it, on the
/// connection the request came on.
pub(crate) struct Reply {
    rid: Box<RawValue>,
    connection: u64,
}

#[derive(Serialize)]
struct Success<'a, T: ?Sized> {
    rid: &'a RawValue,
    ok: &'a T,
}

#[derive(Serialize)]
struct Failure<'a> {
    rid: &'a RawValue,
    error: Message<'a>,
}

#[derive(Serialize)]
struct Message<'a> {
    message: &'a str,
}

impl Reply {
    /// Replies with `value`; a value that cannot be sent (it does not
    /// serialize, or the frame is too large) becomes an error reply saying so.
    fn ok<P: Channel, T: Serialize + ?Sized>(&self, peer: &P, value: &T) -> Result<(), Error> {
        if peer.connection() != self.connection {
            return Ok(()); // that connection is gone, and the asker with it
        }
        match peer.send(REPLY_EVENT, &Success { rid: &self.rid, ok: value }) {
            Err(Error::Codec(e)) => self.error(peer, &format!("the reply could not be sent: {e}")),
            sent => sent,
        }
    }

    /// Replies with an error carrying `message`.
    fn error<P: Channel>(&self, peer: &P, message: &str) -> Result<(), Error> {
        if peer.connection() != self.connection {
            return Ok(());
        }
        peer.send(REPLY_EVENT, &Failure { rid: &self.rid, error: Message { message } })
    }
}

/// Erases a handler whose future gives the reply's value or an error.
pub(crate) fn respond<P, F, Fut, T, E>(handler: F) -> Arc<Respond<P>>
where
    P: Channel,
    F: Fn(Event, P) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Serialize,
    E: Display,
{
    Arc::new(move |request, peer: P, reply: Reply| {
        // a handler that panics, building its future or running it, still gets its request answered
        let handled = std::panic::catch_unwind(AssertUnwindSafe(|| handler(request, peer.clone())))
            .map(|future| AssertUnwindSafe(future).catch_unwind());
        Box::pin(async move {
            match handled {
                Ok(future) => match future.await {
                    Ok(Ok(value)) => reply.ok(&peer, &value),
                    Ok(Err(error)) => reply.error(&peer, &error.to_string()),
                    Err(_panic) => reply.error(&peer, "the request handler panicked"),
                },
                Err(_panic) => reply.error(&peer, "the request handler panicked"),
            }
        })
    })
}

/// Erases a typed handler: the request's data deserialized into `R` first;
/// data that does not fit is an error reply, and the handler does not run.
pub(crate) fn respond_typed<P, R, F, Fut, T, E>(handler: F) -> Arc<Respond<P>>
where
    P: Channel,
    R: DeserializeOwned,
    F: Fn(R, P) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Serialize,
    E: Display,
{
    respond(move |request: Event, peer: P| {
        let handled = request.data_as::<R>().map(|data| handler(data, peer));
        async move {
            match handled {
                Ok(future) => future.await.map_err(|e| e.to_string()),
                Err(e) => Err(format!("the request's data does not fit: {e}")),
            }
        }
    })
}

/// The request handlers of a server or a client, by request type.
pub(crate) struct Responders<P> {
    table: RwLock<HashMap<Box<str>, Arc<Respond<P>>>>,
}

impl<P> Default for Responders<P> {
    fn default() -> Self {
        Responders { table: RwLock::new(HashMap::new()) }
    }
}

impl<P> std::fmt::Debug for Responders<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let table = self.table.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_set().entries(table.keys()).finish()
    }
}

impl<P: Channel> Responders<P> {
    /// Sets the handler of `request_type`; whether it replaced one.
    pub(crate) fn insert(&self, request_type: &str, respond: Arc<Respond<P>>) -> bool {
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        table.insert(request_type.into(), respond).is_some()
    }

    /// Removes the handler of `request_type`; whether there was one.
    pub(crate) fn remove(&self, request_type: &str) -> bool {
        self.table.write().unwrap_or_else(PoisonError::into_inner).remove(request_type).is_some()
    }

    /// Removes every handler.
    pub(crate) fn clear(&self) {
        self.table.write().unwrap_or_else(PoisonError::into_inner).clear();
    }

    fn get(&self, request_type: &str) -> Option<Arc<Respond<P>>> {
        self.table.read().unwrap_or_else(PoisonError::into_inner).get(request_type).cloned()
    }

    /// Answers one request from `peer` in a task of its own. Returns a future
    /// for the reader to await only when something must wait: the connection
    /// already runs `max` requests (the reader then reads nothing more until
    /// one ends), or a malformed request is reported on the `error` channel.
    pub(crate) fn answer(
        &self,
        request: &Event,
        peer: &P,
        events: &Dispatcher<P>,
        max: usize,
    ) -> Option<BoxFuture<()>> {
        let rid =
            request.raw_data_member("rid").and_then(|raw| serde_json::from_slice::<Box<RawValue>>(raw).ok());
        let Some(rid) = rid else {
            // nowhere to send a reply: tell the application instead
            let error = CodecError::Data(format!("{REQUEST_EVENT} without a rid: not answered"));
            return Some(report(events.clone(), peer.clone(), error.into()));
        };
        let reply = Reply { rid, connection: peer.connection() };
        let request_type =
            request.raw_data_member("type").and_then(|raw| serde_json::from_slice::<String>(raw).ok());
        let Some(request_type) = request_type else {
            return refuse(&reply, peer, events, "a request needs a string type");
        };
        if let Err(e) = peer.check_type(&request_type) {
            return refuse(&reply, peer, events, &e.to_string());
        }
        let Some(respond) = self.get(&request_type) else {
            return refuse(&reply, peer, events, &format!("no handler for request {request_type:?}"));
        };
        let request =
            request.member_event("data", &request_type).unwrap_or_else(|| Event::without_data(&request_type));
        let slots = peer.requests().answering(max).clone();
        let task = Task { respond, request, peer: peer.clone(), reply, events: events.clone() };
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                task.spawn(permit);
                None
            }
            Err(_) => Some(Box::pin(async move {
                if let Ok(permit) = slots.acquire_owned().await {
                    task.spawn(permit);
                }
            })),
        }
    }
}

/// One request to answer.
struct Task<P> {
    respond: Arc<Respond<P>>,
    request: Event,
    peer: P,
    reply: Reply,
    events: Dispatcher<P>,
}

impl<P: Channel> Task<P> {
    fn spawn(self, permit: OwnedSemaphorePermit) {
        let Task { respond, request, peer, reply, events } = self;
        tokio::spawn(async move {
            let sent = respond(request, peer.clone(), reply).await;
            drop(permit);
            if let Err(error) = sent {
                report_failed_reply(&events, peer, error).await;
            }
        });
    }
}

/// An error reply sent at once (no handler runs).
fn refuse<P: Channel>(
    reply: &Reply,
    peer: &P,
    events: &Dispatcher<P>,
    message: &str,
) -> Option<BoxFuture<()>> {
    match reply.error(peer, message) {
        Ok(()) => None,
        Err(error) => {
            let (events, peer) = (events.clone(), peer.clone());
            Some(Box::pin(async move { report_failed_reply(&events, peer, error).await }))
        }
    }
}

/// A reply that could not be sent goes to the `error` channel, unless the
/// connection itself is what failed (closed, over `maxPendingBytes`, a full
/// offline queue): that is reported once, by the connection.
async fn report_failed_reply<P: Channel>(events: &Dispatcher<P>, peer: P, error: Error) {
    if !matches!(
        error,
        Error::Closed | Error::Destroyed { .. } | Error::Backpressure { .. } | Error::QueueFull { .. }
    ) {
        events.emit_lifecycle(Lifecycle::error(Some(peer), error)).await;
    }
}

fn report<P: Channel>(events: Dispatcher<P>, peer: P, error: Error) -> BoxFuture<()> {
    Box::pin(async move {
        events.emit_lifecycle(Lifecycle::error(Some(peer), error)).await;
    })
}
