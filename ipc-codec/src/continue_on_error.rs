//! [`ContinueOnError`]: report a bad frame as an item and go on decoding.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::error::CodecError;

/// Wraps a codec so that a bad frame is yielded as `Err` *inside* the item and
/// decoding goes on with the next frame: node-ipc 9's behaviour, which emitted
/// an `error` event and carried on.
///
/// Without the wrapper, `Framed` ends the stream at the first decode error
/// (node-ipc 14's behaviour, which closes the connection). I/O errors end the
/// stream either way.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use ipc_codec::{ContinueOnError, JsonCodec};
/// use tokio_util::codec::Decoder;
///
/// let mut codec = ContinueOnError::new(JsonCodec::default());
/// let mut wire = BytesMut::from(&b"not json\x0c{\"type\":\"ok\",\"data\":1}\x0c"[..]);
/// assert!(codec.decode(&mut wire).unwrap().unwrap().is_err());
/// assert_eq!(codec.decode(&mut wire).unwrap().unwrap().unwrap().event_type(), "ok");
/// ```
#[derive(Debug, Clone, Default)]
pub struct ContinueOnError<C> {
    inner: C,
}

impl<C> ContinueOnError<C> {
    /// Wraps `inner`.
    pub fn new(inner: C) -> ContinueOnError<C> {
        ContinueOnError { inner }
    }

    /// The wrapped codec.
    pub fn get_ref(&self) -> &C {
        &self.inner
    }

    /// The wrapped codec, mutably.
    pub fn get_mut(&mut self) -> &mut C {
        &mut self.inner
    }

    /// Unwraps the codec.
    pub fn into_inner(self) -> C {
        self.inner
    }
}

fn split<T>(result: Result<Option<T>, CodecError>) -> Result<Option<Result<T, CodecError>>, CodecError> {
    match result {
        Ok(item) => Ok(item.map(Ok)),
        Err(err) if err.is_frame_error() => Ok(Some(Err(err))),
        Err(err) => Err(err),
    }
}

impl<C: Decoder<Error = CodecError>> Decoder for ContinueOnError<C> {
    type Item = Result<C::Item, CodecError>;
    type Error = CodecError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        split(self.inner.decode(buf))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        split(self.inner.decode_eof(buf))
    }
}

impl<I, C: Encoder<I>> Encoder<I> for ContinueOnError<C> {
    type Error = C::Error;

    fn encode(&mut self, item: I, dst: &mut BytesMut) -> Result<(), C::Error> {
        self.inner.encode(item, dst)
    }
}
