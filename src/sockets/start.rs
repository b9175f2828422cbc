//! Where a classic socket's loop runs: as a task on the libuv loop of the JS thread that made it (the
//! default: [`local`]), or as a tokio task on the runtime thread ([`spawn`]: `ZMQBUS_THREAD=runtime`). One
//! monomorphic loop per socket type, chosen here; STREAM has a raw-TCP loop of its own ([`super::stream`]).

use std::cell::RefCell;
use std::rc::Rc;
use std::task::{Context, Poll};

use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use super::engine::Classic;
use super::eventloop::{Control, SocketLoop};
use super::stream::StreamLoop;
use super::SocketType;
use crate::boundary::outbox::{Deliver, Outbox};
use crate::driver::reactor::{Reactor, Tokio};
use crate::zmtp::socket as st;

/// Picks the state type for `kind` and runs `$run!(state type)`; `$stream` for STREAM.
macro_rules! by_state {
  ($kind:expr, $run:ident, $stream:expr) => {
    match $kind {
      SocketType::Pair => $run!(st::PairState),
      SocketType::Pub => $run!(st::PubState),
      SocketType::Sub => $run!(st::SubState),
      SocketType::Req => $run!(st::ReqState),
      SocketType::Rep => $run!(st::RepState),
      SocketType::Dealer => $run!(st::DealerState),
      SocketType::Router => $run!(st::RouterState),
      SocketType::Pull => $run!(st::PullState),
      SocketType::Push => $run!(st::PushState),
      SocketType::XSub => $run!(st::XSubState),
      SocketType::XPub => $run!(st::XPubState),
      SocketType::Stream => $stream,
    }
  };
}

/// Starts the loop of a socket of `kind` on the addon runtime; returns its control channel.
pub fn spawn<D: Deliver + Sync>(kind: SocketType, outbox: Outbox<D>) -> UnboundedSender<Control> {
  let (tx, rx) = unbounded_channel();
  let rt = crate::runtime::handle();
  macro_rules! on_runtime {
    ($state:ty) => {{
      // Made on the runtime: its timer is tokio's, which needs the runtime's context.
      rt.spawn(async move {
        let mut lp = SocketLoop::<$state, Tokio, D>::new(kind, outbox, rx, Tokio);
        std::future::poll_fn(|cx| lp.poll(cx)).await
      });
    }};
  }
  by_state!(kind, on_runtime, {
    rt.spawn(async move {
      let mut lp = StreamLoop::<Tokio, D>::new(outbox, rx, Tokio);
      std::future::poll_fn(|cx| lp.poll(cx)).await
    });
  });
  tx
}

/// A socket loop on a JS thread, as its task and its napi handle see it.
pub trait LocalLoop {
  /// Runs turns until nothing is ready; `Ready` once closed. Batches for JS go to the outbox's
  /// deliverer, which the task hands to JS after this returns.
  fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()>;
  /// Acts on `control` now (a synchronous call from JS: `bindSync`, `statsSync`); the loop must be woken
  /// after, for what it started (a listener to watch).
  fn handle_control(&mut self, control: Control);
}

impl<S: Classic, R: Reactor + Clone, D: Deliver> LocalLoop for SocketLoop<S, R, D> {
  fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
    SocketLoop::poll(self, cx)
  }

  fn handle_control(&mut self, control: Control) {
    // The controls JS queued before this one come first, as they would through the channel.
    while self.closing.is_none() {
      let Ok(queued) = self.controls.try_recv() else {
        break;
      };
      SocketLoop::handle_control(self, queued);
      self.send_pending();
    }
    SocketLoop::handle_control(self, control);
    self.send_pending();
  }
}

impl<R: Reactor, D: Deliver> LocalLoop for StreamLoop<R, D> {
  fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
    StreamLoop::poll(self, cx)
  }

  fn handle_control(&mut self, control: Control) {
    self.handle_control_now(control);
  }
}

/// A loop of `kind` on `reactor` (a JS thread's libuv loop) and its control channel. Each poll ends once
/// it handed a batch to the outbox, so its task can deliver it outside the loop's borrow.
pub fn local<R: Reactor + Clone, D: Deliver + 'static>(
  kind: SocketType,
  outbox: Outbox<D>,
  reactor: R,
) -> (UnboundedSender<Control>, Rc<RefCell<dyn LocalLoop>>) {
  let (tx, rx) = unbounded_channel();
  macro_rules! on_loop {
    ($state:ty) => {{
      let mut lp = SocketLoop::<$state, R, D>::new(kind, outbox, rx, reactor);
      lp.yield_on_delivery = true;
      let lp: Rc<RefCell<dyn LocalLoop>> = Rc::new(RefCell::new(lp));
      (tx, lp)
    }};
  }
  by_state!(kind, on_loop, {
    let mut lp = StreamLoop::<R, D>::new(outbox, rx, reactor);
    lp.yield_on_delivery = true;
    let lp: Rc<RefCell<dyn LocalLoop>> = Rc::new(RefCell::new(lp));
    (tx, lp)
  })
}
