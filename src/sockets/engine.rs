//! What the classic socket loop needs from each floor-2 socket state, beside [`SocketState`] and
//! [`AppSocket`]: how to make it from the socket's options, what of its events is a message for JS, and the
//! switches and subscriptions it takes. One impl per socket type; the loop is generic over them.

use bytes::{BufMut, Bytes, BytesMut};

use super::options::SocketOptions;
use crate::transport::Msg;
use crate::zmtp::socket::{
  AppSocket, DealerState, PairState, PubState, PullState, PushState, RepState, ReqState,
  RouterEvent, RouterState, SocketState, SubState, XPubState, XSubState,
};

/// A socket state the classic loop can drive.
pub trait Classic: SocketState + AppSocket + Send + 'static {
  /// Its ZMTP `Socket-Type`.
  const ZMTP_TYPE: &'static str;

  /// A fresh state with the options' high-water marks and switches.
  fn build(opts: &SocketOptions) -> Self;

  /// The message JS receives for an event, if the event is one.
  fn message(ev: Self::Event) -> Option<Msg>;

  /// Applies the state's switches (ROUTER_MANDATORY, XPUB_VERBOSE, REQ_RELAXED...).
  fn switches(&mut self, opts: &SocketOptions) {
    let _ = opts;
  }

  /// Whether a request waits for its reply (a REQ); queued requests then wait for that reply.
  fn awaiting_reply(&self) -> bool {
    false
  }

  /// `ZMQ_SUBSCRIBE` (`on`) or `ZMQ_UNSUBSCRIBE`; false when this type has no subscriptions.
  fn subscription(&mut self, prefix: Bytes, on: bool) -> bool {
    let _ = (prefix, on);
    false
  }
}

/// The 3.0 message form of a subscription (`01`/`00` + prefix), as an XSUB application sends it.
fn subscription_message(prefix: &[u8], on: bool) -> Msg {
  let mut frame = BytesMut::with_capacity(prefix.len() + 1);
  frame.put_u8(u8::from(on));
  frame.put_slice(prefix);
  vec![frame.freeze()]
}

macro_rules! plain_messages {
  () => {
    fn message(ev: Msg) -> Option<Msg> {
      Some(ev)
    }
  };
}

impl Classic for DealerState {
  const ZMTP_TYPE: &'static str = "DEALER";
  fn build(opts: &SocketOptions) -> Self {
    DealerState::new(opts.pipes())
  }
  plain_messages!();
}

impl Classic for PairState {
  const ZMTP_TYPE: &'static str = "PAIR";
  fn build(opts: &SocketOptions) -> Self {
    PairState::new(opts.pipes())
  }
  plain_messages!();
}

impl Classic for PullState {
  const ZMTP_TYPE: &'static str = "PULL";
  fn build(opts: &SocketOptions) -> Self {
    PullState::new(opts.pipes())
  }
  plain_messages!();
}

impl Classic for PushState {
  const ZMTP_TYPE: &'static str = "PUSH";
  fn build(opts: &SocketOptions) -> Self {
    PushState::new(opts.pipes())
  }
  fn message(ev: Self::Event) -> Option<Msg> {
    match ev {}
  }
}

impl Classic for RepState {
  const ZMTP_TYPE: &'static str = "REP";
  fn build(opts: &SocketOptions) -> Self {
    RepState::new(opts.pipes())
  }
  plain_messages!();
}

impl Classic for ReqState {
  const ZMTP_TYPE: &'static str = "REQ";
  fn build(opts: &SocketOptions) -> Self {
    // libzmq starts the request id counter at a random value.
    let mut req = ReqState::new(opts.pipes(), rand::random());
    req.switches(opts);
    req
  }
  plain_messages!();
  fn awaiting_reply(&self) -> bool {
    self.is_waiting()
  }
  fn switches(&mut self, opts: &SocketOptions) {
    self.set_relaxed(opts.req_relaxed);
    self.set_correlate(opts.req_correlate);
  }
}

impl Classic for RouterState {
  const ZMTP_TYPE: &'static str = "ROUTER";
  fn build(opts: &SocketOptions) -> Self {
    // Generated routing ids start at a random value, as libzmq's.
    let mut router = RouterState::new(opts.sndhwm.max(1), usize::MAX, rand::random());
    router.switches(opts);
    router
  }
  fn message(ev: RouterEvent) -> Option<Msg> {
    match ev {
      RouterEvent::Message(m) => Some(m),
      RouterEvent::Connected(_) | RouterEvent::Gone(_) => None,
    }
  }
  fn switches(&mut self, opts: &SocketOptions) {
    self.set_mandatory(opts.router_mandatory);
  }
}

impl Classic for PubState {
  const ZMTP_TYPE: &'static str = "PUB";
  fn build(opts: &SocketOptions) -> Self {
    PubState::new(opts.sndhwm.max(1), usize::MAX)
  }
  fn message(ev: Self::Event) -> Option<Msg> {
    match ev {}
  }
}

impl Classic for XPubState {
  const ZMTP_TYPE: &'static str = "XPUB";
  fn build(opts: &SocketOptions) -> Self {
    let mut xpub = XPubState::new(opts.sndhwm.max(1), usize::MAX);
    xpub.switches(opts);
    xpub
  }
  plain_messages!();
  fn switches(&mut self, opts: &SocketOptions) {
    if opts.xpub_verboser {
      self.set_verboser(true);
    } else {
      self.set_verbose(opts.xpub_verbose);
    }
  }
}

impl Classic for SubState {
  const ZMTP_TYPE: &'static str = "SUB";
  fn build(opts: &SocketOptions) -> Self {
    SubState::new(opts.pipes())
  }
  plain_messages!();
  fn subscription(&mut self, prefix: Bytes, on: bool) -> bool {
    if on {
      self.subscribe(prefix);
    } else {
      self.unsubscribe(prefix);
    }
    true
  }
}

impl Classic for XSubState {
  const ZMTP_TYPE: &'static str = "XSUB";
  fn build(opts: &SocketOptions) -> Self {
    XSubState::new(opts.pipes())
  }
  plain_messages!();
  fn subscription(&mut self, prefix: Bytes, on: bool) -> bool {
    // An XSUB never refuses a subscription message.
    let _ = AppSocket::send(self, subscription_message(&prefix, on));
    true
  }
}
