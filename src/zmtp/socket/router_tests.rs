//! ROUTER state tests with byte literals.

use bytes::Bytes;

use super::*;

fn b(x: &'static [u8]) -> Bytes {
  Bytes::from_static(x)
}

fn events(r: &mut RouterState) -> Vec<RouterEvent> {
  std::iter::from_fn(|| r.poll_event()).collect()
}

#[test]
fn a_peer_with_an_identity_is_routed_by_it_and_its_messages_carry_it() {
  let mut r = RouterState::new(10, 1 << 20, 7);
  r.handle_ready(1, b(b"W1")).unwrap();
  r.handle_message(1, vec![b(b"W"), b(b"1"), b(b"echo")]);
  assert_eq!(
    events(&mut r),
    [
      RouterEvent::Connected(b(b"W1")),
      RouterEvent::Message(vec![b(b"W1"), b(b"W"), b(b"1"), b(b"echo")]),
    ]
  );
  assert_eq!(r.send(vec![b(b"W1"), b(b"W"), b(b"1")]), Ok(1));
  assert_eq!(r.take_message(1), Some(vec![b(b"W"), b(b"1")]));
  assert_eq!(r.take_message(1), None);
}

#[test]
fn a_peer_without_identity_gets_zero_then_a_big_endian_counter() {
  let mut r = RouterState::new(10, 1 << 20, 0x0102_03ff);
  r.handle_ready(1, Bytes::new()).unwrap();
  r.handle_ready(2, Bytes::new()).unwrap();
  assert_eq!(
    events(&mut r),
    [
      RouterEvent::Connected(b(b"\x00\x01\x02\x03\xff")),
      RouterEvent::Connected(b(b"\x00\x01\x02\x04\x00")),
    ]
  );
  assert_eq!(r.token_of(b"\x00\x01\x02\x04\x00"), Some(2));
}

#[test]
fn a_generated_id_skips_one_a_peer_announced_itself() {
  let mut r = RouterState::new(10, 1 << 20, 5);
  r.handle_ready(1, b(b"\x00\x00\x00\x00\x05")).unwrap();
  r.handle_ready(2, Bytes::new()).unwrap();
  assert_eq!(r.token_of(b"\x00\x00\x00\x00\x06"), Some(2));
}

#[test]
fn a_duplicate_identity_is_ignored_until_its_holder_is_gone() {
  let mut r = RouterState::new(10, 1 << 20, 0);
  r.handle_ready(1, b(b"dup")).unwrap();
  r.handle_ready(2, b(b"dup")).unwrap();
  r.handle_message(2, vec![b(b"lost")]);
  assert_eq!(events(&mut r), [RouterEvent::Connected(b(b"dup"))]);
  assert_eq!(r.stats().duplicate_ids, 1);
  assert_eq!(r.stats().dropped_anonymous, 1);
  assert_eq!(
    r.send(vec![b(b"dup"), b(b"x")]),
    Ok(1),
    "routed to the holder"
  );
  r.handle_gone(1);
  r.handle_message(2, vec![b(b"now")]);
  assert_eq!(
    events(&mut r),
    [
      RouterEvent::Gone(b(b"dup")),
      RouterEvent::Connected(b(b"dup")),
      RouterEvent::Message(vec![b(b"dup"), b(b"now")]),
    ]
  );
  assert_eq!(r.token_of(b"dup"), Some(2));
}

#[test]
fn an_identity_over_255_bytes_is_refused() {
  let mut r = RouterState::new(10, 1 << 20, 0);
  let long = Bytes::from(vec![b'x'; 256]);
  assert_eq!(r.handle_ready(1, long), Err(RouteError::BadIdentity(256)));
  assert_eq!(r.peers(), 0);
  assert!(r.handle_ready(2, Bytes::from(vec![b'x'; 255])).is_ok());
}

#[test]
fn an_unknown_id_is_unroutable_and_a_short_message_invalid() {
  let mut r = RouterState::new(10, 1 << 20, 0);
  assert_eq!(
    r.send(vec![b(b"nobody"), b(b"x")]),
    Err(RouteError::Unroutable)
  );
  assert_eq!(r.send(vec![b(b"nobody")]), Err(RouteError::Invalid));
  assert_eq!(r.stats().unroutable, 1);
}

#[test]
fn a_full_pipe_drops_and_counts_by_messages_and_by_bytes() {
  let mut r = RouterState::new(2, 10, 0);
  r.handle_ready(1, b(b"p")).unwrap();
  assert_eq!(r.send(vec![b(b"p"), b(b"12345678")]), Ok(1));
  assert_eq!(
    r.send(vec![b(b"p"), b(b"abc")]),
    Err(RouteError::Full),
    "11 bytes > 10"
  );
  assert_eq!(r.send(vec![b(b"p"), b(b"ab")]), Ok(1));
  assert_eq!(
    r.send(vec![b(b"p"), b(b"")]),
    Err(RouteError::Full),
    "2 messages"
  );
  assert_eq!(r.stats().dropped_full, 2);
  r.take_message(1);
  assert_eq!(r.send(vec![b(b"p"), b(b"")]), Ok(1), "room again");
}

#[test]
fn one_message_larger_than_the_byte_limit_still_fits_an_empty_pipe() {
  let mut r = RouterState::new(10, 4, 0);
  r.handle_ready(1, b(b"p")).unwrap();
  assert_eq!(r.send(vec![b(b"p"), b(b"0123456789")]), Ok(1));
}

#[test]
fn a_gone_peer_frees_its_id_and_drops_what_was_queued() {
  let mut r = RouterState::new(10, 1 << 20, 0);
  r.handle_ready(1, b(b"w")).unwrap();
  r.send(vec![b(b"w"), b(b"a")]).unwrap();
  r.send(vec![b(b"w"), b(b"b")]).unwrap();
  r.handle_gone(1);
  r.handle_gone(1);
  assert_eq!(
    events(&mut r),
    [RouterEvent::Connected(b(b"w")), RouterEvent::Gone(b(b"w"))]
  );
  assert_eq!(r.stats().dropped_on_close, 2);
  assert_eq!(r.send(vec![b(b"w"), b(b"c")]), Err(RouteError::Unroutable));
  assert!(!r.has_queued(1));
}

#[test]
fn a_connection_that_never_finished_its_handshake_leaves_no_event() {
  let mut r = RouterState::new(10, 1 << 20, 0);
  r.handle_gone(42);
  r.handle_message(42, vec![b(b"x")]);
  assert!(events(&mut r).is_empty());
}

#[test]
fn as_an_app_socket_a_router_drops_silently_unless_mandatory() {
  use crate::zmtp::socket::{AppSocket, SendError};
  let mut r = RouterState::new(1, 1 << 20, 0);
  r.handle_ready(1, b(b"p")).unwrap();
  assert_eq!(AppSocket::send(&mut r, vec![b(b"nobody"), b(b"x")]), Ok(()));
  assert_eq!(AppSocket::send(&mut r, vec![b(b"p"), b(b"1")]), Ok(()));
  assert_eq!(AppSocket::send(&mut r, vec![b(b"p"), b(b"2")]), Ok(()));
  assert_eq!(r.stats().unroutable, 1);
  assert_eq!(r.stats().dropped_full, 1);
  assert_eq!(r.poll_woken(), Some(1));
  assert_eq!(r.poll_woken(), None);
  assert!(r.can_send());
  r.set_mandatory(true);
  assert!(!r.can_send(), "the only peer is full");
  assert_eq!(
    AppSocket::send(&mut r, vec![b(b"nobody"), b(b"x")]),
    Err(SendError::Unroutable)
  );
  assert_eq!(SendError::Unroutable.code(), "EHOSTUNREACH");
  assert_eq!(
    AppSocket::send(&mut r, vec![b(b"p"), b(b"3")]),
    Err(SendError::WouldBlock)
  );
  assert_eq!(
    AppSocket::send(&mut r, vec![b(b"p")]),
    Err(SendError::Invalid)
  );
  assert_eq!(r.take_message(1), Some(vec![b(b"1")]));
  assert!(r.can_send());
}
