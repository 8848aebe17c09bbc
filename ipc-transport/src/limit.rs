//! node-ipc's `maxConnections`, enforced at accept.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// How many connections a listener keeps open; 0 means no limit (as in node).
#[derive(Debug, Clone)]
pub(crate) struct ConnectionLimit {
    max: usize,
    open: Arc<AtomicUsize>,
}

impl ConnectionLimit {
    pub(crate) fn new(max: usize) -> ConnectionLimit {
        ConnectionLimit { max, open: Arc::new(AtomicUsize::new(0)) }
    }

    /// Takes a slot for a new connection, or returns the maximum when all are taken.
    pub(crate) fn try_acquire(&self) -> Result<ConnectionSlot, usize> {
        let mut current = self.open.load(Ordering::Relaxed);
        loop {
            if self.max > 0 && current >= self.max {
                return Err(self.max);
            }
            match self.open.compare_exchange_weak(current, current + 1, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Ok(ConnectionSlot(Some(self.open.clone()))),
                Err(now) => current = now,
            }
        }
    }

    /// Connections now holding a slot.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }
}

/// Held by an accepted connection; frees its slot when dropped.
#[derive(Debug)]
pub(crate) struct ConnectionSlot(Option<Arc<AtomicUsize>>);

impl ConnectionSlot {
    /// The slot of a connection no listener counts (a client's).
    pub(crate) fn none() -> ConnectionSlot {
        ConnectionSlot(None)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Some(open) = &self.0 {
            open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_come_back_when_dropped() {
        let limit = ConnectionLimit::new(2);
        let a = limit.try_acquire().unwrap();
        let _b = limit.try_acquire().unwrap();
        assert_eq!(limit.open(), 2);
        assert_eq!(limit.try_acquire().unwrap_err(), 2);
        drop(a);
        assert_eq!(limit.open(), 1);
        assert!(limit.try_acquire().is_ok());
        let unlimited = ConnectionLimit::new(0);
        let _c = unlimited.try_acquire().unwrap();
        assert_eq!(unlimited.open(), 1);
    }
}
