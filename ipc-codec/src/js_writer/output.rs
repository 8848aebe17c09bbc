//! [`Output`]: where the JSON goes.

use bytes::BytesMut;

/// Where the JSON goes: a frame buffer (`BytesMut`) or event data (`Vec<u8>`).
pub(crate) trait Output {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
    /// Makes room for at least `additional` more bytes.
    fn reserve_for(&mut self, additional: usize);
}

impl Output for BytesMut {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    #[inline]
    fn reserve_for(&mut self, additional: usize) {
        self.reserve(additional);
    }
}

impl Output for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    #[inline]
    fn reserve_for(&mut self, additional: usize) {
        self.reserve(additional);
    }
}

impl<T: Output + ?Sized> Output for &mut T {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        (**self).put(bytes);
    }

    #[inline]
    fn reserve_for(&mut self, additional: usize) {
        (**self).reserve_for(additional);
    }
}
