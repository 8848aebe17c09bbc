//! Bounded awaits for async tests: [`within`] fails a test that would hang.

use std::future::{Future, IntoFuture};
use std::panic::Location;
use std::time::Duration;

/// How long [`within`] lets one awaited step of a test take (the longest any
/// of the per-crate copies it replaced allowed: a debug build on a busy machine
/// is slow, and only a hang should ever reach it).
pub const STEP_LIMIT: Duration = Duration::from_secs(30);

/// Awaits `fut` for at most [`STEP_LIMIT`]; past that, panics (failing the
/// test) with `what` and the caller's file and line.
///
/// Needs a tokio runtime with its time driver (`#[tokio::test]` has one).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use interop::within;
///
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// tx.send(7).unwrap();
/// assert_eq!(within("the answer", rx).await.unwrap(), 7);
/// # }
/// ```
#[track_caller]
pub fn within<F: IntoFuture>(what: &str, fut: F) -> impl Future<Output = F::Output> {
    within_for(STEP_LIMIT, what, fut)
}

/// Like [`within`], with a limit of the caller's choosing.
#[track_caller]
pub fn within_for<F: IntoFuture>(limit: Duration, what: &str, fut: F) -> impl Future<Output = F::Output> {
    let at = Location::caller();
    let what = what.to_owned();
    async move {
        match tokio::time::timeout(limit, fut).await {
            Ok(output) => output,
            Err(_) => panic!("timed out after {limit:?} waiting for {what} (at {at})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_hang_names_what_and_where() {
        let hang = tokio::spawn(within_for(Duration::from_secs(1), "nothing", std::future::pending::<()>()));
        let panic = hang.await.unwrap_err().into_panic();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.starts_with("timed out after 1s waiting for nothing (at "), "{message}");
        assert!(message.contains(file!()), "{message}");
    }

    #[tokio::test]
    async fn a_ready_future_passes_through() {
        assert_eq!(within("a ready value", async { 5 }).await, 5);
    }
}
