//! Security mechanisms as sans-IO handshake state machines (libzmq's `mechanism_t` shape): the session feeds
//! each handshake command body in and asks for the next one to send; once [`Mechanism::is_ready`], data frames
//! go through [`Mechanism::encode_into`]/[`Mechanism::decode_mut`] (identity for NULL and PLAIN, MESSAGE boxes for
//! CURVE, sealed straight into the write buffer and opened in the read buffer: no allocation per frame).
//!
//! Failure contract: when `process_handshake_command` fails, the mechanism may have queued an ERROR command;
//! the session drains [`Mechanism::next_handshake_command`] once more, writes it, and closes.

pub mod curve;
mod curve_server;
mod curve_traffic;
pub mod null;
pub mod plain;
pub mod z85;
pub mod zap;

#[cfg(test)]
mod curve_tests;

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::command::Properties;
use super::error::Result;
use super::frame::{self, Frame, FrameMut};
use super::greeting::MechanismName;

pub use curve::{curve_keypair, CurveClient, CurveKeyPair};
pub use curve_server::CurveServer;
pub use null::Null;
pub use plain::{PlainClient, PlainServer};
pub use zap::{Authenticator, ZapCredentials, ZapReply, ZapRequest};

/// A handshake state machine plus the traffic codec it sets up.
pub trait Mechanism: Send {
  /// The name this mechanism writes in the greeting.
  fn name(&self) -> MechanismName;

  /// Whether we announce as-server in the greeting.
  fn as_server(&self) -> bool;

  /// The next handshake command body to send, if one is due now.
  ///
  /// # Errors
  /// Only if building the command fails (a CURVE box that cannot be sealed).
  fn next_handshake_command(&mut self) -> Result<Option<BytesMut>>;

  /// Processes one handshake command body from the peer.
  ///
  /// # Errors
  /// Any refusal: an unexpected or malformed command, a box that does not open, a refused peer.
  fn process_handshake_command(&mut self, body: &[u8]) -> Result<()>;

  /// Both sides have sent and received what the handshake needs.
  fn is_ready(&self) -> bool;

  /// The peer's properties (from READY or INITIATE), once received.
  fn peer_properties(&self) -> Option<&Properties>;

  /// Bytes a traffic frame grows by on the wire (CURVE: 33), so `max_msg_size` applies to what the
  /// application sees.
  fn overhead(&self) -> u64 {
    0
  }

  /// The user id an authenticator gave this peer (ZAP `User-Id`), if any.
  fn user_id(&self) -> Option<&Bytes> {
    None
  }

  /// Wraps one outgoing frame (data or command) for the wire, after the handshake.
  ///
  /// # Errors
  /// Only for CURVE when sealing fails.
  fn encode(&mut self, frame: Frame) -> Result<Frame> {
    Ok(frame)
  }

  /// Unwraps one incoming wire frame, after the handshake.
  ///
  /// # Errors
  /// For CURVE: a box that does not open, a nonce that does not increase.
  fn decode(&mut self, frame: Frame) -> Result<Frame> {
    Ok(frame)
  }

  /// Appends one outgoing frame (data or command), wrapped for the wire with its frame header, to `out`:
  /// what [`Mechanism::encode`] gives, encoded, without a buffer of its own (the session's hot path).
  ///
  /// # Errors
  /// As [`Mechanism::encode`].
  fn encode_into(
    &mut self,
    out: &mut BytesMut,
    more: bool,
    command: bool,
    body: &[u8],
  ) -> Result<()> {
    frame::encode_parts(out, more, command, body);
    Ok(())
  }

  /// Unwraps one incoming wire frame whose body is a slice of the read buffer, in place (the session's hot
  /// path; the result is what [`Mechanism::decode`] gives).
  ///
  /// # Errors
  /// As [`Mechanism::decode`].
  fn decode_mut(&mut self, frame: FrameMut) -> Result<Frame> {
    Ok(frame.freeze())
  }
}

/// What a connection's security is, as configured on a socket.
#[derive(Clone, Default)]
pub enum MechanismConfig {
  /// No security.
  #[default]
  Null,
  /// PLAIN client with credentials.
  PlainClient {
    /// Username (at most 255 bytes).
    username: Bytes,
    /// Password (at most 255 bytes).
    password: Bytes,
  },
  /// PLAIN server; with no authenticator every client is refused (as libzmq without a ZAP handler).
  PlainServer {
    /// Who decides.
    authenticator: Option<Arc<dyn Authenticator>>,
  },
  /// CURVE client.
  CurveClient {
    /// Our long-term key pair.
    keys: CurveKeyPair,
    /// The server's long-term public key.
    server_key: [u8; 32],
  },
  /// CURVE server; with no authenticator every client with a valid handshake is accepted (as libzmq).
  CurveServer {
    /// Our long-term secret key.
    secret_key: [u8; 32],
    /// Who decides.
    authenticator: Option<Arc<dyn Authenticator>>,
  },
}

impl std::fmt::Debug for MechanismConfig {
  // Hand-written so that secrets never reach a log.
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    let name = match self {
      Self::Null => "Null",
      Self::PlainClient { .. } => "PlainClient",
      Self::PlainServer { .. } => "PlainServer",
      Self::CurveClient { .. } => "CurveClient",
      Self::CurveServer { .. } => "CurveServer",
    };
    f.write_str(name)
  }
}

impl MechanismConfig {
  /// The mechanism named in the greeting.
  pub fn name(&self) -> MechanismName {
    match self {
      Self::Null => MechanismName::Null,
      Self::PlainClient { .. } | Self::PlainServer { .. } => MechanismName::Plain,
      Self::CurveClient { .. } | Self::CurveServer { .. } => MechanismName::Curve,
    }
  }

  /// A fresh state machine for one connection, announcing `local` properties.
  pub fn build(&self, local: Properties) -> Box<dyn Mechanism> {
    match self {
      Self::Null => Box::new(Null::new(local)),
      Self::PlainClient { username, password } => {
        Box::new(PlainClient::new(local, username.clone(), password.clone()))
      }
      Self::PlainServer { authenticator } => {
        Box::new(PlainServer::new(local, authenticator.clone()))
      }
      Self::CurveClient { keys, server_key } => {
        Box::new(CurveClient::new(local, keys, *server_key))
      }
      Self::CurveServer {
        secret_key,
        authenticator,
      } => Box::new(CurveServer::new(local, *secret_key, authenticator.clone())),
    }
  }
}

#[cfg(test)]
pub(crate) mod testutil {
  use super::*;
  use crate::zmtp::error::ZmtpError;

  /// Runs a handshake between two mechanisms to completion (bounded), returning the first error.
  pub fn handshake(
    a: &mut dyn Mechanism,
    b: &mut dyn Mechanism,
  ) -> std::result::Result<(), ZmtpError> {
    for _ in 0..16 {
      let mut moved = false;
      while let Some(cmd) = a.next_handshake_command()? {
        b.process_handshake_command(&cmd)?;
        moved = true;
      }
      while let Some(cmd) = b.next_handshake_command()? {
        a.process_handshake_command(&cmd)?;
        moved = true;
      }
      if a.is_ready() && b.is_ready() {
        return Ok(());
      }
      if !moved {
        return Err(ZmtpError::Malformed("handshake stalled"));
      }
    }
    Err(ZmtpError::Malformed("handshake did not finish"))
  }
}
