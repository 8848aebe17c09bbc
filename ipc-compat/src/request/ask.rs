//! Asking: send a request, wait for its reply until the deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use ipc_codec::Event;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{Answer, Channel, Requests, REQUEST_EVENT};
use crate::error::Error;

/// A request's data on the wire.
#[derive(Serialize)]
struct Request<'a, T: ?Sized> {
    rid: u64,
    #[serde(rename = "type")]
    event_type: &'a str,
    data: &'a T,
}

/// Waits for one request's answer; leaves the table when dropped, whatever
/// happened (answered, timed out, cancelled).
struct Waiter<'a> {
    requests: &'a Requests,
    rid: u64,
    rx: oneshot::Receiver<Answer>,
}

impl Future for Waiter<'_> {
    type Output = Answer;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Answer> {
        Pin::new(&mut self.rx).poll(cx).map(|answer| answer.unwrap_or(Answer::Lost))
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.requests.forget(self.rid);
    }
}

/// Sends a request of type `event_type` to `channel` now, and returns the
/// future of its reply: the reply's `ok` as an event of type `event_type`, or
/// the typed error. The deadline runs from this call.
pub(crate) fn ask<'a, C: Channel, T: Serialize + ?Sized>(
    channel: &'a C,
    event_type: &'a str,
    data: &T,
    timeout: Duration,
) -> impl Future<Output = Result<Event, Error>> + Send + 'a {
    let deadline = Instant::now() + timeout;
    let sent = send(channel, event_type, data);
    async move {
        let waiter = sent?;
        match tokio::time::timeout_at(deadline, waiter).await {
            Ok(Answer::Reply(reply)) => outcome(&reply, event_type),
            Ok(Answer::Lost) => Err(Error::Disconnected { event_type: event_type.to_owned() }),
            Err(_elapsed) => Err(Error::Timeout { event_type: event_type.to_owned(), after: timeout }),
        }
    }
}

/// [`ask`], with the reply's `ok` deserialized into `R`.
pub(crate) fn ask_typed<'a, C: Channel, T: Serialize + ?Sized, R: DeserializeOwned>(
    channel: &'a C,
    event_type: &'a str,
    data: &T,
    timeout: Duration,
) -> impl Future<Output = Result<R, Error>> + Send + 'a {
    let asked = ask(channel, event_type, data, timeout);
    async move { Ok(asked.await?.data_as::<R>()?) }
}

fn send<'a, C: Channel, T: Serialize + ?Sized>(
    channel: &'a C,
    event_type: &str,
    data: &T,
) -> Result<Waiter<'a>, Error> {
    channel.check_type(event_type)?;
    let requests = channel.requests();
    let (rid, rx) = requests.register();
    // made before sending: a send that fails takes the entry back out
    let waiter = Waiter { requests, rid, rx };
    channel.send(REQUEST_EVENT, &Request { rid, event_type, data })?;
    Ok(waiter)
}

/// What a reply says: an `error` member makes it a failure, whatever else it holds.
fn outcome(reply: &Event, event_type: &str) -> Result<Event, Error> {
    if let Some(error) = reply.raw_data_member("error") {
        return Err(Error::Remote { event_type: event_type.to_owned(), message: error_message(error) });
    }
    // no `ok` (JavaScript's undefined): an event without data
    Ok(reply.member_event("ok", event_type).unwrap_or_else(|| Event::without_data(event_type)))
}

/// The `message` of `{"message": ..}`; a peer that sent something else gets its text shown.
fn error_message(raw: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Body {
        message: String,
    }
    if let Ok(Body { message }) = serde_json::from_slice(raw) {
        return message;
    }
    if let Ok(text) = serde_json::from_slice::<String>(raw) {
        return text;
    }
    String::from_utf8_lossy(raw).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replies_read_as_values_or_typed_remote_errors() {
        let ok = outcome(&Event::new("ipc.reply", json!({"rid": 1, "ok": {"sum": 3}})), "sum").unwrap();
        assert_eq!((ok.event_type(), ok.data().unwrap()), ("sum", json!({"sum": 3})));
        let undefined = outcome(&Event::new("ipc.reply", json!({"rid": 1})), "sum").unwrap();
        assert!(!undefined.has_data());
        for (error, message) in [
            (json!({"message": "boom"}), "boom"),
            (json!("plain"), "plain"),
            (json!({"code": 7}), r#"{"code":7}"#),
            (json!(null), "null"),
        ] {
            let failed = outcome(&Event::new("ipc.reply", json!({"rid": 1, "ok": 1, "error": error})), "sum");
            assert!(
                matches!(&failed, Err(Error::Remote { event_type, message: m }) if event_type == "sum" && m == message),
                "{failed:?}"
            );
        }
    }
}
