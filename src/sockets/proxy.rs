//! `zmq.proxy(frontend, backend[, capture])` between classic sockets of this engine, done in the engine: each
//! socket that receives hands what it received to the other socket's loop over a bounded channel of
//! batches (one batch per loop turn), and that loop sends it as if JS had. Frames never reach JS.
//!
//! Back-pressure runs end to end: a socket that cannot send keeps the batches it got queued
//! ([`PROXY_QUEUE`] messages at most) and stops taking more; the channel fills; the receiving socket holds
//! its batch and stops reading; its state's queue fills to `RCVHWM` and TCP pushes back on its peers.
//! A capture socket gets a copy of one direction (see [`plan`]), with the same back-pressure.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::mpsc::error::{SendError, TrySendError};
use tokio::sync::mpsc::{channel, OwnedPermit, Receiver, Sender};

use super::control::Control;
use super::SocketType;
use crate::transport::Msg;

/// Batches in flight between two loops.
const CHANNEL_BATCHES: usize = 16;
/// Messages a socket holds from the proxy before it stops taking more.
pub const PROXY_QUEUE: usize = 4096;

/// A wait for room in the other side's channel (tokio's bounded sender has no poll form of `reserve`).
type Reserve = Pin<Box<dyn Future<Output = Result<OwnedPermit<Vec<Msg>>, SendError<()>>> + Send>>;

/// Where a socket sends what it receives: the other side, and maybe a capture socket.
pub struct Out {
  tx: Sender<Vec<Msg>>,
  /// A batch the channel had no room for; the socket reads nothing more until it goes.
  held: Option<Vec<Msg>>,
  /// The wait for room for `held`, once polled.
  reserve: Option<Reserve>,
  /// Leading frames dropped from each message (the `[id, ""]` envelope for a ROUTER's capture).
  strip: usize,
}

impl std::fmt::Debug for Out {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    (f.debug_struct("Out"))
      .field("held", &self.held.as_ref().map(Vec::len))
      .field("strip", &self.strip)
      .finish_non_exhaustive()
  }
}

/// One socket's part in a proxy.
#[derive(Debug, Default)]
pub struct ProxyEnd {
  /// Where received messages go (none for a socket that does not receive).
  pub outs: Vec<Out>,
  /// Messages to send, from the other side.
  pub input: Option<Receiver<Vec<Msg>>>,
  /// Received this turn, not handed out yet.
  batch: Vec<Msg>,
}

/// The controls that start a proxy: one for the frontend, one for the backend, one for the capture.
pub type Plan = (Control, Control, Option<Control>);

/// Wires a proxy between `frontend` and `backend` (and `capture`): each side that receives forwards to the
/// other. The capture gets what the backend forwards (the old module's choice: replies of ROUTER/DEALER,
/// minus their `[id, ""]` envelope; publications of XPUB/XSUB; what PUSH/PULL moves), or what the frontend
/// forwards when the backend does not receive (PULL/PUSH).
pub fn plan(frontend: SocketType, backend: SocketType, capture: bool) -> Plan {
  let (to_back, from_front) = channel(CHANNEL_BATCHES);
  let (to_front, from_back) = channel(CHANNEL_BATCHES);
  let mut front = ProxyEnd::default();
  let mut back = ProxyEnd::default();
  if frontend.receives() {
    front.outs.push(Out::new(to_back, 0));
    back.input = Some(from_front);
  }
  if backend.receives() {
    back.outs.push(Out::new(to_front, 0));
    front.input = Some(from_back);
  }
  let mut cap = None;
  if capture {
    let (tx, rx) = channel(CHANNEL_BATCHES);
    let strip = if frontend == SocketType::Router { 2 } else { 0 };
    let tap = if backend.receives() {
      &mut back
    } else {
      &mut front
    };
    tap.outs.push(Out::new(tx, strip));
    cap = Some(Control::Proxy(Box::new(ProxyEnd {
      input: Some(rx),
      ..ProxyEnd::default()
    })));
  }
  (
    Control::Proxy(Box::new(front)),
    Control::Proxy(Box::new(back)),
    cap,
  )
}

impl Out {
  fn new(tx: Sender<Vec<Msg>>, strip: usize) -> Self {
    Self {
      tx,
      held: None,
      reserve: None,
      strip,
    }
  }

  fn hand(&mut self, batch: Vec<Msg>) {
    let batch = if self.strip > 0 {
      let n = self.strip;
      batch
        .into_iter()
        .filter(|m| m.len() > n)
        .map(|m| m[n..].to_vec())
        .collect()
    } else {
      batch
    };
    match self.tx.try_send(batch) {
      Ok(()) => {}
      Err(TrySendError::Full(batch)) => self.held = Some(batch),
      // The other socket is closed: what it would have sent is dropped, as libzmq's proxy ends.
      Err(TrySendError::Closed(_)) => {}
    }
  }
}

impl ProxyEnd {
  /// Whether this socket takes received messages for the proxy (instead of JS).
  pub fn forwards(&self) -> bool {
    !self.outs.is_empty()
  }

  /// Takes one received message.
  pub fn push(&mut self, frames: Msg) {
    self.batch.push(frames);
  }

  /// Whether a batch waits for room: the socket reads nothing more until it goes.
  pub fn blocked(&self) -> bool {
    self.outs.iter().any(|o| o.held.is_some())
  }

  /// Hands this turn's messages to every out (a copy for all but the last).
  pub fn dispatch(&mut self) {
    if self.batch.is_empty() {
      return;
    }
    let batch = std::mem::take(&mut self.batch);
    let last = self.outs.len().saturating_sub(1);
    for (i, out) in self.outs.iter_mut().enumerate() {
      if i == last {
        out.hand(batch);
        break;
      }
      out.hand(batch.clone());
    }
  }

  /// Whether the loop has something to wait for here: room for a held batch, or input it can take.
  pub fn waits(&self, take: bool) -> bool {
    self.blocked() || (take && self.input.is_some())
  }

  /// Room for the held batches (then `None`: reading may go on) or, when `take`, the next batch from the
  /// other side, whichever is ready first; registers `cx` for both otherwise.
  pub fn poll_step(&mut self, take: bool, cx: &mut Context<'_>) -> Poll<Option<Vec<Msg>>> {
    if self.blocked() && poll_room(&mut self.outs, cx).is_ready() {
      return Poll::Ready(None);
    }
    let Some(rx) = self.input.as_mut().filter(|_| take) else {
      return Poll::Pending;
    };
    match rx.poll_recv(cx) {
      Poll::Ready(Some(batch)) => Poll::Ready(Some(batch)),
      Poll::Ready(None) => {
        // The other side is gone: nothing more will come.
        self.input = None;
        Poll::Ready(None)
      }
      Poll::Pending => Poll::Pending,
    }
  }

  /// [`ProxyEnd::poll_step`] as a future.
  #[cfg(test)]
  pub async fn step(&mut self, take: bool) -> Option<Vec<Msg>> {
    std::future::poll_fn(|cx| self.poll_step(take, cx)).await
  }
}

/// `Ready` once every held batch went into its channel (a batch leaves `held` only with a permit in hand).
fn poll_room(outs: &mut [Out], cx: &mut Context<'_>) -> Poll<()> {
  let mut waiting = false;
  for out in outs {
    if out.held.is_none() {
      continue;
    }
    let reserve = (out.reserve).get_or_insert_with(|| Box::pin(out.tx.clone().reserve_owned()));
    match reserve.as_mut().poll(cx) {
      Poll::Ready(Ok(permit)) => {
        out.reserve = None;
        if let Some(batch) = out.held.take() {
          permit.send(batch);
        }
      }
      Poll::Ready(Err(_)) => {
        out.reserve = None;
        out.held = None;
      }
      Poll::Pending => waiting = true,
    }
  }
  if waiting {
    Poll::Pending
  } else {
    Poll::Ready(())
  }
}

#[cfg(test)]
mod tests {
  use bytes::Bytes;

  use super::*;

  fn msg(frames: &[&'static str]) -> Msg {
    frames
      .iter()
      .map(|f| Bytes::from_static(f.as_bytes()))
      .collect()
  }

  fn end(c: Control) -> ProxyEnd {
    match c {
      Control::Proxy(end) => *end,
      other => panic!("not a proxy control: {other:?}"),
    }
  }

  #[tokio::test(flavor = "current_thread")]
  async fn router_dealer_forwards_both_ways_and_captures_replies_without_their_envelope() {
    let (f, b, c) = plan(SocketType::Router, SocketType::Dealer, true);
    let (mut front, mut back, mut cap) = (end(f), end(b), end(c.unwrap()));
    assert!(front.forwards() && back.forwards());
    front.push(msg(&["id", "", "request"]));
    front.dispatch();
    assert_eq!(
      back.step(true).await.unwrap(),
      vec![msg(&["id", "", "request"])]
    );
    back.push(msg(&["id", "", "reply"]));
    back.dispatch();
    assert_eq!(
      front.step(true).await.unwrap(),
      vec![msg(&["id", "", "reply"])]
    );
    assert_eq!(cap.step(true).await.unwrap(), vec![msg(&["reply"])]);
  }

  #[tokio::test(flavor = "current_thread")]
  async fn pull_push_forwards_one_way_and_the_capture_taps_the_pull() {
    let (f, b, c) = plan(SocketType::Pull, SocketType::Push, true);
    let (mut front, mut back, mut cap) = (end(f), end(b), end(c.unwrap()));
    assert!(front.forwards() && !back.forwards());
    assert!(front.input.is_none());
    front.push(msg(&["job"]));
    front.dispatch();
    assert_eq!(back.step(true).await.unwrap(), vec![msg(&["job"])]);
    assert_eq!(cap.step(true).await.unwrap(), vec![msg(&["job"])]);
  }

  #[tokio::test(flavor = "current_thread")]
  async fn a_full_channel_holds_the_batch_until_the_other_side_takes_one() {
    let (f, b, _) = plan(SocketType::Pull, SocketType::Push, false);
    let (mut front, mut back) = (end(f), end(b));
    for i in 0..=CHANNEL_BATCHES {
      assert!(!front.blocked(), "blocked after {i} batches");
      front.push(msg(&["m"]));
      front.dispatch();
    }
    assert!(front.blocked());
    assert!(back.step(true).await.is_some());
    assert!(front.step(false).await.is_none());
    assert!(!front.blocked());
    let mut got = 0;
    while let Ok(batch) = back.input.as_mut().unwrap().try_recv() {
      got += batch.len();
    }
    assert_eq!(got, CHANNEL_BATCHES, "nothing was lost");
  }
}
