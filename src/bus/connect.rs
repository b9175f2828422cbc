//! Connecting the data path to an elected forwarder: both sides dialled at once, then polled from the
//! node's loop until their handshakes are done, so the connect runs wherever that loop runs (a tokio task,
//! or a JS thread's libuv loop) and is dropped with it.

use std::collections::VecDeque;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;

use super::codec::NodeMeta;
use super::forwarder::LocalInput;
use super::link::{dial, drive, poll_up, Link, LinkError, Output, PUB_HWM, PUB_HWM_BYTES};
use crate::driver::reactor::{IoSleep, Reactor};
use crate::driver::Server;
use crate::zmtp::mechanism::MechanismConfig;
use crate::zmtp::socket::{PipeOptions, PubState, SubState};

/// The two dialled sides: our SUB and where our publishes go.
type Dialled<R> = (Box<Server<SubState, R>>, Output<R>);

/// A connect in progress to an elected forwarder: polled from the node's loop until both sides are up (or
/// it failed, or timed out), so it runs wherever the loop runs.
pub struct Connect<R: Reactor> {
  master: NodeMeta,
  /// The dialled sockets, or why dialling failed (reported by the first poll).
  parts: Result<Dialled<R>, Option<LinkError>>,
  early: VecDeque<Vec<Bytes>>,
  sub_up: bool,
  pub_up: bool,
  /// The connect's timer; it becomes the link's write-stall timer.
  deadline: Option<R::Sleep>,
}

impl<R: Reactor + Clone> Connect<R> {
  /// Starts connecting to `master`'s forwarder (both sides within `timeout`); with `local`, our publishes
  /// go straight into our own forwarder (this node is the master) and only the SUB side connects.
  pub fn start(
    master: NodeMeta,
    local: Option<LocalInput>,
    timeout: Duration,
    mechanism: &MechanismConfig,
    reactor: &R,
  ) -> Self {
    let mut deadline = reactor.sleep();
    deadline.reset(std::time::Instant::now() + timeout);
    let subscriber = dial(
      SubState::new(PipeOptions::default()),
      "SUB",
      &master.pub_addr,
      mechanism,
      reactor.clone(),
    );
    let output = match local {
      Some(input) => Ok(Output::Local {
        input,
        pending: Vec::new(),
        bytes: 0,
      }),
      None => dial(
        PubState::new(PUB_HWM, PUB_HWM_BYTES),
        "PUB",
        &master.sub_addr,
        mechanism,
        reactor.clone(),
      )
      .map(Output::Remote),
    };
    let pub_up = matches!(output, Ok(Output::Local { .. }));
    let parts = subscriber
      .and_then(|s| output.map(|o| (s, o)))
      .map_err(Some);
    Self {
      master,
      parts,
      early: VecDeque::new(),
      sub_up: false,
      pub_up,
      deadline: Some(deadline),
    }
  }

  /// The forwarder being connected to.
  pub fn master(&self) -> &NodeMeta {
    &self.master
  }

  /// `Ready` with the link once both sides are up, or with why not. Polled again after that: pending.
  pub fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<Link<R>, LinkError>> {
    let (subscriber, output) = match &mut self.parts {
      Ok(parts) => parts,
      Err(failed) => return failed.take().map_or(Poll::Pending, |e| Poll::Ready(Err(e))),
    };
    poll_up(subscriber, &mut self.sub_up, &mut self.early, cx);
    if let Output::Remote(publisher) = output {
      drive(publisher, cx);
      while let Some(link) = publisher.take_link_event() {
        self.pub_up = link.up;
      }
    }
    let Some(deadline) = self.deadline.as_mut() else {
      return Poll::Pending; // finished already
    };
    if self.sub_up && self.pub_up {
      let parts = std::mem::replace(&mut self.parts, Err(None));
      let (Ok((subscriber, output)), Some(stall)) = (parts, self.deadline.take()) else {
        return Poll::Pending; // both were there: matched above
      };
      let early = std::mem::take(&mut self.early);
      let master = self.master.clone();
      return Poll::Ready(Ok(Link::new(master, output, subscriber, early, stall)));
    }
    if deadline.poll_fired(cx).is_ready() {
      let addr = if self.pub_up {
        &self.master.pub_addr
      } else {
        &self.master.sub_addr
      };
      self.parts = Err(None);
      return Poll::Ready(Err(LinkError::Connect {
        addr: addr.clone(),
        reason: "timed out".into(),
      }));
    }
    Poll::Pending
  }
}
