//! Engines on the JS thread that made them (issue: the thread model): a client's or worker's session loop
//! runs as a task on this thread's libuv loop (`crate::uvloop`), and its event batches reach JS
//! synchronously, through `napi_make_callback` inside a callback scope, as Node's own sockets deliver
//! 'data'. No thread is crossed between the socket and the handler.
//!
//! `ZMQBUS_THREAD=runtime` keeps the earlier model (the loop on our runtime thread, batches through a
//! threadsafe function), for comparison and as a fallback where libuv cannot be reached.

use std::cell::RefCell;
use std::ffi::c_void;
use std::ptr;
use std::sync::Arc;
use std::task::Poll;

use napi::bindgen_prelude::{Buffer, Function, JsValue, ToNapiValue};
use napi::{sys, Env};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::events::{batch_buffer, raise_pending, raise_returned};
use crate::boundary::outbox::{Deliver, Gauge, Outbox};
use crate::boundary::Command;
use crate::error::JsError;
use crate::mdp::eventloop::peer::{Opened, PeerLoop, Role};
use crate::uvloop::io::UvReactor;
use crate::uvloop::task::{self, thread_token, Body, Entry, Task};
use crate::uvloop::LoopRef;

/// Whether new clients and workers run on their JS thread (the default where libuv is reachable).
pub fn local_mode() -> bool {
  std::env::var("ZMQBUS_THREAD").map_or(true, |v| v != "runtime")
    && crate::uvloop::ffi::uv().is_ok()
}

/// Calls a JS function with each batch, on the thread that made it.
pub struct LocalDeliver {
  env: sys::napi_env,
  func: sys::napi_ref,
  resource: sys::napi_ref,
  async_context: sys::napi_async_context,
  home: usize,
  gauge: Arc<Gauge>,
}

// SAFETY: the raw napi handles are only used on the thread that made them (`home`, checked in `deliver`
// and `drop`); the `Deliver` bound asks for Send + Sync because other deliverers cross threads.
unsafe impl Send for LocalDeliver {}
unsafe impl Sync for LocalDeliver {}

impl Deliver for LocalDeliver {
  fn deliver(&self, batch: Vec<u8>) -> bool {
    if thread_token() != self.home {
      return false;
    }
    let started = std::time::Instant::now();
    // SAFETY: on the env's own thread, outside any JS frame or inside one (nesting is allowed).
    unsafe { self.call(batch) };
    self.gauge.handled(started.elapsed());
    true
  }

  fn inline(&self) -> bool {
    true
  }
}

impl LocalDeliver {
  unsafe fn call(&self, batch: Vec<u8>) {
    let env = self.env;
    let mut scope = ptr::null_mut();
    if sys::napi_open_handle_scope(env, &mut scope) != sys::Status::napi_ok {
      return;
    }
    let mut func = ptr::null_mut();
    let mut recv = ptr::null_mut();
    let ready = sys::napi_get_reference_value(env, self.func, &mut func) == sys::Status::napi_ok
      && sys::napi_get_reference_value(env, self.resource, &mut recv) == sys::Status::napi_ok
      && !func.is_null();
    // Converted (and the Vec freed) before the handlers run, so the block is free again for what they
    // allocate (see `batch_buffer`).
    let arg = if ready {
      batch_buffer(env, batch)
    } else {
      None
    };
    if let Some(arg) = arg {
      let mut result = ptr::null_mut();
      let status =
        sys::napi_make_callback(env, self.async_context, recv, func, 1, &arg, &mut result);
      if status == sys::Status::napi_ok {
        raise_returned(env, result);
      } else {
        raise_pending(env);
      }
    }
    sys::napi_close_handle_scope(env, scope);
  }
}

impl Drop for LocalDeliver {
  fn drop(&mut self) {
    if thread_token() != self.home {
      return; // never happens (tasks stay on their thread); leaking beats touching another env
    }
    // SAFETY: on the env's thread; the references and the context are ours.
    unsafe {
      sys::napi_delete_reference(self.env, self.func);
      sys::napi_delete_reference(self.env, self.resource);
      sys::napi_async_destroy(self.env, self.async_context);
    }
  }
}

fn check(status: sys::napi_status, what: &str) -> napi::Result<()> {
  if status == sys::Status::napi_ok {
    Ok(())
  } else {
    Err(napi::Error::from_reason(format!(
      "{what} failed with status {status}"
    )))
  }
}

/// An outbox calling `callback` synchronously on this thread.
pub(super) fn outbox_for(
  env: sys::napi_env,
  callback: &Function<Buffer, ()>,
) -> napi::Result<Outbox<LocalDeliver>> {
  let (deliver, gauge) = deliver_for(env, callback)?;
  Ok(Outbox::new(deliver, gauge))
}

/// Batches an outbox hands over, kept for its owner to deliver once it no longer borrows the loop that
/// filled them (JS may call back into that loop from the delivery: `bindSync` after an `await`).
#[derive(Clone, Default)]
pub struct Stash(Arc<std::sync::Mutex<std::collections::VecDeque<Vec<u8>>>>);

impl Deliver for Stash {
  fn deliver(&self, batch: Vec<u8>) -> bool {
    let mut queue = self.0.lock().unwrap_or_else(|e| e.into_inner());
    queue.push_back(batch);
    true
  }
}

impl Stash {
  /// The oldest batch kept.
  pub fn pop(&self) -> Option<Vec<u8>> {
    let mut queue = self.0.lock().unwrap_or_else(|e| e.into_inner());
    queue.pop_front()
  }
}

/// A deliverer calling `callback` synchronously on this thread, and the gauge its outbox shares.
pub(super) fn deliver_for(
  env: sys::napi_env,
  callback: &Function<Buffer, ()>,
) -> napi::Result<(LocalDeliver, Arc<Gauge>)> {
  let gauge = Arc::new(Gauge::default());
  let deliver = LocalDeliver::new(env, callback, gauge.clone())?;
  Ok((deliver, gauge))
}

impl LocalDeliver {
  /// A deliverer into `callback` on this (JS) thread, telling `gauge` when each batch was handled.
  ///
  /// # Errors
  /// When napi refuses the references or the async context (the env is shutting down).
  pub(super) fn new(
    env: sys::napi_env,
    callback: &Function<Buffer, ()>,
    gauge: Arc<Gauge>,
  ) -> napi::Result<Self> {
    let value = callback.value();
    let mut func = ptr::null_mut();
    let mut resource_obj = ptr::null_mut();
    let mut resource = ptr::null_mut();
    let mut async_context = ptr::null_mut();
    // SAFETY: plain napi calls on the calling (JS) thread with its env.
    unsafe {
      check(
        sys::napi_create_reference(env, value.value, 1, &mut func),
        "napi_create_reference",
      )?;
      check(
        sys::napi_create_object(env, &mut resource_obj),
        "napi_create_object",
      )?;
      check(
        sys::napi_create_reference(env, resource_obj, 1, &mut resource),
        "napi_create_reference",
      )?;
      let name = ToNapiValue::to_napi_value(env, "zmqbus")?;
      check(
        sys::napi_async_init(env, resource_obj, name, &mut async_context),
        "napi_async_init",
      )?;
    }
    Ok(LocalDeliver {
      env,
      func,
      resource,
      async_context,
      home: thread_token(),
      gauge,
    })
  }
}

/// Registers, once per thread, the env cleanup hook that ends this thread's tasks before its loop goes.
///
/// # Errors
/// When napi refuses the hook.
pub(super) fn hook_env_cleanup(env: sys::napi_env) -> napi::Result<()> {
  if !CLEANUP_HOOKED.with(|h| h.replace(true)) {
    // SAFETY: registering a plain function with no data on this env.
    check(
      unsafe { sys::napi_add_env_cleanup_hook(env, Some(env_cleanup), ptr::null_mut()) },
      "napi_add_env_cleanup_hook",
    )?;
  }
  Ok(())
}

thread_local! {
  static CLEANUP_HOOKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

unsafe extern "C" fn env_cleanup(_arg: *mut c_void) {
  // The env (a worker thread, or the main thread at exit) is going: close every handle before its loop.
  task::cancel_all();
}

/// The libuv loop of `env`'s thread, for tasks on it; the first call on a thread hooks the env's cleanup,
/// which ends every task of the thread before its loop goes.
///
/// # Errors
/// When napi refuses the hook or the loop (the env is shutting down).
pub fn this_loop(env: &Env) -> napi::Result<LoopRef> {
  hook_env_cleanup(env.raw())?;
  let loop_ptr = env.get_uv_event_loop()?;
  // SAFETY: the loop of this env's thread; every handle made on it stays on this thread (tasks are
  // thread-local) and is closed by the cleanup hook before the loop ends.
  Ok(unsafe { LoopRef::from_raw(loop_ptr.cast()) })
}

/// A session engine on this JS thread: the outbox until `start`, then the task and its command queue.
/// Every method takes `&self`: `send` runs the loop, whose deliveries may call `stop` from JS, so no cell
/// stays borrowed across that.
pub struct LocalEngine {
  lp: LoopRef,
  outbox: RefCell<Option<Outbox<LocalDeliver>>>,
  commands: RefCell<Option<UnboundedSender<Command>>>,
  task: RefCell<Option<Task>>,
}

impl LocalEngine {
  /// An engine delivering into `on_events` on `env`'s thread.
  ///
  /// # Errors
  /// When napi refuses the references or the loop (the env is shutting down).
  pub fn new(env: &Env, on_events: &Function<Buffer, ()>) -> napi::Result<Self> {
    Ok(Self {
      lp: this_loop(env)?,
      outbox: RefCell::new(Some(outbox_for(env.raw(), on_events)?)),
      commands: RefCell::new(None),
      task: RefCell::new(None),
    })
  }

  /// Starts the loop `open` makes; its first turn comes from the event loop, not from this call.
  ///
  /// # Errors
  /// `EALREADY` when started before, `EINVAL` for a malformed endpoint, or no libuv.
  pub fn start<P: Role + 'static>(
    &self,
    endpoint: &str,
    open: impl FnOnce(
      Outbox<LocalDeliver>,
      UnboundedReceiver<Command>,
      UvReactor,
    ) -> Opened<P, UvReactor, LocalDeliver>,
  ) -> Result<(), JsError> {
    crate::transport::Endpoint::parse(endpoint)
      .map_err(|e| JsError::new(e.code(), e.to_string()))?;
    let outbox = self
      .outbox
      .borrow_mut()
      .take()
      .ok_or_else(|| JsError::new("EALREADY", "this handle was already started"))?;
    let reactor = UvReactor::new(self.lp).map_err(|e| JsError::new("ENOTSUP", e.to_string()))?;
    let (tx, rx) = unbounded_channel();
    let body: Body = match open(outbox, rx, reactor) {
      Ok(mut lp) => Box::new(move |cx| lp.poll(cx)),
      Err(failed) => {
        let mut failed = Some(failed);
        Box::new(move |_| {
          if let Some(f) = failed.take() {
            PeerLoop::<P, UvReactor, LocalDeliver>::fail(f);
          }
          Poll::Ready(())
        })
      }
    };
    let task = Task::spawn(self.lp, body).map_err(|e| JsError::new("ENOTSUP", e.to_string()))?;
    *self.task.borrow_mut() = Some(task);
    *self.commands.borrow_mut() = Some(tx);
    Ok(())
  }

  /// Hands a batch of commands to the loop, which runs before this call returns (or, when called from one
  /// of its own deliveries, as soon as that delivery returns).
  pub fn send(&self, batch: &[u8]) {
    // Cloned out: the loop runs when `_entry` drops, and its deliveries may call `stop`.
    let Some(commands) = self.commands.borrow().clone() else {
      return;
    };
    let _entry = Entry::enter();
    let _ = commands.send(Command::Batch(bytes::Bytes::copy_from_slice(batch)));
  }

  /// Asks the loop to stop; `E_STOPPED` follows.
  pub fn stop(&self) {
    let taken = self.commands.borrow_mut().take();
    if let Some(commands) = taken {
      let _entry = Entry::enter();
      let _ = commands.send(Command::Stop);
    }
  }
}

impl Drop for LocalEngine {
  fn drop(&mut self) {
    // Garbage-collected without stop(): end the task without calling JS (this may run in a finalizer).
    if let Some(task) = self.task.get_mut().take() {
      task.cancel();
    }
  }
}
