//! A whole session (greeting, handshake, traffic, timers) fed arbitrary bytes in arbitrary chunks, as each
//! mechanism's server and client. The first byte picks the config and chunk size; a valid greeting can be
//! prefixed so that the fuzzer spends its time past it. SUB sessions take the byte path (`raw_messages`).
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use zmtp_fuzz::zmtp::config::{Heartbeat, Limits};
use zmtp_fuzz::zmtp::greeting::{self, MechanismName};
use zmtp_fuzz::zmtp::mechanism::{curve_keypair, MechanismConfig, ZapReply, ZapRequest};
use zmtp_fuzz::zmtp::{Session, SessionConfig};

fn config(pick: u8) -> SessionConfig {
  let mechanism = match pick % 5 {
    0 => MechanismConfig::Null,
    1 => MechanismConfig::PlainServer { authenticator: Some(Arc::new(|_: &ZapRequest<'_>| ZapReply::allow("u"))) },
    2 => MechanismConfig::PlainClient { username: Bytes::from_static(b"u"), password: Bytes::from_static(b"p") },
    3 => MechanismConfig::CurveServer { secret_key: curve_keypair().secret, authenticator: None },
    _ => MechanismConfig::CurveClient { keys: curve_keypair(), server_key: curve_keypair().public },
  };
  let limits = Limits { max_msg_size: 1 << 16, max_frames: 64, max_buffered: 1 << 18, ..Limits::default() };
  let heartbeat = Heartbeat { ivl: Some(Duration::from_millis(10)), timeout: None, ttl: Some(Duration::from_secs(1)) };
  // A SUB takes messages as wire bytes (the forwarder's input, `zmtp::raw`) where its mechanism allows.
  let raw_messages = pick & 0x20 != 0;
  let socket_type = if raw_messages { "SUB" } else { "ROUTER" };
  SessionConfig { mechanism, limits, heartbeat, raw_messages, ..SessionConfig::new(socket_type) }
}

fuzz_target!(|data: &[u8]| {
  let Some((&pick, data)) = data.split_first() else { return };
  let cfg = config(pick);
  let t0 = Instant::now();
  let mut session = Session::new(cfg.clone(), t0);
  let mut input = Vec::new();
  if pick & 0x80 != 0 {
    let name = cfg.mechanism.name();
    let minor = u8::from(pick & 0x40 == 0);
    let mut g = greeting::encode(name, false);
    g[11] = minor;
    let _ = MechanismName::parse(&g[12..32]);
    input.extend_from_slice(&g);
  }
  input.extend_from_slice(data);
  let chunk = usize::from(pick & 0x1F) + 1;
  for (i, piece) in input.chunks(chunk).enumerate() {
    let now = t0 + Duration::from_millis(i as u64 * 7);
    if session.handle_input(piece, now).is_err() {
      return;
    }
    if session.next_timeout().is_some_and(|t| t <= now) && session.handle_timeout(now).is_err() {
      return;
    }
    let _ = session.take_output();
    while session.poll_event().is_some() {}
    // The byte path keeps a message's arrived frames in the read buffer until its last frame is in.
    let held = if cfg.raw_messages { cfg.limits.max_buffered } else { 0 };
    assert!(session.read_buf().len() <= held + (1 << 16) + 9 + chunk);
  }
});
