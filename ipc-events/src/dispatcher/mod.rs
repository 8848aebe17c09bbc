//! [`Dispatcher`]: handlers by event type, wildcard, once/off, typed handlers,
//! subscriptions, and the lifecycle channel.
//!
//! - `table`: the registrations and their copy-on-write lists, and the
//!   concurrency rules for changing them while dispatches run;
//! - `handle`: the [`Dispatcher`] type, plain and async handlers, removal;
//! - `typed`: handlers that get the event's data deserialized;
//! - `subscribe`: registrations that feed a [`Subscription`](crate::Subscription);
//! - `dispatch`: the [`Dispatch`] future and lifecycle emission.

mod dispatch;
mod handle;
mod subscribe;
mod table;
mod typed;

pub use dispatch::{Dispatch, Dispatched};
pub use handle::{Dispatcher, WeakDispatcher};
pub use table::WILDCARD;
