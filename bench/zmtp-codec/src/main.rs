//! Micro-benchmark of the ZMTP session's per-message cost, NULL against CURVE: a PUSH session encodes
//! 1,000,000 3-byte messages (taking its output every 1,000 messages, as the driver batches a write), and a
//! PULL session decodes those bytes fed in 64 KiB reads. The raw XSalsa20-Poly1305 seal and open of the
//! same 4 bytes (flags + body) are timed too, so the cipher's share of a CURVE message is visible.
//!
//! Run: `cargo run --release --manifest-path bench/zmtp-codec/Cargo.toml [messages]`
//! (with `perf record -g` in front of the built binary for a profile).
#![allow(dead_code, unused_imports)]

#[path = "../../../src/zmtp/mod.rs"]
mod zmtp;

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crypto_box::aead::{AeadCore, AeadInPlace, OsRng};
use crypto_box::{SalsaBox, SecretKey};
use zmtp::mechanism::{curve_keypair, MechanismConfig};
use zmtp::{Event, Session, SessionConfig};

const BATCH: usize = 1000;
const READ: usize = 64 * 1024;

fn config(socket_type: &str, mechanism: MechanismConfig) -> SessionConfig {
  let mut c = SessionConfig::new(socket_type);
  c.mechanism = mechanism;
  c
}

/// A PUSH and a PULL session with their handshake done.
fn connected(curve: bool) -> (Session, Session) {
  let (push_mech, pull_mech) = if curve {
    let (server, client) = (curve_keypair(), curve_keypair());
    (
      MechanismConfig::CurveClient {
        keys: client,
        server_key: server.public,
      },
      MechanismConfig::CurveServer {
        secret_key: server.secret,
        authenticator: None,
      },
    )
  } else {
    (MechanismConfig::Null, MechanismConfig::Null)
  };
  let now = Instant::now();
  let mut push = Session::new(config("PUSH", push_mech), now);
  let mut pull = Session::new(config("PULL", pull_mech), now);
  for _ in 0..16 {
    if push.has_output() {
      let out = push.take_output();
      pull.handle_input(&out, now).expect("pull handshake");
    }
    if pull.has_output() {
      let out = pull.take_output();
      push.handle_input(&out, now).expect("push handshake");
    }
  }
  assert!(push.is_ready() && pull.is_ready(), "handshake did not finish");
  while push.poll_event().is_some() || pull.poll_event().is_some() {}
  (push, pull)
}

/// Encodes `n` messages; returns the time and the wire bytes.
fn encode(push: &mut Session, n: usize) -> (Duration, Vec<Bytes>) {
  let msg = [Bytes::from_static(b"abc")];
  let mut wire = Vec::with_capacity(n / BATCH + 1);
  let t0 = Instant::now();
  for i in 0..n {
    push.send_message(&msg).expect("send");
    if (i + 1) % BATCH == 0 {
      wire.push(push.take_output());
    }
  }
  wire.push(push.take_output());
  (t0.elapsed(), wire)
}

/// Decodes the wire bytes in reads of 64 KiB; returns the time and the messages seen.
fn decode(pull: &mut Session, wire: &[Bytes]) -> (Duration, usize) {
  let all: Vec<u8> = wire.iter().flat_map(|b| b.iter().copied()).collect();
  let now = Instant::now();
  let mut seen = 0;
  let t0 = Instant::now();
  for chunk in all.chunks(READ) {
    pull.read_buf().extend_from_slice(chunk);
    pull.process(now).expect("decode");
    while let Some(ev) = pull.poll_event() {
      if let Event::Message(m) = ev {
        seen += black_box(m).len();
      }
    }
  }
  (t0.elapsed(), seen)
}

fn per_msg(d: Duration, n: usize) -> f64 {
  d.as_secs_f64() * 1e6 / n as f64
}

/// The cipher alone: seal and open of 4 bytes with a precomputed box, as a MESSAGE does.
fn cipher_alone(n: usize) {
  let (a, b) = (SecretKey::generate(&mut OsRng), SecretKey::generate(&mut OsRng));
  let sealer = SalsaBox::new(&b.public_key(), &a);
  let opener = SalsaBox::new(&a.public_key(), &b);
  let nonce = SalsaBox::generate_nonce(&mut OsRng);
  let mut buf = *b"\x00abc";
  let t0 = Instant::now();
  let mut tag = Default::default();
  for _ in 0..n {
    buf = *b"\x00abc";
    tag = sealer
      .encrypt_in_place_detached(&nonce, b"", black_box(&mut buf))
      .expect("seal");
  }
  let seal = t0.elapsed();
  let t0 = Instant::now();
  for _ in 0..n {
    let mut copy = buf;
    opener
      .decrypt_in_place_detached(&nonce, b"", black_box(&mut copy), &tag)
      .expect("open");
  }
  let open = t0.elapsed();
  println!(
    "cipher alone (4 B): seal {:.3} µs, open {:.3} µs",
    per_msg(seal, n),
    per_msg(open, n)
  );
}

fn main() {
  let n = std::env::args()
    .nth(1)
    .and_then(|a| a.parse().ok())
    .unwrap_or(1_000_000usize);
  for round in 0..3 {
    for curve in [false, true] {
      let (mut push, mut pull) = connected(curve);
      let (enc, wire) = encode(&mut push, n);
      let (dec, seen) = decode(&mut pull, &wire);
      assert_eq!(seen, n, "every message decoded");
      println!(
        "round {round} {:5}: encode {:.3} µs/msg, decode {:.3} µs/msg",
        if curve { "CURVE" } else { "NULL" },
        per_msg(enc, n),
        per_msg(dec, n)
      );
    }
  }
  cipher_alone(n);
}
