//! Where a classic socket's loop runs, for its napi handle ([`super::sockets`]): a task on the libuv loop of
//! the JS thread that made it (the default), or a tokio task on the runtime thread (`ZMQBUS_THREAD=runtime`,
//! and STREAM sockets).
//!
//! On the JS thread a call queues its control and wakes the loop, which runs when the delivery the call
//! came from returns (so a handler's sends leave in one write), or else from its async handle, so no event
//! reaches JS inside a call. The loop's batches reach JS after each poll, with the loop not borrowed, so a
//! handler can make synchronous calls (`bindSync`), which the loop answers at once.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::time::Duration;

use napi::bindgen_prelude::{Buffer, Function};
use napi::Env;
use tokio::sync::mpsc::UnboundedSender;

use super::events::outbox_for;
use super::local::{self, local_mode, Stash};
use crate::boundary::outbox::{Deliver, Outbox};
use crate::error::JsError;
use crate::sockets::eventloop::Control;
use crate::sockets::start::{self, LocalLoop};
use crate::sockets::{SocketError, SocketType};
use crate::uvloop::io::UvReactor;
use crate::uvloop::task::{Body, Task};

/// How long a synchronous call (`bindSync`) blocks the JS thread at most for a loop on the runtime (a
/// tcp/ipc bind takes microseconds).
const SYNC_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a socket's loop runs.
pub(super) enum Engine {
  /// A tokio task on the runtime thread.
  Runtime(UnboundedSender<Control>),
  /// A task on this JS thread's libuv loop.
  Local {
    controls: UnboundedSender<Control>,
    task: Task,
    /// The loop, for synchronous calls (its task owns it: gone once the task ended).
    lp: Weak<RefCell<dyn LocalLoop>>,
  },
}

impl Engine {
  /// Starts the loop of a socket of `kind`, delivering into `on_events`.
  ///
  /// # Errors
  /// When napi refuses the references, the loop or the threadsafe function (the env is shutting down).
  pub(super) fn start(
    env: &Env,
    kind: SocketType,
    on_events: Function<Buffer, ()>,
  ) -> napi::Result<Engine> {
    match start_local(env, kind, &on_events)? {
      Some(local) => Ok(local),
      None => Ok(Engine::Runtime(start::spawn(kind, outbox_for(on_events)?))),
    }
  }

  /// Whether the loop runs on the runtime thread.
  pub(super) fn on_runtime(&self) -> bool {
    matches!(self, Engine::Runtime(_))
  }

  /// Queues `c` for the loop and wakes it (see the module's doc for when a local loop runs).
  ///
  /// # Errors
  /// `ENOTSOCK` once the loop has ended.
  pub(super) fn send(&self, c: Control) -> Result<(), JsError> {
    let sent = match self {
      Engine::Runtime(tx) => tx.send(c),
      Engine::Local { controls, .. } => controls.send(c),
    };
    sent.map_err(|_| JsError::from(SocketError::Closed))
  }

  /// Asks the loop a question JS waits for (`bindSync`, `statsSync`): a loop on this thread answers inside
  /// this call (no event reaches JS in it), one on the runtime is waited for (at most [`SYNC_TIMEOUT`]).
  ///
  /// # Errors
  /// `ENOTSOCK` once the loop has ended, `ETIMEDOUT` with no answer.
  pub(super) fn ask<T>(&self, make: impl FnOnce(SyncSender<T>) -> Control) -> Result<T, JsError> {
    let (tx, rx) = sync_channel(1);
    let no_answer = || JsError::new("ETIMEDOUT", "the socket did not answer");
    let Engine::Local { task, lp, .. } = self else {
      self.send(make(tx))?;
      return rx.recv_timeout(SYNC_TIMEOUT).map_err(|_| no_answer());
    };
    let closed = || JsError::from(SocketError::Closed);
    let lp = lp.upgrade().ok_or_else(closed)?;
    // JS runs while the loop is borrowed only inside an authenticator handler (its batches are delivered
    // after each poll): a question asked from there cannot be answered in place.
    let busy = || {
      JsError::new(
        "EBUSY",
        "the socket is busy: asked from inside its authenticator handler",
      )
    };
    let mut borrowed = lp.try_borrow_mut().map_err(|_| busy())?;
    borrowed.handle_control(make(tx));
    drop(borrowed);
    // Its next poll watches what this started (a listener) and delivers what it queued.
    task.wake();
    rx.try_recv().map_err(|_| no_answer())
  }

  /// Ends a local loop now, without calling JS (a handle garbage-collected without `close()`).
  pub(super) fn cancel(self) {
    if let Engine::Local { task, .. } = self {
      task.cancel();
    }
  }
}

/// Starts the loop of a socket of `kind` on this JS thread; `None` where it runs on the runtime instead.
fn start_local(
  env: &Env,
  kind: SocketType,
  on_events: &Function<Buffer, ()>,
) -> napi::Result<Option<Engine>> {
  if !local_mode() {
    return Ok(None);
  }
  let uv = local::this_loop(env)?;
  let (deliver, gauge) = local::deliver_for(env.raw(), on_events)?;
  let stash = Stash::default();
  let outbox = Outbox::new(stash.clone(), gauge);
  let reactor = UvReactor::new(uv).map_err(|e| napi::Error::from_reason(e.to_string()))?;
  let (controls, sock) = start::local(kind, outbox, reactor);
  let lp = Rc::downgrade(&sock);
  let body: Body = Box::new(move |cx| {
    let polled = sock.borrow_mut().poll(cx);
    // JS runs here, with the loop not borrowed: a handler may call back into it (`bindSync`).
    while let Some(batch) = stash.pop() {
      deliver.deliver(batch);
    }
    polled
  });
  let task = Task::spawn(uv, body).map_err(|e| napi::Error::from_reason(e.to_string()))?;
  Ok(Some(Engine::Local { controls, task, lp }))
}
