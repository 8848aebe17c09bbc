//! [`Subscription`]: a bounded stream of events, and its [`Overflow`] policy.

use std::fmt;
use std::pin::Pin;
use std::sync::Weak;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::mpsc;

use crate::handler_id::HandlerId;

/// What dispatch does when a subscription's buffer is full.
///
/// Neither policy loses an event silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Dispatch waits until the subscriber makes room (the default). The
    /// connection's reader calls [`Dispatcher::dispatch`](crate::Dispatcher::dispatch)
    /// and awaits it before it decodes the next frame, so a slow subscriber
    /// slows that connection down, down to the socket and the peer's writes.
    #[default]
    Backpressure,
    /// Dispatch does not wait: the event is not delivered to this subscription,
    /// and an [`Error::SubscriptionFull`](crate::Error::SubscriptionFull) with
    /// the event type and the peer goes to the error channel. Other handlers
    /// and subscriptions still get the event.
    Reject,
}

/// Removes a registration when its subscription is dropped.
pub(crate) trait Unregister: Send + Sync {
    fn unregister(&self, id: HandlerId);
}

/// A bounded stream of what [`Dispatcher::subscribe`](crate::Dispatcher::subscribe)
/// (items `(Event, P)`), [`subscribe_typed`](crate::Dispatcher::subscribe_typed)
/// (items `(T, P)`) or [`subscribe_lifecycle`](crate::Dispatcher::subscribe_lifecycle)
/// (items [`Lifecycle<P>`](crate::Lifecycle)) deliver.
///
/// Dropping it removes its registration. The stream ends when its registration
/// is removed otherwise ([`off`](crate::Dispatcher::off), [`off_all`](crate::Dispatcher::off_all),
/// [`clear`](crate::Dispatcher::clear)) or the dispatcher is dropped, after the
/// events already buffered.
pub struct Subscription<I> {
    rx: mpsc::Receiver<I>,
    id: HandlerId,
    capacity: usize,
    registry: Weak<dyn Unregister>,
}

impl<I> Subscription<I> {
    pub(crate) fn new(
        rx: mpsc::Receiver<I>,
        id: HandlerId,
        capacity: usize,
        registry: Weak<dyn Unregister>,
    ) -> Subscription<I> {
        Subscription { rx, id, capacity, registry }
    }

    /// The next item, or `None` once the stream has ended.
    pub async fn recv(&mut self) -> Option<I> {
        self.rx.recv().await
    }

    /// The next item if one is buffered, without waiting.
    pub fn try_recv(&mut self) -> Option<I> {
        self.rx.try_recv().ok()
    }

    /// The id of this subscription's registration (for [`Dispatcher::off`](crate::Dispatcher::off)).
    pub fn id(&self) -> HandlerId {
        self.id
    }

    /// How many items the buffer holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many items are buffered now.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether no item is buffered now.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

impl<I> Stream for Subscription<I> {
    type Item = I;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<I>> {
        self.rx.poll_recv(cx)
    }
}

impl<I> Drop for Subscription<I> {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.upgrade() {
            registry.unregister(self.id);
        }
    }
}

impl<I> fmt::Debug for Subscription<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("capacity", &self.capacity)
            .field("buffered", &self.rx.len())
            .finish()
    }
}
