//! Issue 19's hostile peers, byte for byte: each case must end in a typed error (or a wait bounded by the
//! handshake timeout), never a panic or an allocation sized by the peer.

use std::time::{Duration, Instant};

use super::error::ZmtpError;
use super::session::{Event, Limits, Session, SessionConfig};

fn greeting(major: u8, minor: u8, mech: &[u8]) -> Vec<u8> {
  let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, major, minor];
  let mut field = [0u8; 20];
  field[..mech.len()].copy_from_slice(mech);
  g.extend_from_slice(&field);
  g.extend_from_slice(&[0u8; 32]);
  g
}

const DEALER_READY: &[u8] = b"\x04\x29\x05READY\x0BSocket-Type\0\0\0\x06DEALER\x08Identity\0\0\0\0";

fn router() -> Session {
  router_at(Instant::now())
}

fn router_at(now: Instant) -> Session {
  Session::new(SessionConfig::new("ROUTER"), now)
}

fn after_greeting(tail: &[u8]) -> Result<(), ZmtpError> {
  let mut input = greeting(3, 1, b"NULL");
  input.extend_from_slice(tail);
  router().handle_input(&input, Instant::now())
}

fn after_handshake(tail: &[u8]) -> (Session, Result<(), ZmtpError>) {
  let mut s = router();
  let mut input = greeting(3, 1, b"NULL");
  input.extend_from_slice(DEALER_READY);
  s.handle_input(&input, Instant::now()).unwrap();
  assert!(matches!(s.poll_event(), Some(Event::Ready(_))));
  let result = s.handle_input(tail, Instant::now());
  (s, result)
}

/// A small deterministic generator for the random-bytes cases (no dependency, same bytes every run).
fn xorshift(seed: u64) -> impl FnMut() -> u8 {
  let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
  move || {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x >> 24) as u8
  }
}

#[test]
fn length_2_pow_40_before_the_handshake_is_refused() {
  let err = after_greeting(b"\x06\x00\x00\x01\x00\x00\x00\x00\x00").unwrap_err();
  assert_eq!(
    err,
    ZmtpError::FrameTooLarge {
      size: 1 << 40,
      max: 64 << 10
    }
  );
}

#[test]
fn length_2_pow_62_before_the_handshake_is_refused() {
  let err = after_greeting(b"\x06\x40\x00\x00\x00\x00\x00\x00\x00").unwrap_err();
  assert_eq!(err.reason(), "frame_too_large");
}

#[test]
fn length_2_pow_40_after_the_handshake_is_refused() {
  let (_, result) = after_handshake(b"\x02\x00\x00\x01\x00\x00\x00\x00\x00");
  assert_eq!(
    result,
    Err(ZmtpError::FrameTooLarge {
      size: 1 << 40,
      max: 64 << 20
    })
  );
}

#[test]
fn length_2_pow_62_after_the_handshake_is_refused_even_with_no_limit() {
  let limits = Limits {
    max_msg_size: u64::MAX,
    max_buffered: usize::MAX,
    ..Limits::default()
  };
  let mut s = Session::new(
    SessionConfig {
      limits,
      ..SessionConfig::new("ROUTER")
    },
    Instant::now(),
  );
  let mut input = greeting(3, 1, b"NULL");
  input.extend_from_slice(DEALER_READY);
  input.extend_from_slice(b"\x03\x40\x00\x00\x00\x00\x00\x00\x00");
  assert_eq!(
    s.handle_input(&input, Instant::now()).unwrap_err().reason(),
    "frame_too_large"
  );
}

#[test]
fn an_allowed_but_huge_frame_does_not_grow_the_buffer_before_bytes_arrive() {
  let (mut s, result) = after_handshake(b"\x02\x00\x00\x00\x00\x03\x00\x00\x00abc");
  assert_eq!(result, Ok(()));
  assert!(
    s.read_buf().capacity() < 4096,
    "capacity {}",
    s.read_buf().capacity()
  );
  assert_eq!(s.read_hint(), 64 * 1024);
}

#[test]
fn unknown_mechanism_is_refused_after_the_greeting() {
  let err = router()
    .handle_input(&greeting(3, 1, b"KERBEROS"), Instant::now())
    .unwrap_err();
  assert_eq!(err, ZmtpError::UnknownMechanism("KERBEROS".into()));
}

#[test]
fn a_mechanism_other_than_ours_is_refused() {
  let err = router()
    .handle_input(&greeting(3, 1, b"CURVE"), Instant::now())
    .unwrap_err();
  assert_eq!(
    err,
    ZmtpError::MechanismMismatch {
      ours: "NULL",
      peer: "CURVE"
    }
  );
}

#[test]
fn version_9_9_followed_by_random_bytes_never_panics_and_always_ends() {
  for seed in 0..2000u64 {
    let mut next = xorshift(seed);
    let mut input = b"\xFF\0\0\0\0\0\0\0\x01\x7F\x09\x09".to_vec();
    if seed % 2 == 0 {
      // Half the cases name NULL properly, so the random bytes reach the frame decoder and the handshake.
      input.extend_from_slice(b"NULL\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
      input.extend_from_slice(&[0u8; 32]);
    }
    input.extend((0..4096).map(|_| next()));
    let mut s = router();
    // Random bytes either fail (almost always at the mechanism name) or leave a bounded partial frame.
    if s.handle_input(&input, Instant::now()).is_ok() {
      assert!(s.read_buf().len() <= 4096 + 64, "seed {seed}");
    }
  }
}

#[test]
fn random_bytes_after_a_valid_greeting_and_handshake_never_panic() {
  for seed in 0..2000u64 {
    let mut next = xorshift(seed);
    let tail: Vec<u8> = (0..2048).map(|_| next()).collect();
    let (s, result) = after_handshake(&tail);
    if result.is_ok() {
      assert!(s.read_hint() <= 64 * 1024);
    }
  }
}

#[test]
fn zmtp_1_and_2_peers_are_refused() {
  let err = router()
    .handle_input(b"\xFF\0\0\0\0\0\0\0\x01\x00", Instant::now())
    .unwrap_err();
  assert_eq!(err.reason(), "unsupported_version");
  let err = router()
    .handle_input(&greeting(2, 0, b"NULL"), Instant::now())
    .unwrap_err();
  assert_eq!(err, ZmtpError::UnsupportedVersion { major: 2, minor: 0 });
}

#[test]
fn a_truncated_greeting_waits_then_hits_the_handshake_timeout() {
  let t0 = Instant::now();
  let mut s = router_at(t0);
  s.handle_input(&greeting(3, 1, b"NULL")[..40], t0).unwrap();
  assert_eq!(s.read_hint(), 24);
  let deadline = s.next_timeout().unwrap();
  assert_eq!(deadline, t0 + Duration::from_secs(30));
  assert_eq!(s.handle_timeout(deadline), Err(ZmtpError::HandshakeTimeout));
}

#[test]
fn a_peer_that_never_sends_ready_hits_the_handshake_timeout() {
  let t0 = Instant::now();
  let limits = Limits {
    handshake_timeout: Duration::from_secs(2),
    ..Limits::default()
  };
  let mut s = Session::new(
    SessionConfig {
      limits,
      ..SessionConfig::new("ROUTER")
    },
    t0,
  );
  s.handle_input(&greeting(3, 1, b"NULL"), t0).unwrap();
  s.handle_timeout(t0 + Duration::from_secs(1)).unwrap();
  assert_eq!(
    s.handle_timeout(t0 + Duration::from_secs(2)),
    Err(ZmtpError::HandshakeTimeout)
  );
}

#[test]
fn a_repeated_greeting_is_refused() {
  let mut twice = greeting(3, 1, b"NULL");
  twice.extend_from_slice(&greeting(3, 1, b"NULL"));
  assert_eq!(
    router()
      .handle_input(&twice, Instant::now())
      .unwrap_err()
      .reason(),
    "malformed"
  );
}

#[test]
fn a_ready_larger_than_the_handshake_limit_is_refused_from_its_header() {
  let err = after_greeting(b"\x06\x00\x00\x00\x00\x00\x01\x00\x01").unwrap_err();
  assert_eq!(
    err,
    ZmtpError::FrameTooLarge {
      size: 65537,
      max: 65536
    }
  );
}

#[test]
fn a_ready_property_announcing_4_gib_is_refused() {
  let err = after_greeting(b"\x04\x18\x05READY\x0BSocket-Type\xFF\xFF\xFF\xFFDEAL").unwrap_err();
  assert_eq!(err, ZmtpError::Malformed("property value length"));
}

#[test]
fn data_before_ready_is_refused() {
  assert_eq!(
    after_greeting(b"\x00\x03abc"),
    Err(ZmtpError::UnexpectedMessage)
  );
}

#[test]
fn too_many_frames_in_one_message_are_refused() {
  let tail: Vec<u8> = std::iter::repeat_n(&b"\x01\x00"[..], 1025)
    .flatten()
    .copied()
    .collect();
  let (_, result) = after_handshake(&tail);
  assert_eq!(result, Err(ZmtpError::TooManyFrames { max: 1024 }));
}

#[test]
fn a_message_of_exactly_max_frames_is_accepted() {
  let mut tail: Vec<u8> = std::iter::repeat_n(&b"\x01\x00"[..], 1023)
    .flatten()
    .copied()
    .collect();
  tail.extend_from_slice(b"\x00\x00");
  let (mut s, result) = after_handshake(&tail);
  result.unwrap();
  assert!(matches!(s.poll_event(), Some(Event::Message(m)) if m.len() == 1024));
}

#[test]
fn bytes_buffered_for_one_peer_are_capped() {
  let limits = Limits {
    max_buffered: 1000,
    ..Limits::default()
  };
  let mut s = Session::new(
    SessionConfig {
      limits,
      ..SessionConfig::new("ROUTER")
    },
    Instant::now(),
  );
  let mut input = greeting(3, 1, b"NULL");
  input.extend_from_slice(DEALER_READY);
  s.handle_input(&input, Instant::now()).unwrap();
  // Frames of 200 bytes with MORE set: the partial message grows until the cap.
  let mut frame = b"\x01\xC8".to_vec();
  frame.extend_from_slice(&[0u8; 200]);
  let results: Vec<_> = (0..5)
    .map(|_| s.handle_input(&frame, Instant::now()))
    .collect();
  assert!(results[..4].iter().all(Result::is_ok));
  assert_eq!(results[4].clone().unwrap_err().reason(), "buffer_limit");
}

#[test]
fn one_byte_at_a_time_is_fine_but_bounded_by_the_handshake_timeout() {
  let t0 = Instant::now();
  let mut s = router_at(t0);
  for (i, b) in greeting(3, 1, b"NULL").iter().take(30).enumerate() {
    s.handle_input(&[*b], t0 + Duration::from_secs(i as u64))
      .unwrap();
  }
  assert_eq!(
    s.handle_timeout(t0 + Duration::from_secs(30)),
    Err(ZmtpError::HandshakeTimeout)
  );
}
