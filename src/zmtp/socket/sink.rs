//! A SUB that takes everything: every publisher that connects is subscribed to the empty prefix at once, and
//! every message it sends is handed out unchanged (the bus forwarder's input side): as its wire bytes when
//! the session gives them ([`crate::zmtp::SessionConfig::raw_messages`] over a plaintext mechanism), as
//! frames otherwise (CURVE).

use std::collections::VecDeque;

use bytes::Bytes;

use super::{Output, SocketState, Token};
use crate::zmtp::command::Subscription;
use crate::zmtp::raw::RawMessage;
use crate::zmtp::session::PeerInfo;

/// One message a publisher sent, in the form its session handed it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relayed {
  /// The encoded frames as they arrived.
  Raw(RawMessage),
  /// The frame bodies (a CURVE connection, or a session not asked for raw messages).
  Frames(Vec<Bytes>),
}

/// The sink state: publishers still owed their subscription, and messages received.
#[derive(Debug, Default)]
pub struct SinkState {
  unsubscribed: crate::zmtp::FastMap<Token, ()>,
  events: VecDeque<Relayed>,
}

impl SocketState for SinkState {
  type Event = Relayed;

  fn on_ready(&mut self, token: Token, _peer: &PeerInfo) -> Result<(), &'static str> {
    self.unsubscribed.insert(token, ());
    Ok(())
  }

  fn on_message(&mut self, _token: Token, frames: Vec<Bytes>) {
    self.events.push_back(Relayed::Frames(frames));
  }

  fn on_raw(&mut self, _token: Token, msg: RawMessage) {
    self.events.push_back(Relayed::Raw(msg));
  }

  fn on_gone(&mut self, token: Token) {
    self.unsubscribed.remove(&token);
  }

  fn take_output(&mut self, token: Token) -> Option<Output> {
    self
      .unsubscribed
      .remove(&token)
      .map(|()| Output::Subscription(Subscription::Subscribe(Bytes::new())))
  }

  fn has_output(&self, token: Token) -> bool {
    self.unsubscribed.contains_key(&token)
  }

  fn poll_event(&mut self) -> Option<Relayed> {
    self.events.pop_front()
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn each_publisher_is_subscribed_to_everything_once_and_its_messages_pass_unchanged() {
    let mut s = SinkState::default();
    let peer = PeerInfo {
      socket_type: "PUB".into(),
      identity: Bytes::new(),
      properties: Default::default(),
      user_id: None,
      version: crate::zmtp::greeting::Version::V30,
    };
    s.on_ready(4, &peer).unwrap();
    assert!(s.has_output(4));
    assert_eq!(
      s.take_output(4),
      Some(Output::Subscription(Subscription::Subscribe(Bytes::new())))
    );
    assert_eq!(s.take_output(4), None);
    s.on_message(4, vec![Bytes::from_static(b"t"), Bytes::new()]);
    assert_eq!(
      s.poll_event(),
      Some(Relayed::Frames(vec![
        Bytes::from_static(b"t"),
        Bytes::new()
      ]))
    );
    let raw = RawMessage::encode(&[Bytes::from_static(b"t")]).unwrap();
    s.on_raw(4, raw.clone());
    assert_eq!(s.poll_event(), Some(Relayed::Raw(raw)));
  }
}
