//! The forwarder's byte relay, sans IO: a publisher's wire bytes go through a raw SUB session, the sink, a
//! PUB state and PUB sessions to NULL and CURVE subscribers; NULL ones get the bytes unchanged.

use std::time::Instant;

use bytes::Bytes;

use super::{Output, PubState, Relayed, SinkState, SocketState};
use crate::zmtp::command::Subscription;
use crate::zmtp::error::ZmtpError;
use crate::zmtp::mechanism::{curve_keypair, MechanismConfig};
use crate::zmtp::raw::RawMessage;
use crate::zmtp::session::{Event, Session, SessionConfig};

/// Moves bytes between two sessions until both are quiet (bounded).
fn pump(a: &mut Session, b: &mut Session, now: Instant) -> Result<(), ZmtpError> {
  for _ in 0..32 {
    let (ab, ba) = (a.take_output(), b.take_output());
    if ab.is_empty() && ba.is_empty() {
      return Ok(());
    }
    b.handle_input(&ab, now)?;
    a.handle_input(&ba, now)?;
  }
  Err(ZmtpError::Malformed("pump did not settle"))
}

fn events(s: &mut Session) -> Vec<Event> {
  std::iter::from_fn(|| s.poll_event()).collect()
}

/// A connected pair: (ours, peer's), both past the handshake, their Ready events taken.
fn pair(ours: SessionConfig, theirs: SessionConfig, now: Instant) -> (Session, Session) {
  let (mut a, mut b) = (Session::new(ours, now), Session::new(theirs, now));
  pump(&mut a, &mut b, now).unwrap();
  assert!(a.is_ready() && b.is_ready());
  let _ = (events(&mut a), events(&mut b));
  (a, b)
}

/// A PUB-side session and its SUB peer, subscribed to `topic` in `publ` as `token`.
fn subscriber(
  publ: &mut PubState,
  token: u64,
  topic: &'static [u8],
  curve: bool,
) -> (Session, Session) {
  let now = Instant::now();
  let (mut ours, mut sub) = (SessionConfig::new("PUB"), SessionConfig::new("SUB"));
  if curve {
    let (server, client) = (curve_keypair(), curve_keypair());
    ours.mechanism = MechanismConfig::CurveServer {
      secret_key: server.secret,
      authenticator: None,
    };
    sub.mechanism = MechanismConfig::CurveClient {
      keys: client,
      server_key: server.public,
    };
  }
  let (mut ours, mut sub) = pair(ours, sub, now);
  let peer = crate::zmtp::session::PeerInfo {
    socket_type: "SUB".into(),
    identity: Bytes::new(),
    properties: Default::default(),
    user_id: None,
    version: crate::zmtp::greeting::Version::V31,
  };
  publ.on_ready(token, &peer).unwrap();
  sub
    .send_subscription(&Subscription::Subscribe(Bytes::from_static(topic)))
    .unwrap();
  pump(&mut ours, &mut sub, now).unwrap();
  for ev in events(&mut ours) {
    if let Event::Subscription(s) = ev {
      publ.on_subscription(token, s);
    }
  }
  (ours, sub)
}

/// Writes what `publ` queued for `token` through its session; the bytes that went on the wire.
fn write_out(publ: &mut PubState, token: u64, session: &mut Session) -> Bytes {
  while let Some(out) = publ.take_output(token) {
    match out {
      Output::Raw(m) => session.send_raw(&m).unwrap(),
      Output::Message(m) => session.send_message(&m).unwrap(),
      Output::Subscription(_) => unreachable!("a PUB sends no subscriptions"),
    }
  }
  session.take_output()
}

fn messages(sub: &mut Session, wire: &[u8]) -> Vec<Vec<Bytes>> {
  sub.handle_input(wire, Instant::now()).unwrap();
  let evs = events(sub).into_iter();
  evs
    .map(|e| match e {
      Event::Message(m) => m,
      other => panic!("{other:?}"),
    })
    .collect()
}

#[test]
fn a_relayed_message_reaches_null_subscribers_byte_for_byte_and_curve_ones_as_frames() {
  let now = Instant::now();
  let mut raw_cfg = SessionConfig::new("SUB");
  raw_cfg.raw_messages = true;
  let (mut input, _publisher) = pair(raw_cfg, SessionConfig::new("PUB"), now);
  // Three messages as a publisher may write them: short frames, a long form on a short frame, a long one.
  let mut m1 = b"\x01\x06equity\x03\0\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\x01\x2c".to_vec();
  m1.extend_from_slice(&[9u8; 300]);
  let m2 = b"\x01\x04bond\x00\x01b".to_vec();
  let m3 = b"\x01\x07equity2\x00\x01z".to_vec();
  input
    .handle_input(&[m1.clone(), m2, m3.clone()].concat(), now)
    .unwrap();
  let mut sink = SinkState::default();
  for ev in events(&mut input) {
    let Event::Raw(msg) = ev else {
      panic!("{ev:?}")
    };
    sink.on_raw(1, msg);
  }

  // A pipe holds two messages: the catch-all subscribers lose the third, each loss counted.
  let mut publ = PubState::new(2, 1 << 20);
  let (mut eq_pub, mut eq_sub) = subscriber(&mut publ, 10, b"eq", false);
  let (mut all_pub, mut all_sub) = subscriber(&mut publ, 11, b"", false);
  let (mut sealed_pub, mut sealed_sub) = subscriber(&mut publ, 12, b"", true);
  let mut to = Vec::new();
  while let Some(Relayed::Raw(msg)) = sink.poll_event() {
    publ.publish_raw(&msg, &mut to);
  }
  assert_eq!((to.len(), publ.dropped_full), (6, 2));

  let eq_wire = write_out(&mut publ, 10, &mut eq_pub);
  assert_eq!(eq_wire, [m1.clone(), m3].concat());
  let all_wire = write_out(&mut publ, 11, &mut all_pub);
  assert_eq!(all_wire[..m1.len()], m1[..]);
  let got = messages(&mut all_sub, &all_wire);
  assert_eq!(
    got[1],
    [Bytes::from_static(b"bond"), Bytes::from_static(b"b")]
  );
  let m1_frames = vec![
    Bytes::from_static(b"equity"),
    Bytes::new(),
    vec![9u8; 300].into(),
  ];
  assert_eq!(messages(&mut eq_sub, &eq_wire)[0], m1_frames);
  let sealed = write_out(&mut publ, 12, &mut sealed_pub);
  assert_eq!(messages(&mut sealed_sub, &sealed), got);
}

#[test]
fn raw_and_frame_publishes_count_messages_and_bytes_alike() {
  let peer = crate::zmtp::session::PeerInfo {
    socket_type: "SUB".into(),
    identity: Bytes::new(),
    properties: Default::default(),
    user_id: None,
    version: crate::zmtp::greeting::Version::V31,
  };
  let frames = [Bytes::from_static(b"t"), Bytes::from_static(b"1234567")];
  let raw = RawMessage::encode(&frames).unwrap();
  let (mut a, mut b) = (PubState::new(100, 10), PubState::new(100, 10));
  for p in [&mut a, &mut b] {
    p.on_ready(1, &peer).unwrap();
    p.on_subscription(1, Subscription::Subscribe(Bytes::new()));
  }
  let (mut to_a, mut to_b) = (Vec::new(), Vec::new());
  for _ in 0..3 {
    a.publish(&frames, &mut to_a);
    b.publish_raw(&raw, &mut to_b);
  }
  // 8 body bytes fit an empty pipe; 16 would pass the 10-byte limit.
  assert_eq!((to_a.len(), a.dropped_full), (1, 2));
  assert_eq!((to_b.len(), b.dropped_full), (1, 2));
  assert_eq!(b.take_output(1), Some(Output::Raw(raw)));
  assert!(!b.has_output(1));
}

#[test]
fn a_command_inside_a_message_sends_that_message_the_frame_way_and_the_next_one_raw() {
  let now = Instant::now();
  let mut raw_cfg = SessionConfig::new("SUB");
  raw_cfg.raw_messages = true;
  let (mut input, _publisher) = pair(raw_cfg, SessionConfig::new("PUB"), now);
  let wire = b"\x01\x01a\x04\x07\x04PING\0\0\x00\x01b\x00\x01c";
  input.handle_input(wire, now).unwrap();
  let evs = events(&mut input);
  let a_b = vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")];
  assert_eq!(evs[0], Event::Message(a_b));
  let Event::Raw(next) = &evs[1] else {
    panic!("{evs:?}")
  };
  assert_eq!(&next.wire()[..], b"\x00\x01c");
  // The PING was answered (a PONG went out) on the way.
  assert!(input.has_output());
}

/// CPU per relayed message, frame path against byte path, sans IO (one SUB session in, `subs` NULL PUB
/// sessions out): `cargo test --release --lib relay_cost -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check: run it in release"]
fn relay_cost_per_message_frame_path_against_byte_path() {
  const BATCH: usize = 1000;
  const ROUNDS: usize = 1000;
  let one = b"\x01\x06equity\x01\x04AAPL\x00\x03500";
  let input: Vec<u8> = one
    .iter()
    .copied()
    .cycle()
    .take(one.len() * BATCH)
    .collect();
  for subs in [1u64, 2, 4] {
    for raw in [false, true, false, true] {
      let now = Instant::now();
      let mut cfg = SessionConfig::new("SUB");
      cfg.raw_messages = raw;
      let (mut sink, _publisher) = pair(cfg, SessionConfig::new("PUB"), now);
      let mut publ = PubState::new(usize::MAX, usize::MAX);
      let mut outs: Vec<Session> = (0..subs)
        .map(|t| subscriber(&mut publ, t, b"", false).0)
        .collect();
      let (mut to, mut wrote) = (Vec::new(), 0usize);
      let started = Instant::now();
      for _ in 0..ROUNDS {
        sink.handle_input(&input, now).unwrap();
        while let Some(ev) = sink.poll_event() {
          match ev {
            Event::Raw(m) => publ.publish_raw(&m, &mut to),
            Event::Message(m) => publ.publish(&m, &mut to),
            other => panic!("{other:?}"),
          }
        }
        to.clear();
        for (t, out) in outs.iter_mut().enumerate() {
          wrote += write_out(&mut publ, t as u64, out).len();
        }
      }
      let ns = started.elapsed().as_nanos() as f64 / (BATCH * ROUNDS) as f64;
      assert_eq!(wrote, input.len() * ROUNDS * subs as usize);
      println!(
        "subs={subs} path={} {ns:.0} ns/message",
        if raw { "bytes" } else { "frames" }
      );
    }
  }
}

#[test]
fn a_raw_session_holds_the_frame_paths_limits_in_traffic() {
  let now = Instant::now();
  let raw_sub = |max_buffered: usize, max_frames: usize| {
    let mut cfg = SessionConfig::new("SUB");
    cfg.raw_messages = true;
    cfg.limits.max_buffered = max_buffered;
    cfg.limits.max_frames = max_frames;
    pair(cfg, SessionConfig::new("PUB"), now).0
  };
  // 2^40 announced after a whole first frame: refused before any body byte.
  let err = raw_sub(1 << 20, 16)
    .handle_input(b"\x01\x01a\x02\0\0\x01\0\0\0\0\0", now)
    .unwrap_err();
  assert_eq!(err.reason(), "frame_too_large");
  // An unfinished message of empty frames: each costs its bookkeeping, as on the frame path.
  let mut s = raw_sub(1000, 1 << 20);
  let err = (0..100)
    .find_map(|_| s.handle_input(b"\x01\0\x01\0\x01\0\x01\0", now).err())
    .expect("refused within 100 reads");
  assert_eq!(err.reason(), "buffer_limit");
  let err = raw_sub(1 << 20, 3)
    .handle_input(b"\x01\0\x01\0\x01\0\x01\0", now)
    .unwrap_err();
  assert_eq!(err.reason(), "too_many_frames");
}
