//! Owned libuv handles on the loop of a JS thread: a poll handle per socket, timers, a check handle, an async
//! handle for wake-ups from other threads. Each owns its callback; dropping the owner closes the handle, and
//! libuv's close callback frees the memory (a handle is never freed while libuv still holds it).
//!
//! Everything here runs on the loop's thread, except [`AsyncSender::send`], which any thread may call.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ffi::{c_int, c_void};
use std::sync::{Arc, Mutex};

use super::ffi::{self, kind, Handle, Loop, Uv};

/// The loop of one JS thread. Only made from a pointer libuv handed out (`napi_get_uv_event_loop`), and only
/// used on that loop's thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopRef(*mut Loop);

impl LoopRef {
  /// Wraps the loop of the calling JS thread.
  ///
  /// # Safety
  /// `ptr` is a live `uv_loop_t` (from `napi_get_uv_event_loop` of this thread's env), and every handle made
  /// with it is made, used and dropped on this thread, before the loop ends.
  pub unsafe fn from_raw(ptr: *mut c_void) -> Self {
    Self(ptr)
  }
}

/// A libuv call failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum UvError {
  /// libuv is not in this process.
  #[error(transparent)]
  Unavailable(#[from] ffi::Unavailable),
  /// A call returned an error number.
  #[error("{call}: {text} ({code})")]
  Call {
    /// The libuv function.
    call: &'static str,
    /// libuv's error number (negative errno).
    code: c_int,
    /// libuv's text for it.
    text: String,
  },
}

fn check(uv: &Uv, call: &'static str, code: c_int) -> Result<(), UvError> {
  if code >= 0 {
    return Ok(());
  }
  Err(UvError::Call {
    call,
    code,
    text: uv.error_text(code),
  })
}

/// What `data` points to: the callback, and the layout to free the handle with.
struct Slot<C: ?Sized> {
  layout: Layout,
  cb: Box<C>,
}

/// One handle of type `kind` whose callback is `C`.
struct Raw<C: ?Sized> {
  ptr: *mut Handle,
  uv: &'static Uv,
  _cb: std::marker::PhantomData<Box<C>>,
}

impl<C: ?Sized> Raw<C> {
  /// Allocates a zeroed handle of `kind`'s size in the running libuv, with `cb` in its data.
  fn alloc(kind: c_int, cb: Box<C>) -> Result<Self, UvError> {
    let uv = ffi::uv()?;
    // SAFETY: uv_handle_size only reads a table.
    let size = unsafe { (uv.handle_size)(kind) }.max(std::mem::size_of::<Handle>());
    let layout = Layout::from_size_align(size, 16).map_err(|_| UvError::Call {
      call: "uv_handle_size",
      code: -22,
      text: "bad handle size".into(),
    })?;
    // SAFETY: the layout is non-zero; a null result is handled.
    let ptr = unsafe { alloc_zeroed(layout) } as *mut Handle;
    if ptr.is_null() {
      std::alloc::handle_alloc_error(layout);
    }
    let slot = Box::into_raw(Box::new(Slot { layout, cb }));
    // SAFETY: `ptr` is a fresh, zeroed handle; `data` is its first field.
    unsafe { (*ptr).data = slot as *mut c_void };
    Ok(Self {
      ptr,
      uv,
      _cb: std::marker::PhantomData,
    })
  }

  /// Frees a handle libuv never took (its init failed).
  fn free_unused(self) {
    // SAFETY: the handle was never initialised, so libuv holds no pointer to it.
    unsafe { free::<C>(self.ptr) };
    std::mem::forget(self);
  }

  /// The callback of the handle behind `ptr`.
  ///
  /// # Safety
  /// `ptr` is a live handle made by [`Raw::alloc`] with callback type `C`.
  unsafe fn callback<'a>(ptr: *mut Handle) -> &'a mut C {
    &mut (*((*ptr).data as *mut Slot<C>)).cb
  }
}

/// Frees the slot and the handle's memory.
///
/// # Safety
/// `ptr` came from [`Raw::alloc`] with callback type `C` and libuv no longer uses it.
unsafe fn free<C: ?Sized>(ptr: *mut Handle) {
  let slot = Box::from_raw((*ptr).data as *mut Slot<C>);
  dealloc(ptr as *mut u8, slot.layout);
}

unsafe extern "C" fn on_close<C: ?Sized>(ptr: *mut Handle) {
  free::<C>(ptr);
}

impl<C: ?Sized> Drop for Raw<C> {
  fn drop(&mut self) {
    // SAFETY: the handle is initialised and not yet closing; its memory is freed in `on_close`.
    unsafe { (self.uv.close)(self.ptr, Some(on_close::<C>)) };
  }
}

/// Whether a handle keeps the loop (and so the process) alive, as `ref()`/`unref()` on a Node handle.
pub trait Refable {
  /// Keeps the loop alive while the handle is active (the default).
  fn set_ref(&self, keep_alive: bool);
}

macro_rules! refable {
  ($ty:ty) => {
    impl Refable for $ty {
      fn set_ref(&self, keep_alive: bool) {
        let raw = &self.raw;
        // SAFETY: the handle is live while its owner is.
        unsafe {
          if keep_alive {
            (raw.uv.ref_)(raw.ptr)
          } else {
            (raw.uv.unref)(raw.ptr)
          }
        }
      }
    }
  };
}

type PollFn = dyn FnMut(c_int, c_int);

/// A socket watched for readability and writability (`uv_poll_t`); the callback gets `(status, events)`.
pub struct Poll {
  raw: Raw<PollFn>,
  events: c_int,
}

unsafe extern "C" fn on_poll(ptr: *mut Handle, status: c_int, events: c_int) {
  // Tasks the callback wakes run when it returns (see `task::Entry`).
  let _entry = super::task::Entry::enter();
  Raw::<PollFn>::callback(ptr)(status, events);
}

impl Poll {
  /// Watches socket `fd` on `lp` (nothing is asked for until [`Poll::want`]).
  ///
  /// # Errors
  /// libuv's error (a bad descriptor), or no libuv.
  #[cfg(unix)]
  pub fn new(lp: LoopRef, fd: std::os::fd::RawFd, cb: Box<PollFn>) -> Result<Self, UvError> {
    let raw = Raw::alloc(kind::POLL, cb)?;
    // SAFETY: `lp` is the loop of this thread; the handle is fresh.
    let rc = unsafe { (raw.uv.poll_init_socket)(lp.0, raw.ptr, fd) };
    if let Err(e) = check(raw.uv, "uv_poll_init_socket", rc) {
      raw.free_unused();
      return Err(e);
    }
    Ok(Self { raw, events: 0 })
  }

  /// Watches socket `socket` on `lp` (nothing is asked for until [`Poll::want`]).
  ///
  /// # Errors
  /// libuv's error (a bad socket), or no libuv.
  #[cfg(windows)]
  pub fn new(
    lp: LoopRef,
    socket: std::os::windows::io::RawSocket,
    cb: Box<PollFn>,
  ) -> Result<Self, UvError> {
    let raw = Raw::alloc(kind::POLL, cb)?;
    // SAFETY: `lp` is the loop of this thread; the handle is fresh.
    let rc = unsafe { (raw.uv.poll_init_socket)(lp.0, raw.ptr, socket as usize) };
    if let Err(e) = check(raw.uv, "uv_poll_init_socket", rc) {
      raw.free_unused();
      return Err(e);
    }
    Ok(Self { raw, events: 0 })
  }

  /// Asks for `events` (`ffi::READABLE | ffi::WRITABLE`, or 0 to stop watching). libuv polls level-triggered:
  /// ask only for what someone waits for, or the callback fires in a loop.
  pub fn want(&mut self, events: c_int) {
    if events == self.events {
      return;
    }
    self.events = events;
    let uv = self.raw.uv;
    // SAFETY: the handle is live; stop and start are valid in any state but closing.
    unsafe {
      if events == 0 {
        (uv.poll_stop)(self.raw.ptr);
      } else {
        (uv.poll_start)(self.raw.ptr, events, on_poll);
      }
    }
  }

  /// What is asked for now.
  pub fn wanted(&self) -> c_int {
    self.events
  }
}

refable!(Poll);

type UnitFn = dyn FnMut();

unsafe extern "C" fn on_unit(ptr: *mut Handle) {
  let _entry = super::task::Entry::enter();
  Raw::<UnitFn>::callback(ptr)();
}

/// A one-shot timer (`uv_timer_t`), in the loop's milliseconds.
pub struct Timer {
  raw: Raw<UnitFn>,
  armed: bool,
}

impl Timer {
  /// A stopped timer on `lp` that calls `cb` when it fires.
  ///
  /// # Errors
  /// No libuv.
  pub fn new(lp: LoopRef, cb: Box<UnitFn>) -> Result<Self, UvError> {
    let raw = Raw::alloc(kind::TIMER, cb)?;
    // SAFETY: as for Poll::new.
    let rc = unsafe { (raw.uv.timer_init)(lp.0, raw.ptr) };
    if let Err(e) = check(raw.uv, "uv_timer_init", rc) {
      raw.free_unused();
      return Err(e);
    }
    Ok(Self { raw, armed: false })
  }

  /// Fires once after `ms` (restarting an armed timer).
  pub fn start(&mut self, ms: u64) {
    self.armed = true;
    // SAFETY: the handle is live.
    unsafe { (self.raw.uv.timer_start)(self.raw.ptr, on_unit, ms, 0) };
  }

  /// Stops it if armed.
  pub fn stop(&mut self) {
    if self.armed {
      self.armed = false;
      // SAFETY: the handle is live.
      unsafe { (self.raw.uv.timer_stop)(self.raw.ptr) };
    }
  }
}

refable!(Timer);

/// Runs its callback once per loop turn, right after libuv has handled I/O (`uv_check_t`): where writes made
/// by JS during the turn are flushed together.
pub struct Check {
  raw: Raw<UnitFn>,
  running: bool,
}

impl Check {
  /// A stopped check handle on `lp`. It never keeps the loop alive by itself.
  ///
  /// # Errors
  /// No libuv.
  pub fn new(lp: LoopRef, cb: Box<UnitFn>) -> Result<Self, UvError> {
    let raw = Raw::alloc(kind::CHECK, cb)?;
    // SAFETY: as for Poll::new.
    let rc = unsafe { (raw.uv.check_init)(lp.0, raw.ptr) };
    if let Err(e) = check(raw.uv, "uv_check_init", rc) {
      raw.free_unused();
      return Err(e);
    }
    let check = Self {
      raw,
      running: false,
    };
    check.set_ref(false);
    Ok(check)
  }

  /// Runs the callback at the end of every turn until [`Check::stop`].
  pub fn start(&mut self) {
    if !self.running {
      self.running = true;
      // SAFETY: the handle is live.
      unsafe { (self.raw.uv.check_start)(self.raw.ptr, on_unit) };
    }
  }

  /// Stops running the callback.
  pub fn stop(&mut self) {
    if self.running {
      self.running = false;
      // SAFETY: the handle is live.
      unsafe { (self.raw.uv.check_stop)(self.raw.ptr) };
    }
  }
}

refable!(Check);

/// A handle other threads wake (`uv_async_t`): many sends before the callback runs give one call.
pub struct Async {
  raw: Raw<UnitFn>,
  shared: Arc<Mutex<Option<SendPtr>>>,
}

#[derive(Clone, Copy)]
struct SendPtr(*mut Handle);
// SAFETY: the pointer is only used for uv_async_send (thread-safe by libuv's contract) while the handle is
// live, which the mutex guarantees (it is cleared before the handle closes).
unsafe impl Send for SendPtr {}

/// Wakes an [`Async`] from any thread; after the handle closed, a send does nothing.
#[derive(Clone)]
pub struct AsyncSender {
  uv: &'static Uv,
  shared: Arc<Mutex<Option<SendPtr>>>,
}

impl Async {
  /// An async handle on `lp` calling `cb` on the loop's thread. It never keeps the loop alive by itself.
  ///
  /// # Errors
  /// No libuv.
  pub fn new(lp: LoopRef, cb: Box<UnitFn>) -> Result<Self, UvError> {
    let raw = Raw::alloc(kind::ASYNC, cb)?;
    // SAFETY: as for Poll::new.
    let rc = unsafe { (raw.uv.async_init)(lp.0, raw.ptr, on_unit) };
    if let Err(e) = check(raw.uv, "uv_async_init", rc) {
      raw.free_unused();
      return Err(e);
    }
    let shared = Arc::new(Mutex::new(Some(SendPtr(raw.ptr))));
    let this = Self { raw, shared };
    this.set_ref(false);
    Ok(this)
  }

  /// A sender for other threads.
  pub fn sender(&self) -> AsyncSender {
    AsyncSender {
      uv: self.raw.uv,
      shared: self.shared.clone(),
    }
  }
}

impl Drop for Async {
  fn drop(&mut self) {
    // No sender may touch the handle once it starts closing (Raw's drop runs after this).
    *self.shared.lock().unwrap_or_else(|e| e.into_inner()) = None;
  }
}

refable!(Async);

impl AsyncSender {
  /// Wakes the loop's thread; a no-op once the handle is closed.
  pub fn send(&self) {
    let guard = self.shared.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(SendPtr(ptr)) = *guard {
      // SAFETY: the handle is live while the pointer is in the mutex, and uv_async_send is thread-safe.
      unsafe { (self.uv.async_send)(ptr) };
    }
  }
}

/// The loop's idea of now, in milliseconds (`uv_now`, updated once per turn).
///
/// # Errors
/// No libuv.
pub fn now_ms(lp: LoopRef) -> Result<u64, UvError> {
  let uv = ffi::uv()?;
  // SAFETY: `lp` is a live loop.
  Ok(unsafe { (uv.now)(lp.0) })
}
