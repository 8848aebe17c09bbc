//! [`PartialFrameDeadline`]: how long a codec lets an incomplete frame wait.

use std::time::Instant;

use crate::continue_on_error::ContinueOnError;
use crate::json::JsonCodec;
#[cfg(feature = "msgpack")]
use crate::msgpack::MsgPackCodec;
use crate::raw::RawCodec;

/// A codec that may hold an incomplete frame with a deadline (node-ipc 14's
/// `messageTimeout`, in the Guarded and Assured profiles).
///
/// The codec only keeps the time; the transport enforces it
/// (`ipc_transport::IpcFramed` closes the stream once the deadline passes).
/// Implement it for your own codec with an empty `impl` when it has no such
/// deadline.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use bytes::BytesMut;
/// use ipc_codec::{JsonCodec, PartialFrameDeadline, Profile};
/// use tokio_util::codec::Decoder;
///
/// fn deadline_in(codec: &impl PartialFrameDeadline) -> Option<Duration> {
///     let deadline = codec.partial_frame_deadline()?;
///     Some(deadline.saturating_duration_since(std::time::Instant::now()))
/// }
///
/// // Guarded gives a frame 30 s to arrive whole once it has begun.
/// let mut codec = JsonCodec::builder().profile(Profile::Guarded).build().unwrap();
/// assert_eq!(deadline_in(&codec), None);
/// assert!(codec.decode(&mut BytesMut::from(&b"{\"type\":"[..])).unwrap().is_none());
/// assert!(deadline_in(&codec).unwrap() <= Duration::from_secs(30));
///
/// // A codec of your own without a deadline.
/// struct Lines;
/// impl PartialFrameDeadline for Lines {}
/// assert_eq!(deadline_in(&Lines), None);
/// ```
pub trait PartialFrameDeadline {
    /// When the incomplete frame now buffered must be finished by, if ever.
    fn partial_frame_deadline(&self) -> Option<Instant> {
        None
    }
}

/// [`JsonCodec::partial_frame_deadline`].
impl PartialFrameDeadline for JsonCodec {
    fn partial_frame_deadline(&self) -> Option<Instant> {
        JsonCodec::partial_frame_deadline(self)
    }
}

#[cfg(feature = "msgpack")]
#[cfg_attr(docsrs, doc(cfg(feature = "msgpack")))]
impl PartialFrameDeadline for MsgPackCodec {
    fn partial_frame_deadline(&self) -> Option<Instant> {
        Some(self.partial_frame_since()? + self.rules().message_timeout()?)
    }
}

/// Never: raw buffers have no frames.
impl PartialFrameDeadline for RawCodec {}

/// The wrapped codec's deadline.
impl<C: PartialFrameDeadline> PartialFrameDeadline for ContinueOnError<C> {
    fn partial_frame_deadline(&self) -> Option<Instant> {
        self.get_ref().partial_frame_deadline()
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use tokio_util::codec::Decoder;

    use super::*;
    use crate::rules::Profile;

    #[cfg(feature = "msgpack")]
    #[test]
    fn msgpack_deadline_is_message_timeout_after_the_partial_frame_began() {
        use crate::rules::DEFAULT_MESSAGE_TIMEOUT;

        let mut codec = MsgPackCodec::builder().profile(Profile::Guarded).build().unwrap();
        assert_eq!(codec.partial_frame_deadline(), None);
        // a length prefix announcing 8 bytes, and 2 of them
        assert!(codec.decode(&mut BytesMut::from(&[0, 0, 0, 8, 0x91, 0xa1][..])).unwrap().is_none());
        let since = codec.partial_frame_since().expect("a partial frame is buffered");
        assert_eq!(codec.partial_frame_deadline(), Some(since + DEFAULT_MESSAGE_TIMEOUT));
        // Fast has no message timeout.
        let mut fast = MsgPackCodec::default();
        assert!(fast.decode(&mut BytesMut::from(&[0, 0, 0, 8][..])).unwrap().is_none());
        assert_eq!(fast.partial_frame_deadline(), None);
    }

    #[test]
    fn continue_on_error_has_the_wrapped_codecs_deadline() {
        let json = JsonCodec::builder().profile(Profile::Guarded).build().unwrap();
        let mut codec = ContinueOnError::new(json);
        assert!(codec.decode(&mut BytesMut::from(&b"{\"type\":"[..])).unwrap().is_none());
        let deadline = codec.partial_frame_deadline();
        assert!(deadline.is_some());
        assert_eq!(deadline, codec.get_ref().partial_frame_deadline());
    }

    #[test]
    fn raw_buffers_have_no_deadline() {
        let mut codec = RawCodec::default();
        let _ = codec.decode(&mut BytesMut::from(&b"half a message"[..])).unwrap();
        assert_eq!(codec.partial_frame_deadline(), None);
    }
}
