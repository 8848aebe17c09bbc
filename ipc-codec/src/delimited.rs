//! Cutting a byte stream into delimiter-terminated frames, bounded.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use memchr::memmem;

use crate::error::CodecError;

/// node-ipc's default delimiter, form feed (`\f`, 0x0C).
pub const DEFAULT_DELIMITER: &[u8] = b"\x0c";

/// The frame-cutting state of a delimited codec: where the search stopped,
/// the size limit, and whether an oversized frame is being thrown away.
///
/// Invariant: `buf[..next_index]` has been searched and holds no delimiter start.
#[derive(Debug, Clone)]
pub(crate) struct Delimited {
    delimiter: Bytes,
    /// Shared: cloning a `Finder` allocates (480 bytes per connection, in
    /// codecs cloned for each one), and searching needs only `&self`.
    finder: Arc<memmem::Finder<'static>>,
    max_frame: usize,
    next_index: usize,
    discarding: bool,
    partial_since: Option<Instant>,
    track_partial: bool,
}

impl Delimited {
    pub(crate) fn new(
        delimiter: Bytes,
        max_frame: usize,
        track_partial: bool,
    ) -> Result<Delimited, CodecError> {
        if delimiter.is_empty() {
            return Err(CodecError::Config("the delimiter must not be empty"));
        }
        let finder = Arc::new(memmem::Finder::new(&delimiter[..]).into_owned());
        Ok(Delimited {
            delimiter,
            finder,
            max_frame,
            next_index: 0,
            discarding: false,
            partial_since: None,
            track_partial,
        })
    }

    pub(crate) fn delimiter(&self) -> &[u8] {
        &self.delimiter
    }

    /// When the unfinished frame now buffered began (tracked only when the
    /// rules have a message timeout).
    pub(crate) fn partial_since(&self) -> Option<Instant> {
        self.partial_since
    }

    fn find(&self, haystack: &[u8]) -> Option<usize> {
        match *self.delimiter {
            [byte] => memchr::memchr(byte, haystack),
            _ => self.finder.find(haystack),
        }
    }

    /// The next complete frame (delimiter removed), `Ok(None)` when more bytes
    /// are needed. An oversized frame is reported once, then skipped up to its
    /// delimiter, so the next call goes on with the frame after it.
    pub(crate) fn next_frame(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, CodecError> {
        let dlen = self.delimiter.len();
        loop {
            match self.find(&buf[self.next_index..]) {
                Some(rel) => {
                    let end = self.next_index + rel;
                    self.next_index = 0;
                    if self.discarding {
                        buf.advance(end + dlen);
                        self.discarding = false;
                        continue;
                    }
                    // One split takes the frame and its delimiter; dropping the
                    // delimiter from the frozen frame is a length change.
                    let mut frame = buf.split_to(end + dlen).freeze();
                    frame.truncate(end);
                    self.partial_since = None;
                    if end > self.max_frame {
                        return Err(CodecError::FrameTooLarge {
                            max: self.max_frame,
                            len: end,
                            complete: true,
                        });
                    }
                    return Ok(Some(frame));
                }
                None => {
                    // The last dlen-1 bytes may begin a delimiter split across reads.
                    let searched = buf.len().saturating_sub(dlen - 1);
                    if self.discarding {
                        buf.advance(searched);
                        self.next_index = 0;
                        return Ok(None);
                    }
                    if searched > self.max_frame {
                        buf.advance(searched);
                        self.next_index = 0;
                        self.discarding = true;
                        self.partial_since = None;
                        return Err(CodecError::FrameTooLarge {
                            max: self.max_frame,
                            len: searched,
                            complete: false,
                        });
                    }
                    self.next_index = searched;
                    if self.track_partial && !buf.is_empty() && self.partial_since.is_none() {
                        self.partial_since = Some(Instant::now());
                    }
                    return Ok(None);
                }
            }
        }
    }

    /// At end of stream: what is left is an unfinished frame, unless it is the
    /// tail of an oversized frame already reported.
    pub(crate) fn finish(&mut self, buf: &mut BytesMut) -> Result<(), CodecError> {
        let len = buf.len();
        let was_discarding = std::mem::replace(&mut self.discarding, false);
        buf.clear();
        self.next_index = 0;
        self.partial_since = None;
        if len == 0 || was_discarding {
            Ok(())
        } else {
            Err(CodecError::PartialFrameAtEof { len })
        }
    }
}
