//! NULL (RFC 23/37): both sides send READY with their properties at once; ready when both are exchanged.

use bytes::BytesMut;

use super::super::command::{split, Command, Properties};
use super::super::error::{Result, ZmtpError};
use super::super::greeting::MechanismName;
use super::Mechanism;

/// The NULL mechanism for either side.
#[derive(Debug)]
pub struct Null {
  local: Properties,
  ready_sent: bool,
  peer: Option<Properties>,
}

impl Null {
  /// A NULL handshake announcing `local`.
  pub fn new(local: Properties) -> Self {
    Self {
      local,
      ready_sent: false,
      peer: None,
    }
  }
}

impl Mechanism for Null {
  fn name(&self) -> MechanismName {
    MechanismName::Null
  }

  fn as_server(&self) -> bool {
    false
  }

  fn next_handshake_command(&mut self) -> Result<Option<BytesMut>> {
    if self.ready_sent {
      return Ok(None);
    }
    self.ready_sent = true;
    Ok(Some(Command::Ready(self.local.clone()).encode()))
  }

  fn process_handshake_command(&mut self, body: &[u8]) -> Result<()> {
    let (name, _) = split(body)?;
    match (Command::parse(body)?, &self.peer) {
      (Command::Ready(props), None) => {
        self.peer = Some(props);
        Ok(())
      }
      (Command::Error(reason), _) => Err(ZmtpError::PeerError(reason)),
      _ => Err(ZmtpError::UnexpectedCommand(
        String::from_utf8_lossy(name).into_owned(),
      )),
    }
  }

  fn is_ready(&self) -> bool {
    self.ready_sent && self.peer.is_some()
  }

  fn peer_properties(&self) -> Option<&Properties> {
    self.peer.as_ref()
  }
}

#[cfg(test)]
mod tests {
  use super::super::testutil::handshake;
  use super::*;

  #[test]
  fn null_sends_ready_once_and_is_ready_after_the_peers_ready() {
    let mut m = Null::new(Properties::for_socket("DEALER", b""));
    let ready = m.next_handshake_command().unwrap().unwrap();
    assert_eq!(&ready[..7], b"\x05READY\x0B");
    assert_eq!(m.next_handshake_command().unwrap(), None);
    assert!(!m.is_ready());
    m.process_handshake_command(b"\x05READY\x0BSocket-Type\0\0\0\x06ROUTER")
      .unwrap();
    assert!(m.is_ready());
    assert_eq!(m.peer_properties().unwrap().socket_type(), Some("ROUTER"));
  }

  #[test]
  fn a_second_ready_is_refused() {
    let mut m = Null::new(Properties::default());
    m.process_handshake_command(b"\x05READY").unwrap();
    assert_eq!(
      m.process_handshake_command(b"\x05READY"),
      Err(ZmtpError::UnexpectedCommand("READY".into()))
    );
  }

  #[test]
  fn an_error_from_the_peer_ends_the_handshake() {
    let mut m = Null::new(Properties::default());
    assert_eq!(
      m.process_handshake_command(b"\x05ERROR\x03400"),
      Err(ZmtpError::PeerError("400".into()))
    );
  }

  #[test]
  fn oversized_ready_property_length_is_refused() {
    let mut m = Null::new(Properties::default());
    let err = m
      .process_handshake_command(b"\x05READY\x0BSocket-Type\x7F\xFF\xFF\xFFDEALER")
      .unwrap_err();
    assert_eq!(err.reason(), "malformed");
  }

  #[test]
  fn two_null_sides_complete() {
    let mut a = Null::new(Properties::for_socket("DEALER", b"a"));
    let mut b = Null::new(Properties::for_socket("ROUTER", b""));
    handshake(&mut a, &mut b).unwrap();
    assert_eq!(&b.peer_properties().unwrap().identity()[..], b"a");
  }
}
