//! Whole messages as their wire bytes: what a relay (the bus forwarder) passes from one plaintext connection
//! to others without decoding each frame into a `Vec` and encoding it again per peer.
//!
//! A [`RawMessage`] is the encoded frames of one message (`flags + size + body` each, the last without
//! MORE), a refcounted slice of the read buffer it arrived in, plus what a publisher needs to route it: its
//! first frame's body (the topic a prefix is matched against) and its body bytes (what a high-water mark
//! counts). [`scan`] finds such a message at the front of a read buffer, frame header by frame header,
//! under the same limits as the frame decoder; it resumes where the previous call stopped, so a large
//! message arriving in many reads is scanned once.

use bytes::{Bytes, BytesMut};

use super::error::{Result, ZmtpError};
use super::frame::{self, FrameDecoder, FLAG_LONG, FLAG_MORE};

/// The encoded frames of one whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
  wire: Bytes,
  first: Bytes,
  size: usize,
}

impl RawMessage {
  /// Encodes `frames` once, as a NULL session would (long form iff a body is over 255 bytes). `None` for a
  /// message without frames.
  pub fn encode(frames: &[Bytes]) -> Option<Self> {
    let first = frames.first()?.clone();
    let size: usize = frames.iter().map(Bytes::len).sum();
    let mut out = BytesMut::with_capacity(size + 9 * frames.len());
    for (i, body) in frames.iter().enumerate() {
      frame::encode_parts(&mut out, i + 1 < frames.len(), false, body);
    }
    Some(Self {
      wire: out.freeze(),
      first,
      size,
    })
  }

  /// The encoded frames, ready to append to a plaintext connection's write buffer.
  pub fn wire(&self) -> &Bytes {
    &self.wire
  }

  /// The first frame's body (a slice of [`RawMessage::wire`]).
  pub fn first(&self) -> &Bytes {
    &self.first
  }

  /// Body bytes of all frames (headers not counted), as a pipe's byte limit counts a message.
  pub fn size(&self) -> usize {
    self.size
  }

  /// The frame bodies, as slices of the wire bytes (no copy): for a peer that needs frames (CURVE seals
  /// each one, inproc takes a `Vec`).
  pub fn frames(&self) -> Vec<Bytes> {
    let mut frames = Vec::new();
    let mut at = 0;
    // `wire` was checked whole by `scan` or built by `encode`; a header that does not parse ends the walk.
    while let Some((header, len)) = header_at(&self.wire, at) {
      let start = at + header;
      let Some(end) = start.checked_add(len).filter(|e| *e <= self.wire.len()) else {
        break;
      };
      frames.push(self.wire.slice(start..end));
      at = end;
    }
    frames
  }
}

/// How far [`scan`] got into the message at the front of a read buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanState {
  /// Bytes of whole data frames already scanned (all with MORE).
  pub offset: usize,
  /// Frames already scanned.
  pub frames: usize,
  /// Body bytes of those frames.
  pub size: usize,
  /// Where the first frame's body lies.
  first: (usize, usize),
}

/// What [`scan`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Scan {
  /// A whole message: take this many bytes off the buffer with [`take`].
  Message(usize),
  /// Its last frame is not in yet; `progress` whole frames were added since the previous call.
  Incomplete { progress: usize },
  /// A command frame, or reserved flag bits: this message goes through the frame-by-frame path.
  Decode,
}

/// Scans the message at the front of `buf` from where `state` left it, checking each frame's announced
/// size with `decoder` (before its body is there) and the frame count against `max_frames`.
///
/// # Errors
/// [`ZmtpError::FrameTooLarge`], [`ZmtpError::TooManyFrames`]: what the frame-by-frame path gives.
pub fn scan(
  decoder: &FrameDecoder,
  buf: &[u8],
  state: &mut ScanState,
  max_frames: usize,
) -> Result<Scan> {
  let before = state.frames;
  loop {
    let rest = &buf[state.offset..];
    let Some(&flags) = rest.first() else {
      return Ok(Scan::Incomplete {
        progress: state.frames - before,
      });
    };
    // Relayed bytes carry only the flags every peer knows: anything else takes the decoding path.
    if flags & !(FLAG_MORE | FLAG_LONG) != 0 {
      return Ok(Scan::Decode);
    }
    let Some((header, size)) = decoder.header(rest)? else {
      return Ok(Scan::Incomplete {
        progress: state.frames - before,
      });
    };
    if state.frames >= max_frames {
      return Err(ZmtpError::TooManyFrames { max: max_frames });
    }
    // `size` <= the decoder's limit <= isize::MAX (see `FrameDecoder::new`): lossless, no overflow.
    let size = size as usize;
    if rest.len() - header < size {
      return Ok(Scan::Incomplete {
        progress: state.frames - before,
      });
    }
    if state.frames == 0 {
      state.first = (header, header + size);
    }
    state.frames += 1;
    state.size += size;
    state.offset += header + size;
    if flags & FLAG_MORE == 0 {
      return Ok(Scan::Message(state.offset));
    }
  }
}

/// Splits the message [`scan`] found off `buf` (refcounted, no copy) and resets `state` for the next one.
pub fn take(buf: &mut BytesMut, state: &mut ScanState) -> RawMessage {
  let wire = buf.split_to(state.offset).freeze();
  let (start, end) = state.first;
  let msg = RawMessage {
    first: wire.slice(start..end),
    wire,
    size: state.size,
  };
  *state = ScanState::default();
  msg
}

/// Header length and body length of the frame at `at`, if its header is whole.
fn header_at(wire: &[u8], at: usize) -> Option<(usize, usize)> {
  let rest = wire.get(at..)?;
  let flags = *rest.first()?;
  if flags & FLAG_LONG != 0 {
    let mut be = [0u8; 8];
    be.copy_from_slice(rest.get(1..9)?);
    Some((9, usize::try_from(u64::from_be_bytes(be)).ok()?))
  } else {
    Some((2, usize::from(*rest.get(1)?)))
  }
}

#[cfg(test)]
#[path = "raw_tests.rs"]
mod tests;
