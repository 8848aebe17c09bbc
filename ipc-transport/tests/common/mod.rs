//! Scenarios every stream kind must pass, and small helpers.
#![allow(dead_code, unreachable_pub)]

use std::io;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use interop::within;
use ipc_codec::{CodecError, Event, JsonCodec};
use ipc_transport::{batch_writer, framed};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

/// Each side sends `n` events through a batching writer while reading the
/// other side's `n`; both must arrive complete and in order.
pub async fn pipelined_both_ways<A, B>(a: A, b: B, n: usize)
where
    A: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    B: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let a = tokio::spawn(pump(a, "a", n));
    let b = tokio::spawn(pump(b, "b", n));
    let (got_a, got_b) = within("pipelined exchange", async { (a.await.unwrap(), b.await.unwrap()) }).await;
    assert_eq!(got_a, n, "a received");
    assert_eq!(got_b, n, "b received");
}

/// Sends `n` events tagged `me`, and checks the `n` events of the other side.
async fn pump<S>(io: S, me: &'static str, n: usize) -> usize
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (sink, mut stream) = framed(io, JsonCodec::default()).split();
    let (tx, writer) = batch_writer(sink, 256);
    let writer = tokio::spawn(writer.run());
    let producer = tokio::spawn(async move {
        for i in 0..n {
            tx.send(Event::new("seq", json!({"from": me, "i": i}))).await.expect("writer alive");
        }
    });
    let mut received = 0;
    while received < n {
        let event = stream.next().await.expect("stream ended early").expect("decode");
        assert_eq!(event.event_type(), "seq");
        let data = event.data().unwrap();
        assert_ne!(data["from"], me);
        assert_eq!(data["i"], received, "{me}: out of order");
        received += 1;
    }
    producer.await.unwrap();
    let _sink = writer.await.unwrap().expect("writer");
    received
}

/// An 8 MiB frame from `a` to `b` (many reads), echoed back.
pub async fn big_frame_round_trip<A, B>(a: A, b: B)
where
    A: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    B: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let payload: String = "0123456789abcdef".repeat(8 * 1024 * 1024 / 16);
    let mut a = framed(a, JsonCodec::default());
    let mut b = framed(b, JsonCodec::default());
    let echo = tokio::spawn(async move {
        let event = b.next().await.expect("a frame").expect("decode");
        b.send(event).await.expect("echo");
    });
    within("send 8 MiB", a.send(("big", &payload))).await.unwrap();
    let back = within("8 MiB echo", a.next()).await.expect("echo").expect("decode");
    within("echo task", echo).await.unwrap();
    assert_eq!(back.event_type(), "big");
    let data: String = back.data_as().unwrap();
    assert_eq!(data.len(), payload.len());
    assert!(data == payload, "8 MiB payload corrupted");
}

/// `a` sends, then half-closes; `b` reads to end-of-stream, answers, closes.
pub async fn half_close<A, B>(a: A, b: B)
where
    A: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    B: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let mut a = framed(a, JsonCodec::default());
    let mut b = framed(b, JsonCodec::default());
    within("a sends", ipc_transport::send_batch(&mut a, (0..3).map(|i| Event::new("q", json!(i)))))
        .await
        .unwrap();
    within("a half-closes", SinkExt::<Event>::close(&mut a)).await.unwrap();
    for i in 0..3 {
        let event = within("b reads", b.next()).await.unwrap().unwrap();
        assert_eq!(event.data().unwrap(), json!(i));
    }
    assert!(within("b sees end-of-stream", b.next()).await.is_none());
    // b can still answer after a's half-close
    within("b answers", b.send(Event::new("a", json!("after eof")))).await.unwrap();
    within("b closes", SinkExt::<Event>::close(&mut b)).await.unwrap();
    let answer = within("a reads the answer", a.next()).await.unwrap().unwrap();
    assert_eq!(answer.data().unwrap(), json!("after eof"));
    assert!(within("a sees end-of-stream", a.next()).await.is_none());
}

/// `a` dies in the middle of a frame: `b` gets a typed partial-frame error, then the end.
pub async fn abrupt_close_mid_frame<A, B>(mut a: A, b: B)
where
    A: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    B: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let mut b = framed(b, JsonCodec::default());
    within("write", a.write_all(b"{\"type\":\"whole\",\"data\":1}\x0c{\"type\":\"cut\",\"da")).await.unwrap();
    within("flush", a.flush()).await.unwrap();
    drop(a);
    let whole = within("b reads the whole frame", b.next()).await.unwrap().unwrap();
    assert_eq!(whole.event_type(), "whole");
    match within("b reads the cut frame", b.next()).await {
        Some(Err(CodecError::PartialFrameAtEof { len })) => assert_eq!(len, 17),
        // TLS without close_notify: rustls reports the truncation itself; and a
        // TLS client dropped with unread session tickets resets the connection
        Some(Err(CodecError::Io(e)))
            if matches!(e.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset) => {}
        other => panic!("expected a partial-frame error, got {other:?}"),
    }
    assert!(within("then the end", b.next()).await.is_none());
}

/// `b` goes away: `a` reads the end and its writes fail soon, never hang.
pub async fn abrupt_close_peer_gone<A, B>(a: A, b: B)
where
    A: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    B: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let mut a = framed(a, JsonCodec::default());
    drop(b);
    match within("a reads after the peer vanished", a.next()).await {
        None | Some(Err(_)) => {}
        Some(Ok(e)) => panic!("unexpected event {e:?}"),
    }
    let failed = within("a writes until it fails", async {
        for i in 0..10_000u32 {
            if let Err(e) = a.send(Event::new("into the void", json!(i))).await {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("10,000 writes to a closed peer all succeeded");
    })
    .await;
    let CodecError::Io(e) = failed else { panic!("expected an I/O error, got {failed:?}") };
    assert!(
        matches!(
            e.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
        ),
        "{e:?}"
    );
}

/// A frame with several events, read as several events.
pub fn frames(events: &[Event]) -> Vec<u8> {
    use tokio_util::codec::Encoder;
    let mut codec = JsonCodec::default();
    let mut buf = bytes::BytesMut::new();
    for e in events {
        codec.encode(e, &mut buf).unwrap();
    }
    buf.to_vec()
}
