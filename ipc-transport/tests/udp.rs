//! UDP: several frames per datagram, pipelining, replies to the source,
//! bounded per-source reassembly, raw chunks, udp4 and udp6.
#![cfg(feature = "udp")]

mod common;

use std::net::{SocketAddr, UdpSocket as StdUdp};
use std::time::Duration;

use bytes::Bytes;
use common::frames;
use futures::{SinkExt, StreamExt};
use interop::within;
use ipc_codec::{CodecError, Encoding, Event, JsonCodec, RawCodec};
use ipc_transport::udp::{UdpEndpoint, UdpOptions};
use ipc_transport::{batch_writer, Endpoint, Error};
use serde_json::json;

async fn endpoint(ip: &str) -> UdpEndpoint {
    within("bind", UdpEndpoint::bind(SocketAddr::new(ip.parse().unwrap(), 0), JsonCodec::default()))
        .await
        .unwrap()
}

async fn endpoint_with(options: UdpOptions) -> UdpEndpoint {
    within("bind", UdpEndpoint::bind_with("127.0.0.1:0".parse().unwrap(), JsonCodec::default(), options))
        .await
        .unwrap()
}

fn raw_sender(ip: &str) -> StdUdp {
    StdUdp::bind(SocketAddr::new(ip.parse().unwrap(), 0)).unwrap()
}

async fn next_event(e: &mut UdpEndpoint) -> (Event, SocketAddr) {
    within("receive", e.next()).await.expect("stream ended").expect("receive")
}

#[tokio::test]
async fn one_datagram_with_several_frames() {
    for ip in ["127.0.0.1", "::1"] {
        let mut server = endpoint(ip).await;
        let sender = raw_sender(ip);
        let events: Vec<_> = (0..3).map(|i| Event::new(format!("e{i}"), json!({"i": i}))).collect();
        sender.send_to(&frames(&events), server.local_addr().unwrap()).unwrap();
        for i in 0..3 {
            let (event, from) = next_event(&mut server).await;
            assert_eq!(from, sender.local_addr().unwrap());
            assert_eq!(event.event_type(), format!("e{i}"));
            assert_eq!(event.data().unwrap(), json!({"i": i}));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_pipelined_events_each_way() {
    for ip in ["127.0.0.1", "::1"] {
        // UDP has no flow control: give the bursts room (node's recvBufferSize)
        let opts = UdpOptions::default().recv_buffer_size(4 << 20);
        let bind = |ip: &str| {
            UdpEndpoint::bind_with(
                SocketAddr::new(ip.parse().unwrap(), 0),
                JsonCodec::default(),
                opts.clone(),
            )
        };
        let a = within("bind", bind(ip)).await.unwrap();
        let b = within("bind", bind(ip)).await.unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let a = tokio::spawn(pump(a, b_addr, "a", 10_000));
        let b = tokio::spawn(pump(b, a_addr, "b", 10_000));
        within("pipelined exchange", async {
            a.await.unwrap();
            b.await.unwrap();
        })
        .await;
    }
}

/// Sends `n` events to `peer` through the batching writer (frames packed into
/// datagrams) while checking the `n` the peer sends.
async fn pump(endpoint: UdpEndpoint, peer: SocketAddr, me: &'static str, n: usize) {
    let (sink, mut stream) = endpoint.split();
    let (tx, writer) = batch_writer(sink, 1024);
    let writer = tokio::spawn(writer.run());
    let producer = tokio::spawn(async move {
        for i in 0..n {
            tx.send((Event::new("seq", json!({"from": me, "i": i})), peer)).await.expect("writer alive");
        }
    });
    for i in 0..n {
        let (event, from) = stream.next().await.expect("stream ended").expect("receive");
        assert_eq!(from, peer);
        let data = event.data().unwrap();
        assert_eq!(
            (data["i"].as_u64(), data["from"] == me),
            (Some(i as u64), false),
            "{me}: lost or reordered"
        );
    }
    producer.await.unwrap();
    let _sink = writer.await.unwrap().expect("writer");
}

#[tokio::test]
async fn server_answers_each_source() {
    let mut server = endpoint("127.0.0.1").await;
    let mut c1 = endpoint("127.0.0.1").await;
    let mut c2 = endpoint("127.0.0.1").await;
    let to = server.local_addr().unwrap();
    within("c1 sends", c1.send((Event::new("app.message", json!({"id": "c1"})), to))).await.unwrap();
    within("c2 sends", c2.send((Event::new("app.message", json!({"id": "c2"})), to))).await.unwrap();
    for _ in 0..2 {
        let (event, from) = next_event(&mut server).await;
        let id = event.data().unwrap()["id"].clone();
        within("reply", server.send((Event::new("app.reply", json!({"to": id})), from))).await.unwrap();
    }
    assert_eq!(next_event(&mut c1).await.0.data().unwrap(), json!({"to": "c1"}));
    assert_eq!(next_event(&mut c2).await.0.data().unwrap(), json!({"to": "c2"}));
}

#[tokio::test]
async fn frame_split_across_datagrams_is_reassembled_per_source() {
    let mut server = endpoint("127.0.0.1").await;
    let to = server.local_addr().unwrap();
    let (s1, s2) = (raw_sender("127.0.0.1"), raw_sender("127.0.0.1"));
    s1.send_to(b"{\"type\":\"split\",\"da", to).unwrap();
    s2.send_to(b"{\"type\":\"whole\",\"data\":2}\x0c", to).unwrap();
    s1.send_to(b"ta\":1}\x0c{\"type\":\"after\",\"data\":3}\x0c", to).unwrap();
    let (e, from) = next_event(&mut server).await;
    assert_eq!((e.event_type(), from), ("whole", s2.local_addr().unwrap()));
    assert_eq!(server.partial_sources(), 1);
    let (e, from) = next_event(&mut server).await;
    assert_eq!((e.event_type(), e.data().unwrap(), from), ("split", json!(1), s1.local_addr().unwrap()));
    assert_eq!(next_event(&mut server).await.0.event_type(), "after");
    assert_eq!(server.partial_sources(), 0);
}

#[tokio::test]
async fn partial_state_is_bounded_by_sources() {
    let mut server = endpoint_with(UdpOptions::default().max_partial_sources(1)).await;
    let to = server.local_addr().unwrap();
    let (s1, s2) = (raw_sender("127.0.0.1"), raw_sender("127.0.0.1"));
    s1.send_to(b"{\"type\":\"one\"", to).unwrap();
    s2.send_to(b"{\"type\":\"two\"", to).unwrap();
    match within("receive", server.next()).await.unwrap() {
        Err(e @ Error::PartialFrameDropped { .. }) => {
            assert!(e.is_connection_error());
            let Error::PartialFrameDropped { from, bytes, reason } = e else { unreachable!() };
            assert_eq!((from, bytes), (s2.local_addr().unwrap(), 13));
            assert!(reason.contains("too many sources"), "{reason}");
        }
        other => panic!("expected PartialFrameDropped, got {other:?}"),
    }
    // the first source's frame is still being kept, and finishes
    s1.send_to(b"}\x0c", to).unwrap();
    assert_eq!(next_event(&mut server).await.0.event_type(), "one");
}

#[tokio::test]
async fn partial_state_is_bounded_by_bytes() {
    let mut server = endpoint_with(UdpOptions::default().max_partial_bytes(16)).await;
    let to = server.local_addr().unwrap();
    let s = raw_sender("127.0.0.1");
    s.send_to(b"{\"type\":\"too long to keep\"", to).unwrap();
    match within("receive", server.next()).await.unwrap() {
        Err(Error::PartialFrameDropped { bytes: 26, reason, .. }) => {
            assert!(reason.contains("max_partial_bytes"))
        }
        other => panic!("expected PartialFrameDropped, got {other:?}"),
    }
    assert_eq!(server.partial_sources(), 0);
}

#[tokio::test]
async fn partial_state_expires() {
    let mut server = endpoint_with(UdpOptions::default().partial_timeout(Duration::from_millis(50))).await;
    let to = server.local_addr().unwrap();
    let (s1, s2) = (raw_sender("127.0.0.1"), raw_sender("127.0.0.1"));
    s1.send_to(b"{\"type\":\"stale\"", to).unwrap();
    // let the server see it before the clock runs
    let probe = tokio::time::timeout(Duration::from_millis(20), server.next()).await;
    assert!(probe.is_err(), "nothing complete yet: {probe:?}");
    assert_eq!(server.partial_sources(), 1);
    tokio::time::sleep(Duration::from_millis(80)).await; // the timeout under test
    s2.send_to(b"{\"type\":\"fresh\",\"data\":0}\x0c", to).unwrap();
    match within("receive", server.next()).await.unwrap() {
        Err(Error::PartialFrameDropped { from, reason, .. }) => {
            assert_eq!(from, s1.local_addr().unwrap());
            assert!(reason.contains("expired"), "{reason}");
        }
        other => panic!("expected PartialFrameDropped, got {other:?}"),
    }
    assert_eq!(next_event(&mut server).await.0.event_type(), "fresh");
    // a continuation after expiry is a fresh (bad) frame, reported, and decoding goes on
    s1.send_to(b",\"data\":1}\x0c{\"type\":\"ok\"}\x0c", to).unwrap();
    assert!(matches!(within("receive", server.next()).await.unwrap(), Err(Error::Datagram { .. })));
    assert_eq!(next_event(&mut server).await.0.event_type(), "ok");
}

#[tokio::test]
async fn bad_frame_is_reported_and_the_rest_delivered() {
    let mut server = endpoint("127.0.0.1").await;
    let s = raw_sender("127.0.0.1");
    s.send_to(b"not json\x0c{\"type\":\"good\",\"data\":1}\x0c", server.local_addr().unwrap()).unwrap();
    match within("receive", server.next()).await.unwrap() {
        Err(Error::Datagram { from, source: CodecError::InvalidJson { .. } }) => {
            assert_eq!(from, s.local_addr().unwrap())
        }
        other => panic!("expected Datagram, got {other:?}"),
    }
    assert_eq!(next_event(&mut server).await.0.event_type(), "good");
}

#[tokio::test]
async fn raw_mode_delivers_one_datagram_as_one_chunk() {
    let opts = UdpOptions::default().pack_frames(false);
    let codec = RawCodec::new(Encoding::Utf8);
    let mut a = within("bind", UdpEndpoint::bind_with("127.0.0.1:0".parse().unwrap(), codec, opts.clone()))
        .await
        .unwrap();
    let mut b =
        within("bind", UdpEndpoint::bind_with("127.0.0.1:0".parse().unwrap(), codec, opts)).await.unwrap();
    let to = b.local_addr().unwrap();
    let chunks = [Bytes::from_static(b"first\x0cwith a delimiter"), Bytes::from_static(b"second")];
    within("send", a.send_all(&mut futures::stream::iter(chunks.clone().map(|c| Ok((c, to))))))
        .await
        .unwrap();
    for chunk in chunks {
        let (got, from) = within("receive", b.next()).await.unwrap().unwrap();
        assert_eq!((got, from), (chunk, a.local_addr().unwrap()));
    }
}

#[tokio::test]
async fn oversized_event_is_refused() {
    let mut a = endpoint_with(UdpOptions::default().max_datagram(64)).await;
    let to = a.local_addr().unwrap();
    match a.send((Event::new("big", json!("x".repeat(100))), to)).await {
        Err(Error::DatagramTooLarge { len, max: 64 }) => assert!(len > 100),
        other => panic!("expected DatagramTooLarge, got {other:?}"),
    }
    // the endpoint still works
    within("send small", a.send((Event::new("small", json!(1)), to))).await.unwrap();
    assert_eq!(next_event(&mut a).await.0.event_type(), "small");
}

#[tokio::test]
async fn endpoints_bind_by_family() {
    let v4: Endpoint = "udp4://localhost:0".parse().unwrap();
    let e4 = within("bind udp4", UdpEndpoint::bind_endpoint(&v4, JsonCodec::default(), Default::default()))
        .await
        .unwrap();
    assert!(e4.local_addr().unwrap().is_ipv4());
    let v6: Endpoint = "udp6://[::1]:0".parse().unwrap();
    let e6 = within("bind udp6", UdpEndpoint::bind_endpoint(&v6, JsonCodec::default(), Default::default()))
        .await
        .unwrap();
    assert!(e6.local_addr().unwrap().is_ipv6());
    assert!(matches!(
        UdpEndpoint::bind_endpoint(&Endpoint::tcp("127.0.0.1", 0), JsonCodec::default(), Default::default())
            .await,
        Err(Error::UnsupportedEndpoint { .. })
    ));
}
