//! Tests of `framed()` and `framed_read()`.

use std::time::Duration;

use futures::{FutureExt, StreamExt};
use ipc_codec::{JsonCodec, Profile, Rules};
use tokio::io::AsyncWriteExt;
use tokio_util::codec::FramedRead;

use super::buffers::READ_BURST;
use super::*;

#[tokio::test(start_paused = true)]
async fn incomplete_frame_times_out() {
    let (mut a, b) = tokio::io::duplex(64);
    let codec = JsonCodec::builder()
        .rules(Rules::builder(Profile::Guarded).message_timeout(Some(Duration::from_secs(5))).build())
        .build()
        .unwrap();
    let mut b = framed(b, codec);
    a.write_all(b"{\"type\":\"a\",\"data\":1}\x0c{\"type\":").await.unwrap();
    assert_eq!(b.next().await.unwrap().unwrap().event_type(), "a");
    let started = tokio::time::Instant::now();
    let err = b.next().await.unwrap().unwrap_err();
    assert!(started.elapsed() >= Duration::from_secs(5));
    assert!(matches!(err, ipc_codec::CodecError::Io(ref e) if e.kind() == io::ErrorKind::TimedOut), "{err}");
    assert!(b.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn incomplete_frame_times_out_on_a_read_half() {
    let (mut a, b) = tokio::io::duplex(64);
    let codec = JsonCodec::builder()
        .rules(Rules::builder(Profile::Guarded).message_timeout(Some(Duration::from_secs(5))).build())
        .build()
        .unwrap();
    let (read, _write) = tokio::io::split(b);
    let mut b = framed_read(read, codec);
    a.write_all(b"{\"type\":\"a\",\"data\":1}\x0c{\"type\":").await.unwrap();
    assert_eq!(b.next().await.unwrap().unwrap().event_type(), "a");
    let err = b.next().await.unwrap().unwrap_err();
    assert!(matches!(err, ipc_codec::CodecError::Io(ref e) if e.kind() == io::ErrorKind::TimedOut), "{err}");
    assert!(b.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn fast_profile_waits_without_deadline() {
    let (mut a, b) = tokio::io::duplex(64);
    let mut b = framed(b, JsonCodec::default());
    a.write_all(b"{\"type\":").await.unwrap();
    assert!(tokio::time::timeout(Duration::from_secs(3600), b.next()).await.is_err());
    a.write_all(b"\"x\"}\x0c").await.unwrap();
    assert_eq!(b.next().await.unwrap().unwrap().event_type(), "x");
}

/// Records the largest read it was offered room for.
struct ReadSizes<R> {
    inner: R,
    largest: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl<R: AsyncRead + Unpin> AsyncRead for ReadSizes<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.largest.fetch_max(buf.remaining(), std::sync::atomic::Ordering::Relaxed);
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<R: Unpin> AsyncWrite for ReadSizes<R> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn reads_grow_to_64_kib_only_while_reads_fill_the_buffer() {
    let frame = b"{\"type\":\"a\",\"data\":\"0123456789012345678901234567890123456789\"}\x0c";
    for (frames, want_burst) in [(3, false), (4_000, true)] {
        let (mut a, b) = tokio::io::duplex(1 << 20);
        let largest = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let reader = ReadSizes { inner: b, largest: std::sync::Arc::clone(&largest) };
        let mut b = framed(reader, JsonCodec::default());
        a.write_all(&frame.repeat(frames)).await.unwrap();
        for _ in 0..frames {
            b.next().await.unwrap().unwrap();
        }
        let largest = largest.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(largest >= READ_BURST, want_burst, "{frames} frames: largest read offered {largest}");
    }
}

const TWO_FRAMES: &[u8] = b"{\"type\":\"a\",\"data\":1}\x0c{\"type\":\"b\",\"data\":2}\x0c";

#[tokio::test]
async fn read_buffer_holds_the_undecoded_frames() {
    let (mut a, b) = tokio::io::duplex(1024);
    let mut b = framed(b, JsonCodec::default());
    a.write_all(TWO_FRAMES).await.unwrap();
    assert_eq!(b.next().await.unwrap().unwrap().event_type(), "a");
    assert_eq!(&b.read_buffer()[..], b"{\"type\":\"b\",\"data\":2}\x0c");
    assert_eq!(b.next().await.unwrap().unwrap().event_type(), "b");
    assert!(b.read_buffer().is_empty());
}

#[tokio::test]
async fn read_buffer_mut_bytes_are_decoded_with_the_next_read() {
    let (mut a, b) = tokio::io::duplex(1024);
    let mut b = framed(b, JsonCodec::default());
    b.read_buffer_mut().extend_from_slice(b"{\"type\":\"injected\"}\x0c");
    a.write_all(b"{\"type\":\"read\"}\x0c").await.unwrap();
    assert_eq!(b.next().await.unwrap().unwrap().event_type(), "injected");
    assert_eq!(b.next().await.unwrap().unwrap().event_type(), "read");
}

#[tokio::test]
async fn write_buffer_holds_fed_frames_until_flush() {
    use futures::SinkExt;
    let (mut a, b) = tokio::io::duplex(1024);
    let mut b = framed(b, JsonCodec::default());
    b.feed(ipc_codec::Event::new("a", serde_json::json!(1))).await.unwrap();
    assert_eq!(&b.write_buffer()[..], b"{\"type\":\"a\",\"data\":1}\x0c");
    b.write_buffer_mut().extend_from_slice(b"{\"type\":\"b\",\"data\":2}\x0c");
    SinkExt::<ipc_codec::Event>::flush(&mut b).await.unwrap();
    assert!(b.write_buffer().is_empty());
    let mut got = vec![0; TWO_FRAMES.len()];
    tokio::io::AsyncReadExt::read_exact(&mut a, &mut got).await.unwrap();
    assert_eq!(got, TWO_FRAMES);
}

#[tokio::test]
async fn into_parts_keeps_buffered_undecoded_and_unwritten_bytes() {
    use futures::SinkExt;
    let (mut a, b) = tokio::io::duplex(1024);
    let mut b = framed(b, JsonCodec::default());
    a.write_all(TWO_FRAMES).await.unwrap();
    a.write_all(b"{\"type\":").await.unwrap();
    assert_eq!(b.next().await.unwrap().unwrap().event_type(), "a");
    b.feed(ipc_codec::Event::new("out", serde_json::json!(0))).await.unwrap();
    let parts = b.into_parts();
    assert_eq!(&parts.read_buf[..], b"{\"type\":\"b\",\"data\":2}\x0c{\"type\":");
    assert_eq!(&parts.write_buf[..], b"{\"type\":\"out\",\"data\":0}\x0c");
    let mut plain = Framed::from_parts(parts);
    assert_eq!(plain.next().await.unwrap().unwrap().event_type(), "b");
    a.write_all(b"\"c\"}\x0c").await.unwrap();
    assert_eq!(plain.next().await.unwrap().unwrap().event_type(), "c");
}

#[tokio::test]
async fn read_half_into_parts_keeps_buffered_undecoded_bytes() {
    let (mut a, b) = tokio::io::duplex(1024);
    let mut b = framed_read(b, JsonCodec::default());
    a.write_all(TWO_FRAMES).await.unwrap();
    assert_eq!(b.next().await.unwrap().unwrap().event_type(), "a");
    assert_eq!(&b.read_buffer()[..], b"{\"type\":\"b\",\"data\":2}\x0c");
    let parts = b.into_parts();
    assert_eq!(&parts.read_buf[..], b"{\"type\":\"b\",\"data\":2}\x0c");
    assert!(parts.write_buf.is_empty());
    // A new FramedRead decodes the kept bytes with those of its first read.
    let mut plain = FramedRead::new(parts.io, parts.codec);
    *plain.read_buffer_mut() = parts.read_buf;
    a.write_all(b"{\"type\":\"c\"}\x0c").await.unwrap();
    assert_eq!(plain.next().await.unwrap().unwrap().event_type(), "b");
    assert_eq!(plain.next().await.unwrap().unwrap().event_type(), "c");
}

#[tokio::test]
async fn read_half_get_mut_and_read_buffer_mut() {
    let (mut a, b) = tokio::io::duplex(1024);
    let mut b = framed_read(b, JsonCodec::default());
    b.read_buffer_mut().extend_from_slice(b"{\"type\":\"injected\"}\x0c");
    a.write_all(b"{\"type\":\"read\"}\x0c").await.unwrap();
    assert_eq!(b.next().await.unwrap().unwrap().event_type(), "injected");
    assert_eq!(b.next().await.unwrap().unwrap().event_type(), "read");
    // The connection itself: what we write through it reaches the peer.
    b.get_mut().write_all(b"raw").await.unwrap();
    let mut got = [0; 3];
    tokio::io::AsyncReadExt::read_exact(&mut a, &mut got).await.unwrap();
    assert_eq!(&got, b"raw");
}

#[tokio::test]
async fn map_codec_keeps_both_buffers() {
    use futures::SinkExt;
    let (mut a, b) = tokio::io::duplex(1024);
    let mut b = framed(b, JsonCodec::default());
    a.write_all(b"{\"type\":\"a\",\"data\":1}\x0cnot json\x0c{\"type\":\"c\"}\x0c").await.unwrap();
    assert_eq!(b.next().await.unwrap().unwrap().event_type(), "a");
    b.feed(ipc_codec::Event::new("out", serde_json::json!(0))).await.unwrap();
    let mut b = b.map_codec(ipc_codec::ContinueOnError::new);
    assert_eq!(&b.write_buffer()[..], b"{\"type\":\"out\",\"data\":0}\x0c");
    assert_eq!(b.read_buffer().len(), b"not json\x0c{\"type\":\"c\"}\x0c".len());
    // The new codec decodes what was buffered: a bad frame is now an item.
    assert!(b.next().await.unwrap().unwrap().is_err());
    assert_eq!(b.next().await.unwrap().unwrap().unwrap().event_type(), "c");
    SinkExt::<ipc_codec::Event>::flush(&mut b).await.unwrap();
    let mut got = [0; 24];
    tokio::io::AsyncReadExt::read_exact(&mut a, &mut got).await.unwrap();
    assert_eq!(&got, b"{\"type\":\"out\",\"data\":0}\x0c");
}

#[tokio::test]
async fn map_codec_keeps_the_write_batch() {
    let (_a, b) = tokio::io::duplex(1024);
    let b = framed(b, JsonCodec::default()).map_codec(ipc_codec::ContinueOnError::new);
    assert_eq!(b.into_framed().backpressure_boundary(), WRITE_BATCH);
}

fn guarded_5s() -> JsonCodec {
    JsonCodec::builder()
        .rules(Rules::builder(Profile::Guarded).message_timeout(Some(Duration::from_secs(5))).build())
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn map_codec_after_a_timeout_stays_ended() {
    let (mut a, b) = tokio::io::duplex(64);
    let mut b = framed(b, guarded_5s());
    a.write_all(b"{\"type\":").await.unwrap();
    assert!(b.next().await.unwrap().is_err());
    let mut b = b.map_codec(|_| JsonCodec::default());
    a.write_all(b"\"x\"}\x0c").await.unwrap();
    assert!(b.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn map_codec_applies_the_new_codecs_deadline() {
    // Guarded to Fast: the pending timer goes, and Fast waits.
    let (mut a, b) = tokio::io::duplex(64);
    let mut b = framed(b, guarded_5s());
    a.write_all(b"{\"type\":").await.unwrap();
    assert!(tokio::time::timeout(Duration::from_secs(1), b.next()).await.is_err());
    let mut b = b.map_codec(|_| JsonCodec::default());
    assert!(tokio::time::timeout(Duration::from_secs(3600), b.next()).await.is_err());
    a.write_all(b"\"x\"}\x0c").await.unwrap();
    assert_eq!(b.next().await.unwrap().unwrap().event_type(), "x");
}

// Codecs keep std time, which a paused runtime does not advance: each of
// these tests starts a runtime of its own, and waits before the new codec
// sees a frame shorten its deadline.

#[tokio::test(start_paused = true)]
async fn map_codec_to_a_guarded_codec_times_the_buffered_frame() {
    // From the next poll.
    let (mut a, b) = tokio::io::duplex(64);
    let mut b = framed(b, JsonCodec::default());
    a.write_all(b"{\"type\":").await.unwrap();
    assert!(tokio::time::timeout(Duration::from_secs(1), b.next()).await.is_err());
    let mut b = b.map_codec(|_| guarded_5s());
    let started = tokio::time::Instant::now();
    assert_timed_out(b.next().await);
    assert!(started.elapsed() >= Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(b.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn map_decoder_to_a_guarded_codec_times_the_buffered_frame() {
    // From the next read.
    let (mut a, b) = tokio::io::duplex(64);
    let mut b = framed_read(b, JsonCodec::default());
    a.write_all(b"{\"type\":").await.unwrap();
    assert!(tokio::time::timeout(Duration::from_secs(60), b.next()).await.is_err());
    let mut b = b.map_decoder(|_| guarded_5s());
    a.write_all(b"\"").await.unwrap();
    assert_timed_out(b.next().await);
    assert!(b.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn map_codec_wrapping_the_codec_keeps_its_clock() {
    let (mut a, b) = tokio::io::duplex(64);
    let started = tokio::time::Instant::now();
    let mut b = framed(b, guarded_5s());
    a.write_all(b"{\"type\":").await.unwrap();
    assert!(tokio::time::timeout(Duration::from_secs(3), b.next()).await.is_err());
    let mut b = b.map_codec(ipc_codec::ContinueOnError::new);
    let item = b.next().await.unwrap();
    assert!(matches!(item, Err(ipc_codec::CodecError::Io(ref e)) if e.kind() == io::ErrorKind::TimedOut));
    assert_about_5s(started.elapsed());
}

#[tokio::test(start_paused = true)]
async fn map_decoder_wrapping_the_codec_keeps_its_clock() {
    let (mut a, b) = tokio::io::duplex(64);
    let started = tokio::time::Instant::now();
    let mut b = framed_read(b, guarded_5s());
    a.write_all(b"{\"type\":").await.unwrap();
    assert!(tokio::time::timeout(Duration::from_secs(3), b.next()).await.is_err());
    let mut b = b.map_decoder(ipc_codec::ContinueOnError::new);
    assert!(b.next().await.unwrap().is_err());
    assert_about_5s(started.elapsed());
}

/// 5 s from the frame's start, not 5 s from the codec's replacement (8 s).
fn assert_about_5s(elapsed: Duration) {
    assert!(elapsed >= Duration::from_secs(5) && elapsed < Duration::from_millis(5_500), "{elapsed:?}");
}

fn assert_timed_out<I: fmt::Debug>(item: Option<Result<I, ipc_codec::CodecError>>) {
    let err = item.unwrap().unwrap_err();
    assert!(matches!(err, ipc_codec::CodecError::Io(ref e) if e.kind() == io::ErrorKind::TimedOut), "{err}");
}

/// An idle connection holds no buffers; one that has received keeps its read buffer.
#[tokio::test]
async fn idle_connections_hold_no_buffers() {
    use futures::SinkExt;
    use ipc_codec::Event;

    let (mut a, b) = tokio::io::duplex(1024);
    let mut b = framed(b, JsonCodec::default());
    assert_eq!((b.read_buffer().capacity(), b.write_buffer().capacity()), (0, 0));
    // A read that finds nothing gives the buffer it took back.
    assert!(b.next().now_or_never().is_none());
    assert_eq!(b.read_buffer().capacity(), 0);
    a.write_all(b"{\"type\":\"a\",\"data\":1}\x0c").await.unwrap();
    assert_eq!(b.next().await.unwrap().unwrap().event_type(), "a");
    assert!(b.next().now_or_never().is_none());
    assert!(b.read_buffer().capacity() > 0, "a receiving connection keeps its buffer");
    b.send(Event::new("b", serde_json::json!(2))).await.unwrap();
    assert!(b.write_buffer().capacity() > 0);

    let (_a, r) = tokio::io::duplex(1024);
    let mut r = framed_read(r, JsonCodec::default());
    assert_eq!(r.read_buffer().capacity(), 0);
    assert!(r.next().now_or_never().is_none());
    assert_eq!(r.read_buffer().capacity(), 0);
}
