//! CURVE traffic once the handshake is done: each ZMTP frame travels as one MESSAGE command,
//! `07 MESSAGE` + short nonce (8, BE) + `Box[flags + body]`, the box being MAC (16) || ciphertext.
//!
//! No allocation and no copy per message: [`Traffic::seal_into`] writes the MESSAGE frame straight into the
//! session's write buffer and encrypts the flags and body where they lie, and [`Traffic::open_in_place`]
//! decrypts in the read buffer and hands on a view of it.
//!
//! The cipher is NaCl's `crypto_box_afternm`, XSalsa20-Poly1305 under the box key (X25519 then HSalsa20,
//! computed once per connection). XSalsa20 with a 24-byte nonce is Salsa20 under `HSalsa20(key, nonce[..16])`
//! with nonce `nonce[16..]`; a MESSAGE nonce is a fixed 16-byte prefix per direction (`CurveZMQMESSAGEC` /
//! `CurveZMQMESSAGES`) + the 8-byte counter, so that subkey is computed once per direction too, and each
//! message costs one Salsa20 stream and one Poly1305 (RustCrypto's primitives, composed as
//! `crypto_secretbox` composes them; the tests check the bytes against `crypto_box::SalsaBox`).

use bytes::{BufMut, BytesMut};
use crypto_box::{PublicKey, SecretKey};
use curve25519_dalek::montgomery::MontgomeryPoint;
use poly1305::universal_hash::KeyInit;
use poly1305::Poly1305;
use salsa20::cipher::consts::U10;
use salsa20::cipher::generic_array::GenericArray;
use salsa20::cipher::{KeyIvInit, StreamCipher};
use salsa20::{hsalsa, Salsa20};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::super::error::{Result, ZmtpError};
use super::super::frame::{self, Frame};

/// Bytes a MESSAGE command adds to a frame, as both sides count them: `07 MESSAGE` with the nonce (16), the
/// MAC (16) and the inner flags (1).
pub(super) const MESSAGE_OVERHEAD: u64 = 33;

/// Bytes of a MESSAGE command before its box's ciphertext: `07 MESSAGE` (8), the short nonce (8), the MAC (16).
const MESSAGE_HEAD: usize = 32;

/// One direction's MESSAGE key: the XSalsa20 subkey for that direction's nonce prefix.
struct DirectionKey {
  subkey: [u8; 32],
}

impl Drop for DirectionKey {
  // Key material does not outlive the connection in freed memory.
  fn drop(&mut self) {
    self.subkey.zeroize();
  }
}

impl DirectionKey {
  fn new(box_key: &[u8; 32], prefix: &[u8; 16]) -> Self {
    let subkey = hsalsa::<U10>(box_key.into(), prefix.into());
    Self {
      subkey: subkey.into(),
    }
  }

  /// The keystream for nonce `prefix || short`, past the Poly1305 key it starts with, and that MAC.
  fn start(&self, short: &[u8; 8]) -> (Salsa20, Poly1305) {
    let mut cipher = Salsa20::new(&self.subkey.into(), short.into());
    let mut mac_key = Zeroizing::new(poly1305::Key::default());
    cipher.apply_keystream(mac_key.as_mut_slice());
    let mac = Poly1305::new(&mac_key);
    (cipher, mac)
  }

  /// Encrypts `data` in place; returns the MAC.
  fn seal(&self, short: &[u8; 8], data: &mut [u8]) -> [u8; 16] {
    let (mut cipher, mac) = self.start(short);
    cipher.apply_keystream(data);
    mac.compute_unpadded(data).into()
  }

  /// Checks `tag` (16 bytes) over `data`, then decrypts `data` in place.
  fn open(&self, short: &[u8; 8], data: &mut [u8], tag: &[u8; 16]) -> Result<()> {
    let (mut cipher, mac) = self.start(short);
    let expected: [u8; 16] = mac.compute_unpadded(data).into();
    // Constant time as one 128-bit word: `subtle` on a byte slice pays an optimisation barrier per byte,
    // a tenth of a message's decode.
    let diff = u128::from_ne_bytes(expected) ^ u128::from_ne_bytes(*tag);
    if !bool::from(diff.ct_eq(&0)) {
      return Err(ZmtpError::Crypto("MESSAGE box did not open"));
    }
    cipher.apply_keystream(data);
    Ok(())
  }
}

/// The box key `crypto_box_beforenm(them, us)`: HSalsa20 over the X25519 shared secret.
fn box_key(them: &PublicKey, us: &SecretKey) -> Zeroizing<[u8; 32]> {
  let shared = Zeroizing::new(MontgomeryPoint(*them.as_bytes()).mul_clamped(us.to_bytes()));
  let key = hsalsa::<U10>(
    GenericArray::from_slice(&shared.0),
    &GenericArray::default(),
  );
  Zeroizing::new(key.into())
}

/// The per-connection MESSAGE codec once the handshake is done.
pub(super) struct Traffic {
  send: DirectionKey,
  recv: DirectionKey,
  send_nonce: u64,
  last_recv: u64,
}

impl Traffic {
  /// A codec for one side: `server` picks the nonce prefixes; `send_nonce` is our next short nonce and
  /// `last_recv` the peer's last one (both carry on from the handshake).
  pub(super) fn new(
    them: &PublicKey,
    us: &SecretKey,
    server: bool,
    send_nonce: u64,
    last_recv: u64,
  ) -> Self {
    let (c, s) = (b"CurveZMQMESSAGEC", b"CurveZMQMESSAGES");
    let (send_prefix, recv_prefix) = if server { (s, c) } else { (c, s) };
    let key = box_key(them, us);
    Self {
      send: DirectionKey::new(&key, send_prefix),
      recv: DirectionKey::new(&key, recv_prefix),
      send_nonce,
      last_recv,
    }
  }

  /// Appends the MESSAGE frame for one frame to `out`.
  ///
  /// # Errors
  /// None today; the signature keeps sealing fallible like the mechanism trait's.
  pub(super) fn seal_into(
    &mut self,
    out: &mut BytesMut,
    more: bool,
    command: bool,
    body: &[u8],
  ) -> Result<()> {
    let len = MESSAGE_HEAD + 1 + body.len();
    out.reserve(9 + len);
    // libzmq expects a plain outer frame: no COMMAND, no MORE (it ORs outer flags into the inner ones).
    frame::encode_header(out, false, false, len);
    self.seal_body(out, more, command, body);
    Ok(())
  }

  /// Appends the MESSAGE command body (no frame header): head with a MAC placeholder, then flags and body,
  /// which are encrypted where they lie before the MAC is written over its placeholder.
  fn seal_body(&mut self, out: &mut BytesMut, more: bool, command: bool, body: &[u8]) {
    let start = out.len();
    let short = self.send_nonce.to_be_bytes();
    self.send_nonce += 1;
    out.extend_from_slice(b"\x07MESSAGE");
    out.extend_from_slice(&short);
    out.extend_from_slice(&[0u8; 16]);
    out.put_u8(u8::from(more) | (u8::from(command) << 1));
    out.extend_from_slice(body);
    let message = &mut out[start..];
    let tag = self.send.seal(&short, &mut message[MESSAGE_HEAD..]);
    message[16..MESSAGE_HEAD].copy_from_slice(&tag);
  }

  /// Seals one frame into a MESSAGE frame of its own (tests and fuzzing; the session uses
  /// [`Traffic::seal_into`]).
  pub(super) fn encode(&mut self, frame: Frame) -> Frame {
    let mut body = BytesMut::with_capacity(MESSAGE_HEAD + 1 + frame.body.len());
    self.seal_body(&mut body, frame.more, frame.command, &frame.body);
    Frame::data(body.freeze(), false)
  }

  /// Opens a MESSAGE command body (a slice of the read buffer) in place; the frame handed on is a view of
  /// the decrypted bytes after the flags. The outer frame's flags are ignored, as libzmq's own are zero.
  ///
  /// # Errors
  /// [`ZmtpError::Malformed`] (short or misnamed), [`ZmtpError::NonceReplay`] (nonce not above the last
  /// one), [`ZmtpError::Crypto`] (the box does not open).
  pub(super) fn open_in_place(&mut self, mut body: BytesMut) -> Result<Frame> {
    if body.len() < MESSAGE_OVERHEAD as usize || &body[..8] != b"\x07MESSAGE" {
      return Err(ZmtpError::Malformed("CURVE MESSAGE"));
    }
    let mut short = [0u8; 8];
    short.copy_from_slice(&body[8..16]);
    let got = u64::from_be_bytes(short);
    if got <= self.last_recv {
      return Err(ZmtpError::NonceReplay {
        got,
        last: self.last_recv,
      });
    }
    let (head, sealed) = body.split_at_mut(MESSAGE_HEAD);
    let mut tag = [0u8; 16];
    tag.copy_from_slice(&head[16..]);
    self.recv.open(&short, sealed, &tag)?;
    self.last_recv = got;
    // The length check above leaves at least the flags byte after the head.
    let flags = body[MESSAGE_HEAD];
    Ok(Frame {
      more: flags & 0x01 != 0,
      command: flags & 0x02 != 0,
      body: body.freeze().slice(MESSAGE_HEAD + 1..),
    })
  }

  /// Opens a MESSAGE held in a [`Frame`] (tests and fuzzing; the session uses
  /// [`Traffic::open_in_place`] on its read buffer).
  ///
  /// # Errors
  /// As [`Traffic::open_in_place`].
  pub(super) fn decode(&mut self, frame: Frame) -> Result<Frame> {
    self.open_in_place(BytesMut::from(&frame.body[..]))
  }
}

#[cfg(test)]
#[path = "curve_traffic_tests.rs"]
mod tests;
