//! Subscriptions: registrations that feed a bounded [`Subscription`] stream
//! instead of calling a handler, and remove themselves when it is dropped.

use std::sync::{Arc, Weak};

use ipc_codec::Event;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::handle::Dispatcher;
use super::table::{BoxFuture, LifecycleCall, Shared, WireCall};
use super::typed::decode;
use crate::subscription::Unregister;
use crate::{Error, Lifecycle, Overflow, Subscription};

fn check_capacity(capacity: usize) {
    assert!(capacity > 0, "a subscription's capacity must be at least 1");
}

impl<P: Clone + Send + Sync + 'static> Dispatcher<P> {
    /// A bounded stream of the events of type `event_type` (`"*"`: every
    /// event), each with its peer, with [`Overflow::Backpressure`]: when
    /// `capacity` events wait, dispatch waits for the subscriber.
    ///
    /// # Panics
    ///
    /// When `capacity` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    /// use ipc_codec::Event;
    /// use ipc_events::Dispatcher;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let dispatcher = Dispatcher::<u8>::new();
    /// let mut messages = dispatcher.subscribe("message", 16);
    /// dispatcher.dispatch(&Event::without_data("message"), &3).await;
    /// let (event, peer) = messages.next().await.unwrap();
    /// assert_eq!((event.event_type(), peer), ("message", 3));
    /// # }
    /// ```
    pub fn subscribe(&self, event_type: &str, capacity: usize) -> Subscription<(Event, P)> {
        self.subscribe_with(event_type, capacity, Overflow::Backpressure)
    }

    /// Like [`subscribe`](Dispatcher::subscribe), with the given overflow policy.
    ///
    /// # Panics
    ///
    /// When `capacity` is 0.
    pub fn subscribe_with(
        &self,
        event_type: &str,
        capacity: usize,
        overflow: Overflow,
    ) -> Subscription<(Event, P)> {
        check_capacity(capacity);
        let (tx, rx) = mpsc::channel(capacity);
        let id = self.shared.insert_wire(event_type, false, WireCall::Channel { tx, overflow, capacity });
        Subscription::new(rx, id, capacity, self.unregister_handle())
    }

    /// A bounded stream of the data of events of type `event_type`,
    /// deserialized into `T` at dispatch, each with its peer, with
    /// [`Overflow::Backpressure`]. Data that does not fit `T` goes to the error
    /// channel, as for [`on_typed`](Dispatcher::on_typed).
    ///
    /// # Panics
    ///
    /// When `capacity` is 0.
    pub fn subscribe_typed<T>(&self, event_type: &str, capacity: usize) -> Subscription<(T, P)>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.subscribe_typed_with(event_type, capacity, Overflow::Backpressure)
    }

    /// Like [`subscribe_typed`](Dispatcher::subscribe_typed), with the given overflow policy.
    ///
    /// # Panics
    ///
    /// When `capacity` is 0.
    pub fn subscribe_typed_with<T>(
        &self,
        event_type: &str,
        capacity: usize,
        overflow: Overflow,
    ) -> Subscription<(T, P)>
    where
        T: DeserializeOwned + Send + 'static,
    {
        check_capacity(capacity);
        let (tx, rx) = mpsc::channel::<(T, P)>(capacity);
        let call = match overflow {
            Overflow::Backpressure => WireCall::Async(Box::new(move |event: &Event, peer: &P| {
                let item = (decode::<T>(event)?, peer.clone());
                let tx = tx.clone();
                Ok(Box::pin(async move {
                    // A closed channel means the subscription is being dropped,
                    // which unregisters it.
                    let _ = tx.send(item).await;
                }) as BoxFuture)
            })),
            Overflow::Reject => WireCall::Sync(Box::new(move |event: &Event, peer: &P| {
                let item = (decode::<T>(event)?, peer.clone());
                match tx.try_send(item) {
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        Err(Error::SubscriptionFull { event_type: event.event_type().to_owned(), capacity })
                    }
                    Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => Ok(()),
                }
            })),
        };
        let id = self.shared.insert_wire(event_type, false, call);
        Subscription::new(rx, id, capacity, self.unregister_handle())
    }

    /// A bounded stream of [`Lifecycle`] events, always with
    /// [`Overflow::Backpressure`]: the error channel itself cannot report an
    /// overflow.
    ///
    /// # Panics
    ///
    /// When `capacity` is 0.
    pub fn subscribe_lifecycle(&self, capacity: usize) -> Subscription<Lifecycle<P>> {
        check_capacity(capacity);
        let (tx, rx) = mpsc::channel(capacity);
        let id = self.shared.insert_lifecycle(LifecycleCall::Channel(tx));
        Subscription::new(rx, id, capacity, self.unregister_handle())
    }

    fn unregister_handle(&self) -> Weak<dyn Unregister> {
        let weak: Weak<Shared<P>> = Arc::downgrade(&self.shared);
        weak
    }
}
