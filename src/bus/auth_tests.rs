//! Sign/verify, tampering, replays, stale and unsigned datagrams, and the cache's bound.

use super::*;

const T0: u64 = 1_800_000_000_000;
const HB: &[u8] = br#"["hb","9900000042"]"#;

fn keyed(key: &str) -> DatagramAuth {
  DatagramAuth::new(Some(ClusterKey::derive(key.as_bytes())))
}

#[test]
fn a_sealed_datagram_opens_with_the_same_key_and_gives_back_its_content() {
  let mut a = keyed("correct horse battery staple");
  let mut b = keyed("correct horse battery staple");
  let sealed = a.seal(HB.to_vec(), T0);
  assert!(sealed.starts_with(HB));
  assert_eq!(sealed[HB.len()], b'\n');
  assert_eq!(b.open(&sealed, T0 + 5), Ok(HB));
}

#[test]
fn the_trailer_has_the_documented_shape() {
  let mut a = keyed("correct horse battery staple");
  let sealed = a.seal(HB.to_vec(), T0);
  let trailer = std::str::from_utf8(&sealed[HB.len() + 1..]).unwrap();
  let parts: Vec<&str> = trailer.split(' ').collect();
  assert_eq!(parts[0], "ZBMAC1");
  assert_eq!(parts[1].len(), 16);
  assert_eq!(parts[2], T0.to_string());
  assert_eq!(parts[3].len(), 64);
  // The original parses whole datagrams as JSON: ours must not parse.
  assert!(serde_json::from_slice::<serde_json::Value>(&sealed).is_err());
}

#[test]
fn a_datagram_sealed_with_another_key_is_forged() {
  let mut a = keyed("correct horse battery staple");
  let mut b = keyed("another cluster entirely!");
  let sealed = a.seal(HB.to_vec(), T0);
  assert_eq!(b.open(&sealed, T0), Err(AuthError::Forged));
}

#[test]
fn any_changed_byte_of_content_or_trailer_is_forged() {
  let mut a = keyed("correct horse battery staple");
  let sealed = a.seal(HB.to_vec(), T0);
  // The newline and the tag decide whether there is a signature at all (tested below).
  let framing = HB.len()..HB.len() + 1 + TAG.len();
  for i in (0..sealed.len()).filter(|i| !framing.contains(i)) {
    let mut bad = sealed.clone();
    bad[i] ^= 0x01;
    let mut b = keyed("correct horse battery staple");
    assert_eq!(b.open(&bad, T0), Err(AuthError::Forged), "byte {i}");
  }
}

#[test]
fn a_winner_with_a_raised_priority_but_the_old_mac_is_forged() {
  let winner = br#"["elect","winner",{"id":"9900000001","sub_addr":"tcp://10.0.0.1:1","pub_addr":"tcp://10.0.0.1:2"}]"#;
  let mut a = keyed("correct horse battery staple");
  let sealed = a.seal(winner.to_vec(), T0);
  let text = String::from_utf8(sealed)
    .unwrap()
    .replace("9900000001", "0000000001");
  let mut b = keyed("correct horse battery staple");
  assert_eq!(b.open(text.as_bytes(), T0), Err(AuthError::Forged));
}

#[test]
fn an_exact_replay_inside_the_window_is_refused() {
  let mut a = keyed("correct horse battery staple");
  let mut b = keyed("correct horse battery staple");
  let sealed = a.seal(HB.to_vec(), T0);
  assert!(b.open(&sealed, T0).is_ok());
  assert_eq!(b.open(&sealed, T0 + 1000), Err(AuthError::Replayed));
}

#[test]
fn timestamps_beyond_the_window_either_way_are_stale() {
  let window = REPLAY_WINDOW.as_millis() as u64;
  let mut a = keyed("correct horse battery staple");
  let old = a.seal(HB.to_vec(), T0);
  let mut b = keyed("correct horse battery staple");
  assert_eq!(b.open(&old, T0 + window + 1), Err(AuthError::Stale));
  let mut c = keyed("correct horse battery staple");
  let future = c.seal(HB.to_vec(), T0 + window + 1);
  assert_eq!(b.open(&future, T0), Err(AuthError::Stale));
  let mut d = keyed("correct horse battery staple");
  assert!(
    d.open(&old, T0 + window).is_ok(),
    "the window's edge is inside"
  );
}

#[test]
fn unsigned_datagrams_are_refused_with_a_key_and_signed_ones_without() {
  let mut with = keyed("correct horse battery staple");
  assert_eq!(with.open(HB, T0), Err(AuthError::Unsigned));
  let sealed = with.seal(HB.to_vec(), T0);
  let mut without = DatagramAuth::new(None);
  assert_eq!(without.open(&sealed, T0), Err(AuthError::Signed));
  assert_eq!(without.open(HB, T0), Ok(HB));
  assert_eq!(
    without.seal(HB.to_vec(), T0),
    HB,
    "no key: the original's bytes"
  );
}

#[test]
fn malformed_trailers_are_forged_not_parsed_further() {
  let mut b = keyed("correct horse battery staple");
  let cases: [&[u8]; 5] = [
    b"[\"elect\",\"start\"]\nZBMAC1 ",
    b"[\"elect\",\"start\"]\nZBMAC1 00 1 00",
    b"[\"elect\",\"start\"]\nZBMAC1 zz00000000000000 1 0000000000000000000000000000000000000000000000000000000000000000",
    b"[\"elect\",\"start\"]\nZBMAC1 0000000000000000 -1 0000000000000000000000000000000000000000000000000000000000000000",
    b"[\"elect\",\"start\"]\nZBMAC1 0000000000000000 1 0000000000000000000000000000000000000000000000000000000000000000 x",
  ];
  for bytes in cases {
    assert_eq!(
      b.open(bytes, T0),
      Err(AuthError::Forged),
      "{}",
      String::from_utf8_lossy(bytes)
    );
  }
}

#[test]
fn one_sender_never_repeats_a_timestamp() {
  let mut a = keyed("correct horse battery staple");
  let mut b = keyed("correct horse battery staple");
  // The same content twice in one millisecond: both are fresh datagrams.
  let first = a.seal(HB.to_vec(), T0);
  let second = a.seal(HB.to_vec(), T0);
  assert_ne!(first, second);
  assert!(b.open(&first, T0).is_ok());
  assert!(b.open(&second, T0).is_ok());
}

#[test]
fn the_replay_cache_is_bounded_and_what_it_forgot_stays_refused() {
  let mut a = keyed("correct horse battery staple");
  let mut b = keyed("correct horse battery staple");
  let first = a.seal(HB.to_vec(), T0);
  assert!(b.open(&first, T0).is_ok());
  for _ in 0..SEEN_CAPACITY + 10 {
    let next = a.seal(HB.to_vec(), T0);
    assert!(b.open(&next, T0).is_ok());
  }
  assert!(b.order.len() <= SEEN_CAPACITY && b.seen.len() <= SEEN_CAPACITY);
  assert_eq!(b.open(&first, T0), Err(AuthError::Replayed));
}

#[test]
fn entries_leave_the_cache_once_outside_the_window() {
  let window = REPLAY_WINDOW.as_millis() as u64;
  let mut a = keyed("correct horse battery staple");
  let mut b = keyed("correct horse battery staple");
  for i in 0..10 {
    assert!(b.open(&a.seal(HB.to_vec(), T0 + i), T0 + i).is_ok());
  }
  let later = T0 + 3 * window;
  assert!(b.open(&a.seal(HB.to_vec(), later), later).is_ok());
  assert_eq!(b.seen.len(), 1);
}

#[test]
fn key_derivation_is_deterministic_and_separates_its_two_uses() {
  let k1 = ClusterKey::derive(b"correct horse battery staple");
  let k2 = ClusterKey::derive(b"correct horse battery staple");
  let other = ClusterKey::derive(b"correct horse battery stapl3");
  assert_eq!(k1.curve_secret, k2.curve_secret);
  assert_eq!(k1.mac, k2.mac);
  assert_ne!(k1.curve_secret, other.curve_secret);
  assert_ne!(k1.mac, k1.curve_secret);
  assert_eq!(format!("{k1:?}"), "ClusterKey(..)");
}

#[test]
fn a_clock_that_goes_back_gets_a_new_sender_instead_of_future_timestamps() {
  let mut a = keyed("correct horse battery staple");
  let mut b = keyed("correct horse battery staple");
  let window = REPLAY_WINDOW.as_millis() as u64;
  assert!(b
    .open(&a.seal(HB.to_vec(), T0 + 2 * window), T0 + 2 * window)
    .is_ok());
  let sender = a.sender;
  let after = a.seal(HB.to_vec(), T0);
  assert_ne!(a.sender, sender);
  assert_eq!(b.open(&after, T0), Ok(HB), "not stale, not a replay");
}
