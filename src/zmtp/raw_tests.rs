//! Scanning whole messages off a read buffer, with byte literals.

use bytes::{Bytes, BytesMut};

use super::*;
use crate::zmtp::frame::Frame;

/// `"eq"` (MORE, short), `"x"` (MORE, long form on a short frame: legal ZMTP), 300 bytes (long form).
fn three_frames() -> Vec<u8> {
  let mut wire = b"\x01\x02eq\x03\0\0\0\0\0\0\0\x01x\x02\0\0\0\0\0\0\x01\x2c".to_vec();
  wire.extend_from_slice(&[7u8; 300]);
  wire
}

#[test]
fn a_whole_message_of_short_and_long_frames_is_taken_byte_for_byte() {
  let wire = three_frames();
  let mut buf = BytesMut::from(&wire[..]);
  buf.extend_from_slice(b"\x00\x01n");
  let mut state = ScanState::default();
  let scanned = scan(&FrameDecoder::new(1024), &buf, &mut state, 16);
  assert_eq!(scanned, Ok(Scan::Message(wire.len())));
  let msg = take(&mut buf, &mut state);
  assert_eq!(&msg.wire()[..], &wire[..]);
  assert_eq!((&msg.first()[..], msg.size()), (&b"eq"[..], 303));
  let bodies = [
    Bytes::from_static(b"eq"),
    Bytes::from_static(b"x"),
    vec![7u8; 300].into(),
  ];
  assert_eq!(msg.frames(), bodies);
  assert_eq!((&buf[..], state), (&b"\x00\x01n"[..], ScanState::default()));
}

#[test]
fn a_message_fed_byte_by_byte_is_scanned_once_and_taken_when_whole() {
  let wire = three_frames();
  let dec = FrameDecoder::new(1024);
  let (mut buf, mut state) = (BytesMut::new(), ScanState::default());
  let mut frames_seen = 0;
  for (i, byte) in wire.iter().enumerate() {
    buf.extend_from_slice(&[*byte]);
    match scan(&dec, &buf, &mut state, 16).unwrap() {
      Scan::Incomplete { progress } => frames_seen += progress,
      Scan::Message(n) => {
        assert_eq!((i + 1, n, frames_seen), (wire.len(), wire.len(), 2));
        return;
      }
      Scan::Decode => panic!("data frames only"),
    }
  }
  panic!("never whole");
}

#[test]
fn a_command_or_a_reserved_flag_bit_takes_the_decoding_path() {
  let dec = FrameDecoder::new(1024);
  for wire in [
    &b"\x04\x05\x04PING"[..],
    b"\x01\x01a\x04\x01x",
    b"\x08\x01x",
  ] {
    let mut state = ScanState::default();
    assert_eq!(
      scan(&dec, wire, &mut state, 16),
      Ok(Scan::Decode),
      "{wire:?}"
    );
  }
}

#[test]
fn the_decoders_limits_hold_before_any_body_byte() {
  let dec = FrameDecoder::new(64 << 20);
  let huge = b"\x01\x01a\x02\0\0\x01\0\0\0\0\0";
  let err = scan(&dec, huge, &mut ScanState::default(), 16).unwrap_err();
  assert_eq!(err.reason(), "frame_too_large");
  let many = b"\x01\0\x01\0\x01\0";
  let err = scan(&dec, many, &mut ScanState::default(), 2).unwrap_err();
  assert_eq!(err, ZmtpError::TooManyFrames { max: 2 });
}

#[test]
fn encode_gives_what_a_null_session_writes() {
  let bodies = [Bytes::from_static(b"topic"), vec![1u8; 256].into()];
  let msg = RawMessage::encode(&bodies).unwrap();
  let mut want = BytesMut::new();
  frame::encode(&mut want, &Frame::data(bodies[0].clone(), true));
  frame::encode(&mut want, &Frame::data(bodies[1].clone(), false));
  assert_eq!((&msg.wire()[..], msg.size()), (&want[..], 261));
  assert_eq!(msg.frames(), bodies);
  assert_eq!(RawMessage::encode(&[]), None);
}
