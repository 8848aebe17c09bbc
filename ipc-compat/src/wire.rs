//! What goes on the wire: the connection codec, outgoing frames, raw payloads.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use ipc_codec::{CodecError, ContinueOnError, Encoding, Event, JsonCodec, PartialFrameDeadline, RawCodec};
use serde::Serialize;
use tokio_util::codec::{Decoder, Encoder};

use crate::config::{BadFrame, Config};
use crate::error::Error;

/// One thing read from a connection.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A JSON event.
    Event(Event),
    /// A raw-buffer chunk.
    Chunk(Bytes),
    /// A malformed frame that the 9.x policy reports and skips.
    Bad(CodecError),
}

/// How a connection decodes: JSON events with node-ipc 9's bad-frame policy
/// (report, go on: [`ContinueOnError`]) or 14's (the stream fails and
/// closes), or raw chunks.
///
/// It also passes already-encoded frames through as bytes: a UDP endpoint's
/// sink packs them into datagrams. Stream connections write their frames
/// without it, straight from the queued buffers.
#[derive(Debug, Clone)]
pub(crate) enum WireCodec {
    /// node-ipc 9.x: a bad frame is an item, decoding goes on.
    Report(Box<ContinueOnError<JsonCodec>>),
    /// node-ipc 14.x: a bad frame fails the stream.
    Close(Box<JsonCodec>),
    /// Raw-buffer mode.
    Raw(RawCodec),
}

impl WireCodec {
    pub(crate) fn from_config(config: &Config) -> Result<WireCodec, Error> {
        if config.raw_buffer {
            return Ok(WireCodec::Raw(RawCodec::new(config.encoding)));
        }
        let json = config.json_codec()?;
        Ok(match config.on_bad_frame {
            BadFrame::Report => WireCodec::Report(Box::new(ContinueOnError::new(json))),
            BadFrame::Close => WireCodec::Close(Box::new(json)),
        })
    }
}

fn reported(item: Option<Result<Event, CodecError>>) -> Option<Inbound> {
    item.map(|r| r.map_or_else(Inbound::Bad, Inbound::Event))
}

impl Decoder for WireCodec {
    type Item = Inbound;
    type Error = CodecError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Inbound>, CodecError> {
        match self {
            WireCodec::Report(codec) => codec.decode(buf).map(reported),
            WireCodec::Close(codec) => Ok(codec.decode(buf)?.map(Inbound::Event)),
            WireCodec::Raw(raw) => Ok(raw.decode(buf)?.map(Inbound::Chunk)),
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Inbound>, CodecError> {
        match self {
            WireCodec::Report(codec) => codec.decode_eof(buf).map(reported),
            WireCodec::Close(codec) => Ok(codec.decode_eof(buf)?.map(Inbound::Event)),
            WireCodec::Raw(raw) => Ok(raw.decode_eof(buf)?.map(Inbound::Chunk)),
        }
    }
}

/// Frames already encoded by [`Outgoing`], as they are (for the UDP sink).
impl Encoder<Bytes> for WireCodec {
    type Error = CodecError;

    fn encode(&mut self, frame: Bytes, dst: &mut BytesMut) -> Result<(), CodecError> {
        dst.extend_from_slice(&frame);
        Ok(())
    }
}

impl PartialFrameDeadline for WireCodec {
    fn partial_frame_deadline(&self) -> Option<Instant> {
        match self {
            WireCodec::Report(codec) => codec.partial_frame_deadline(),
            WireCodec::Close(codec) => codec.partial_frame_deadline(),
            WireCodec::Raw(_) => None,
        }
    }
}

/// Turns emits into frames, once: a broadcast encodes each event a single
/// time, and every emit reports encoding errors at the call. Encoding only
/// reads the codec, so every connection of a server shares one, unlocked.
#[derive(Debug)]
pub(crate) struct Outgoing {
    json: Option<JsonCodec>,
    encoding: Encoding,
    /// node-ipc 9.x's data rewrite is on (applied to acknowledged events' inner data too).
    legacy_v9_data: bool,
}

impl Outgoing {
    pub(crate) fn from_config(config: &Config) -> Result<Outgoing, Error> {
        let json = if config.raw_buffer { None } else { Some(config.json_codec()?) };
        Ok(Outgoing { json, encoding: config.encoding, legacy_v9_data: config.legacy_v9_data })
    }

    /// Whether node-ipc 9.x's data rewrite is on.
    pub(crate) fn legacy_v9_data(&self) -> bool {
        self.legacy_v9_data
    }

    pub(crate) fn is_raw(&self) -> bool {
        self.json.is_none()
    }

    fn codec(&self) -> Result<&JsonCodec, Error> {
        self.json.as_ref().ok_or(Error::WrongMode { raw_buffer: true })
    }

    /// Appends `{"type":..,"data":..}` + delimiter to `dst` (a connection's
    /// queue); on error `dst` is left as it was.
    pub(crate) fn encode<T: Serialize + ?Sized>(
        &self,
        event_type: &str,
        data: &T,
        dst: &mut BytesMut,
    ) -> Result<(), Error> {
        Ok(self.codec()?.encode_data(event_type, data, dst)?)
    }

    /// Checks an event type against the rules, as encoding it would.
    pub(crate) fn check_event_type(&self, event_type: &str) -> Result<(), Error> {
        Ok(self.codec()?.rules().check_event_type(event_type)?)
    }

    /// Appends an event as it is (its data bytes unchanged; no data is written `{}`).
    pub(crate) fn encode_event(&self, event: &Event, dst: &mut BytesMut) -> Result<(), Error> {
        Ok(self.codec()?.encode_event(event, dst)?)
    }

    /// `{"type":..,"data":..}` + delimiter, as a frame of its own (broadcasts
    /// share it; UDP sends it).
    pub(crate) fn frame<T: Serialize + ?Sized>(&self, event_type: &str, data: &T) -> Result<Bytes, Error> {
        let mut buf = BytesMut::new();
        self.encode(event_type, data, &mut buf)?;
        Ok(buf.freeze())
    }

    /// An event as a frame of its own.
    pub(crate) fn event(&self, event: &Event) -> Result<Bytes, Error> {
        let mut buf = BytesMut::new();
        self.encode_event(event, &mut buf)?;
        Ok(buf.freeze())
    }

    /// Raw-buffer bytes.
    pub(crate) fn raw(&self, payload: RawPayload) -> Result<Bytes, Error> {
        if !self.is_raw() {
            return Err(Error::WrongMode { raw_buffer: false });
        }
        Ok(match payload {
            RawPayload::Bytes(b) => b,
            RawPayload::Text(s) => Bytes::from(self.encoding.encode(&s)),
        })
    }
}

/// What a raw-buffer emit sends: bytes as they are, or a string turned into
/// bytes by the configured [`encoding`](crate::Config::encoding), as node's
/// `Buffer.from(value, encoding)` does.
///
/// ```
/// use ipc_compat::RawPayload;
///
/// let bytes: RawPayload = [0x05u8, 0x6d, 0x5c].into(); // ipc.server.emit(socket, [0x05,0x6d,0x5c])
/// let text: RawPayload = "056d5c".into();               // with encoding 'hex': the same three bytes
/// assert_eq!(bytes.to_bytes(ipc_compat::Encoding::Hex), text.to_bytes(ipc_compat::Encoding::Hex));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawPayload {
    /// Bytes, sent unchanged (a node `Buffer` or array).
    Bytes(Bytes),
    /// A string, encoded with the configured encoding.
    Text(String),
}

impl RawPayload {
    /// The bytes this payload stands for under `encoding`.
    pub fn to_bytes(&self, encoding: Encoding) -> Bytes {
        match self {
            RawPayload::Bytes(b) => b.clone(),
            RawPayload::Text(s) => Bytes::from(encoding.encode(s)),
        }
    }
}

impl From<Bytes> for RawPayload {
    fn from(b: Bytes) -> RawPayload {
        RawPayload::Bytes(b)
    }
}

impl From<Vec<u8>> for RawPayload {
    fn from(b: Vec<u8>) -> RawPayload {
        RawPayload::Bytes(b.into())
    }
}

impl From<&[u8]> for RawPayload {
    fn from(b: &[u8]) -> RawPayload {
        RawPayload::Bytes(Bytes::copy_from_slice(b))
    }
}

impl<const N: usize> From<[u8; N]> for RawPayload {
    fn from(b: [u8; N]) -> RawPayload {
        RawPayload::Bytes(Bytes::copy_from_slice(&b))
    }
}

impl<const N: usize> From<&[u8; N]> for RawPayload {
    fn from(b: &[u8; N]) -> RawPayload {
        RawPayload::Bytes(Bytes::copy_from_slice(b))
    }
}

impl From<&str> for RawPayload {
    fn from(s: &str) -> RawPayload {
        RawPayload::Text(s.to_owned())
    }
}

impl From<String> for RawPayload {
    fn from(s: String) -> RawPayload {
        RawPayload::Text(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nine_x_codec_reports_and_goes_on() {
        let mut codec = WireCodec::from_config(&Config::v9()).unwrap();
        let mut buf = BytesMut::from(&b"oops\x0c{\"type\":\"a\",\"data\":1}\x0c"[..]);
        assert!(matches!(codec.decode(&mut buf), Ok(Some(Inbound::Bad(_)))));
        assert!(matches!(codec.decode(&mut buf), Ok(Some(Inbound::Event(e))) if e.event_type() == "a"));
        let mut codec = WireCodec::from_config(&Config::v14()).unwrap();
        let mut buf = BytesMut::from(&b"oops\x0c"[..]);
        assert!(codec.decode(&mut buf).is_err());
    }

    #[test]
    fn outgoing_frames_follow_the_preset() {
        let v9 = Outgoing::from_config(&Config::v9()).unwrap();
        assert_eq!(
            &v9.frame("a", &serde_json::Value::Null).unwrap()[..],
            b"{\"type\":\"a\",\"data\":{}}\x0c"
        );
        let v14 = Outgoing::from_config(&Config::v14()).unwrap();
        assert_eq!(
            &v14.frame("a", &serde_json::Value::Null).unwrap()[..],
            b"{\"type\":\"a\",\"data\":null}\x0c"
        );
        assert!(matches!(v14.raw("x".into()), Err(Error::WrongMode { raw_buffer: false })));
        let mut raw = Config::v9();
        raw.raw_buffer = true;
        raw.encoding = Encoding::Hex;
        let raw = Outgoing::from_config(&raw).unwrap();
        assert_eq!(&raw.raw("0a141e".into()).unwrap()[..], &[10, 20, 30]);
        assert!(matches!(raw.frame("a", &1), Err(Error::WrongMode { raw_buffer: true })));
    }
}
