//! [`Killer`]: ends one connection from outside its task, with the reason.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::sync::Notify;

use crate::error::Error;

/// Ends one connection from outside its task (`destroy`, `disconnect`,
/// backpressure), with the reason to report.
#[derive(Debug, Default)]
pub(crate) struct Killer {
    fired: AtomicBool,
    reason: Mutex<Option<Error>>,
    notify: Notify,
}

impl Killer {
    /// Ends the connection; the first reason given is the one reported.
    pub(crate) fn kill(&self, reason: Option<Error>) {
        if !self.fired.swap(true, Ordering::AcqRel) {
            *self.reason.lock().unwrap_or_else(PoisonError::into_inner) = reason;
        }
        self.notify.notify_one();
    }

    /// Waits until killed; returns the reason.
    pub(crate) async fn killed(&self) -> Option<Error> {
        while !self.fired.load(Ordering::Acquire) {
            self.notify.notified().await;
        }
        self.reason.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}
