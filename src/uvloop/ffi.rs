//! The few libuv functions we call, resolved at run time from the host process (Node exports its libuv:
//! `uv_*` symbols of the executable on Linux and macOS, of `node.exe` on Windows), exactly as napi-sys
//! resolves `napi_*`. Nothing is linked at build time, so the library and its tests link without Node, and a
//! missing symbol is an error with a code, not a load failure.
//!
//! Handles are allocated with the size the running libuv reports (`uv_handle_size`), so no layout of libuv's
//! structs is compiled in; we only rely on `data` being a handle's first field (libuv's public ABI).

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

/// `uv_loop_t`, opaque.
pub type Loop = c_void;
/// Any `uv_*_t` handle, opaque but for its first field.
#[repr(C)]
pub struct Handle {
  /// `uv_handle_t.data`, ours to use.
  pub data: *mut c_void,
}

/// `uv_handle_type` values (libuv 1.x, stable): `UV_HANDLE_TYPE_MAP` order after `UV_UNKNOWN_HANDLE`.
pub mod kind {
  use std::ffi::c_int;
  /// `uv_async_t`
  pub const ASYNC: c_int = 1;
  /// `uv_check_t`
  pub const CHECK: c_int = 2;
  /// `uv_poll_t`
  pub const POLL: c_int = 8;
  /// `uv_timer_t`
  pub const TIMER: c_int = 13;
}

/// `UV_READABLE`
pub const READABLE: c_int = 1;
/// `UV_WRITABLE`
pub const WRITABLE: c_int = 2;

type HandleCb = unsafe extern "C" fn(*mut Handle);
type PollCb = unsafe extern "C" fn(*mut Handle, c_int, c_int);

/// The resolved functions.
pub struct Uv {
  pub(crate) handle_size: unsafe extern "C" fn(c_int) -> usize,
  pub(crate) strerror: unsafe extern "C" fn(c_int) -> *const c_char,
  pub(crate) close: unsafe extern "C" fn(*mut Handle, Option<HandleCb>),
  pub(crate) ref_: unsafe extern "C" fn(*mut Handle),
  pub(crate) unref: unsafe extern "C" fn(*mut Handle),
  pub(crate) now: unsafe extern "C" fn(*const Loop) -> u64,
  #[cfg(unix)]
  pub(crate) poll_init_socket: unsafe extern "C" fn(*mut Loop, *mut Handle, c_int) -> c_int,
  #[cfg(windows)]
  pub(crate) poll_init_socket: unsafe extern "C" fn(*mut Loop, *mut Handle, usize) -> c_int,
  pub(crate) poll_start: unsafe extern "C" fn(*mut Handle, c_int, PollCb) -> c_int,
  pub(crate) poll_stop: unsafe extern "C" fn(*mut Handle) -> c_int,
  pub(crate) timer_init: unsafe extern "C" fn(*mut Loop, *mut Handle) -> c_int,
  pub(crate) timer_start: unsafe extern "C" fn(*mut Handle, HandleCb, u64, u64) -> c_int,
  pub(crate) timer_stop: unsafe extern "C" fn(*mut Handle) -> c_int,
  pub(crate) async_init: unsafe extern "C" fn(*mut Loop, *mut Handle, HandleCb) -> c_int,
  pub(crate) async_send: unsafe extern "C" fn(*mut Handle) -> c_int,
  pub(crate) check_init: unsafe extern "C" fn(*mut Loop, *mut Handle) -> c_int,
  pub(crate) check_start: unsafe extern "C" fn(*mut Handle, HandleCb) -> c_int,
  pub(crate) check_stop: unsafe extern "C" fn(*mut Handle) -> c_int,
}

/// libuv is not in this process (a plain Rust test binary), or lacks a function we need.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("libuv is not available in this process: {0}")]
pub struct Unavailable(pub String);

static UV: OnceLock<Result<Uv, Unavailable>> = OnceLock::new();

/// The host's libuv, resolved once.
///
/// # Errors
/// [`Unavailable`] outside Node (or with a libuv that lacks one of the functions).
pub fn uv() -> Result<&'static Uv, Unavailable> {
  UV.get_or_init(resolve).as_ref().map_err(Clone::clone)
}

fn resolve() -> Result<Uv, Unavailable> {
  #[cfg(unix)]
  let this = libloading::os::unix::Library::this();
  #[cfg(windows)]
  let this = libloading::os::windows::Library::this().map_err(|e| Unavailable(e.to_string()))?;
  macro_rules! sym {
    ($name:literal) => {
      // SAFETY: the symbol is libuv's, whose C signature is the field's type (uv.h, libuv 1.x).
      unsafe {
        *this
          .get(concat!($name, "\0").as_bytes())
          .map_err(|e| Unavailable(format!("{}: {e}", $name)))?
      }
    };
  }
  let uv = Uv {
    handle_size: sym!("uv_handle_size"),
    strerror: sym!("uv_strerror"),
    close: sym!("uv_close"),
    ref_: sym!("uv_ref"),
    unref: sym!("uv_unref"),
    now: sym!("uv_now"),
    poll_init_socket: sym!("uv_poll_init_socket"),
    poll_start: sym!("uv_poll_start"),
    poll_stop: sym!("uv_poll_stop"),
    timer_init: sym!("uv_timer_init"),
    timer_start: sym!("uv_timer_start"),
    timer_stop: sym!("uv_timer_stop"),
    async_init: sym!("uv_async_init"),
    async_send: sym!("uv_async_send"),
    check_init: sym!("uv_check_init"),
    check_start: sym!("uv_check_start"),
    check_stop: sym!("uv_check_stop"),
  };
  // The library handle is the process itself: keep it open for ever, so the pointers stay valid.
  std::mem::forget(this);
  Ok(uv)
}

impl Uv {
  /// libuv's text for an error number.
  pub fn error_text(&self, code: c_int) -> String {
    // SAFETY: uv_strerror returns a static NUL-terminated string for any code.
    unsafe { CStr::from_ptr((self.strerror)(code)) }
      .to_string_lossy()
      .into_owned()
  }
}

#[cfg(test)]
mod tests {
  #[test]
  fn outside_node_libuv_is_reported_unavailable_not_a_crash() {
    // A cargo test binary has no libuv of its own; when it does (linked by some dependency), fine too.
    match super::uv() {
      Ok(_) => {}
      Err(e) => assert!(e.to_string().starts_with("libuv is not available"), "{e}"),
    }
  }
}
