//! Helpers shared by the socket state tests.

use bytes::Bytes;

use super::{AppSocket, Output, SocketState, Token};
use crate::zmtp::command::Properties;
use crate::zmtp::greeting::Version;
use crate::zmtp::session::PeerInfo;

/// A frame from a byte literal.
pub fn b(x: &'static [u8]) -> Bytes {
  Bytes::from_static(x)
}

/// A message from byte literals.
pub fn m(frames: &[&'static [u8]]) -> Vec<Bytes> {
  frames.iter().map(|f| b(f)).collect()
}

/// A 3.1 peer of type `socket_type` without identity.
pub fn peer(socket_type: &str) -> PeerInfo {
  PeerInfo {
    socket_type: socket_type.into(),
    identity: Bytes::new(),
    properties: Properties::default(),
    user_id: None,
    version: Version::V31,
  }
}

/// Every event the application would read now.
pub fn events<S: SocketState>(s: &mut S) -> Vec<S::Event> {
  std::iter::from_fn(|| s.poll_event()).collect()
}

/// Everything waiting to be written to `token`.
pub fn outputs<S: SocketState>(s: &mut S, token: Token) -> Vec<Output> {
  std::iter::from_fn(|| s.take_output(token)).collect()
}

/// The messages waiting to be written to `token` (subscriptions left out).
pub fn sent<S: SocketState>(s: &mut S, token: Token) -> Vec<Vec<Bytes>> {
  outputs(s, token)
    .into_iter()
    .filter_map(|o| match o {
      Output::Message(msg) => Some(msg),
      Output::Raw(msg) => Some(msg.frames()),
      Output::Subscription(_) => None,
    })
    .collect()
}

/// The connections woken since the last call.
pub fn woken<S: AppSocket>(s: &mut S) -> Vec<Token> {
  std::iter::from_fn(|| s.poll_woken()).collect()
}
