//! Session tests: two sessions of ours talking, and hostile byte sequences from issue 19.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::command::Subscription;
use super::error::ZmtpError;
use super::greeting::Version;
use super::mechanism::{curve_keypair, Authenticator, MechanismConfig, ZapReply, ZapRequest};
use super::session::{Event, Heartbeat, Session, SessionConfig};

/// A peer greeting: version, mechanism.
fn greeting(major: u8, minor: u8, mech: &[u8]) -> Vec<u8> {
  let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, major, minor];
  let mut field = [0u8; 20];
  field[..mech.len()].copy_from_slice(mech);
  g.extend_from_slice(&field);
  g.extend_from_slice(&[0u8; 32]);
  g
}

/// A NULL READY frame from a DEALER with no identity, as libzmq writes it.
const DEALER_READY: &[u8] = b"\x04\x29\x05READY\x0BSocket-Type\0\0\0\x06DEALER\x08Identity\0\0\0\0";

/// A ROUTER session that has accepted a NULL 3.1 DEALER peer.
fn ready_router(now: Instant) -> Session {
  let mut s = Session::new(SessionConfig::new("ROUTER"), now);
  let mut input = greeting(3, 1, b"NULL");
  input.extend_from_slice(DEALER_READY);
  s.handle_input(&input, now).unwrap();
  assert!(matches!(s.poll_event(), Some(Event::Ready(_))));
  let _ = s.take_output();
  s
}

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

fn msg(parts: &[&'static [u8]]) -> Vec<Bytes> {
  parts.iter().map(|p| Bytes::from_static(p)).collect()
}

#[test]
fn session_writes_its_whole_greeting_first() {
  let mut s = Session::new(SessionConfig::new("DEALER"), Instant::now());
  let out = s.take_output();
  assert_eq!(out.len(), 64);
  assert_eq!(&out[..16], b"\xFF\0\0\0\0\0\0\0\x01\x7F\x03\x01NULL");
}

#[test]
fn two_null_sessions_handshake_and_exchange_multipart_messages() {
  let now = Instant::now();
  let mut dealer = Session::new(
    SessionConfig {
      identity: Bytes::from_static(b"me"),
      ..SessionConfig::new("DEALER")
    },
    now,
  );
  let mut router = Session::new(SessionConfig::new("ROUTER"), now);
  pump(&mut dealer, &mut router, now).unwrap();
  let Some(Event::Ready(peer)) = router.poll_event() else {
    panic!("router not ready")
  };
  assert_eq!(
    (peer.socket_type.as_str(), &peer.identity[..], peer.version),
    ("DEALER", &b"me"[..], Version::V31)
  );
  assert!(matches!(dealer.poll_event(), Some(Event::Ready(_))));
  dealer
    .send_message(&msg(&[b"", b"hello", b"world"]))
    .unwrap();
  router.send_message(&msg(&[b"reply"])).unwrap();
  pump(&mut dealer, &mut router, now).unwrap();
  assert_eq!(
    events(&mut router),
    vec![Event::Message(msg(&[b"", b"hello", b"world"]))]
  );
  assert_eq!(events(&mut dealer), vec![Event::Message(msg(&[b"reply"]))]);
}

#[test]
fn ready_and_data_in_one_read_fed_one_byte_at_a_time() {
  let now = Instant::now();
  let mut s = Session::new(SessionConfig::new("ROUTER"), now);
  let mut input = greeting(3, 0, b"NULL");
  input.extend_from_slice(DEALER_READY);
  input.extend_from_slice(b"\x01\x00\x00\x03abc");
  for b in input {
    s.handle_input(&[b], now).unwrap();
  }
  assert!(matches!(s.poll_event(), Some(Event::Ready(p)) if p.version == Version::V30));
  assert_eq!(s.poll_event(), Some(Event::Message(msg(&[b"", b"abc"]))));
  assert!(s.read_buf().is_empty());
}

#[test]
fn plain_sessions_complete_and_a_wrong_password_gets_error_400_before_the_close() {
  let auth: Arc<dyn Authenticator> = Arc::new(|req: &ZapRequest<'_>| match req.credentials {
    super::mechanism::ZapCredentials::Plain {
      password: b"pw", ..
    } => ZapReply::allow("u"),
    _ => ZapReply::deny(),
  });
  let server_cfg = SessionConfig {
    mechanism: MechanismConfig::PlainServer {
      authenticator: Some(auth),
    },
    ..SessionConfig::new("ROUTER")
  };
  let client_cfg = |pw: &'static [u8]| SessionConfig {
    mechanism: MechanismConfig::PlainClient {
      username: Bytes::from_static(b"u"),
      password: Bytes::from_static(pw),
    },
    ..SessionConfig::new("DEALER")
  };
  let now = Instant::now();
  let (mut c, mut s) = (
    Session::new(client_cfg(b"pw"), now),
    Session::new(server_cfg.clone(), now),
  );
  pump(&mut c, &mut s, now).unwrap();
  let Some(Event::Ready(peer)) = s.poll_event() else {
    panic!("not ready")
  };
  assert_eq!(peer.user_id.as_deref(), Some(&b"u"[..]));
  let (mut c, mut s) = (
    Session::new(client_cfg(b"bad"), now),
    Session::new(server_cfg, now),
  );
  let _ = s.handle_input(&c.take_output(), now).map(|_| ());
  let hello_reply = s.take_output();
  c.handle_input(&hello_reply, now).unwrap();
  let err = s.handle_input(&c.take_output(), now).unwrap_err();
  assert_eq!(err, ZmtpError::AuthRefused(400));
  assert_eq!(&s.take_output()[..], b"\x04\x0A\x05ERROR\x03400");
  assert!(s.next_timeout().is_none());
}

#[test]
fn curve_sessions_complete_and_exchange_messages() {
  let (server_keys, client_keys) = (curve_keypair(), curve_keypair());
  let now = Instant::now();
  let server_cfg = SessionConfig {
    mechanism: MechanismConfig::CurveServer {
      secret_key: server_keys.secret,
      authenticator: None,
    },
    ..SessionConfig::new("ROUTER")
  };
  let client_cfg = SessionConfig {
    mechanism: MechanismConfig::CurveClient {
      keys: client_keys,
      server_key: server_keys.public,
    },
    ..SessionConfig::new("DEALER")
  };
  let (mut c, mut s) = (Session::new(client_cfg, now), Session::new(server_cfg, now));
  pump(&mut c, &mut s, now).unwrap();
  assert!(c.is_ready() && s.is_ready());
  c.send_message(&msg(&[b"a", b"b"])).unwrap();
  s.send_subscription(&Subscription::Subscribe(Bytes::from_static(b"t")))
    .unwrap();
  pump(&mut c, &mut s, now).unwrap();
  assert_eq!(events(&mut s)[1..], [Event::Message(msg(&[b"a", b"b"]))]);
  assert_eq!(
    events(&mut c)[1..],
    [Event::Subscription(Subscription::Subscribe(
      Bytes::from_static(b"t")
    ))]
  );
}

#[test]
fn curve_max_msg_size_applies_to_the_opened_frame_not_the_box() {
  let (server_keys, client_keys) = (curve_keypair(), curve_keypair());
  let now = Instant::now();
  let limits = super::config::Limits {
    max_msg_size: 100,
    ..Default::default()
  };
  let server_cfg = SessionConfig {
    mechanism: MechanismConfig::CurveServer {
      secret_key: server_keys.secret,
      authenticator: None,
    },
    limits,
    ..SessionConfig::new("ROUTER")
  };
  let client_cfg = SessionConfig {
    mechanism: MechanismConfig::CurveClient {
      keys: client_keys,
      server_key: server_keys.public,
    },
    ..SessionConfig::new("DEALER")
  };
  let (mut c, mut s) = (Session::new(client_cfg, now), Session::new(server_cfg, now));
  pump(&mut c, &mut s, now).unwrap();
  c.send_message(&[Bytes::from(vec![1u8; 100])]).unwrap();
  pump(&mut c, &mut s, now).unwrap();
  assert_eq!(
    events(&mut s)[1..],
    [Event::Message(vec![Bytes::from(vec![1u8; 100])])]
  );
  c.send_message(&[Bytes::from(vec![1u8; 101])]).unwrap();
  // Refused from the box's header already: 101 + 33 bytes of CURVE overhead is over 100 + 33.
  let err = pump(&mut c, &mut s, now).unwrap_err();
  assert_eq!(
    err,
    ZmtpError::FrameTooLarge {
      size: 134,
      max: 133
    }
  );
}

#[test]
fn curve_client_with_the_wrong_server_key_is_refused() {
  let now = Instant::now();
  let server_cfg = SessionConfig {
    mechanism: MechanismConfig::CurveServer {
      secret_key: curve_keypair().secret,
      authenticator: None,
    },
    ..SessionConfig::new("ROUTER")
  };
  let client_cfg = SessionConfig {
    mechanism: MechanismConfig::CurveClient {
      keys: curve_keypair(),
      server_key: curve_keypair().public,
    },
    ..SessionConfig::new("DEALER")
  };
  let (mut c, mut s) = (Session::new(client_cfg, now), Session::new(server_cfg, now));
  assert_eq!(pump(&mut c, &mut s, now).unwrap_err().reason(), "crypto");
}

#[test]
fn subscriptions_go_as_commands_to_3_1_and_as_messages_to_3_0() {
  let now = Instant::now();
  let mut s = Session::new(SessionConfig::new("SUB"), now);
  let mut input = greeting(3, 0, b"NULL");
  input.extend_from_slice(b"\x04\x19\x05READY\x0BSocket-Type\0\0\0\x03PUB");
  s.handle_input(&input, now).unwrap();
  let _ = s.take_output();
  s.send_subscription(&Subscription::Subscribe(Bytes::from_static(b"ab")))
    .unwrap();
  assert_eq!(&s.take_output()[..], b"\x00\x03\x01ab");
  let mut s = Session::new(SessionConfig::new("SUB"), now);
  let mut input = greeting(3, 1, b"NULL");
  input.extend_from_slice(b"\x04\x19\x05READY\x0BSocket-Type\0\0\0\x03PUB");
  s.handle_input(&input, now).unwrap();
  let _ = s.take_output();
  s.send_subscription(&Subscription::Cancel(Bytes::from_static(b"ab")))
    .unwrap();
  assert_eq!(&s.take_output()[..], b"\x04\x09\x06CANCELab");
}

#[test]
fn ping_is_answered_with_pong_echoing_the_context() {
  let now = Instant::now();
  let mut s = ready_router(now);
  s.handle_input(b"\x04\x0A\x04PING\x00\x00ctx", now).unwrap();
  assert_eq!(&s.take_output()[..], b"\x04\x08\x04PONGctx");
  assert_eq!(s.poll_event(), None);
}

#[test]
fn heartbeat_pings_every_interval_and_times_out_without_traffic() {
  let t0 = Instant::now();
  let hb = Heartbeat {
    ivl: Some(Duration::from_secs(1)),
    timeout: Some(Duration::from_millis(500)),
    ttl: Some(Duration::from_secs(3)),
  };
  let mut s = Session::new(
    SessionConfig {
      heartbeat: hb,
      ..SessionConfig::new("DEALER")
    },
    t0,
  );
  let mut input = greeting(3, 1, b"NULL");
  input.extend_from_slice(b"\x04\x1C\x05READY\x0BSocket-Type\0\0\0\x06ROUTER");
  s.handle_input(&input, t0).unwrap();
  let _ = s.take_output();
  assert_eq!(s.next_timeout(), Some(t0 + Duration::from_secs(1)));
  s.handle_timeout(t0 + Duration::from_secs(1)).unwrap();
  assert_eq!(&s.take_output()[..], b"\x04\x07\x04PING\x00\x1E");
  // A PONG disarms the timeout; the next PING is due one interval later.
  s.handle_input(b"\x04\x05\x04PONG", t0 + Duration::from_millis(1200))
    .unwrap();
  assert_eq!(s.next_timeout(), Some(t0 + Duration::from_secs(2)));
  s.handle_timeout(t0 + Duration::from_secs(2)).unwrap();
  assert_eq!(s.next_timeout(), Some(t0 + Duration::from_millis(2500)));
  assert_eq!(
    s.handle_timeout(t0 + Duration::from_millis(2500)),
    Err(ZmtpError::HeartbeatTimeout)
  );
}

#[test]
fn no_pings_go_to_a_3_0_peer_which_would_drop_the_link() {
  let t0 = Instant::now();
  let hb = Heartbeat {
    ivl: Some(Duration::from_secs(1)),
    ..Heartbeat::default()
  };
  let mut s = Session::new(
    SessionConfig {
      heartbeat: hb,
      ..SessionConfig::new("DEALER")
    },
    t0,
  );
  let mut input = greeting(3, 0, b"NULL");
  input.extend_from_slice(b"\x04\x1C\x05READY\x0BSocket-Type\0\0\0\x06ROUTER");
  s.handle_input(&input, t0).unwrap();
  assert_eq!(s.next_timeout(), None);
}

#[test]
fn the_peers_ping_ttl_closes_a_silent_link() {
  let t0 = Instant::now();
  let mut s = ready_router(t0);
  s.handle_input(b"\x04\x07\x04PING\x00\x0A", t0).unwrap();
  assert_eq!(s.next_timeout(), Some(t0 + Duration::from_secs(1)));
  assert_eq!(
    s.handle_timeout(t0 + Duration::from_secs(1)),
    Err(ZmtpError::HeartbeatTimeout)
  );
}

#[test]
fn socket_types_that_cannot_talk_are_refused() {
  let now = Instant::now();
  let mut s = Session::new(SessionConfig::new("PUB"), now);
  let mut input = greeting(3, 1, b"NULL");
  input.extend_from_slice(DEALER_READY);
  let err = s.handle_input(&input, now).unwrap_err();
  assert_eq!(err.reason(), "incompatible_socket_type");
}

#[test]
fn a_closed_session_refuses_everything() {
  let now = Instant::now();
  let mut s = Session::new(SessionConfig::new("ROUTER"), now);
  assert!(s.handle_input(b"X", now).is_err());
  assert_eq!(s.handle_input(b"\xFF", now), Err(ZmtpError::Closed));
  assert_eq!(s.send_message(&msg(&[b"x"])), Err(ZmtpError::Closed));
  assert_eq!(s.handle_timeout(now), Err(ZmtpError::Closed));
}

#[test]
fn send_before_the_handshake_is_not_ready() {
  let mut s = Session::new(SessionConfig::new("DEALER"), Instant::now());
  assert_eq!(s.send_message(&msg(&[b"x"])), Err(ZmtpError::NotReady));
}
