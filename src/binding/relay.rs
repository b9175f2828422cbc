//! Batches from an engine on our runtime thread (a broker, a bus node, a socket, busmq) to its JS
//! callback, through a task on the JS thread's own libuv loop instead of a threadsafe function.
//!
//! Node dispatches a threadsafe function's calls in a loop of up to 1,000 while calls keep arriving, so a
//! fast flood held a process's timers and other I/O for seconds (a 10 us handler draining 200,000
//! messages: timer gaps of 0.8-1.3 s). Here the runtime thread queues a batch and wakes the task
//! (`uv_async_send`); the task hands one batch per poll to JS, inside a callback scope, and the task
//! runner (`crate::uvloop::task`) yields to the loop after 2 ms of work, so Node's timers and I/O run
//! between slices of a flood.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use futures::task::AtomicWaker;
use napi::bindgen_prelude::{Buffer, Function};
use napi::sys;

use super::local::{hook_env_cleanup, LocalDeliver};
use crate::boundary::outbox::{Deliver, Gauge};
use crate::uvloop::task::{Body, Task};
use crate::uvloop::LoopRef;

/// What the runtime thread and the JS-thread task share.
#[derive(Default)]
struct Inbox {
  batches: Mutex<VecDeque<Vec<u8>>>,
  /// The task that empties `batches`.
  waker: AtomicWaker,
  /// The engine dropped its end: the task ends once `batches` is empty.
  sender_gone: AtomicBool,
  /// The task ended (its env is going, or it was cancelled): nothing will be delivered any more.
  receiver_gone: AtomicBool,
}

/// The runtime thread's end: queues batches for the JS thread's task.
pub struct Relay {
  inbox: Arc<Inbox>,
}

impl Relay {
  /// Queues `batch` for JS; false once the JS side is gone.
  pub fn deliver(&self, batch: Vec<u8>) -> bool {
    if self.inbox.receiver_gone.load(Ordering::Acquire) {
      return false;
    }
    // JS is likely to answer this batch soon: keep the runtime thread polling meanwhile.
    crate::runtime::activity();
    match self.inbox.batches.lock() {
      Ok(mut q) => q.push_back(batch),
      Err(_) => return false,
    }
    self.inbox.waker.wake();
    true
  }
}

impl Drop for Relay {
  fn drop(&mut self) {
    // Stored after the last push, so a task that sees it also sees every batch.
    self.inbox.sender_gone.store(true, Ordering::Release);
    self.inbox.waker.wake();
  }
}

/// Marks the inbox closed when the task's body goes, however it goes (finished, cancelled, env cleanup).
struct Receiver {
  inbox: Arc<Inbox>,
  js: LocalDeliver,
}

impl Drop for Receiver {
  fn drop(&mut self) {
    self.inbox.receiver_gone.store(true, Ordering::Release);
  }
}

impl Receiver {
  /// One batch per poll: the runner polls again while it is woken, up to its budget, then yields.
  fn poll(&mut self, cx: &mut std::task::Context<'_>) -> Poll<()> {
    self.inbox.waker.register(cx.waker());
    // Read before popping: a sender that left after its last push cannot be missed with a batch queued.
    let gone = self.inbox.sender_gone.load(Ordering::Acquire);
    let next = match self.inbox.batches.lock() {
      Ok(mut q) => q.pop_front(),
      Err(_) => return Poll::Ready(()),
    };
    match next {
      Some(batch) => {
        self.js.deliver(batch);
        cx.waker().wake_by_ref();
        Poll::Pending
      }
      None if gone => Poll::Ready(()),
      None => Poll::Pending,
    }
  }
}

/// A relay into `callback` on the calling JS thread, sharing `gauge` with the engine's outbox. `None` when
/// libuv cannot be reached from this process (the caller falls back to a threadsafe function).
///
/// # Errors
/// When napi refuses the references, the loop or the cleanup hook (the env is shutting down).
pub fn relay_for(
  env: sys::napi_env,
  callback: &Function<Buffer, ()>,
  gauge: Arc<Gauge>,
) -> napi::Result<Option<Relay>> {
  if crate::uvloop::ffi::uv().is_err() {
    return Ok(None);
  }
  hook_env_cleanup(env)?;
  let mut loop_ptr = std::ptr::null_mut();
  // SAFETY: a plain napi call on the env's own thread.
  let status = unsafe { sys::napi_get_uv_event_loop(env, &mut loop_ptr) };
  if status != sys::Status::napi_ok || loop_ptr.is_null() {
    return Err(napi::Error::from_reason(format!(
      "napi_get_uv_event_loop failed with status {status}"
    )));
  }
  // SAFETY: the loop of this env's thread; the task stays on this thread and the cleanup hook closes it
  // before the loop ends.
  let lp = unsafe { LoopRef::from_raw(loop_ptr.cast()) };
  let inbox = Arc::new(Inbox::default());
  let mut receiver = Receiver {
    inbox: inbox.clone(),
    js: LocalDeliver::new(env, callback, gauge)?,
  };
  let body: Body = Box::new(move |cx| receiver.poll(cx));
  // The task ends by itself once the engine is gone and its batches are delivered.
  Task::spawn(lp, body).map_err(|e| napi::Error::from_reason(e.to_string()))?;
  Ok(Some(Relay { inbox }))
}
