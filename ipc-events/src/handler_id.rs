//! [`HandlerId`]: the name of one registration, shared by the dispatcher and
//! the subscriptions it hands out.

/// Identifies one registration (handler or subscription), for [`Dispatcher::off`](crate::Dispatcher::off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HandlerId(pub(crate) u64);
