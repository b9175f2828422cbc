//! MESSAGE codec tests: the in-place path gives exactly the bytes `crypto_box::SalsaBox` (NaCl's box) gives,
//! opens what SalsaBox seals without a copy, and refuses tampered boxes and nonces that do not increase.

use bytes::BytesMut;
use crypto_box::aead::Aead;
use crypto_box::{PublicKey, SalsaBox, SecretKey};

use super::super::super::error::ZmtpError;
use super::super::super::frame::Frame;
use super::super::curve::nonce;
use super::*;

/// Fixed keys: the client's and the server's short-term secrets.
const CLIENT_SECRET: [u8; 32] = [0x11; 32];
const SERVER_SECRET: [u8; 32] = [0x22; 32];

fn keys() -> (SecretKey, PublicKey, SecretKey, PublicKey) {
  let (c, s) = (
    SecretKey::from(CLIENT_SECRET),
    SecretKey::from(SERVER_SECRET),
  );
  let (cp, sp) = (c.public_key(), s.public_key());
  (c, cp, s, sp)
}

/// A client codec (next nonce 3, as after HELLO and INITIATE) and a server codec (next nonce 2, after READY),
/// each expecting the other's next nonce.
fn codecs() -> (Traffic, Traffic) {
  let (c, cp, s, sp) = keys();
  (
    Traffic::new(&sp, &c, false, 3, 1),
    Traffic::new(&cp, &s, true, 2, 2),
  )
}

/// Seals one frame with `t` and returns the whole MESSAGE frame as it goes on the wire.
fn wire(t: &mut Traffic, more: bool, command: bool, body: &[u8]) -> BytesMut {
  let mut out = BytesMut::new();
  t.seal_into(&mut out, more, command, body).unwrap();
  out
}

#[test]
fn a_message_frame_is_byte_for_byte_the_box_nacl_seals() {
  let (c, _, s, sp) = keys();
  let (mut client, mut server) = codecs();
  let out = wire(&mut client, true, false, b"hello");
  // Outer header: a plain data frame of 8 + 8 + 16 + 1 + 5 = 38 bytes.
  assert_eq!(&out[..2], b"\x00\x26");
  assert_eq!(&out[2..18], b"\x07MESSAGE\0\0\0\0\0\0\0\x03");
  let reference = SalsaBox::new(&sp, &c)
    .encrypt(
      &nonce(b"CurveZMQMESSAGEC", &3u64.to_be_bytes()),
      &b"\x01hello"[..],
    )
    .unwrap();
  assert_eq!(&out[18..], &reference[..]);
  // The server's direction: its own prefix and counter, COMMAND flag inside the box.
  let out = wire(&mut server, false, true, b"\x04PING\0\0");
  let reference = SalsaBox::new(&c.public_key(), &s)
    .encrypt(
      &nonce(b"CurveZMQMESSAGES", &2u64.to_be_bytes()),
      &b"\x02\x04PING\0\0"[..],
    )
    .unwrap();
  assert_eq!(&out[2..18], b"\x07MESSAGE\0\0\0\0\0\0\0\x02");
  assert_eq!(&out[18..], &reference[..]);
}

#[test]
fn a_long_frame_gets_the_long_header_and_the_same_box() {
  let (c, _, _, sp) = keys();
  let (mut client, _) = codecs();
  let body = vec![0xAB; 300];
  let out = wire(&mut client, false, false, &body);
  assert_eq!(&out[..9], &[2, 0, 0, 0, 0, 0, 0, 0x01, 0x4D][..]); // 333 = 300 + 33
  let mut plain = vec![0u8];
  plain.extend_from_slice(&body);
  let reference = SalsaBox::new(&sp, &c)
    .encrypt(&nonce(b"CurveZMQMESSAGEC", &3u64.to_be_bytes()), &plain[..])
    .unwrap();
  assert_eq!(&out[25..], &reference[..]);
}

#[test]
fn a_box_nacl_sealed_opens_in_place_as_a_view_of_the_read_buffer() {
  let (c, cp, s, _) = keys();
  let (mut client, _) = codecs();
  let boxed = SalsaBox::new(&cp, &s)
    .encrypt(
      &nonce(b"CurveZMQMESSAGES", &7u64.to_be_bytes()),
      &b"\x01reply"[..],
    )
    .unwrap();
  let mut body = BytesMut::from(&b"\x07MESSAGE\0\0\0\0\0\0\0\x07"[..]);
  body.extend_from_slice(&boxed);
  let start = body.as_ptr() as usize;
  let frame = client.open_in_place(body).unwrap();
  assert_eq!(frame, Frame::data(&b"reply"[..], true));
  assert_eq!(
    frame.body.as_ptr() as usize,
    start + 33,
    "no copy: the frame is the decrypted bytes where they arrived"
  );
  drop(c);
}

#[test]
fn every_tampered_byte_of_a_box_is_refused_in_place() {
  let (mut client, _) = codecs();
  let sealed = wire(&mut client, false, false, b"payload");
  // Body after the 2-byte header: name (8), nonce (8), MAC (16), flags + payload (8).
  for at in 18..sealed.len() {
    let (_, mut server) = codecs();
    let mut body = BytesMut::from(&sealed[2..]);
    body[at - 2] ^= 0x40;
    assert_eq!(
      server.open_in_place(body).unwrap_err(),
      ZmtpError::Crypto("MESSAGE box did not open"),
      "byte {at} flipped"
    );
  }
  let (_, mut server) = codecs();
  assert!(server.open_in_place(BytesMut::from(&sealed[2..])).is_ok());
}

#[test]
fn a_replayed_or_reordered_nonce_is_refused() {
  let (mut client, mut server) = codecs();
  let m3 = wire(&mut client, false, false, b"three");
  let m4 = wire(&mut client, false, false, b"four");
  let m5 = wire(&mut client, false, false, b"five");
  let open = |s: &mut Traffic, w: &BytesMut| s.open_in_place(BytesMut::from(&w[2..]));
  assert_eq!(open(&mut server, &m3).unwrap().body, &b"three"[..]);
  // A gap is allowed (libzmq: strictly greater), going back is not.
  assert_eq!(open(&mut server, &m5).unwrap().body, &b"five"[..]);
  assert_eq!(
    open(&mut server, &m4).unwrap_err(),
    ZmtpError::NonceReplay { got: 4, last: 5 }
  );
  assert_eq!(
    open(&mut server, &m5).unwrap_err(),
    ZmtpError::NonceReplay { got: 5, last: 5 }
  );
}

#[test]
fn a_refused_box_leaves_the_last_nonce_where_it_was() {
  let (mut client, mut server) = codecs();
  let m3 = wire(&mut client, false, false, b"x");
  let mut forged = BytesMut::from(&m3[2..]);
  forged[15] = 9; // nonce 9: not what was sealed, so the MAC fails
  assert!(matches!(
    server.open_in_place(forged),
    Err(ZmtpError::Crypto(_))
  ));
  assert_eq!(
    server.open_in_place(BytesMut::from(&m3[2..])).unwrap().body,
    &b"x"[..]
  );
}

#[test]
fn a_session_refuses_a_tampered_message_with_the_crypto_reason_and_closes() {
  use std::time::Instant;

  use bytes::Bytes;

  use super::super::super::session::{Session, SessionConfig};
  use super::super::{curve_keypair, MechanismConfig};

  let (server_keys, client_keys) = (curve_keypair(), curve_keypair());
  let now = Instant::now();
  let mut pull = Session::new(
    SessionConfig {
      mechanism: MechanismConfig::CurveServer {
        secret_key: server_keys.secret,
        authenticator: None,
      },
      ..SessionConfig::new("PULL")
    },
    now,
  );
  let mut push = Session::new(
    SessionConfig {
      mechanism: MechanismConfig::CurveClient {
        keys: client_keys,
        server_key: server_keys.public,
      },
      ..SessionConfig::new("PUSH")
    },
    now,
  );
  for _ in 0..4 {
    pull.handle_input(&push.take_output(), now).unwrap();
    push.handle_input(&pull.take_output(), now).unwrap();
  }
  assert!(push.is_ready() && pull.is_ready());
  push
    .send_message(&[Bytes::from_static(b"a"), Bytes::from_static(b"b")])
    .unwrap();
  let good = push.take_output();
  pull.handle_input(&good[..good.len() / 2], now).unwrap();
  pull.handle_input(&good[good.len() / 2..], now).unwrap();
  push.send_message(&[Bytes::from_static(b"c")]).unwrap();
  let mut bad = push.take_output().to_vec();
  let last = bad.len() - 1;
  bad[last] ^= 1;
  let err = pull.handle_input(&bad, now).unwrap_err();
  // The driver counts refusals by this reason.
  assert_eq!(err.reason(), "crypto");
  assert_eq!(pull.handle_input(&good, now), Err(ZmtpError::Closed));
  let delivered: Vec<_> = std::iter::from_fn(|| pull.poll_event()).collect();
  assert_eq!(
    delivered[1..],
    [super::super::super::session::Event::Message(vec![
      Bytes::from_static(b"a"),
      Bytes::from_static(b"b")
    ])]
  );
}
