//! ZMTP frames: `flags(1) + size(1 or 8, BE) + body`, encoded as libzmq does and decoded incrementally.
//!
//! The decoder reads from a caller-owned [`BytesMut`] (the driver reads from the socket into its spare
//! capacity). It checks an announced size against `max_msg_size` and against what this machine can address
//! *before* anything is allocated, and it never reserves the announced size: the buffer grows only as bytes
//! arrive. Frames per message are counted by the session (after CURVE has opened them).

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::error::{Result, ZmtpError};

/// Flag bit: more frames follow in this message.
pub const FLAG_MORE: u8 = 0x01;
/// Flag bit: the size is an 8-byte BE integer.
pub const FLAG_LONG: u8 = 0x02;
/// Flag bit: this frame is a command.
pub const FLAG_COMMAND: u8 = 0x04;

/// Sizes above this can never be held in memory, whatever the limit says: 2^47 bytes is the whole user
/// address space of x86-64 and arm64 processes (and well below `isize::MAX`, so casts to `usize` are lossless
/// on 64-bit targets; 32-bit targets get `isize::MAX`).
pub const MAX_REPRESENTABLE: u64 = if (isize::MAX as u64) < (1 << 47) {
  isize::MAX as u64
} else {
  1 << 47
};

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
  /// More frames of the same message follow.
  pub more: bool,
  /// The frame is a command (READY, PING, SUBSCRIBE...), not message data.
  pub command: bool,
  /// The frame's body.
  pub body: Bytes,
}

impl Frame {
  /// A data frame.
  pub fn data(body: impl Into<Bytes>, more: bool) -> Self {
    Self {
      more,
      command: false,
      body: body.into(),
    }
  }

  /// A command frame (never MORE).
  pub fn command(body: impl Into<Bytes>) -> Self {
    Self {
      more: false,
      command: true,
      body: body.into(),
    }
  }
}

/// One decoded frame whose body is still mutable, so a mechanism can open a box in place (the body is a
/// slice of the read buffer, not a copy).
#[derive(Debug, PartialEq, Eq)]
pub struct FrameMut {
  /// More frames of the same message follow.
  pub more: bool,
  /// The frame is a command.
  pub command: bool,
  /// The frame's body.
  pub body: BytesMut,
}

impl FrameMut {
  /// The frame with its body frozen (no copy).
  pub fn freeze(self) -> Frame {
    Frame {
      more: self.more,
      command: self.command,
      body: self.body.freeze(),
    }
  }
}

/// Writes the header of a frame with `len` body bytes: long form iff `len > 255`, as libzmq.
pub fn encode_header(out: &mut BytesMut, more: bool, command: bool, len: usize) {
  let mut flags = 0u8;
  if more {
    flags |= FLAG_MORE;
  }
  if command {
    flags |= FLAG_COMMAND;
  }
  if len > 255 {
    out.put_u8(flags | FLAG_LONG);
    out.put_u64(len as u64);
  } else {
    out.put_u8(flags);
    out.put_u8(len as u8);
  }
}

/// Appends one whole frame to `out`.
pub fn encode(out: &mut BytesMut, frame: &Frame) {
  encode_parts(out, frame.more, frame.command, &frame.body);
}

/// Appends one whole frame given by its parts to `out`.
pub fn encode_parts(out: &mut BytesMut, more: bool, command: bool, body: &[u8]) {
  out.reserve(9 + body.len());
  encode_header(out, more, command, body.len());
  out.extend_from_slice(body);
}

/// Incremental frame decoder with a size limit.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
  max_msg_size: u64,
}

impl FrameDecoder {
  /// A decoder refusing frames above `max_msg_size` bytes (capped at [`MAX_REPRESENTABLE`]).
  pub fn new(max_msg_size: u64) -> Self {
    Self {
      max_msg_size: max_msg_size.min(MAX_REPRESENTABLE),
    }
  }

  /// The limit in force.
  pub fn max_msg_size(&self) -> u64 {
    self.max_msg_size
  }

  /// Takes one complete frame off the front of `buf`.
  ///
  /// Returns `Ok(None)` when more bytes are needed (nothing is consumed). Reserved flag bits are ignored,
  /// as libzmq does.
  ///
  /// # Errors
  /// [`ZmtpError::FrameTooLarge`] as soon as the size field is complete and says too much.
  pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Frame>> {
    Ok(self.decode_mut(buf)?.map(FrameMut::freeze))
  }

  /// As [`FrameDecoder::decode`], with the body left mutable (split off `buf`, not copied).
  ///
  /// # Errors
  /// As [`FrameDecoder::decode`].
  pub fn decode_mut(&self, buf: &mut BytesMut) -> Result<Option<FrameMut>> {
    let Some((header, size)) = self.parse_header(buf)? else {
      return Ok(None);
    };
    // `size` <= max_msg_size <= isize::MAX, so the cast is lossless and the sum cannot overflow.
    let size = size as usize;
    if buf.len() - header < size {
      return Ok(None);
    }
    let flags = buf[0];
    buf.advance(header);
    let body = buf.split_to(size);
    Ok(Some(FrameMut {
      more: flags & FLAG_MORE != 0,
      command: flags & FLAG_COMMAND != 0,
      body,
    }))
  }

  /// Header length and announced body size of the frame at the front of `buf`, once its header is complete
  /// (`Ok(None)` before), checked against the limit like [`FrameDecoder::decode`].
  ///
  /// # Errors
  /// As [`FrameDecoder::decode`].
  pub fn header(&self, buf: &[u8]) -> Result<Option<(usize, u64)>> {
    self.parse_header(buf)
  }

  fn parse_header(&self, buf: &[u8]) -> Result<Option<(usize, u64)>> {
    let Some(&flags) = buf.first() else {
      return Ok(None);
    };
    let (header, size) = if flags & FLAG_LONG != 0 {
      let Some(field) = buf.get(1..9) else {
        return Ok(None);
      };
      let mut be = [0u8; 8];
      be.copy_from_slice(field);
      (9, u64::from_be_bytes(be))
    } else {
      let Some(&len) = buf.get(1) else {
        return Ok(None);
      };
      (2, u64::from(len))
    };
    if size > self.max_msg_size {
      return Err(ZmtpError::FrameTooLarge {
        size,
        max: self.max_msg_size,
      });
    }
    Ok(Some((header, size)))
  }

  /// How many more bytes the frame at the front of `buf` needs, capped at `cap`, so a driver can size its
  /// next read without trusting the announced size. `None` if the header itself is incomplete.
  ///
  /// # Errors
  /// As [`FrameDecoder::decode`].
  pub fn missing(&self, buf: &[u8], cap: usize) -> Result<Option<usize>> {
    Ok(self.parse_header(buf)?.map(|(header, size)| {
      let want = (header as u64 + size).saturating_sub(buf.len() as u64);
      want.min(cap as u64) as usize
    }))
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn decode_all(dec: &FrameDecoder, bytes: &[u8]) -> Result<Option<Frame>> {
    dec.decode(&mut BytesMut::from(bytes))
  }

  #[test]
  fn short_frame_uses_one_byte_size() {
    let mut out = BytesMut::new();
    encode(&mut out, &Frame::data(&b"hello"[..], true));
    assert_eq!(&out[..], b"\x01\x05hello");
  }

  #[test]
  fn frame_of_256_bytes_uses_the_long_form_and_255_does_not() {
    let mut out = BytesMut::new();
    encode(&mut out, &Frame::data(vec![7u8; 255], false));
    assert_eq!(&out[..2], b"\x00\xFF");
    out.clear();
    encode(&mut out, &Frame::data(vec![7u8; 256], false));
    assert_eq!(&out[..9], b"\x02\0\0\0\0\0\0\x01\x00");
    assert_eq!(out.len(), 9 + 256);
  }

  #[test]
  fn command_frame_has_the_command_flag() {
    let mut out = BytesMut::new();
    encode(&mut out, &Frame::command(&b"\x04PING\x00\x00"[..]));
    assert_eq!(&out[..], b"\x04\x07\x04PING\x00\x00");
  }

  #[test]
  fn decoder_needs_more_bytes_until_the_frame_is_whole() {
    let dec = FrameDecoder::new(1024);
    let wire = b"\x01\x03abc";
    for n in 0..wire.len() {
      let mut buf = BytesMut::from(&wire[..n]);
      assert_eq!(dec.decode(&mut buf), Ok(None));
      assert_eq!(buf.len(), n, "nothing consumed at {n} bytes");
    }
    let frame = decode_all(&dec, wire).unwrap().unwrap();
    assert_eq!(frame, Frame::data(&b"abc"[..], true));
  }

  #[test]
  fn decoder_accepts_the_long_form_for_small_frames() {
    let dec = FrameDecoder::new(1024);
    let frame = decode_all(&dec, b"\x06\0\0\0\0\0\0\0\x02hi")
      .unwrap()
      .unwrap();
    assert_eq!(frame, Frame::command(&b"hi"[..]));
  }

  #[test]
  fn decoder_ignores_reserved_flag_bits() {
    let dec = FrameDecoder::new(1024);
    let frame = decode_all(&dec, b"\xF8\x01x").unwrap().unwrap();
    assert_eq!(frame, Frame::data(&b"x"[..], false));
  }

  #[test]
  fn two_frames_in_one_buffer_come_out_one_by_one() {
    let dec = FrameDecoder::new(1024);
    let mut buf = BytesMut::from(&b"\x01\x01a\x00\x01b\x00"[..]);
    assert_eq!(dec.decode(&mut buf).unwrap().unwrap().body, &b"a"[..]);
    assert_eq!(dec.decode(&mut buf).unwrap().unwrap().body, &b"b"[..]);
    assert_eq!(dec.decode(&mut buf), Ok(None));
    assert_eq!(&buf[..], b"\x00");
  }

  #[test]
  fn length_of_2_pow_40_is_refused_before_any_body_byte() {
    let dec = FrameDecoder::new(64 << 20);
    let err = decode_all(&dec, b"\x02\0\0\x01\0\0\0\0\0").unwrap_err();
    assert_eq!(
      err,
      ZmtpError::FrameTooLarge {
        size: 1 << 40,
        max: 64 << 20
      }
    );
  }

  #[test]
  fn length_of_2_pow_62_is_refused_even_with_no_limit() {
    let dec = FrameDecoder::new(u64::MAX);
    assert_eq!(dec.max_msg_size(), MAX_REPRESENTABLE);
    let err = decode_all(&dec, b"\x02\x40\0\0\0\0\0\0\0").unwrap_err();
    assert_eq!(err.reason(), "frame_too_large");
    let err = decode_all(&dec, b"\x02\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF").unwrap_err();
    assert_eq!(err.reason(), "frame_too_large");
  }

  #[test]
  fn a_huge_announced_size_reserves_nothing() {
    // 2^40 allowed by the limit: the decoder waits for bytes and the buffer keeps its own size.
    let dec = FrameDecoder::new(u64::MAX);
    let mut buf = BytesMut::from(&b"\x02\x00\x00\x01\x00\x00\x00\x00\x00abc"[..]);
    let before = buf.capacity();
    assert_eq!(dec.decode(&mut buf), Ok(None));
    assert_eq!(buf.capacity(), before);
    assert_eq!(dec.missing(&buf, 65536), Ok(Some(65536)));
  }

  #[test]
  fn missing_tells_the_exact_remainder_of_a_small_frame() {
    let dec = FrameDecoder::new(1024);
    assert_eq!(dec.missing(b"\x00\x05ab", 65536), Ok(Some(3)));
    assert_eq!(dec.missing(b"\x02\0\0", 65536), Ok(None));
  }

  #[test]
  fn limit_applies_to_short_frames_too() {
    let dec = FrameDecoder::new(3);
    assert!(decode_all(&dec, b"\x00\x03abc").unwrap().is_some());
    assert_eq!(
      decode_all(&dec, b"\x00\x04"),
      Err(ZmtpError::FrameTooLarge { size: 4, max: 3 })
    );
  }
}
