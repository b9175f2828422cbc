//! Shared by the handshake targets: a man in the middle that lets the fuzzer pass, flip, truncate, replace or
//! extend each command and traffic frame between a client and a server of ours.

use bytes::{Bytes, BytesMut};
use zmtp_fuzz::zmtp::frame::Frame;
use zmtp_fuzz::zmtp::mechanism::Mechanism;

/// Reads mutation ops from the fuzz input.
pub struct Ops<'a>(pub &'a [u8]);

impl Ops<'_> {
  fn byte(&mut self) -> u8 {
    let Some((&b, rest)) = self.0.split_first() else { return 0 };
    self.0 = rest;
    b
  }

  /// Applies the next op to `msg`.
  pub fn mutate(&mut self, msg: &[u8]) -> Vec<u8> {
    let mut out = msg.to_vec();
    match self.byte() % 6 {
      1 if !out.is_empty() => {
        let at = usize::from(u16::from_le_bytes([self.byte(), self.byte()])) % out.len();
        out[at] ^= self.byte() | 1;
      }
      2 => out.truncate(usize::from(u16::from_le_bytes([self.byte(), self.byte()]))),
      3 => {
        let n = usize::from(self.byte());
        out = (0..n).map(|_| self.byte()).collect();
      }
      4 => {
        let n = usize::from(self.byte());
        out.extend((0..n).map(|_| self.byte()));
      }
      _ => {}
    }
    out
  }
}

/// Runs a handshake with mutations, then a few traffic frames each way. Every outcome is allowed but a panic.
pub fn run(client: &mut dyn Mechanism, server: &mut dyn Mechanism, data: &[u8]) {
  let mut ops = Ops(data);
  for turn in 0..8 {
    let (from, to): (&mut dyn Mechanism, &mut dyn Mechanism) =
      if turn % 2 == 0 { (&mut *client, &mut *server) } else { (&mut *server, &mut *client) };
    let Ok(cmds) = drain(from) else { return };
    for cmd in cmds {
      if to.process_handshake_command(&ops.mutate(&cmd)).is_err() {
        let _ = drain(to);
        return;
      }
    }
    if client.is_ready() && server.is_ready() {
      break;
    }
  }
  if !(client.is_ready() && server.is_ready()) {
    return;
  }
  for turn in 0..8 {
    let (from, to): (&mut dyn Mechanism, &mut dyn Mechanism) =
      if turn % 2 == 0 { (&mut *client, &mut *server) } else { (&mut *server, &mut *client) };
    let body = Bytes::from(ops.mutate(b"payload"));
    let Ok(wire) = from.encode(Frame::data(body, turn % 3 == 0)) else { return };
    let wire = Frame { body: Bytes::from(ops.mutate(&wire.body)), ..wire };
    let _ = to.decode(wire);
  }
}

fn drain(m: &mut dyn Mechanism) -> Result<Vec<BytesMut>, ()> {
  let mut out = Vec::new();
  for _ in 0..4 {
    match m.next_handshake_command() {
      Ok(Some(cmd)) => out.push(cmd),
      Ok(None) => break,
      Err(_) => return Err(()),
    }
  }
  Ok(out)
}
