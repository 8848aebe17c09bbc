//! Typed handlers: the event's data deserialized into the handler's `T`,
//! straight from the frame's JSON bytes, with data that does not fit sent to
//! the error channel.

use std::future::Future;

use ipc_codec::Event;
use serde::de::DeserializeOwned;

use super::handle::Dispatcher;
use super::table::{AsyncFn, BoxFuture, HandlerId, SyncFn, WireCall};
use crate::Error;

/// The data of `event` as `T`, or the [`Error::Decode`] that goes to the error channel.
pub(super) fn decode<T: DeserializeOwned>(event: &Event) -> Result<T, Error> {
    event.data_as::<T>().map_err(|source| Error::Decode { event_type: event.event_type().to_owned(), source })
}

impl<P: Clone + Send + Sync + 'static> Dispatcher<P> {
    /// Runs `handler` with the event's data deserialized into `T`, straight
    /// from the frame's JSON bytes (missing data reads as `null`).
    ///
    /// Data that does not fit `T` goes to the error channel as
    /// [`Error::Decode`] (with the event type, the peer and the serde error);
    /// the handler does not run, the other handlers do.
    ///
    /// # Examples
    ///
    /// ```
    /// use ipc_codec::Event;
    /// use ipc_events::{Dispatcher, Error, Lifecycle};
    /// use serde_json::json;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let dispatcher = Dispatcher::<&'static str>::new();
    /// dispatcher.on_typed("sum", |numbers: Vec<i64>, peer| {
    ///     println!("{peer}: {}", numbers.iter().sum::<i64>());
    /// });
    /// let mut errors = dispatcher.subscribe_lifecycle(8);
    ///
    /// let ok = dispatcher.dispatch(&Event::new("sum", json!([1, 2, 3])), &"a").await;
    /// assert_eq!(ok.delivered(), 1);
    /// let bad = dispatcher.dispatch(&Event::new("sum", json!("four")), &"b").await;
    /// assert_eq!(bad.failed(), 1);
    /// match errors.recv().await.unwrap() {
    ///     Lifecycle::Error { peer, error } => {
    ///         assert_eq!(peer, Some("b"));
    ///         assert!(matches!(&*error, Error::Decode { event_type, .. } if event_type == "sum"));
    ///     }
    ///     other => panic!("unexpected {other:?}"),
    /// }
    /// # }
    /// ```
    pub fn on_typed<T, F>(&self, event_type: &str, handler: F) -> HandlerId
    where
        T: DeserializeOwned,
        F: Fn(T, &P) + Send + Sync + 'static,
    {
        self.register_typed(event_type, false, handler)
    }

    /// Like [`on_typed`](Dispatcher::on_typed), for the next matching event
    /// only. The handler is removed before its data is decoded: data that does
    /// not fit still uses it up.
    pub fn once_typed<T, F>(&self, event_type: &str, handler: F) -> HandlerId
    where
        T: DeserializeOwned,
        F: Fn(T, &P) + Send + Sync + 'static,
    {
        self.register_typed(event_type, true, handler)
    }

    fn register_typed<T, F>(&self, event_type: &str, once: bool, handler: F) -> HandlerId
    where
        T: DeserializeOwned,
        F: Fn(T, &P) + Send + Sync + 'static,
    {
        let call: Box<SyncFn<P>> = Box::new(move |event, peer| {
            handler(decode::<T>(event)?, peer);
            Ok(())
        });
        self.shared.insert_wire(event_type, once, WireCall::Sync(call))
    }

    /// The async form of [`on_typed`](Dispatcher::on_typed): the data is
    /// decoded into `T` before the handler is called; data that does not fit
    /// goes to the error channel and the handler is not called.
    pub fn on_typed_async<T, F, Fut>(&self, event_type: &str, handler: F) -> HandlerId
    where
        T: DeserializeOwned,
        F: Fn(T, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.register_typed_async(event_type, false, handler)
    }

    /// Like [`on_typed_async`](Dispatcher::on_typed_async), for the next matching event only.
    pub fn once_typed_async<T, F, Fut>(&self, event_type: &str, handler: F) -> HandlerId
    where
        T: DeserializeOwned,
        F: Fn(T, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.register_typed_async(event_type, true, handler)
    }

    fn register_typed_async<T, F, Fut>(&self, event_type: &str, once: bool, handler: F) -> HandlerId
    where
        T: DeserializeOwned,
        F: Fn(T, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let call: Box<AsyncFn<P>> = Box::new(move |event, peer| {
            let data = decode::<T>(event)?;
            Ok(Box::pin(handler(data, peer.clone())) as BoxFuture)
        });
        self.shared.insert_wire(event_type, once, WireCall::Async(call))
    }
}
