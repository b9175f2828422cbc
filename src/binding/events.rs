//! The Rust -> JS event channel of every engine handle: one packed Buffer per batch (see
//! `crate::boundary`), handed to a JS callback `(batch: Buffer) => Error[] | undefined`.
//!
//! Node runs a threadsafe function's callback outside any callback scope: nextTick and promise
//! jobs queued by a handler would wait for some unrelated event, and an exception escaping it
//! is swallowed (a DEP0168 warning) instead of reaching `uncaughtException`. So we build the
//! threadsafe function by hand and call JS the way Node's own I/O callbacks do: through
//! `napi_make_callback` with an async context per handle. When the scope closes Node itself
//! runs the tick queue and the microtasks; an exception from them, and every handler error the
//! facade returns (handler errors with no `'error'` listener), goes to `napi_fatal_exception`,
//! which is Node's documented uncaught-exception path.
//!
//! Where libuv can be reached (always under Node on Linux), batches go through a task on the JS thread's
//! own loop instead (`super::relay`), which lets Node's loop turn every 2 ms of a flood; the threadsafe
//! function stays as the fallback, and for `ZMQBUS_THREAD=runtime` (the earlier model, for comparison).
//!
//! The function is *weak* (unref'd): it never keeps Node alive by itself. The JS facade holds
//! a ref'd keep-alive while an engine is started and drops it at `stop()`, so a process with
//! nothing left to do exits, and a forgotten handle can never hang it.

use crate::boundary::outbox::{Deliver, Gauge, Outbox};
use napi::bindgen_prelude::{Buffer, Function, JsValue, ToNapiValue};
use napi::sys;
use std::ffi::c_void;
use std::ptr;
use std::sync::{Arc, RwLock};

/// What the JS-thread callbacks need; owned by the threadsafe function, freed in its finalizer.
struct Context {
  gauge: Arc<Gauge>,
  async_context: sys::napi_async_context,
  closed: Arc<RwLock<bool>>,
}

/// Delivers batches into a JS callback: through a task on the JS thread's loop, or a threadsafe function.
pub enum JsDeliver {
  /// A task on the JS thread's libuv loop (see `super::relay`).
  Relay(super::relay::Relay),
  /// A threadsafe function (no libuv reachable, or `ZMQBUS_THREAD=runtime`).
  Tsfn(Tsfn),
}

impl Deliver for JsDeliver {
  fn deliver(&self, batch: Vec<u8>) -> bool {
    match self {
      JsDeliver::Relay(r) => r.deliver(batch),
      JsDeliver::Tsfn(t) => t.deliver(batch),
    }
  }
}

/// Delivers batches into a JS callback through a threadsafe function.
pub struct Tsfn {
  tsfn: sys::napi_threadsafe_function,
  /// Set by the finalizer on the JS thread; after that `tsfn` is dangling. Calls hold the read
  /// lock so the finalizer cannot run in the middle of one.
  closed: Arc<RwLock<bool>>,
}

// SAFETY: a napi_threadsafe_function is made to be called and released from any thread; the
// `closed` flag under its lock keeps every use before the JS thread's finalizer frees it.
unsafe impl Send for Tsfn {}
unsafe impl Sync for Tsfn {}

impl Tsfn {
  fn deliver(&self, batch: Vec<u8>) -> bool {
    let Ok(closed) = self.closed.read() else {
      return false;
    };
    if *closed {
      return false;
    }
    // JS is likely to answer this batch soon: keep the runtime thread polling meanwhile.
    crate::runtime::activity();
    let data = Box::into_raw(Box::new(batch)).cast::<c_void>();
    // Non-blocking: the queue is unbounded (max size 0) and the outbox already limits batches
    // in flight, so this never waits on the JS thread.
    let status = unsafe {
      sys::napi_call_threadsafe_function(
        self.tsfn,
        data,
        sys::ThreadsafeFunctionCallMode::nonblocking,
      )
    };
    if status != sys::Status::napi_ok {
      // Not queued: the batch is still ours to free.
      drop(unsafe { Box::from_raw(data.cast::<Vec<u8>>()) });
      return false;
    }
    true
  }
}

impl Drop for Tsfn {
  fn drop(&mut self) {
    let Ok(closed) = self.closed.read() else {
      return;
    };
    if !*closed {
      unsafe {
        sys::napi_release_threadsafe_function(
          self.tsfn,
          sys::ThreadsafeFunctionReleaseMode::release,
        );
      }
    }
  }
}

/// Builds an outbox that delivers into `callback`.
///
/// # Errors
/// Fails when napi cannot create the async context or the threadsafe function (environment
/// shutting down).
pub fn outbox_for(callback: Function<Buffer, ()>) -> napi::Result<Outbox<JsDeliver>> {
  let env = callback.value().env;
  let gauge = Arc::new(Gauge::default());
  if super::local::local_mode() {
    if let Some(relay) = super::relay::relay_for(env, &callback, gauge.clone())? {
      return Ok(Outbox::new(JsDeliver::Relay(relay), gauge));
    }
  }
  let tsfn = tsfn_for(&callback, gauge.clone())?;
  Ok(Outbox::new(JsDeliver::Tsfn(tsfn), gauge))
}

/// A threadsafe function calling `callback` with each batch, inside a callback scope.
fn tsfn_for(callback: &Function<Buffer, ()>, gauge: Arc<Gauge>) -> napi::Result<Tsfn> {
  let value = callback.value();
  let env = value.env;
  let closed = Arc::new(RwLock::new(false));
  let name = unsafe { ToNapiValue::to_napi_value(env, "zmqbus")? };
  let mut resource = ptr::null_mut();
  check(unsafe { sys::napi_create_object(env, &mut resource) })?;
  let mut async_context = ptr::null_mut();
  check(unsafe { sys::napi_async_init(env, resource, name, &mut async_context) })?;
  let context = Box::into_raw(Box::new(Context {
    gauge,
    async_context,
    closed: closed.clone(),
  }));
  let mut tsfn = ptr::null_mut();
  let status = unsafe {
    sys::napi_create_threadsafe_function(
      env,
      value.value,
      resource,
      name,
      0,
      1,
      ptr::null_mut(),
      Some(finalize),
      context.cast(),
      Some(call_js),
      &mut tsfn,
    )
  };
  if status != sys::Status::napi_ok {
    // SAFETY: creation failed, so no finalizer will ever see `context`.
    let context = unsafe { Box::from_raw(context) };
    unsafe { sys::napi_async_destroy(env, context.async_context) };
    return check(status).map(|_| unreachable!("status is not ok"));
  }
  check(unsafe { sys::napi_unref_threadsafe_function(env, tsfn) })?;
  Ok(Tsfn { tsfn, closed })
}

fn check(status: sys::napi_status) -> napi::Result<()> {
  if status == sys::Status::napi_ok {
    Ok(())
  } else {
    Err(napi::Error::from_reason(format!(
      "napi call failed with status {status}"
    )))
  }
}

/// Batches at least this large whose Vec is nearly full go to JS as they are, without a copy.
const HAND_OVER_MIN: usize = 1 << 20;

/// `batch` as a JS Buffer, usually a copy whose memory V8 owns and counts; the Vec is freed at once.
///
/// Handing every Vec over as an external buffer kept its whole capacity (up to the largest batch seen,
/// tens of kB even for a one-record batch) alive until V8 collected the Buffer, and V8 counted only
/// its length: many such blocks between collections, interleaved with the small allocations requests
/// hold for their lifetime, fragmented the heap and grew RSS without end (issue 19's ignore-half
/// worker). A copy is one memcpy of bytes just written. A large batch that fills its Vec (a big
/// message) is handed over as before: a copy would cost more there, and its capacity is its length.
///
/// # Safety
/// On the env's own thread, inside a handle scope.
pub(crate) unsafe fn batch_buffer(env: sys::napi_env, batch: Vec<u8>) -> Option<sys::napi_value> {
  if batch.len() >= HAND_OVER_MIN && batch.capacity() - batch.len() <= batch.len() / 8 {
    return Buffer::to_napi_value(env, Buffer::from(batch)).ok();
  }
  let mut data = ptr::null_mut();
  let mut value = ptr::null_mut();
  let status = sys::napi_create_buffer_copy(
    env,
    batch.len(),
    batch.as_ptr().cast(),
    &mut data,
    &mut value,
  );
  (status == sys::Status::napi_ok).then_some(value)
}

/// Runs on the JS thread for each batch, inside the handle scope Node opens for it.
unsafe extern "C" fn call_js(
  env: sys::napi_env,
  func: sys::napi_value,
  context: *mut c_void,
  data: *mut c_void,
) {
  // SAFETY: `data` is the Box made in `deliver`; taken back exactly once, here.
  let batch = unsafe { Box::from_raw(data.cast::<Vec<u8>>()) };
  // A null env or function: the function is being torn down with the environment.
  if env.is_null() || func.is_null() || context.is_null() {
    return;
  }
  // SAFETY: `context` lives until `finalize`, which Node runs after the last call_js.
  let context = unsafe { &*context.cast::<Context>() };
  // The batch counts as in flight until its handlers have run (see `Gauge::handled`).
  let started = std::time::Instant::now();
  let _handled = Handled(&context.gauge, started);
  // SAFETY: on the JS thread, inside the handle scope Node opened for this call.
  // Converted (and the Vec freed) before the handlers run (see `batch_buffer`).
  let Some(arg) = (unsafe { batch_buffer(env, *batch) }) else {
    return;
  };
  let mut global = ptr::null_mut();
  if unsafe { sys::napi_get_global(env, &mut global) } != sys::Status::napi_ok {
    return;
  }
  let mut result = ptr::null_mut();
  let status = unsafe {
    sys::napi_make_callback(
      env,
      context.async_context,
      global,
      func,
      1,
      &arg,
      &mut result,
    )
  };
  if status == sys::Status::napi_ok {
    unsafe { raise_returned(env, result) };
  } else {
    unsafe { raise_pending(env) };
  }
}

/// Tells the gauge the batch was handled when the call ends, whichever way it ends.
struct Handled<'a>(&'a Gauge, std::time::Instant);

impl Drop for Handled<'_> {
  fn drop(&mut self) {
    self.0.handled(self.1.elapsed());
  }
}

/// Hands the exception left by the callback (or by a tick it ran) to Node's uncaught path.
pub(super) unsafe fn raise_pending(env: sys::napi_env) {
  // With nothing pending, napi_get_and_clear_last_exception hands back `undefined`, which must not be
  // raised (it reached 'uncaughtException' listeners as a second, undefined error).
  let mut pending = false;
  if unsafe { sys::napi_is_exception_pending(env, &mut pending) } != sys::Status::napi_ok
    || !pending
  {
    return;
  }
  let mut exception = ptr::null_mut();
  if unsafe { sys::napi_get_and_clear_last_exception(env, &mut exception) } == sys::Status::napi_ok
    && !exception.is_null()
  {
    unsafe { sys::napi_fatal_exception(env, exception) };
  }
}

/// The facade returns the handler errors that no `'error'` listener took, as an array.
pub(super) unsafe fn raise_returned(env: sys::napi_env, result: sys::napi_value) {
  let mut is_array = false;
  if result.is_null()
    || unsafe { sys::napi_is_array(env, result, &mut is_array) } != sys::Status::napi_ok
    || !is_array
  {
    return;
  }
  let mut len = 0u32;
  if unsafe { sys::napi_get_array_length(env, result, &mut len) } != sys::Status::napi_ok {
    return;
  }
  for i in 0..len {
    let mut err = ptr::null_mut();
    if unsafe { sys::napi_get_element(env, result, i, &mut err) } == sys::Status::napi_ok {
      // With an uncaughtException listener this returns and we raise the next one; with none,
      // Node prints the first and exits with code 1.
      unsafe { sys::napi_fatal_exception(env, err) };
      unsafe { raise_pending(env) };
    }
  }
}

/// Node's finalizer for the threadsafe function: on the JS thread, after the last call.
unsafe extern "C" fn finalize(env: sys::napi_env, _data: *mut c_void, context: *mut c_void) {
  // SAFETY: `context` is the Box made in `outbox_for`; Node calls this finalizer once.
  let context = unsafe { Box::from_raw(context.cast::<Context>()) };
  if let Ok(mut closed) = context.closed.write() {
    *closed = true;
  }
  if !env.is_null() {
    unsafe { sys::napi_async_destroy(env, context.async_context) };
  }
}
