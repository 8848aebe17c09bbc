//! Edge cases of `MsgPackCodec`: limits checked on the length prefix, recovery,
//! malformed envelopes, end of stream.

use bytes::{BufMut, BytesMut};
use ipc_codec::{CodecError, Event, MsgPackCodec, Profile};
use serde_json::json;
use tokio_util::codec::{Decoder, Encoder};

fn encoded(events: &[Event]) -> BytesMut {
    let mut codec = MsgPackCodec::default();
    let mut out = BytesMut::new();
    for e in events {
        codec.encode(e, &mut out).unwrap();
    }
    out
}

#[test]
fn oversized_length_prefix_is_rejected_before_buffering_then_skipped() {
    let mut codec = MsgPackCodec::builder().max_message_size(32).build().unwrap();
    let mut buf = encoded(&[Event::new("big", json!("x".repeat(100))), Event::new("ok", json!(1))]);
    // Only the prefix of the big frame has to be seen to reject it.
    let mut head = buf.split_to(4);
    assert!(matches!(
        codec.decode(&mut head),
        Err(CodecError::FrameTooLarge { max: 32, complete: true, .. })
    ));
    let mut results = Vec::new();
    loop {
        match codec.decode(&mut buf) {
            Ok(Some(e)) => results.push(e),
            Ok(None) => break,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(results, [Event::new("ok", json!(1))]);
}

#[test]
fn malformed_envelopes_are_typed_errors_and_recoverable() {
    let bodies: &[&[u8]] = &[
        b"\xc0",                  // nil, not an array
        b"\x93\xa1a\x01\x02",     // three items
        b"\x92\x01\x02",          // type is not a string
        b"\x92\xa5ab",            // string runs past the frame
        b"\x92\xa1a\x01\x02",     // trailing bytes
        b"\x92\xa1a\xdc\xff\xff", // data array longer than the frame
        b"\x92\xa2\xff\xfe\x01",  // type not UTF-8
    ];
    for body in bodies {
        let mut buf = BytesMut::new();
        buf.put_u32(body.len() as u32);
        buf.put_slice(body);
        buf.extend_from_slice(&encoded(&[Event::new("next", json!(true))]));
        let mut codec = MsgPackCodec::default();
        let err = codec.decode(&mut buf).unwrap_err();
        assert!(matches!(err, CodecError::InvalidMsgPack { .. }), "{body:x?}: {err:?}");
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap().event_type(), "next");
    }
}

#[test]
fn partial_frame_at_eof_is_an_error() {
    let full = encoded(&[Event::new("t", json!([1, 2, 3]))]);
    for cut in 1..full.len() {
        let mut buf = BytesMut::from(&full[..cut]);
        let mut codec = MsgPackCodec::default();
        assert!(matches!(codec.decode_eof(&mut buf), Err(CodecError::PartialFrameAtEof { .. })), "cut {cut}");
    }
    let mut empty = BytesMut::new();
    assert!(MsgPackCodec::default().decode_eof(&mut empty).unwrap().is_none());
}

#[test]
fn profiles_apply_to_msgpack_too() {
    let mut codec = MsgPackCodec::builder().profile(Profile::Guarded).build().unwrap();
    let mut buf = encoded(&[Event::new("connect", json!({})), Event::new("fine", json!({}))]);
    assert!(matches!(codec.decode(&mut buf), Err(CodecError::ReservedEvent { .. })));
    assert_eq!(codec.decode(&mut buf).unwrap().unwrap().event_type(), "fine");
    let mut out = BytesMut::new();
    assert!(codec.encode(("error", &1), &mut out).is_err());
    assert!(out.is_empty());
}

#[test]
fn structs_travel_as_maps_and_data_stays_msgpack_until_asked() {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Point<'a> {
        x: i32,
        label: &'a str,
    }
    let mut codec = MsgPackCodec::default();
    let mut buf = BytesMut::new();
    codec.encode(("p", &Point { x: 3, label: "here" }), &mut buf).unwrap();
    let event = codec.decode(&mut buf).unwrap().unwrap();
    assert_eq!(event.raw_data(), None, "not JSON");
    assert_eq!(event.data().unwrap(), json!({"x": 3, "label": "here"}));
    assert_eq!(event.data_as::<Point<'_>>().unwrap(), Point { x: 3, label: "here" });
    // Passing it on over JSON converts once.
    let mut json = BytesMut::new();
    ipc_codec::JsonCodec::default().encode(&event, &mut json).unwrap();
    assert_eq!(&json[..], b"{\"type\":\"p\",\"data\":{\"x\":3,\"label\":\"here\"}}\x0c");
}
